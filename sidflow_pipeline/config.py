"""`.sidflow.json`: one file that says where everything lives and how to render.

The design documents' fields are kept verbatim (camelCase keys) so a config from the
earlier TypeScript tools still loads. Validation happens once, on load, and a bad file
gives exactly one line naming the field and the file: a user editing JSON by hand should
not have to read a traceback.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sidflow_pipeline.errors import SidflowError
from sidflow_pipeline.layout import (
    DEFAULT_CLASSIFIED_PATH,
    DEFAULT_DATA_PATH,
    DEFAULT_HVSC_PATH,
    DEFAULT_HVSC_SOURCE,
    DEFAULT_TAGS_PATH,
    DEFAULT_WAV_CACHE_PATH,
    Layout,
)

__all__ = [
    "CONFIG_ENV",
    "DEFAULT_CONFIG_NAME",
    "ConfigError",
    "RecommendConfig",
    "RenderConfig",
    "RetrainConfig",
    "SidflowConfig",
    "load_config",
    "path_problems",
    "resolve_config_path",
]

CONFIG_ENV = "SIDFLOW_CONFIG"
DEFAULT_CONFIG_NAME = ".sidflow.json"


class ConfigError(SidflowError, ValueError):
    """A configuration problem, already phrased as one line for the user."""


class _Strict(BaseModel):
    # allow_inf_nan=False: Python's json reads NaN and Infinity, and an infinite
    # excerpt or interval would pass every range check.
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, populate_by_name=True, allow_inf_nan=False)


class RetrainConfig(_Strict):
    """When the feedback sensor may retrain (the design documents' ``retrain`` block)."""

    enabled: bool = True
    interval_hours: float = Field(default=24.0, alias="intervalHours", ge=0)
    min_new_feedback: int = Field(default=50, alias="minNewFeedback", ge=0)


class RenderConfig(_Strict):
    """How songs are rendered for analysis; every field is part of the WAV cache key."""

    # libsidplayfp: in-process, warm workers, with the SID register trace (default);
    # sidplayfp: one program run per song, no trace (kept for comparison).
    backend: Literal["libsidplayfp", "sidplayfp"] = "libsidplayfp"
    engine: Literal["fast", "accurate"] = "fast"
    sample_rate: int = Field(default=22050, alias="sampleRate", ge=8000, le=96000)
    excerpt_seconds: float = Field(default=20.0, alias="excerptSeconds", gt=0)
    intro_skip_seconds: float = Field(default=10.0, alias="introSkipSeconds", ge=0)
    default_song_seconds: float = Field(default=180.0, alias="defaultSongSeconds", gt=0)
    timeout_seconds: float = Field(default=60.0, alias="timeoutSeconds", gt=0)


class RecommendConfig(_Strict):
    """The design's tuning parameters (phase 8) and the stations the pipeline writes playlists for.

    ``k``: candidates the playlist layer rescores; ``recencyBoost``: weight of the release
    year (0 = off); ``explorationRate``: share of a list given to lower-ranked songs;
    ``explorationFactor``: the engine's exploration (wider pool, less preference, seeded
    noise); ``discoverySessions``: exploration avoids songs surfaced in this many recent
    sessions (recommend/history.py); ``stations``: the ``station_playlists`` asset's list.
    """

    k: int = Field(default=100, ge=1, le=100_000)
    recency_boost: float = Field(default=0.0, alias="recencyBoost", ge=0.0, le=10.0)
    exploration_rate: float = Field(default=0.1, alias="explorationRate", ge=0.0, le=1.0)
    exploration_factor: float = Field(default=0.2, alias="explorationFactor", ge=0.0, le=1.0)
    discovery_sessions: int = Field(default=5, alias="discoverySessions", ge=0)
    stations: list[str] = Field(
        default_factory=lambda: [
            "chip:6581",
            "chip:8580",
            "chip:multi",
            "era:1982..1989",
            "era:1990..1999",
            "games",
            "demos",
            "hidden-gems",
        ]
    )
    playlist_length: int = Field(default=50, alias="playlistLength", ge=1, le=10_000)


class SidflowConfig(_Strict):
    """The resolved configuration; relative paths are relative to the config file."""

    hvsc_path: Path = Field(default=DEFAULT_HVSC_PATH, alias="hvscPath")
    hvsc_source: str = Field(default=DEFAULT_HVSC_SOURCE, alias="hvscSource")
    hvsc_checksums: dict[str, str] = Field(default_factory=dict, alias="hvscChecksums")
    data_path: Path = Field(default=DEFAULT_DATA_PATH, alias="dataPath")
    wav_cache_path: Path = Field(default=DEFAULT_WAV_CACHE_PATH, alias="wavCachePath")
    # null: ratings live beside each SID in the HVSC tree instead of a mirrored tree.
    tags_path: Path | None = Field(default=DEFAULT_TAGS_PATH, alias="tagsPath")
    classified_path: Path = Field(default=DEFAULT_CLASSIFIED_PATH, alias="classifiedPath")
    sidplay_path: str | None = Field(default=None, alias="sidplayPath")
    threads: int = Field(default=0, ge=0)
    classification_depth: int = Field(default=3, alias="classificationDepth", ge=1)
    render: RenderConfig = Field(default_factory=RenderConfig)
    retrain: RetrainConfig = Field(default_factory=RetrainConfig)
    recommend: RecommendConfig = Field(default_factory=RecommendConfig)
    source_file: Path | None = Field(default=None, exclude=True)

    @property
    def worker_count(self) -> int:
        """``threads: 0`` means every core the process may use."""
        if self.threads:
            return self.threads
        try:
            return len(os.sched_getaffinity(0))
        except AttributeError:  # pragma: no cover - macOS has no sched_getaffinity
            return os.cpu_count() or 1

    @property
    def layout(self) -> Layout:
        """Where every artifact lives under the configured roots (see :mod:`sidflow_pipeline.layout`)."""
        return Layout(self.data_path, self.hvsc_path, self.wav_cache_path, self.tags_path, self.classified_path)

    def to_json_dict(self) -> dict[str, Any]:
        """The resolved config in the file's own key names (for ``config validate``)."""
        resolved: dict[str, Any] = json.loads(self.model_dump_json(by_alias=True, exclude={"source_file"}))
        return resolved


_PATH_FIELDS = ("hvsc_path", "data_path", "wav_cache_path", "tags_path", "classified_path")


def resolve_config_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    """``--config`` wins, then ``$SIDFLOW_CONFIG``, then ``./.sidflow.json``."""
    if explicit:
        return Path(explicit)
    env = os.environ.get(CONFIG_ENV)
    if env:
        return Path(env)
    return Path.cwd() / DEFAULT_CONFIG_NAME


def _describe(error: Mapping[str, Any]) -> str:
    where = ".".join(str(part) for part in error["loc"]) or "(top level)"
    kind = error["type"]
    if kind == "extra_forbidden":
        return f"unknown key '{where}'"
    if kind == "missing":
        return f"missing required key '{where}'"
    if kind == "is_instance_of":
        return f"field '{where}': expected a path string (got {json.dumps(error.get('input'))})"
    value = error.get("input")
    return f"field '{where}': {error['msg'].rstrip('.')} (got {json.dumps(value)})"


def load_config(path: str | os.PathLike[str] | None = None, *, must_exist: bool = False) -> SidflowConfig:
    """Load, validate and resolve a config file.

    A missing default file yields the defaults (a fresh checkout needs no config), but
    a file the user named explicitly must exist.
    """
    explicit = path is not None or bool(os.environ.get(CONFIG_ENV))
    config_path = resolve_config_path(path).expanduser()
    if config_path.exists():
        try:
            data = config_path.read_bytes()
            raw = json.loads(data.decode("utf-8"))
        except UnicodeDecodeError as exc:
            line = data[: exc.start].count(b"\n") + 1
            raise ConfigError(
                f"{config_path}: not valid UTF-8 (byte 0x{data[exc.start]:02X} at line {line}); save the file as UTF-8"
            ) from None
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{config_path}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from exc
        except OSError as exc:
            raise ConfigError(f"{config_path}: cannot read: {exc.strerror or exc}") from exc
        if not isinstance(raw, dict):
            raise ConfigError(f"{config_path}: the top level must be a JSON object")
        base = config_path.resolve().parent
    elif explicit or must_exist:
        raise ConfigError(f"{config_path}: config file not found")
    else:
        raw, base = {}, Path.cwd()
    try:
        config = SidflowConfig.model_validate(_coerce_paths(raw))
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ConfigError(f"{config_path}: {_describe(first)}") from None
    resolved = {name: _resolve(base, value) if (value := getattr(config, name)) is not None else None for name in _PATH_FIELDS}
    source = config.hvsc_source
    if "://" not in source:
        source = str(_resolve(base, Path(source)))
    sidplay = config.sidplay_path
    if sidplay and ("/" in sidplay or os.sep in sidplay):
        sidplay = str(_resolve(base, Path(sidplay)))
        if not Path(sidplay).exists():
            raise ConfigError(f"{config_path}: field 'sidplayPath': {sidplay} does not exist")
    return config.model_copy(
        update={**resolved, "hvsc_source": source, "sidplay_path": sidplay, "source_file": config_path if config_path.exists() else None}
    )


# Folders the pipeline creates on first use may be missing; these two may not: the
# collection is what everything reads, and dataPath holds the canonical data.
_MUST_EXIST = ("hvsc_path", "data_path")
_ALIASES = {
    "hvsc_path": "hvscPath", "data_path": "dataPath", "wav_cache_path": "wavCachePath",
    "tags_path": "tagsPath", "classified_path": "classifiedPath",
}


def _local_source(source: str) -> Path | None:
    """The folder ``hvscSource`` names, or None for an HTTP(S) mirror."""
    if source.startswith("file://"):
        from urllib.parse import unquote, urlparse

        return Path(unquote(urlparse(source).path))
    return None if "://" in source else Path(source)


def path_problems(config: SidflowConfig) -> list[str]:
    """One line per configured path that is missing or of the wrong kind.

    Loading a config checks only its syntax (the pipeline itself creates ``dataPath``
    folders and the HVSC tree on first use), so ``sidflow config validate`` asks the
    file system too: a ``dataPath`` that is a regular file or an ``hvscPath`` that
    does not exist would otherwise only surface as a failure deep inside a run.
    Nothing is created here.
    """
    problems: list[str] = []
    for name, alias in _ALIASES.items():
        value: Path | None = getattr(config, name)
        if value is None:
            continue
        if value.exists():
            if not value.is_dir():
                problems.append(f"field '{alias}': {value} is a file, not a directory")
        elif name in _MUST_EXIST:
            hint = " (sidflow fetch creates it)" if name == "hvsc_path" else ""
            problems.append(f"field '{alias}': {value} does not exist{hint}")
        else:
            ancestor = next((p for p in value.parents if p.exists()), None)
            if ancestor is not None and not ancestor.is_dir():
                problems.append(f"field '{alias}': {value} cannot be created: {ancestor} is a file")
    source = _local_source(config.hvsc_source)
    if source is not None:
        if not source.exists():
            problems.append(f"field 'hvscSource': {source} does not exist")
        elif not source.is_dir():
            problems.append(f"field 'hvscSource': {source} is a file, not a mirror folder")
    return problems


def _coerce_paths(raw: dict[str, Any]) -> dict[str, Any]:
    # JSON has no path type: accept strings for path fields while staying strict elsewhere.
    aliases = {"hvscPath", "dataPath", "wavCachePath", "tagsPath", "classifiedPath"}
    out = dict(raw)
    for key in aliases & out.keys():
        if isinstance(out[key], str):
            out[key] = Path(out[key])
    return out


def _resolve(base: Path, value: Path) -> Path:
    value = value.expanduser()
    return value if value.is_absolute() else (base / value)
