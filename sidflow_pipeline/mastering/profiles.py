"""Mastering profiles: versioned JSON files, one per recording type and version.

A profiles directory holds ``<type>_v<major>.<minor>.json`` files and
``versions.json``, which says which version of each type is *current* and keeps
the history of why each version was made. Every number the chain applies (EQ gains,
frequencies and Qs, stereo width, loudness target, true-peak ceiling, limiter
timing) lives in those files and nowhere in the code: the code only knows the
*limits* a sane profile stays within (:data:`PARAMETERS`), so a typo such as a bass
gain of 40 dB is refused with one line instead of being played.

Versions compare numerically (1.10 is newer than 1.9): :class:`ProfileVersion` is a
pair of ints, never a string sort.

The profiles ship twice, on purpose: ``data/profiles/`` in the repository (the
default ``dataPath``, tracked in git so updates are commits) and
``sidflow_pipeline/mastering/default_profiles/`` inside the package, because a
user's ``dataPath`` may point anywhere; :func:`ensure_profiles` seeds a fresh
directory from the packaged copy and never overwrites a file. A test keeps the two
copies of v1.0 identical.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

from sidflow_pipeline.atomic import atomic_write_bytes, atomic_write_json
from sidflow_pipeline.layout import PROFILE_VERSIONS
from sidflow_pipeline.mastering.errors import ProfileError

__all__ = [
    "BAND_FILTERS",
    "PARAMETERS",
    "EqBand",
    "Profile",
    "ProfileVersion",
    "current_version",
    "default_profile_files",
    "ensure_profiles",
    "export_profiles",
    "list_versions",
    "load_profile",
    "load_profile_file",
    "parse_profile",
    "profile_path",
    "profile_types",
    "read_versions",
    "write_versions",
]

VERSIONS_SCHEMA = 1
PROFILE_FILE_RE = re.compile(r"^(?P<type>[a-z][a-z0-9_]*)_v(?P<major>\d+)\.(?P<minor>\d+)\.json$")
_VERSION_RE = re.compile(r"^v?(\d+)\.(\d+)$")
_TYPE_RE = re.compile(r"^[a-z][a-z0-9_]*$")

# Which filter each EQ band is (fixed: the profile states it so the file reads on its own).
BAND_FILTERS: dict[str, str] = {"bass": "low_shelf", "mid": "peaking", "treble": "high_shelf"}

# Every numeric parameter: dotted path in the file → (low, high, unit). Inclusive limits.
PARAMETERS: dict[str, tuple[float, float, str]] = {
    "eq.bass.gain_db": (-12.0, 12.0, "dB"),
    "eq.bass.freq_hz": (20.0, 500.0, "Hz"),
    "eq.bass.q": (0.3, 2.0, ""),
    "eq.mid.gain_db": (-12.0, 12.0, "dB"),
    "eq.mid.freq_hz": (100.0, 8000.0, "Hz"),
    "eq.mid.q": (0.1, 10.0, ""),
    "eq.treble.gain_db": (-12.0, 12.0, "dB"),
    "eq.treble.freq_hz": (1000.0, 20000.0, "Hz"),
    "eq.treble.q": (0.3, 2.0, ""),
    "stereo.width_factor": (0.0, 2.0, "×"),
    "loudness.target_lufs": (-30.0, -5.0, "LUFS"),
    "loudness.true_peak_ceiling_dbtp": (-9.0, 0.0, "dBTP"),
    "limiter.lookahead_ms": (0.5, 20.0, "ms"),
    "limiter.release_ms": (5.0, 2000.0, "ms"),
}
_SECTIONS: dict[str, set[str]] = {
    "eq": {"bass", "mid", "treble"},
    "stereo": {"width_factor"},
    "loudness": {"target_lufs", "true_peak_ceiling_dbtp"},
    "limiter": {"lookahead_ms", "release_ms"},
}
_BAND_KEYS = {"filter", "gain_db", "freq_hz", "q"}
_TEXT_KEYS = ("name", "description", "reason", "parent_version")
_TOP_KEYS = {"type", "version", *_TEXT_KEYS, "changes", *_SECTIONS}


@dataclass(frozen=True, order=True)
class ProfileVersion:
    major: int
    minor: int

    @classmethod
    def parse(cls, text: str | ProfileVersion) -> ProfileVersion:
        """``"1.10"`` or ``"v1.10"``; anything else is a :class:`ProfileError`."""
        if isinstance(text, ProfileVersion):
            return text
        match = _VERSION_RE.match(str(text).strip())
        if not match:
            raise ProfileError(f"bad profile version {text!r} (expected MAJOR.MINOR, e.g. 1.2)")
        return cls(int(match.group(1)), int(match.group(2)))

    def next_minor(self) -> ProfileVersion:
        return ProfileVersion(self.major, self.minor + 1)

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}"


@dataclass(frozen=True)
class EqBand:
    filter: str
    gain_db: float
    freq_hz: float
    q: float


@dataclass(frozen=True)
class Profile:
    """A validated profile. ``data`` is the file's JSON, kept so that an update
    changes only the fields it names and preserves the rest byte for byte."""

    type: str
    version: ProfileVersion
    bass: EqBand
    mid: EqBand
    treble: EqBand
    width_factor: float
    target_lufs: float
    true_peak_ceiling_dbtp: float
    lookahead_ms: float
    release_ms: float
    name: str = ""
    reason: str = ""
    data: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    path: Path | None = field(default=None, compare=False)

    @property
    def bands(self) -> dict[str, EqBand]:
        return {"bass": self.bass, "mid": self.mid, "treble": self.treble}

    def parameters(self) -> dict[str, float]:
        """Every applied number by its dotted path (what a rating records as applied)."""
        return {name: float(_get(self.data, name)) for name in PARAMETERS}

    def value(self, dotted: str) -> float:
        return float(_get(self.data, dotted))


def _get(data: dict[str, Any], dotted: str) -> Any:
    node: Any = data
    for part in dotted.split("."):
        node = node[part]
    return node


def _exact_keys(block: dict[str, Any], keys: set[str] | frozenset[str], source: str, where: str) -> None:
    """A typo'd key would silently fall back to nothing: refuse unknown and missing keys."""
    extra = sorted(set(block) - keys)
    if extra:
        raise ProfileError(f"{source}: unknown key '{where}.{extra[0]}'")
    missing = sorted(keys - set(block))
    if missing:
        raise ProfileError(f"{source}: missing required key '{where}.{missing[0]}'")


