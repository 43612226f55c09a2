"""A statement compiled once for the engine's dialect and run on the DBAPI cursor: the ledger's hot paths (the
transitions of ``ledger/transitions.py``, enqueuing in ``ledger/queries.py``), where SQLAlchemy's per-statement and
per-row work was most of the cost (``bench/send_cpu_bench.py``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import DateTime, Engine, text

TIMES = ("now", "retry", "sent")  # the parameters that are timestamps (converted as the dialect stores them)


class Statement:
    """A statement compiled once for the engine's dialect, executed on the DBAPI cursor (the hot path)."""

    def __init__(self, engine: Engine, sql: str) -> None:
        compiled = text(sql).compile(dialect=engine.dialect)
        self.sql = str(compiled)
        self.order = compiled.positiontup  # positional paramstyles (SQLite's qmark); None for named ones
        self._positions = [(k, k in TIMES) for k in self.order or ()]  # (name, is a timestamp) in order
        self.to_db = DateTime(timezone=True).dialect_impl(engine.dialect).bind_processor(engine.dialect)
        self._last: tuple[Any, Any] = (None, None)  # the last timestamp converted (a batch shares its `now`)

    def _time(self, value: Any) -> Any:
        if value is None or self.to_db is None:
            return value
        if self._last[0] != value:
            self._last = (value, self.to_db(value))
        return self._last[1]

    def params(self, values: dict[str, object]) -> tuple[object, ...] | dict[str, object]:
        """``values`` in the driver's form: timestamps converted, in the statement's order when positional."""
        if self.order:  # one pass, no intermediate dict (this runs twice per message)
            if self.to_db is None:
                return tuple([values[k] for k in self.order])
            return tuple([self._time(values[k]) if timestamp else values[k] for k, timestamp in self._positions])
        if self.to_db is not None:
            values = {k: (self._time(v) if k in TIMES else v) for k, v in values.items()}
        return values
