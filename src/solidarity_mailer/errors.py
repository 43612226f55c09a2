"""The one project exception: what went wrong, where, and how to fix it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path


class MailerError(Exception):
    """A user-facing error: printed as one line by the CLI, never as a traceback.

    ``where`` is a location such as ``file:line`` (or just a file), ``hint`` says how to fix it.
    """

    def __init__(self, what: str, *, where: str | Path | None = None, hint: str | None = None) -> None:
        self.what = what
        self.where = str(where) if where is not None else None
        self.hint = hint
        super().__init__(self.line())

    def line(self) -> str:
        """The whole error as one line: ``where: what (hint)``."""
        text = self.what
        if self.where:
            text = f"{self.where}: {text}"
        if self.hint:
            text = f"{text} ({self.hint})"
        return text


def error_chain(exc: BaseException | None) -> Iterator[BaseException]:
    """``exc``, then the error it wraps (a SQLAlchemy error's DBAPI ``orig``) or was raised from or during, and so
    on, each once."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = getattr(exc, "orig", None) or exc.__cause__ or exc.__context__


def location(path: str | Path, line: int | None = None) -> str:
    """Format a ``file:line`` location for error messages."""
    return f"{path}:{line}" if line is not None else str(path)
