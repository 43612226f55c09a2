"""The recipients' languages as the ledger holds them (the ``lang`` of each delivery row's ``fields`` JSON).

One address's latest language, for the unsubscribe pages (``web/unsubscribe.py``), and a run's rows counted
per language and state, for ``status``.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable

from sqlalchemy import Engine, func, literal_column, select

from solidarity_mailer.ledger.schema import deliveries


def recipient_language(engine: Engine, address: str, list_id: str | None = None) -> str | None:
    """The ``lang`` of the latest delivery row of ``address`` (of ``list_id`` when given, else of any list)."""
    stmt = select(deliveries.c.fields).where(deliveries.c.address == address)
    if list_id is not None and list_id != "*":
        stmt = stmt.where(deliveries.c.list_id == list_id)
    with engine.connect() as conn:
        fields = conn.execute(stmt.order_by(deliveries.c.run_id.desc()).limit(1)).scalar_one_or_none()
    if fields is None:
        return None
    try:
        lang = json.loads(fields).get("lang")
    except (ValueError, AttributeError):
        return None
    return lang if isinstance(lang, str) and lang else None


def lang_column(engine: Engine):  # type: ignore[no-untyped-def]
    """The SQL of a row's ``lang`` (NULL when absent): JSON functions differ per database."""
    if engine.dialect.name == "postgresql":
        return literal_column("(CAST(deliveries.fields AS JSON) ->> 'lang')")
    return func.json_extract(deliveries.c.fields, "$.lang")


def counts_by_language(engine: Engine, run_id: int,
                       variant: Callable[[str | None], str] | None = None) -> dict[str, dict[str, int]]:
    """The run's rows per language and state, languages sorted: ``{"en": {"sent": 3}, "es": {"sent": 2}}``.

    ``variant`` maps a recipient's tag to the language they were sent (the campaign's fallback rule);
    without it the tags are counted as written, ``""`` for none."""
    lang = lang_column(engine).label("lang")
    stmt = (select(lang, deliveries.c.state, func.count()).where(deliveries.c.run_id == run_id)
            .group_by(lang, deliveries.c.state))
    totals: dict[str, Counter[str]] = {}
    with engine.connect() as conn:
        for tag, state, count in conn.execute(stmt).all():
            key = variant(tag) if variant is not None else (tag or "")
            totals.setdefault(key, Counter())[state] += int(count)
    return {key: dict(sorted(totals[key].items())) for key in sorted(totals)}
