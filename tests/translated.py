"""A campaign of the seed resolution in English with a Spanish and an Arabic translation, and a list of readers
whose ``lang`` values are mixed: what each of them must get."""

from __future__ import annotations

import csv
from pathlib import Path

from tests.sendkit import REPO, write_project

TRANSLATIONS = REPO / "tests" / "data" / "translations"
ES = TRANSLATIONS / "peru.es.resolution.toml"
AR = TRANSLATIONS / "peru.ar.resolution.toml"
ES_TEXT = TRANSLATIONS / "peru.es.txt"
SUBJECTS = {
    "en": "Solidarity with the struggle of the Peruvian people",
    "es": "Solidaridad con la lucha del pueblo peruano",
    "ar": "التضامن مع نضال الشعب البيروفي",
}
#: (address, name, lang column, the language they must get)
READERS = [
    ("ana@example.org", "Ana Quispe", "es", "es"),
    ("pedro@example.org", "Pedro Mamani", "es-PE", "es"),  # a region falls back to its language
    ("lucia@example.org", "Lucía", "ES-pe", "es"),  # case does not matter
    ("amira@example.org", "أميرة", "ar", "ar"),
    ("omar@example.org", "Omar", "ar-EG", "ar"),
    ("noname.ar@example.org", "", "ar", "ar"),  # "Dear friend," in Arabic
    ("jens@example.org", "Jens Müller", "de", "en"),  # no German translation: the default
    ("li@example.org", "李", "zh-Hant-TW", "en"),
    ("nolang@example.org", "Nobody Special", "", "en"),  # an empty language: the default
    ("john@example.org", "John", "en-GB", "en"),
]
#: Words of each language's footer, from the catalogues (HTML and text parts).
UNSUBSCRIBE = {"en": "Unsubscribe", "es": "Cancelar la suscripción", "ar": "إلغاء الاشتراك"}
SENT_TO = {
    "en": "This message was sent to",
    "es": "Este mensaje se envió a",
    "ar": "أُرسلت هذه الرسالة إلى",
}


def translations_table(es: Path = ES, ar: Path = AR) -> str:
    """The campaign file's [translations] tables."""
    return (f'\n[translations.es]\nresolution = "{es}"\nsubject = "{SUBJECTS["es"]}"\n'
            f'\n[translations.ar]\nresolution = "{ar}"\nsubject = "{SUBJECTS["ar"]}"\n')


def write_translated_project(root: Path, port: int, readers: list[tuple[str, str, str, str]] = READERS, *,
                             es: Path = ES, ar: Path = AR) -> tuple[Path, Path]:
    """tests/sendkit.write_project with the translations and a list with a ``lang`` column; (campaign, config)."""
    campaign, config = write_project(root, port, [])
    with (root / "recipients" / "list.csv").open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["email", "name", "lang"])
        writer.writerows((email, name, lang) for email, name, lang, _ in readers)
    campaign.write_text(campaign.read_text(encoding="utf-8") + 'language = "en"\n' + translations_table(es, ar),
                        encoding="utf-8")
    return campaign, config