def parse_profile(data: Any, source: str) -> Profile:
    """Validate a profile's JSON; ``source`` (a path or name) starts every error line."""
    if not isinstance(data, dict):
        raise ProfileError(f"{source}: a profile must be a JSON object")
    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        raise ProfileError(f"{source}: unknown key '{unknown[0]}'")
    for key in ("type", "version", *_SECTIONS):
        if key not in data:
            raise ProfileError(f"{source}: missing required key '{key}'")
    kind = data["type"]
    if not isinstance(kind, str) or not _TYPE_RE.match(kind):
        raise ProfileError(f"{source}: 'type' must be a lower-case name like 'studio', got {json.dumps(kind)}")
    if not isinstance(data["version"], str):
        raise ProfileError(f"{source}: 'version' must be a string like \"1.0\", got {json.dumps(data['version'])}")
    try:
        version = ProfileVersion.parse(data["version"])
    except ProfileError as exc:
        raise ProfileError(f"{source}: {exc}") from None
    for key in _TEXT_KEYS:
        if key in data and not isinstance(data[key], str):
            raise ProfileError(f"{source}: '{key}' must be a string")
    for section, keys in _SECTIONS.items():
        block = data[section]
        if not isinstance(block, dict):
            raise ProfileError(f"{source}: '{section}' must be an object")
        _exact_keys(block, keys, f"{source}", section)
    for band_name, expected in BAND_FILTERS.items():
        spec = data["eq"][band_name]
        if not isinstance(spec, dict):
            raise ProfileError(f"{source}: 'eq.{band_name}' must be an object")
        _exact_keys(spec, _BAND_KEYS, f"{source}", f"eq.{band_name}")
        if spec["filter"] != expected:
            raise ProfileError(f"{source}: 'eq.{band_name}.filter' must be \"{expected}\", got {json.dumps(spec['filter'])}")
    for dotted, (low, high, unit) in PARAMETERS.items():
        value = _get(data, dotted)
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise ProfileError(f"{source}: '{dotted}' must be a number, got {json.dumps(value)}")
        if not low <= value <= high:
            suffix = f" {unit}" if unit else ""
            raise ProfileError(f"{source}: '{dotted}' = {value:g} is outside {low:g}..{high:g}{suffix}")

    def band(name: str) -> EqBand:
        spec = data["eq"][name]
        return EqBand(spec["filter"], float(spec["gain_db"]), float(spec["freq_hz"]), float(spec["q"]))

    return Profile(
        type=kind,
        version=version,
        bass=band("bass"),
        mid=band("mid"),
        treble=band("treble"),
        width_factor=float(data["stereo"]["width_factor"]),
        target_lufs=float(data["loudness"]["target_lufs"]),
        true_peak_ceiling_dbtp=float(data["loudness"]["true_peak_ceiling_dbtp"]),
        lookahead_ms=float(data["limiter"]["lookahead_ms"]),
        release_ms=float(data["limiter"]["release_ms"]),
        name=str(data.get("name", "")),
        reason=str(data.get("reason", "")),
        data=data,
    )


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ProfileError(f"{path}: no such profile file") from None
    except json.JSONDecodeError as exc:
        raise ProfileError(f"{path}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ProfileError(f"{path}: cannot read ({exc})") from None


def load_profile_file(path: Path) -> Profile:
    """Load and validate one file; its name must agree with its ``type`` and ``version``."""
    profile = parse_profile(_read_json(path), str(path))
    match = PROFILE_FILE_RE.match(path.name)
    if match:
        named = (match["type"], ProfileVersion(int(match["major"]), int(match["minor"])))
        if named != (profile.type, profile.version):
            raise ProfileError(
                f"{path}: the file says {profile.type} v{profile.version} but is named for {named[0]} v{named[1]}"
            )
    return replace(profile, path=path)


def profile_path(profiles_dir: Path, kind: str, version: ProfileVersion | str) -> Path:
    return Path(profiles_dir) / f"{kind}_v{ProfileVersion.parse(version)}.json"


def read_versions(profiles_dir: Path) -> dict[str, Any]:
    """``versions.json``, validated: every type has a parseable ``current`` and a history list."""
    path = Path(profiles_dir) / PROFILE_VERSIONS
    if not path.is_file():
        raise ProfileError(f"{path}: not found (run `sidflow master apply` once, or call ensure_profiles)")
    data = _read_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("types"), dict):
        raise ProfileError(f"{path}: expected an object with a 'types' object")
    for kind, entry in data["types"].items():
        if not isinstance(entry, dict) or not isinstance(entry.get("history"), list):
            raise ProfileError(f"{path}: types.{kind} needs 'current' and a 'history' list")
        try:
            ProfileVersion.parse(entry.get("current", ""))
        except ProfileError as exc:
            raise ProfileError(f"{path}: types.{kind}.current: {exc}") from None
    return data


