"""The unsubscribe app's HTML pages: small, escaped, accessible, mobile-friendly, styled like the email.

Every dynamic value passes through :func:`html.escape`. The only style is one inline ``<style>`` block
whose SHA-256 goes into the Content-Security-Policy, so the policy can forbid everything else. The words are
in the reader's language (``lang``: the catalogues of ``i18n.py``), the page's ``dir`` follows it.
"""

from __future__ import annotations

import base64
import hashlib
from html import escape

from solidarity_mailer.i18n import catalogue_language, translations
from solidarity_mailer.languages import direction

#: The email's look: system font stack, one 600 px column, dark-mode aware.
STYLE = """
:root{color-scheme:light dark}
body{margin:0;padding:16px 8px;background:#f2efea;color:#1c1c1c;
font-family:-apple-system,BlinkMacSystemFont,Segoe UI,Roboto,Noto Sans,Helvetica,Arial,sans-serif;
font-size:16px;line-height:1.55;-webkit-text-size-adjust:100%}
main{max-width:600px;margin:0 auto;background:#fff;border-top:6px solid #a3141b;padding:24px 28px;
overflow-wrap:anywhere;word-break:break-word}
.kind{margin:0 0 6px;color:#a3141b;font-size:13px;font-weight:700;letter-spacing:.06em;text-transform:uppercase}
h1{margin:0 0 16px;font-size:26px;line-height:1.25}
p{margin:0 0 16px}
.who{font-weight:700}
button{font:inherit;font-weight:700;color:#fff;background:#a3141b;border:0;border-radius:4px;
padding:12px 24px;min-height:48px;cursor:pointer;width:100%;max-width:320px}
button:hover{background:#7f0f15}
button:focus-visible{outline:3px solid #1c1c1c;outline-offset:2px}
.note{font-size:14px;color:#4a4a4a}
h2{margin:24px 0 8px;font-size:20px}
.archive{margin:0;padding:0;list-style:none}.archive li{margin:0 0 14px}
a{color:#a3141b}
@media screen and (max-width:480px){main{padding:18px 16px}h1{font-size:23px}}
@media (prefers-color-scheme:dark){body{background:#121212;color:#ecebe8}main{background:#1e1e1e;
border-top-color:#e0565c}.kind,a{color:#ff9c9c}.note{color:#bdb8b1}button:focus-visible{outline-color:#ecebe8}}
"""
STYLE_HASH = "sha256-" + base64.b64encode(hashlib.sha256(STYLE.encode("utf-8")).digest()).decode("ascii")

#: Nothing may load, run or frame; only our one style block and forms posting back to us.
CSP = (
    f"default-src 'none'; style-src '{STYLE_HASH}'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; img-src 'none'"
)


def mask_address(address: str) -> str:
    """``alice@example.org`` → ``a•••e@example.org``: recognisable to its owner, not to a bystander."""
    local, at, domain = address.rpartition("@")
    if not at:
        local, domain = address, ""
    shown = local[:1] + "•••" + (local[-1:] if len(local) > 2 else "")
    return shown + (f"@{domain}" if at else "")


def page(title: str, body: str, *, lang: str = "en", head: str = "", robots: str = "noindex,nofollow") -> str:
    """A whole HTML document around ``body`` (already escaped HTML), its fixed words in ``lang``; ``head``: more
    of the head (ready HTML)."""
    lang = catalogue_language(lang)
    kind = translations(lang).gettext("Mailing list")
    return (
        f'<!DOCTYPE html>\n<html lang="{escape(lang)}" dir="{direction(lang)}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f'<meta name="robots" content="{escape(robots)}">'
        f"<title>{escape(title)}</title>{head}<style>{STYLE}</style></head>"
        f'<body><main><p class="kind">{escape(kind)}</p><h1>{escape(title)}</h1>{body}</main></body></html>\n'
    )


def _sentence(translated: str, **markup: str) -> str:
    """A translated sentence escaped, then its ``%(name)s`` filled with ready HTML."""
    return escape(translated) % markup


def confirm_page(token: str, list_name: str, address: str, *, already: bool, lang: str = "en") -> str:
    """The GET page: who and which list, and a button. It changes nothing by itself."""
    t = translations(lang)
    who = f'<span class="who">{escape(mask_address(address))}</span>'
    lst = f'<span class="who">{escape(list_name)}</span>'
    if already:
        return page(
            t.gettext("You are unsubscribed"),
            "<p>" + _sentence(t.gettext("%(address)s no longer receives mail from %(list)s. There is nothing more "
                                        "to do."), address=who, list=lst) + "</p>",
            lang=lang,
        )
    button = t.gettext("Unsubscribe")
    note = t.gettext("Nothing changes until you press the button.")
    # A relative action keeps working when the app is served under a path prefix behind a proxy.
    return page(
        t.gettext("Unsubscribe?"),
        "<p>" + _sentence(t.gettext("Stop sending mail from %(list)s to %(address)s?"), address=who, list=lst)
        + f'</p><form method="post" action="{escape(token)}/confirm">'
        '<input type="hidden" name="List-Unsubscribe" value="One-Click">'
        f'<button type="submit">{escape(button)}</button></form><p class="note">{escape(note)}</p>',
        lang=lang,
    )


def done_page(list_name: str, address: str, *, lang: str = "en") -> str:
    """Shown after an unsubscribe (and again on a repeated one)."""
    t = translations(lang)
    who = f'<span class="who">{escape(mask_address(address))}</span>'
    lst = f'<span class="who">{escape(list_name)}</span>'
    mistake = t.gettext("If this was a mistake, reply to any of our emails and we will add you back.")
    return page(
        t.gettext("You are unsubscribed"),
        "<p>" + _sentence(t.gettext("%(address)s will receive no more mail from %(list)s."), address=who, list=lst)
        + f'</p><p class="note">{escape(mistake)}</p>',
        lang=lang,
    )


def error_page(title: str, message: str, *, lang: str = "en") -> str:
    """A clear 4xx page."""
    return page(title, f"<p>{escape(message)}</p>", lang=lang)
