"""The recipients' languages as the ledger holds them (the ``lang`` of each delivery row's ``fields`` JSON).

One address's latest language, for the unsubscribe pages (``web/unsubscribe.py``), and a run's rows counted
per language and state, for ``status``.
"""

from __future__ import annotations

import functools
import json
from collections import Counter
from collections.abc import Callable

from sqlalchemy import Engine, func, literal_column, select

from solidarity_mailer.languages import best_match
from solidarity_mailer.ledger.schema import deliveries, web_versions


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


def sent_languages(engine: Engine, run_id: int) -> tuple[str, ...]:
    """The languages ``run_id`` was prepared in, the campaign's own first (its web versions); none for a run of
    a release before them."""
    stmt = (select(web_versions.c.language).where(web_versions.c.run_id == run_id)
            .order_by(web_versions.c.position))
    with engine.connect() as conn:
        return tuple(conn.execute(stmt).scalars())


def counts_by_language(engine: Engine, run_id: int,
                       variant: Callable[[str | None], str] | None = None) -> dict[str, dict[str, int]]:
    """The run's rows per language and state, languages sorted: ``{"en": {"sent": 3}, "es": {"sent": 2}}``.

    A recipient's tag counts as the language the run sent them, by the fallback rule over the languages the run
    was prepared in (not the campaign file's today: a translation added later did not reach an earlier run).
    A run that recorded none (an older release's) uses ``variant``, the campaign's rule, else counts the tags as
    written, ``""`` for none."""
    if languages := sent_languages(engine, run_id):
        variant = functools.partial(language_sent, languages)
    lang = lang_column(engine).label("lang")
    stmt = (select(lang, deliveries.c.state, func.count()).where(deliveries.c.run_id == run_id)
            .group_by(lang, deliveries.c.state))
    totals: dict[str, Counter[str]] = {}
    with engine.connect() as conn:
        for tag, state, count in conn.execute(stmt).all():
            key = variant(tag) if variant is not None else (tag or "")
            totals.setdefault(key, Counter())[state] += int(count)
    return {key: dict(sorted(totals[key].items())) for key in sorted(totals)}


def language_sent(languages: tuple[str, ...], tag: str | None) -> str:
    """The one of a run's ``languages`` (its own first) a reader tagged ``tag`` was sent: the campaign's rule."""
    return best_match(tag, languages, languages[0])