def write_versions(profiles_dir: Path, data: dict[str, Any]) -> Path:
    path = Path(profiles_dir) / PROFILE_VERSIONS
    atomic_write_json(path, data)
    return path


def profile_types(profiles_dir: Path) -> list[str]:
    return sorted(read_versions(profiles_dir)["types"])


def current_version(profiles_dir: Path, kind: str) -> ProfileVersion:
    types = read_versions(profiles_dir)["types"]
    if kind not in types:
        raise ProfileError(
            f"no profile for type '{kind}' in {Path(profiles_dir) / PROFILE_VERSIONS} (known: {', '.join(sorted(types))})"
        )
    return ProfileVersion.parse(types[kind]["current"])


def load_profile(profiles_dir: Path, kind: str, version: ProfileVersion | str | None = None) -> Profile:
    """The current profile of a type (or the named version)."""
    chosen = current_version(profiles_dir, kind) if version is None else ProfileVersion.parse(version)
    path = profile_path(profiles_dir, kind, chosen)
    if not path.is_file():
        raise ProfileError(f"{path}: no such profile file ({kind} v{chosen})")
    return load_profile_file(path)


def list_versions(profiles_dir: Path, kind: str) -> list[ProfileVersion]:
    """Every version of a type that has a file, oldest first (numeric order)."""
    found = []
    for path in Path(profiles_dir).glob(f"{kind}_v*.json"):
        match = PROFILE_FILE_RE.match(path.name)
        if match and match["type"] == kind:
            found.append(ProfileVersion(int(match["major"]), int(match["minor"])))
    return sorted(found)


