"""Make a new profile version: change, validate, write, record (and commit).

An update never edits a profile in place. It writes ``<type>_v<M>.<m+1>.json``
(one past the highest version on disk, so a rolled-back ``current`` can never make
it overwrite a file), points ``versions.json`` at it and appends the reason and the
changes to that type's history. Before anything becomes visible the new profile
must pass :func:`validate_profile`: it is written to a hidden temporary file, loaded
back through the normal loader (so the file, not a dict in memory, is what was
tested), and applied to generated signals. A rejected update removes the temporary
file and leaves ``versions.json`` untouched.

When the profiles directory is inside a git work tree (and not ignored), the new file
and ``versions.json`` are committed — only those two paths (``git commit --only``),
so whatever else is staged in the repository stays staged and uncommitted. If the
commit fails (no ``user.email``, a hook refusing it), the update is undone and the
git error is the one-line message. Outside a repository, ``versions.json``'s history
is the record.

Two updates at once are serialised by an ``flock`` on the profiles directory.
"""

from __future__ import annotations

import copy
import fcntl
import math
import os
import subprocess
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from sidflow_pipeline.atomic import atomic_write_bytes, atomic_write_json
from sidflow_pipeline.layout import PROFILE_VERSIONS
from sidflow_pipeline.mastering.dsp import apply_profile, eq_sos, sos_response_db
from sidflow_pipeline.mastering.errors import MasteringError, ProfileError, UpdateRejected
from sidflow_pipeline.mastering.fingerprint import integrated_loudness_lufs, true_peak_dbtp
from sidflow_pipeline.mastering.profiles import (
    PARAMETERS,
    Profile,
    ProfileVersion,
    list_versions,
    load_profile,
    load_profile_file,
    parse_profile,
    profile_path,
    read_versions,
    write_versions,
)
from sidflow_pipeline.mastering.ratings import timestamp
from sidflow_pipeline.mastering.signals import make_signal

__all__ = [
    "OPTION_FIELDS",
    "Check",
    "UpdateResult",
    "git_toplevel",
    "update_profile",
    "validate_profile",
]

# `master update` options → profile fields.
OPTION_FIELDS: dict[str, str] = {
    "bass": "eq.bass.gain_db",
    "mid": "eq.mid.gain_db",
    "treble": "eq.treble.gain_db",
    "width": "stereo.width_factor",
    "lufs": "loudness.target_lufs",
    "ceiling": "loudness.true_peak_ceiling_dbtp",
}
LOUDNESS_TOLERANCE_LU = 0.5  # what every caller is promised
EQ_TOLERANCE_DB = 0.5
EQ_CHECK_RATE = 48000
VALIDATION_SECONDS = 3.0
# (signal, sample rate, channels): stereo at CD rate, and a mono SID render at the
# pipeline's default render rate, where a treble shelf sits close to Nyquist.
VALIDATION_SIGNALS: tuple[tuple[str, int, int], ...] = (
    ("sine_sweep", 44100, 2),
    ("pink_noise", 44100, 2),
    ("sid_like", 44100, 2),
    ("sid_like", 22050, 1),
)


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    detail: str

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "passed": self.passed, "detail": self.detail}


@dataclass(frozen=True)
class UpdateResult:
    type: str
    old_version: ProfileVersion
    new_version: ProfileVersion
    path: Path
    changes: dict[str, tuple[float, float]]
    checks: list[Check]
    commit: str | None
    recorded_in: str  # "git" or "versions.json"


def _band_response_db(profile: Profile, band: str, freq: float, sr: int) -> float:
    sos, _ = eq_sos({band: profile.bands[band]}, sr)
    return sos_response_db(sos, freq, sr) if len(sos) else 0.0


