"""Progress for long per-song work: a rich bar on a terminal, periodic log lines elsewhere."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from types import TracebackType

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

__all__ = ["SongProgress"]


class SongProgress:
    """Counts songs; shows a bar when stderr is a terminal, else logs every ``every`` s."""

    def __init__(self, total: int, label: str, log: Callable[[str], None] | None = None, every: float = 10.0) -> None:
        self.total, self.label, self.log, self.every = total, label, log, every
        self.done = 0
        self._last = time.monotonic()
        self._bar: Progress | None = None
        self._task: TaskID | None = None

    def __enter__(self) -> SongProgress:
        if sys.stderr.isatty() and self.total:
            self._bar = Progress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn(),
                transient=True,
            )
            self._bar.start()
            self._task = self._bar.add_task(self.label, total=self.total)
        return self

    def advance(self, count: int = 1) -> None:
        self.done += count
        if self._bar is not None and self._task is not None:
            self._bar.advance(self._task, count)
        elif self.log is not None and time.monotonic() - self._last >= self.every:
            self._last = time.monotonic()
            self.log(f"{self.label}: {self.done}/{self.total} songs")

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self._bar is not None:
            self._bar.stop()
