"""``sidflow master test``: what did the last update change, on real or generated tracks?

Both versions of a type's profile are applied to the same N tracks and the results
measured the same way (loudness, true peak, spectral centroid, bass/mid ratio), so
a change of, say, −0.5 dB of bass shows up as a bass/mid ratio 0.5 dB lower while
loudness and peaks stay on target. Tracks come, in this order of preference, from

1. a folder given by the caller (``--files DIR``): a seeded random sample of the
   audio files under it, so a re-run picks the same ones;
2. the user's own tracks: the audio files rated as that type in
   ``mastering-feedback/ratings.jsonl`` that are still on disk (each once, a seeded
   sample when there are more than N) — the recordings the profile is being tuned
   for, which is what "old vs new on N tracks" should be measured on;
3. only when there are none, the generated validation signals.

``CompareResult.source`` says which, so a table of generated signals is never read
as a verdict on real music.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sidflow_pipeline.layout import MASTERING_RATINGS
from sidflow_pipeline.mastering.audio import AUDIO_EXTENSIONS, read_audio
from sidflow_pipeline.mastering.dsp import apply_profile
from sidflow_pipeline.mastering.errors import MasteringError, ProfileError
from sidflow_pipeline.mastering.fingerprint import Fingerprint, fingerprint
from sidflow_pipeline.mastering.profiles import ProfileVersion, current_version, list_versions, load_profile
from sidflow_pipeline.mastering.ratings import read_ratings
from sidflow_pipeline.mastering.signals import SIGNALS, make_signal

__all__ = ["GENERATED_SOURCE", "CompareResult", "CompareRow", "compare_versions", "pick_tracks", "rated_tracks"]

GENERATED_SECONDS = 5.0
GENERATED_RATE = 44100
GENERATED_SOURCE = "generated signals"
_MEASURES = ("loudness_lufs", "true_peak_dbtp", "spectral_centroid_hz", "bass_mid_ratio_db")


@dataclass(frozen=True)
class CompareRow:
    track: str
    before: Fingerprint
    old: Fingerprint
    new: Fingerprint

    def to_json(self) -> dict[str, Any]:
        return {
            "track": self.track,
            **{
                measure: {
                    "before": getattr(self.before, measure),
                    "old": getattr(self.old, measure),
                    "new": getattr(self.new, measure),
                }
                for measure in _MEASURES
            },
        }


@dataclass(frozen=True)
class CompareResult:
    type: str
    old_version: ProfileVersion
    new_version: ProfileVersion
    rows: list[CompareRow]
    # Where the tracks came from: the folder; "rated <type> tracks (<ratings.jsonl>)";
    # or "generated signals", with the reason when rated tracks were looked for.
    source: str

    def to_json(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "old_version": str(self.old_version),
            "new_version": str(self.new_version),
            "source": self.source,
            "tracks": [row.to_json() for row in self.rows],
        }


def _sample(files: list[Path], count: int, seed: int) -> list[Path]:
    """Up to ``count`` of the sorted ``files``, chosen by ``seed``, in path order."""
    if len(files) <= count:
        return files
    return sorted(random.Random(seed).sample(files, count))


def pick_tracks(folder: Path, count: int, seed: int = 0) -> list[Path]:
    """A seeded sample of up to ``count`` audio files under ``folder``, in path order."""
    if not Path(folder).is_dir():
        raise MasteringError(f"{folder}: not a folder")
    files = sorted(p for p in Path(folder).rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_EXTENSIONS)
    if not files:
        raise MasteringError(f"{folder}: no audio files ({', '.join(AUDIO_EXTENSIONS)})")
    return _sample(files, count, seed)


def rated_tracks(feedback_dir: Path, kind: str, count: int, seed: int = 0) -> list[Path]:
    """A seeded sample of up to ``count`` audio files rated as ``kind`` that still exist.

    A rating's ``file`` is the source (for a rated ``apply`` output, what was mastered),
    so both versions are applied to unmastered audio, as ``apply`` would. Every file
    counts once however often it was rated; files since moved or deleted, and names
    that are not audio files, are left out. Sorted before sampling, so the same log
    and seed give the same tracks.
    """
    entries, _ = read_ratings(feedback_dir)
    files = {
        Path(entry["file"])
        for entry in entries
        if entry["detected_type"] == kind and isinstance(entry["file"], str)
    }
    existing = sorted(p for p in files if p.suffix.lower() in AUDIO_EXTENSIONS and p.is_file())
    return _sample(existing, count, seed)


def compare_versions(
    profiles_dir: Path,
    kind: str,
    sample_size: int,
    *,
    files_dir: Path | None = None,
    feedback_dir: Path | None = None,
    seed: int = 0,
    old: ProfileVersion | str | None = None,
    new: ProfileVersion | str | None = None,
) -> CompareResult:
    """Previous vs current version (or ``old`` vs ``new``) on ``sample_size`` tracks.

    Tracks: from ``files_dir`` when given; else the rated ``kind`` tracks in
    ``feedback_dir``'s ratings log (when given); else generated signals.
    """
    if sample_size < 1:
        raise MasteringError(f"sample size must be at least 1, got {sample_size}")
    new_version = ProfileVersion.parse(new) if new is not None else current_version(profiles_dir, kind)
    if old is not None:
        old_version = ProfileVersion.parse(old)
    else:
        earlier = [v for v in list_versions(profiles_dir, kind) if v < new_version]
        if not earlier:
            raise ProfileError(f"{kind} has no version before v{new_version} to compare with (update it first)")
        old_version = earlier[-1]
    old_profile = load_profile(profiles_dir, kind, old_version)
    new_profile = load_profile(profiles_dir, kind, new_version)

    tracks: list[tuple[str, Any, int]] = []
    if files_dir is not None:
        for path in pick_tracks(files_dir, sample_size, seed):
            audio, sr = read_audio(path)
            tracks.append((str(path.relative_to(files_dir)), audio, sr))
        source = str(files_dir)
    elif feedback_dir is not None and (rated := rated_tracks(feedback_dir, kind, sample_size, seed)):
        for path in rated:
            audio, sr = read_audio(path)
            tracks.append((str(path), audio, sr))
        source = f"rated {kind} tracks ({Path(feedback_dir) / MASTERING_RATINGS})"
    else:
        kinds = tuple(SIGNALS)
        for index in range(sample_size):
            signal = kinds[index % len(kinds)]
            audio = make_signal(signal, GENERATED_RATE, GENERATED_SECONDS, seed=seed + index)
            tracks.append((f"{signal} #{index + 1}", audio, GENERATED_RATE))
        source = GENERATED_SOURCE
        if feedback_dir is not None:
            source += f" (no rated {kind} track on disk in {Path(feedback_dir) / MASTERING_RATINGS})"

    rows = []
    for name, audio, sr in tracks:
        before = fingerprint(audio, sr, tempo=False)
        old_out, _ = apply_profile(audio, sr, old_profile)
        new_out, _ = apply_profile(audio, sr, new_profile)
        rows.append(
            CompareRow(name, before, fingerprint(old_out, sr, tempo=False), fingerprint(new_out, sr, tempo=False))
        )
    return CompareResult(kind, old_version, new_version, rows, source)
