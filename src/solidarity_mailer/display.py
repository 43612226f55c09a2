"""Printing text from outside (relay replies, subjects, names, file names) so that it cannot drive a terminal.

:func:`visible` writes every control character but newline and tab (the rest of C0, DEL, C1) as ``\\x1b``
and the like, as ``repr`` does. The CLI applies it at its output boundary: :func:`visible_output` makes
``sys.stdout`` and ``sys.stderr`` write through it for the whole command (its messages, errors, usage
errors and logs, the daemon's included), so no command has to remember it.
"""

from __future__ import annotations

import contextlib
import re
import sys
from collections.abc import Iterator
from typing import TextIO

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def visible(text: str) -> str:
    """``text`` with each control character but newline and tab written as ``\\xNN``."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


class VisibleStream:
    """A text stream that writes through :func:`visible` to ``stream`` (which it never closes)."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        self.stream.write(visible(text))  # bytes raise TypeError, as on any text stream
        return len(text)

    def writelines(self, lines: Iterator[str]) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        self.stream.flush()

    def isatty(self) -> bool:
        return self.stream.isatty()

    def fileno(self) -> int:
        return self.stream.fileno()

    def writable(self) -> bool:
        return True

    @property
    def encoding(self) -> str:
        return self.stream.encoding

    @property
    def errors(self) -> str | None:
        return self.stream.errors


@contextlib.contextmanager
def visible_output() -> Iterator[None]:
    """For the block, ``sys.stdout`` and ``sys.stderr`` write through :func:`visible`."""
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = VisibleStream(sys.stdout), VisibleStream(sys.stderr)  # type: ignore[assignment]
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved


def terminal(stream: TextIO) -> TextIO:
    """The stream under a :class:`VisibleStream`: for what draws on the terminal on purpose (a progress bar
    whose text is ours)."""
    return stream.stream if isinstance(stream, VisibleStream) else stream
