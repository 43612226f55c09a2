"""Two processes preparing the same run (two daemons, two workers of a PostgreSQL ledger) both record its web
versions: the one that comes second keeps the first's, it does not fail the run (a real SQLite file or PostgreSQL)."""

from __future__ import annotations

from sqlalchemy import Engine, event, select

from solidarity_mailer.ledger.schema import connect, web_versions
from solidarity_mailer.ledger.web_versions import record_web_versions
from solidarity_mailer.render.rendition import Rendition
from tests.ledger.test_row_claims import _run

VARIANTS = [Rendition(subject="Solidarity", html="<p>x</p>", text="x", language="en", web_html="<p>en</p>"),
            Rendition(subject="Solidaridad", html="<p>x</p>", text="x", language="es", web_html="<p>es</p>")]


def test_a_run_recorded_by_another_process_between_the_check_and_the_insert_keeps_its_first(engine: Engine) -> None:
    run_id = _run(engine, 1)
    other = connect(engine.url.render_as_string(hide_password=False))  # the other process, on its own connections
    first = [Rendition(subject="First", html="<p>x</p>", text="x", language="en", web_html="<p>first</p>")]

    def the_other_process_wins(conn: object, cursor: object, statement: str, *rest: object) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO WEB_VERSIONS") and not won:
            won.append(True)
            record_web_versions(other, run_id, first, "Other <o@example.org>")

    won: list[bool] = []
    event.listen(engine, "before_cursor_execute", the_other_process_wins)
    try:
        record_web_versions(engine, run_id, VARIANTS, "Committee <c@example.org>")  # failed: UNIQUE constraint
    finally:
        event.remove(engine, "before_cursor_execute", the_other_process_wins)
        other.dispose()
    assert won == [True]
    with engine.connect() as conn:
        kept = conn.execute(select(web_versions.c.language, web_versions.c.subject, web_versions.c.sender)
                            .where(web_versions.c.run_id == run_id)).all()
    assert [tuple(r) for r in kept] == [("en", "First", "Other")]  # the first's, whole: no language added to it
