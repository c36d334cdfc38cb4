"""What every `sidflow` command shares: the consoles, the one-line failure, the lazy config."""

from __future__ import annotations

import math
import signal
import sys
from collections.abc import Callable
from functools import wraps
from typing import Any, NoReturn, TypeVar

import click
from rich.console import Console

from sidflow_pipeline.config import ConfigError, SidflowConfig, load_config

__all__ = [
    "TERMINATING",
    "Context",
    "FiniteFloat",
    "FiniteFloatRange",
    "Terminated",
    "console",
    "err_console",
    "fail",
    "pass_ctx",
    "raise_on_terminating_signals",
    "user_errors",
]

F = TypeVar("F", bound=Callable[..., Any])

console = Console()
err_console = Console(stderr=True)


def fail(message: str) -> NoReturn:
    """Print one line to stderr and exit 2 (usage/data error, like click's own)."""
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    sys.exit(2)


def user_errors(func: F) -> F:
    """Turn the domain's own error types into :func:`fail` lines."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from sidflow_pipeline.atomic import DiskWriteError
        from sidflow_pipeline.sid.header import SidFormatError

        try:
            return func(*args, **kwargs)
        except (ConfigError, SidFormatError, FileNotFoundError, DiskWriteError) as exc:
            fail(str(exc))
        except RuntimeError as exc:  # e.g. SidplayfpNotFound
            if type(exc).__module__.startswith("sidflow_pipeline"):
                fail(str(exc))
            raise

    return wrapper  # type: ignore[return-value]


# Signals that end an interactive player from outside: a service manager or `kill`
# (SIGTERM), a closed terminal or SSH session (SIGHUP). Players run sidplayfp in its own
# session (so a pause reaches all of it), which also means the kernel does not pass
# these on to it: without a handler Python dies at once and sidplayfp plays on.
TERMINATING: tuple[signal.Signals, ...] = (signal.SIGTERM, signal.SIGHUP)


class Terminated(BaseException):
    """Raised by the handler of a terminating signal: unwinds through the cleanup
    (``finally`` stops the player) instead of killing the process on the spot."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _raise_terminated(signum: int, _frame: Any) -> None:
    raise Terminated(signum)


def raise_on_terminating_signals() -> dict[signal.Signals, Any]:
    """Make SIGTERM/SIGHUP raise :class:`Terminated`; returns the previous handlers."""
    return {signum: signal.signal(signum, _raise_terminated) for signum in TERMINATING}


class FiniteFloatRange(click.FloatRange):
    """A ``FloatRange`` that refuses NaN and ±inf: ``float("nan")`` passes every range
    check (all comparisons with NaN are false), and an infinite gain or weight is
    never what a user meant."""

    name = "finite float"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if number is not None and not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return number


FiniteFloat = FiniteFloatRange()


class Context:
    """Lazily loaded config, so `--help` works even with a broken `.sidflow.json`."""

    def __init__(self, config_path: str | None) -> None:
        self.config_path = config_path
        self._config: SidflowConfig | None = None

    @property
    def config(self) -> SidflowConfig:
        if self._config is None:
            self._config = load_config(self.config_path)
        return self._config


pass_ctx = click.make_pass_decorator(Context)