def validate_profile(profile: Profile) -> list[Check]:
    """The checks an update must pass; each says what it measured.

    EQ (at 48 kHz, where every allowed frequency is below the 0.45·sr clamp): each
    band's biquad has the profile's full gain at the profile's ``freq_hz`` — a peaking
    filter's centre, a shelf's corner (from which the shelf gives its full gain, see
    :mod:`~sidflow_pipeline.mastering.dsp`) — and a shelf also at its far end (1 Hz,
    or just under Nyquist), within ±0.5 dB: what a user reads in the profile is what
    the filter does. Then, on every
    :data:`VALIDATION_SIGNALS` entry: loudness within ±0.5 LU of the target, true
    peak at or under the ceiling, finite output; and on the first signal the result
    must be byte-identical when applied twice.
    """
    checks: list[Check] = []
    sr = EQ_CHECK_RATE
    for name, band in profile.bands.items():
        at = band.freq_hz
        expected = band.gain_db
        measured = _band_response_db(profile, name, at, sr)
        checks.append(Check(
            f"eq {name} at {at:g} Hz",
            abs(measured - expected) <= EQ_TOLERANCE_DB,
            f"{measured:+.2f} dB (expected {expected:+.2f} ±{EQ_TOLERANCE_DB:g})",
        ))  # fmt: skip
        if band.filter != "peaking":
            plateau = 1.0 if band.filter == "low_shelf" else 0.499 * sr
            measured = _band_response_db(profile, name, plateau, sr)
            checks.append(Check(
                f"eq {name} shelf at {plateau:g} Hz",
                abs(measured - band.gain_db) <= EQ_TOLERANCE_DB,
                f"{measured:+.2f} dB (expected {band.gain_db:+.2f} ±{EQ_TOLERANCE_DB:g})",
            ))  # fmt: skip
    ceiling = profile.true_peak_ceiling_dbtp
    for index, (kind, rate, channels) in enumerate(VALIDATION_SIGNALS):
        label = f"{kind} {rate} Hz {'stereo' if channels == 2 else 'mono'}"
        audio = make_signal(kind, rate, VALIDATION_SECONDS, seed=index, channels=channels)
        out, _ = apply_profile(audio, rate, profile)
        if not np.all(np.isfinite(out)):
            checks.append(Check(f"{label}: finite output", False, "NaN or infinite samples"))
            continue
        loudness = integrated_loudness_lufs(out, rate)
        peak = true_peak_dbtp(out)
        checks.append(Check(
            f"{label}: loudness",
            abs(loudness - profile.target_lufs) <= LOUDNESS_TOLERANCE_LU,
            f"{loudness:.2f} LUFS (target {profile.target_lufs:g} ±{LOUDNESS_TOLERANCE_LU:g})",
        ))  # fmt: skip
        checks.append(Check(f"{label}: true peak", peak <= ceiling, f"{peak:.2f} dBTP (ceiling {ceiling:g})"))
        if index == 0:
            again, _ = apply_profile(audio, rate, profile)
            checks.append(Check(f"{label}: deterministic", again.tobytes() == out.tobytes(), "applied twice"))
    return checks


def _git(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)


def git_toplevel(path: Path) -> Path | None:
    """The work tree containing ``path``, or None (not a repository, or no git)."""
    try:
        result = _git(Path(path), "rev-parse", "--show-toplevel")
    except (FileNotFoundError, NotADirectoryError):
        return None
    return Path(result.stdout.strip()) if result.returncode == 0 and result.stdout.strip() else None


def _one_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "unknown error"


def _apply_changes(data: dict[str, Any], changes: dict[str, float]) -> dict[str, tuple[float, float]]:
    applied: dict[str, tuple[float, float]] = {}
    for dotted, value in changes.items():
        if dotted not in PARAMETERS:
            raise ProfileError(f"unknown profile field '{dotted}' (known: {', '.join(PARAMETERS)})")
        node = data
        *parents, leaf = dotted.split(".")
        for part in parents:
            node = node[part]
        old = float(node[leaf])
        if not math.isfinite(value):
            raise ProfileError(f"'{dotted}' must be a finite number, got {value}")
        if old != value:
            node[leaf] = float(value)
            applied[dotted] = (old, float(value))
    return applied


