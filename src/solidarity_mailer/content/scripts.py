"""Which writing system a name uses, and its language where that can be known for certain.

The rule, conservatively: a script used by one language only gives that language (Greek → ``el``);
a shared script (Latin, Cyrillic, Arabic, Devanagari, Han) gives a language only when the country or
the English name names exactly one country or language written in that script ("Bulgarian" + Cyrillic
→ ``bg``). A Latin-script name gets a language only when it comes with an English translation (an
English name has none), and never for countries with several languages (Switzerland, Luxembourg…).
Anything else is ``None``: the name then inherits the document's language.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter

#: Unicode character-name prefix → ISO 15924 script code.
_SCRIPT_PREFIXES = {
    "LATIN": "Latn", "CYRILLIC": "Cyrl", "GREEK": "Grek", "ARABIC": "Arab", "HEBREW": "Hebr",
    "DEVANAGARI": "Deva", "BENGALI": "Beng", "GURMUKHI": "Guru", "GUJARATI": "Gujr", "TAMIL": "Taml",
    "TELUGU": "Telu", "KANNADA": "Knda", "MALAYALAM": "Mlym", "SINHALA": "Sinh", "THAI": "Thai",
    "LAO": "Laoo", "KHMER": "Khmr", "GEORGIAN": "Geor", "ARMENIAN": "Armn", "HANGUL": "Hang",
    "HIRAGANA": "Jpan", "KATAKANA": "Jpan", "CJK": "Hani",
}

#: Scripts written by one language only (in practice, for organisation names).
_UNIQUE_SCRIPT_LANG = {
    "Grek": "el", "Armn": "hy", "Geor": "ka", "Hang": "ko", "Jpan": "ja", "Thai": "th", "Laoo": "lo",
    "Khmr": "km", "Sinh": "si", "Taml": "ta", "Telu": "te", "Knda": "kn", "Mlym": "ml", "Gujr": "gu",
    "Guru": "pa",
}

_FR = ("france", "french", "ivory coast", "côte d'ivoire", "togo", "cameroon", "senegal", "mali", "benin",
       "burkina faso", "niger", "haiti")
_ES = ("spain", "spanish", "mexico", "peru", "colombia", "uruguay", "argentina", "chile", "bolivia",
       "ecuador", "venezuela", "paraguay", "dominican republic", "cuba", "guatemala", "honduras",
       "el salvador", "nicaragua", "costa rica", "panama")
_AR = ("arab", "arabic", "egypt", "palestine", "palestinian", "lebanon", "syria", "jordan", "sudan", "yemen",
       "libya", "saudi arabia")

#: Keyword (country, demonym or language, lower case) → {script: language}.
KEYWORDS: dict[str, dict[str, str]] = {
    **{k: {"Latn": "fr"} for k in _FR},
    **{k: {"Latn": "es"} for k in _ES},
    **{k: {"Arab": "ar"} for k in _AR},
    **{k: {"Arab": "ar", "Latn": "fr"} for k in ("tunisia", "morocco", "moroccan", "algeria")},
    "germany": {"Latn": "de"}, "german": {"Latn": "de"}, "austria": {"Latn": "de"},
    "netherlands": {"Latn": "nl"}, "dutch": {"Latn": "nl"},
    "portugal": {"Latn": "pt"}, "portuguese": {"Latn": "pt"}, "brazil": {"Latn": "pt"},
    "italy": {"Latn": "it"}, "italian": {"Latn": "it"},
    "turkey": {"Latn": "tr"}, "turkish": {"Latn": "tr"}, "türkiye": {"Latn": "tr"},
    "poland": {"Latn": "pl"}, "polish": {"Latn": "pl"},
    "bulgaria": {"Cyrl": "bg"}, "bulgarian": {"Cyrl": "bg"},
    "russia": {"Cyrl": "ru"}, "russian": {"Cyrl": "ru"},
    "ukraine": {"Cyrl": "uk"}, "ukrainian": {"Cyrl": "uk"},
    "serbia": {"Cyrl": "sr"}, "serbian": {"Cyrl": "sr"},
    "iran": {"Arab": "fa"}, "iranian": {"Arab": "fa"}, "persian": {"Arab": "fa"},
    "pakistan": {"Arab": "ur"}, "urdu": {"Arab": "ur"},
    "nepal": {"Deva": "ne"}, "nepali": {"Deva": "ne"}, "nepalese": {"Deva": "ne"}, "hindi": {"Deva": "hi"},
    "china": {"Hani": "zh"}, "chinese": {"Hani": "zh"},
    "japan": {"Hani": "ja"}, "japanese": {"Hani": "ja"},
}

_KEYWORD_RE = re.compile(
    r"(?<![\w'])(" + "|".join(re.escape(k) for k in sorted(KEYWORDS, key=len, reverse=True)) + r")(?![\w'])",
    re.IGNORECASE,
)


def char_script(ch: str) -> str | None:
    """The ISO 15924 code of a letter's script, or None for non-letters and unlisted scripts."""
    if not unicodedata.category(ch).startswith("L"):
        return None
    prefix = unicodedata.name(ch, "").split(" ", 1)[0]
    return _SCRIPT_PREFIXES.get(prefix)


def outside_parentheses(text: str) -> str:
    """The text with every parenthesised part (nested ones included) removed."""
    out, depth = [], 0
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth = max(depth - 1, 0)
        elif depth == 0:
            out.append(ch)
    return "".join(out)


def dominant_script(text: str) -> str | None:
    """The script of most letters in ``text`` (kana anywhere makes Han text Japanese)."""
    counts = Counter(s for s in map(char_script, text) if s)
    if not counts:
        return None
    if counts.get("Jpan") and counts.get("Hani"):
        counts["Jpan"] += counts.pop("Hani")
    return counts.most_common(1)[0][0]


def guess_lang(name: str, name_en: str | None, country: str | None) -> str | None:
    """The BCP 47 language of ``name`` when it is certain by the rule in this module's docstring."""
    script = dominant_script(outside_parentheses(name))
    if script is None:
        return None
    if script in _UNIQUE_SCRIPT_LANG:
        return _UNIQUE_SCRIPT_LANG[script]
    if script == "Latn" and not name_en:
        return None  # an untranslated Latin name is taken to be English, the document's language
    hints = " ".join(x for x in (country, name_en) if x)
    langs = {KEYWORDS[m.lower()].get(script) for m in _KEYWORD_RE.findall(hints)}
    langs.discard(None)
    return langs.pop() if len(langs) == 1 else None
