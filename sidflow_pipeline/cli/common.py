"""What every `sidflow` command shares: the consoles, the one-line failure, the lazy config."""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from functools import wraps
from typing import Any, NoReturn, TypeVar

import click
from rich.console import Console

from sidflow_pipeline.config import ConfigError, SidflowConfig, load_config

__all__ = ["Context", "FiniteFloat", "FiniteFloatRange", "console", "err_console", "fail", "pass_ctx", "user_errors"]

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
