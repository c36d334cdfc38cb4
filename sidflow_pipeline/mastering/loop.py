"""The feedback loop's first two steps as one-call functions: master, then rate.

:func:`master_audio` is what the radio calls on a render in memory;
:func:`master_file` is ``sidflow master apply``: it also writes a *sidecar*,
``<output>.mastering.json``, saying what was done to which source. When that output
is rated later, :func:`rate_file` takes the type, profile version, parameters and
the *source's* fingerprint from the sidecar instead of re-detecting on the mastered
audio (which would describe the profile's work, not the recording, and would miss a
type forced with ``--profile``). Rating a file without a sidecar (an unmastered
source, as the radio plays it) fingerprints and detects it, and records that *no*
profile was applied (``mastered: false``, no version, no parameters): the listener
heard the recording as it is, so the rating must not steer any profile version.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from sidflow_pipeline.atomic import atomic_write_json
from sidflow_pipeline.mastering.audio import read_audio, write_audio
from sidflow_pipeline.mastering.detect import DETECTABLE_TYPES, Detection, DetectionHints, detect
from sidflow_pipeline.mastering.dsp import MasteringReport, apply_profile
from sidflow_pipeline.mastering.errors import MasteringError, ProfileError, RatingsError
from sidflow_pipeline.mastering.fingerprint import Fingerprint, fingerprint, fingerprint_file
from sidflow_pipeline.mastering.profiles import Profile, load_profile
from sidflow_pipeline.mastering.ratings import append_rating, timestamp

__all__ = [
    "SIDECAR_SUFFIX",
    "MasterResult",
    "choose_profile",
    "master_audio",
    "master_file",
    "rate_file",
    "sidecar_path",
]

SIDECAR_SUFFIX = ".mastering.json"


def sidecar_path(output: Path) -> Path:
    return Path(f"{output}{SIDECAR_SUFFIX}")


def choose_profile(
    profiles_dir: Path, fp: Fingerprint, *, profile_type: str | None = None, hints: DetectionHints | None = None
) -> tuple[Detection, Profile]:
    """Detect (or take the forced type, confidence 1) and load that type's current profile."""
    hints = hints or DetectionHints()
    if profile_type is not None:
        if profile_type not in DETECTABLE_TYPES:
            raise ProfileError(f"unknown profile type '{profile_type}' (expected one of {', '.join(DETECTABLE_TYPES)})")
        detection = Detection(profile_type, 1.0, hints.family, {}, ("forced",))
    else:
        detection = detect(fp, hints)
    return detection, load_profile(profiles_dir, detection.type)


def master_audio(
    audio: Any, sr: int, profiles_dir: Path, *, profile_type: str | None = None, hints: DetectionHints | None = None
) -> tuple[np.ndarray, MasteringReport, Detection, Fingerprint]:
    """Fingerprint (without tempo), detect, load the current profile, apply."""
    fp = fingerprint(audio, sr, tempo=False)
    detection, profile = choose_profile(profiles_dir, fp, profile_type=profile_type, hints=hints)
    out, report = apply_profile(audio, sr, profile)
    return out, report, detection, fp


@dataclass(frozen=True)
class MasterResult:
    source: Path
    output: Path
    sidecar: Path
    detection: Detection
    profile: Profile
    report: MasteringReport
    fingerprint_before: Fingerprint
    fingerprint_after: Fingerprint

    def to_json(self) -> dict[str, Any]:
        return {
            "source": str(self.source),
            "output": str(self.output),
            "detection": self.detection.to_json(),
            "profile_type": self.profile.type,
            "profile_version": str(self.profile.version),
            "parameters_applied": self.profile.parameters(),
            "fingerprint_before": self.fingerprint_before.to_json(),
            "fingerprint_after": self.fingerprint_after.to_json(),
            "report": self.report.to_json(),
        }


def master_file(
    source: Path,
    output: Path,
    profiles_dir: Path,
    *,
    profile_type: str | None = None,
    hints: DetectionHints | None = None,
) -> MasterResult:
    """``sidflow master apply``: read, fingerprint, detect, master, write output + sidecar.

    The "after" fingerprint is measured on the file as written (24-bit or lossy), so
    the printed true peak is the one a player will see.
    """
    source, output = Path(source), Path(output)
    if source.resolve() == output.resolve():
        raise MasteringError(f"{output}: the output must not overwrite the input")
    audio, sr = read_audio(source)
    before = fingerprint(audio, sr)
    detection, profile = choose_profile(profiles_dir, before, profile_type=profile_type, hints=hints)
    out, report = apply_profile(audio, sr, profile)
    write_audio(output, out, sr)
    after = fingerprint_file(output, tempo=False)
    result = MasterResult(
        source.resolve(), output.resolve(), sidecar_path(output), detection, profile, report, before, after
    )
    atomic_write_json(result.sidecar, {**result.to_json(), "hints": (hints or DetectionHints()).to_json()})
    return result


def _read_sidecar(path: Path) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, OSError) as exc:
        raise RatingsError(f"{path}: unusable mastering sidecar ({exc})") from None
    if not isinstance(data, dict):
        raise RatingsError(f"{path}: unusable mastering sidecar (not a JSON object)")
    for key in ("source", "detection", "profile_version", "parameters_applied", "fingerprint_before"):
        if key not in data:
            raise RatingsError(f"{path}: unusable mastering sidecar (lacks '{key}')")
    return data


def rate_file(
    feedback_dir: Path,
    file: Path,
    rating: int,
    comment: str | None = None,
    *,
    hints: DetectionHints | None = None,
    when: datetime | None = None,
) -> dict[str, Any]:
    """Append one rating of ``file`` to ``ratings.jsonl``; returns the entry written.

    The profile applied comes from the file's sidecar; an unmastered file is rated
    against no profile.
    """
    if isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5:
        raise RatingsError(f"rating must be a whole number 1..5, got {rating!r}")
    file = Path(file)
    if not file.is_file():
        raise RatingsError(f"{file}: no such file to rate")
    sidecar = _read_sidecar(sidecar_path(file))
    hints = hints or DetectionHints()
    if sidecar is not None:
        entry = {
            "file": sidecar["source"],
            "mastered_file": str(file.resolve()),
            "detected_type": sidecar["detection"]["type"],
            "confidence": sidecar["detection"]["confidence"],
            "mastered": True,
            "profile_version": sidecar["profile_version"],
            "fingerprint": sidecar["fingerprint_before"],
            "parameters_applied": sidecar["parameters_applied"],
            "hints": sidecar.get("hints", hints.to_json()),
        }
    else:
        # Nothing was applied: record the detected type (useful context) but no
        # profile, so `analyze` cannot mistake this for feedback on one.
        fp = fingerprint_file(file)
        detection = detect(fp, hints)
        entry = {
            "file": str(file.resolve()),
            "mastered_file": None,
            "detected_type": detection.type,
            "confidence": detection.confidence,
            "mastered": False,
            "profile_version": None,
            "fingerprint": fp.to_json(),
            "parameters_applied": None,
            "hints": hints.to_json(),
        }
    entry.update(rating=rating, comment=comment or None, timestamp=timestamp(when))
    return append_rating(feedback_dir, entry)
