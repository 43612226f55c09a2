"""Small resolutions built in code, for tests that need a specific shape (long URLs, scripts, markup)."""

from __future__ import annotations

import datetime as dt

from solidarity_mailer.content.resolution import Demands, Resolution, Signatory
from solidarity_mailer.render.rendition import personal_values

#: A recipient's values for layout checks (an unsubscribe URL with & and =).
SAMPLE_VALUES = personal_values(
    "Alex Example", "alex@example.org", "https://example.org/unsubscribe?list=sample&token=SAMPLE-TOKEN"
)


def make_resolution(**changes: object) -> Resolution:
    """A short resolution in the seed's shape; keyword arguments replace fields."""
    base = Resolution(
        kind="ICOR resolution",
        title="Solidarity with the struggle of the people",
        date=dt.date(2023, 2, 7),
        source="www.icor.info",
        source_url="https://www.icor.info/2023-2/solidarity",
        paragraphs=(
            "We salute the great militant mobilizations.",
            "The organizations raised a minimum program, where they demand the release of prisoners,"
            " new elections and a new constitution. This program should be supported by all.",
            "We call on the international working class to promote solidarity.",
        ),
        demands=Demands(
            paragraph=1,
            lead="The organizations raised a minimum program, where they demand",
            items=("the release of prisoners", "new elections", "a new constitution"),
            tail="This program should be supported by all.",
        ),
        slogans=("Long live international solidarity!",),
        signatories_heading="Signatories (as of 7 February 2023)",
        signatories=(
            Signatory("БКП", "Българска Комунистическа Партия", "Bulgarian Communist Party", None, "bg"),
            Signatory("TKP-ML", "Türkiye Komünist Partisi Marksist-Leninist",
                      "Communist Party of Turkey Marxist-Leninist", None, "tr"),
            Signatory("ΚΚ", "Κομμουνιστικό Κόμμα", "Communist Party", "Greece", "el"),
            Signatory("ح.ش", "الحزب الشيوعي", "Communist Party", "Lebanon", "ar"),
            Signatory("A<b>&C", "Union <script>alert(1)</script> & Co", "Union & Co", "Nowhere"),
        ),
    )
    return Resolution(**{**vars(base), **changes})  # type: ignore[arg-type]