def _default_root() -> Any:
    return resources.files("sidflow_pipeline.mastering").joinpath("default_profiles")


def default_profile_files() -> dict[str, bytes]:
    """The packaged defaults: file name → bytes (profiles and ``versions.json``)."""
    root = _default_root()
    return {item.name: item.read_bytes() for item in root.iterdir() if item.name.endswith(".json")}


def ensure_profiles(profiles_dir: Path) -> list[Path]:
    """Seed ``profiles_dir`` from the packaged defaults; return the files written.

    Never overwrites: an existing profile file is kept, and an existing
    ``versions.json`` only gains the types it lacks (a newer release's new type), so
    a user's tuned versions stay current.
    """
    target = Path(profiles_dir)
    defaults = default_profile_files()
    default_versions = json.loads(defaults[PROFILE_VERSIONS])
    written: list[Path] = []
    versions_path = target / PROFILE_VERSIONS
    versions = read_versions(target) if versions_path.is_file() else None
    missing_types = sorted(set(default_versions["types"]) - set(versions["types"] if versions else ()))
    if not missing_types:
        return written
    for name, payload in sorted(defaults.items()):
        match = PROFILE_FILE_RE.match(name)
        if not match or match["type"] not in missing_types:
            continue
        path = target / name
        if not path.exists():
            atomic_write_bytes(path, payload)
            written.append(path)
    if versions is None:
        atomic_write_bytes(versions_path, defaults[PROFILE_VERSIONS])
    else:
        for kind in missing_types:
            versions["types"][kind] = default_versions["types"][kind]
        write_versions(target, versions)
    written.append(versions_path)
    return written


def export_profiles(
    profiles_dir: Path, version: ProfileVersion | str, output_dir: Path, types: Iterable[str] | None = None
) -> tuple[list[Path], list[str]]:
    """Copy version ``version`` of every type (or of ``types``) into ``output_dir``.

    The export is itself a profiles directory: its ``versions.json`` makes the
    exported version current, so it can be used as ``profiles_dir`` as it is.
    Returns (files written, types that have no such version).
    """
    wanted = ProfileVersion.parse(version)
    known = profile_types(profiles_dir)
    chosen = sorted(types) if types else known
    for kind in chosen:
        if kind not in known:
            raise ProfileError(f"no profile for type '{kind}' in {profiles_dir} (known: {', '.join(known)})")
    written: list[Path] = []
    skipped: list[str] = []
    exported: dict[str, Any] = {}
    for kind in chosen:
        source = profile_path(profiles_dir, kind, wanted)
        if not source.is_file():
            skipped.append(kind)
            continue
        profile = load_profile_file(source)
        target = Path(output_dir) / source.name
        atomic_write_bytes(target, source.read_bytes())
        written.append(target)
        exported[kind] = {
            "current": str(wanted),
            "history": [{"version": str(wanted), "file": source.name, "reason": profile.reason}],
        }
    if not written:
        raise ProfileError(f"no profile has version {wanted} in {profiles_dir}")
    written.append(write_versions(Path(output_dir), {"schema": VERSIONS_SCHEMA, "types": exported}))
    return written, skipped


def iter_profile_files(profiles_dir: Path) -> Iterator[Path]:
    """Every ``<type>_v<M>.<m>.json`` in the directory, sorted by type then version."""
    entries = []
    for path in Path(profiles_dir).glob("*_v*.json"):
        match = PROFILE_FILE_RE.match(path.name)
        if match:
            entries.append((match["type"], ProfileVersion(int(match["major"]), int(match["minor"])), path))
    for _, _, path in sorted(entries):
        yield path
