"""The terminal of an interactive command (``rate``, ``play``): single keys, and a clean end.

Both commands read one key at a time without Enter (cbreak mode) while a player runs
in the background, and both must stop that player and give the terminal back however
they end: a key, end of input, an exception, or a signal from outside. That is done
once here, as a context manager the command runs its loop in.
"""

from __future__ import annotations

import os
import select
import signal
import sys
from collections.abc import Callable
from types import TracebackType
from typing import Any

__all__ = ["TERMINATING", "Keys", "Terminated", "raise_on_terminating_signals"]

# Signals that end an interactive player from outside: a service manager or `kill`
# (SIGTERM), a closed terminal or SSH session (SIGHUP). Players run sidplayfp in its own
# session (so a pause reaches all of it), which also means the kernel does not pass
# these on to it: without a handler Python dies at once and sidplayfp plays on.
TERMINATING: tuple[signal.Signals, ...] = (signal.SIGTERM, signal.SIGHUP)


class Terminated(BaseException):
    """Raised by the handler of a terminating signal: unwinds through the cleanup
    (which stops the player) instead of killing the process on the spot."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _raise_terminated(signum: int, _frame: Any) -> None:
    raise Terminated(signum)


def raise_on_terminating_signals() -> dict[signal.Signals, Any]:
    """Make SIGTERM/SIGHUP raise :class:`Terminated`; returns the previous handlers."""
    return {signum: signal.signal(signum, _raise_terminated) for signum in TERMINATING}


class Keys:
    """Keys from stdin, one at a time, for the duration of a ``with`` block.

    On entry a terminal is put into cbreak mode (keys arrive without Enter, Ctrl-C
    still works) and SIGTERM/SIGHUP raise :class:`Terminated`. On exit, whatever the
    cause, a second signal is ignored, ``cleanup`` runs (stop the player, save the
    session), the terminal mode and the signal handlers are restored. A
    :class:`Terminated` is swallowed and its signal number left in :attr:`terminated`
    for the command to report; every other exception goes on.
    """

    def __init__(self, cleanup: Callable[[], None]) -> None:
        self.cleanup = cleanup
        self.terminated: int | None = None
        self.fd = sys.stdin.fileno()
        self._restore: Any = None
        self._previous: dict[signal.Signals, Any] = {}

    def __enter__(self) -> Keys:
        if os.isatty(self.fd):
            import termios
            import tty

            self._restore = termios.tcgetattr(self.fd)
            tty.setcbreak(self.fd)
        self._previous = raise_on_terminating_signals()
        return self

    def read(self, timeout: float | None = None) -> str | None:
        """One key; ``""`` at end of input; None when ``timeout`` seconds passed without one."""
        if timeout is not None:
            ready, _, _ = select.select([self.fd], [], [], timeout)
            if not ready:
                return None
        data = os.read(self.fd, 1)
        return data.decode("latin-1") if data else ""

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> bool:
        for signum in TERMINATING:  # a second signal must not cut the cleanup short
            signal.signal(signum, signal.SIG_IGN)
        try:
            self.cleanup()
        finally:
            if self._restore is not None:
                import termios

                try:
                    termios.tcsetattr(self.fd, termios.TCSADRAIN, self._restore)
                except termios.error:  # the terminal is gone (SIGHUP)
                    pass
            for signum, handler in self._previous.items():
                signal.signal(signum, handler)
        if isinstance(exc, Terminated):
            self.terminated = exc.signum
            return True
        return False
