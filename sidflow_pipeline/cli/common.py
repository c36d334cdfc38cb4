"""What every `sidflow` command shares: the consoles, the one-line failure, the lazy config."""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from functools import wraps
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from sidflow_pipeline.errors import SidflowError

if TYPE_CHECKING:  # pydantic (the config) costs ~60 ms to import; `--help` needs none of it
    from rich.console import Console

    from sidflow_pipeline.config import SidflowConfig

__all__ = [
    "PENDING_MODEL",
    "Context",
    "FiniteFloat",
    "FiniteFloatRange",
    "console",
    "err_console",
    "fail",
    "pass_ctx",
    "resolve_song_arg",
    "say_pending",
    "user_errors",
]

F = TypeVar("F", bound=Callable[..., Any])

# What a write means for the model and the database, said in one line where it is
# written (a user who is not told thinks it was lost); ratings and feedback: say_pending.
# (`sidflow_retrain` = retrain → reclassify → rebuild the database; the daemon's sensor
# `retrain_on_feedback` requests it.)
RETRAIN_JOB = "dagster job execute -m sidflow_pipeline.definitions -j sidflow_retrain"
PENDING_MODEL = "recommend and play use the new model once songs are reclassified: " + RETRAIN_JOB + " (the daemon's retrain does it too)"

class _LazyConsole:
    """A rich Console made on first use: importing rich costs ~20 ms that `--help`,
    `search` and the machine-readable formats (printed with click) never need."""

    def __init__(self, **options: Any) -> None:
        self._options = options
        self._console: Console | None = None

    @property
    def real(self) -> Console:
        """The Console itself, for rich objects that take one (``Progress(console=...)``)."""
        if self._console is None:
            from rich.console import Console

            self._console = Console(**self._options)
        return self._console

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


console: Console = _LazyConsole()  # type: ignore[assignment]
err_console: Console = _LazyConsole(stderr=True)  # type: ignore[assignment]


def fail(message: str) -> NoReturn:
    """Print one line to stderr and exit 2 (usage/data error, like click's own)."""
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    sys.exit(2)


def user_errors(func: F) -> F:
    """Turn every expected error into a :func:`fail` line: the one place the CLI does it.

    Expected errors are :class:`~sidflow_pipeline.errors.SidflowError` (the domain's own
    types, whose ``str()`` is the line to show) and a missing file named on the command
    line; anything else is a bug and keeps its traceback.
    """

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (SidflowError, FileNotFoundError) as exc:
            fail(exc.user_message if isinstance(exc, SidflowError) else str(exc))

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
            from sidflow_pipeline.config import load_config

            self._config = load_config(self.config_path)
        return self._config


pass_ctx = click.make_pass_decorator(Context)


def resolve_song_arg(ctx: Context, text: str, song_option: int | None = None, *, in_collection: bool = True) -> Any:
    """The :class:`~sidflow_pipeline.sid.paths.SongRef` for a command's song argument —
    every command that takes a song calls this, so they all accept the same names.

    ``song_option`` is the command's ``--song``; given with a different ``#N`` it is a
    contradiction, refused. With ``in_collection`` a file outside ``hvscPath`` is refused
    too (ratings and feedback are keyed by collection path).
    """
    from sidflow_pipeline.sid.paths import SongPathError, SongRef, resolve_song

    cfg = ctx.config
    ref = resolve_song(text, cfg.layout.hvsc_root, catalog=cfg.layout.catalog)
    if song_option is not None and ref.song is not None and song_option != ref.song:
        raise SongPathError(f"{text}: song #{ref.song} and --song {song_option} disagree; give one")
    if in_collection and ref.sid_path is None:
        raise SongPathError(f"{text} is not inside the collection {cfg.layout.hvsc_root} (hvscPath)")
    return SongRef(ref.file, ref.sid_path, ref.song if ref.song is not None else song_option)


def say_pending(config: Any) -> None:
    """After a rating or feedback: how much is new since the last training and when the
    daemon retrains (feedback itself already counts in recommendations)."""
    from sidflow_pipeline.training.retrain import pending_message

    console.print(pending_message(config), highlight=False, soft_wrap=True, markup=False)