def update_profile(
    profiles_dir: Path, kind: str, changes: dict[str, float], reason: str, *, when: datetime | None = None
) -> UpdateResult:
    """Write the next version of ``kind``'s profile with ``changes`` (dotted field → new
    absolute value; see :data:`OPTION_FIELDS` for the CLI's names).

    Raises :class:`ProfileError` for an unknown field or an out-of-range value and
    :class:`UpdateRejected` when validation fails — in both cases nothing is written.
    """
    directory = Path(profiles_dir)
    if not reason.strip():
        raise ProfileError("say why (--reason): it goes into the history and the commit message")
    if not changes:
        raise ProfileError(
            "nothing to change: give at least one of --bass, --mid, --treble, --width, --lufs, --ceiling, --set"
        )
    lock = os.open(directory, os.O_RDONLY)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _update_locked(directory, kind, changes, reason.strip(), when)
    finally:
        fcntl.flock(lock, fcntl.LOCK_UN)
        os.close(lock)


def _update_locked(
    directory: Path, kind: str, changes: dict[str, float], reason: str, when: datetime | None
) -> UpdateResult:
    current = load_profile(directory, kind)
    data = copy.deepcopy(current.data)
    applied = _apply_changes(data, changes)
    if not applied:
        raise ProfileError(f"nothing changes: {kind} v{current.version} already has those values")
    newest = max([current.version, *list_versions(directory, kind)])
    new_version = newest.next_minor()
    data["version"] = str(new_version)
    data["parent_version"] = str(current.version)
    data["reason"] = reason
    data["changes"] = {key: {"from": old, "to": new} for key, (old, new) in sorted(applied.items())}
    final = profile_path(directory, kind, new_version)
    parse_profile(data, final.name)  # ranges and fields: a one-line ProfileError, before any file exists

    fd, temp_name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=directory)
    os.close(fd)
    temp = Path(temp_name)
    try:
        atomic_write_json(temp, data)
        candidate = load_profile_file(temp)
        checks = validate_profile(candidate)
        failed = [c for c in checks if not c.passed]
        if failed:
            first = failed[0]
            raise UpdateRejected(
                f"{kind} v{new_version} rejected: {first.name}: {first.detail}"
                + (f" (+{len(failed) - 1} more failed checks)" if len(failed) > 1 else "")
            )
        if final.exists():  # pragma: no cover - guarded by the lock and the version choice
            raise ProfileError(f"{final}: already exists")
        os.replace(temp, final)
    finally:
        temp.unlink(missing_ok=True)

    versions_path = directory / PROFILE_VERSIONS
    previous_versions = versions_path.read_bytes()
    versions = read_versions(directory)
    toplevel = git_toplevel(directory)
    in_git = toplevel is not None and _git(directory, "check-ignore", "-q", final.name).returncode != 0
    entry = {
        "version": str(new_version),
        "file": final.name,
        "parent_version": str(current.version),
        "reason": reason,
        "changes": data["changes"],
        "date": timestamp(when),
        "recorded_in": "git" if in_git else PROFILE_VERSIONS,
    }
    versions["types"][kind]["current"] = str(new_version)
    versions["types"][kind]["history"].append(entry)
    write_versions(directory, versions)

    commit: str | None = None
    if in_git:
        try:
            commit = _commit(directory, [final.name, PROFILE_VERSIONS], kind, new_version, reason)
        except MasteringError:
            final.unlink(missing_ok=True)
            atomic_write_bytes(versions_path, previous_versions)
            raise
    return UpdateResult(
        type=kind,
        old_version=current.version,
        new_version=new_version,
        path=final,
        changes=applied,
        checks=checks,
        commit=commit,
        recorded_in=entry["recorded_in"],
    )


def _commit(directory: Path, names: list[str], kind: str, version: ProfileVersion, reason: str) -> str:
    message = f"mastering: {kind} profile v{version} - {reason}"
    added = _git(directory, "add", "--", *names)
    if added.returncode != 0:
        raise MasteringError(f"git add failed in {directory}: {_one_line(added.stderr)}; profile not updated")
    committed = _git(directory, "commit", "--quiet", "--only", "-m", message, "--", *names)
    if committed.returncode != 0:
        # Unstage what we staged (the index entries of our two paths only).
        _git(directory, "reset", "--quiet", "--", *names)
        detail = _one_line(committed.stderr or committed.stdout)
        raise MasteringError(f"git commit failed in {directory}: {detail}; profile not updated")
    return _git(directory, "rev-parse", "HEAD").stdout.strip()
