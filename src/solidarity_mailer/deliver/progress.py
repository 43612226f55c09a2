"""A progress bar for a run on a terminal (rich), silent otherwise."""

from __future__ import annotations

import sys
import threading
from types import TracebackType
from typing import TYPE_CHECKING

from solidarity_mailer.display import terminal

if TYPE_CHECKING:  # imported only when a bar is shown (~40 ms a run otherwise)
    from rich.progress import Progress as RichProgress

_SHOWN = ("sent", "failed", "uncertain", "skipped")


class Progress:
    """``with Progress(enabled, total, title) as bar: bar.advance(state)``; shown only on a TTY."""

    def __init__(self, enabled: bool, total: int, title: str) -> None:
        self.enabled = enabled and sys.stderr.isatty()
        self.total, self.title = total, title
        self.counts: dict[str, int] = {}
        self._lock = threading.Lock()
        self._bar: RichProgress | None = None
        self._task = None

    def __enter__(self) -> Progress:
        if self.enabled:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn
            from rich.progress import Progress as RichProgress

            self._bar = RichProgress(
                TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                TextColumn("{task.fields[detail]}"), TimeRemainingColumn(),
                console=Console(file=terminal(sys.stderr)), transient=False,  # our text only: drawn as it is
                redirect_stdout=False, redirect_stderr=False,  # other output keeps going through display.visible
            )
            self._bar.start()
            self._task = self._bar.add_task(self.title, total=self.total or None, detail="")
        return self

    def advance(self, state: str) -> None:
        """Count one result (a delivery state); terminal states move the bar."""
        if self._bar is None:
            return
        with self._lock:
            self.counts[state] = self.counts.get(state, 0) + 1
            detail = " ".join(f"{k} {self.counts[k]}" for k in (*_SHOWN, "deferred") if self.counts.get(k))
            step = 1 if state in _SHOWN else 0
        self._bar.update(self._task, advance=step, detail=detail)  # type: ignore[arg-type]

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self._bar is not None:
            self._bar.stop()
