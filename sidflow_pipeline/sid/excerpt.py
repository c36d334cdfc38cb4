"""What every renderer shares: the settings of an excerpt, how a render ended, and the
cutting, level checks and atomic WAV write that turn a song's samples into a cached
excerpt.

Two renderers produce the samples: the ``sidplayfp`` program (:mod:`.player`) and
libsidplayfp in process (:mod:`.engine`). Both emulate from the song's start (neither
can seek) and hand their samples to :func:`finish_excerpt`, so the window, the
"silent" rule and the file written are the same whichever ran.
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import soundfile as sf

__all__ = [
    "ENGINE_FLAGS",
    "POWER_ON_SETTLE_S",
    "RENDER_SCHEME",
    "SILENCE_DBFS",
    "Engine",
    "RenderResult",
    "RenderSettings",
    "RenderStatus",
    "finish_excerpt",
]

Engine = Literal["fast", "accurate"]
RenderStatus = Literal["ok", "silent", "timeout", "error"]

# "fast" is reSID with fast interpolation (~3x quicker); "accurate" is reSIDfp, the
# emulation sidplayfp itself defaults to. In sidplayfp's own flags, which the in-process
# engine mirrors setting for setting.
ENGINE_FLAGS: dict[str, tuple[str, ...]] = {"fast": ("--resid", "-rif"), "accurate": ("--residfp",)}
# Below this level (after DC removal) an excerpt carries nothing worth analysing.
SILENCE_DBFS = -70.0
# Every tune starts with the click of the volume register being set; it must not count
# as music when the excerpt starts at 0.
POWER_ON_SETTLE_S = 1.0
# Bumped whenever the command line or the cutting changes the audio for equal settings.
RENDER_SCHEME = "sidplayfp-render-v1"
# sidplayfp rounds its output up to whole 2-second buffers (see player.py's docstring).
_BUFFER_SLACK_S = 2


@dataclass(frozen=True)
class RenderSettings:
    """How to render one excerpt. Only some fields change the audio: see :meth:`cache_key`.

    ``timeout_s`` and ``max_bytes`` default from the excerpt length (see
    :attr:`effective_timeout_s`, :attr:`effective_max_bytes`): generous for a healthy
    tune on a loaded machine, yet small enough that a runaway tune ends quickly.
    """

    sample_rate: int = 22050
    engine: Engine = "fast"
    mono: bool = True
    start_offset_s: float = 0.0
    duration_s: float = 30.0
    timeout_s: float | None = None
    max_bytes: int | None = None

    def __post_init__(self) -> None:
        if self.engine not in ENGINE_FLAGS:
            raise ValueError(f"engine {self.engine!r} is not one of {sorted(ENGINE_FLAGS)}")
        if not 4000 <= self.sample_rate <= 192_000:
            raise ValueError(f"sample_rate {self.sample_rate} Hz is outside 4000–192000")
        if not (math.isfinite(self.start_offset_s) and self.start_offset_s >= 0):
            raise ValueError(f"start_offset_s {self.start_offset_s} must be >= 0")
        if not (math.isfinite(self.duration_s) and self.duration_s > 0):
            raise ValueError(f"duration_s {self.duration_s} must be > 0")
        if self.timeout_s is not None and not self.timeout_s > 0:
            raise ValueError(f"timeout_s {self.timeout_s} must be > 0")
        if self.max_bytes is not None and self.max_bytes <= 44:
            raise ValueError(f"max_bytes {self.max_bytes} leaves no room for audio")

    @property
    def channels(self) -> int:
        return 1 if self.mono else 2

    @property
    def start_frame(self) -> int:
        return round(self.start_offset_s * self.sample_rate)

    @property
    def frames(self) -> int:
        """Frames in the finished excerpt (at least one)."""
        return max(1, round(self.duration_s * self.sample_rate))

    @property
    def play_seconds(self) -> int:
        """Whole seconds sidplayfp must play (``-t``) so the excerpt's end is covered."""
        end_frame = self.start_frame + self.frames
        return max(1, math.ceil(end_frame / self.sample_rate))

    @property
    def effective_timeout_s(self) -> float:
        """Wall-clock limit: ``timeout_s``, else 3 s per second played, at least 10 s.

        Rendering runs 15–40x faster than real time, so this only fires on a hung or
        starved process.
        """
        return self.timeout_s if self.timeout_s is not None else max(10.0, 3.0 * self.play_seconds)

    @property
    def effective_max_bytes(self) -> int:
        """Output cap: ``max_bytes``, else 1.5x what sidplayfp should write, plus 64 KiB."""
        if self.max_bytes is not None:
            return self.max_bytes
        expected = (self.play_seconds + _BUFFER_SLACK_S) * self.sample_rate * self.channels * 2
        return int(expected * 1.5) + 65_536

    def command_args(self) -> list[str]:
        """The sidplayfp options that shape the audio (song, output file and tune are added per call)."""
        return [
            f"-t{self.play_seconds}",
            f"-f{self.sample_rate}",
            "-m" if self.mono else "-s",
            *ENGINE_FLAGS[self.engine],
            "--delay=0",
        ]

    def cache_key(self) -> str:
        """A stable string of everything here that changes the rendered audio.

        Watchdog limits are left out (they never change a successful render). Combine
        it with :func:`sidplayfp_version` for a WAV cache, since another sidplayfp (or
        C64 ROMs configured in its ``sidplayfp.ini``) can render differently.
        """
        layout = "mono" if self.mono else "stereo"
        return (
            f"{RENDER_SCHEME}|engine={self.engine}|rate={self.sample_rate}|{layout}"
            f"|start={self.start_offset_s:.3f}|duration={self.duration_s:.3f}"
        )


@dataclass(frozen=True)
class RenderResult:
    """How one render ended. ``wav_path`` is set for ``ok`` and ``silent`` (file kept).

    ``peak`` and ``rms`` are linear full-scale values (1.0 = int16 full scale) over the
    whole excerpt; ``bytes_written`` is the size of ``wav_path`` (0 when there is none).
    """

    status: RenderStatus
    message: str
    wav_path: Path | None
    seconds: float
    bytes_written: int = 0
    peak: float = 0.0
    rms: float = 0.0

    @property
    def peak_dbfs(self) -> float:
        return _dbfs(self.peak)

    @property
    def rms_dbfs(self) -> float:
        return _dbfs(self.rms)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form for asset metadata and manifests."""
        return {
            "status": self.status,
            "message": self.message,
            "wav_path": str(self.wav_path) if self.wav_path is not None else None,
            "seconds": round(self.seconds, 3),
            "bytes_written": self.bytes_written,
            "peak": self.peak,
            "rms": self.rms,
        }


def _dbfs(value: float) -> float:
    return 20.0 * math.log10(value) if value > 0 else float("-inf")


def finish_excerpt(
    data: np.ndarray[Any, Any],
    rate: int,
    settings: RenderSettings,
    out: Path,
    song_index: int,
    finish: Callable[..., RenderResult],
    *,
    producer: str,
    silent_hint: str = "",
) -> RenderResult:
    """Cut ``[start, start + duration]`` out of a render from 0, judge it, write it atomically.

    ``data`` is int16 ``[frames, channels]``; ``producer`` names the renderer in
    messages. A failed write leaves an existing ``out`` untouched.
    """
    end = settings.start_frame + settings.frames
    if len(data) < end:
        return finish(
            "error",
            f"{producer} stopped after {len(data) / rate:.3f} s, before the excerpt's end at {end / rate:.3f} s",
        )
    excerpt = data[settings.start_frame : end]
    peak, rms, level = _levels(excerpt, settings)
    try:
        fd, tmp_name = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".part.wav")
        os.close(fd)
        try:
            sf.write(tmp_name, excerpt, rate, subtype="PCM_16", format="WAV")
            os.replace(tmp_name, out)
        finally:
            Path(tmp_name).unlink(missing_ok=True)
    except OSError as exc:
        return finish("error", f"cannot write {out}: {exc}")
    values = {"wav_path": out, "bytes_written": out.stat().st_size, "peak": peak, "rms": rms}
    span = f"[{settings.start_offset_s:g}, {settings.start_offset_s + settings.duration_s:g}] s"
    if level <= 10.0 ** (SILENCE_DBFS / 20.0):
        return finish(
            "silent",
            f"silent: song {song_index} {span} stays below {SILENCE_DBFS:g} dBFS "
            f"after the power-on click (level {_dbfs(level):.1f} dBFS){silent_hint}",
            **values,
        )
    return finish(
        "ok",
        f"rendered song {song_index} {span} with the {settings.engine} engine "
        f"(peak {_dbfs(peak):.1f} dBFS, RMS {_dbfs(rms):.1f} dBFS)",
        **values,
    )


def _levels(excerpt: np.ndarray[Any, Any], settings: RenderSettings) -> tuple[float, float, float]:
    """Peak and RMS of the excerpt, and the DC-free level that decides "silent".

    The silence level ignores the first second of the song (the power-on click) and
    any constant offset (inaudible), unless the excerpt lies entirely in that second.
    """
    x = excerpt.astype(np.float64) / 32768.0
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    rms = float(np.sqrt(np.mean(x * x))) if x.size else 0.0
    settle = max(0, round(POWER_ON_SETTLE_S * settings.sample_rate) - settings.start_frame)
    judged = x[settle:] if settle < len(x) else x
    centred = judged - judged.mean(axis=0)
    level = float(np.sqrt(np.mean(centred * centred))) if centred.size else 0.0
    return peak, rms, level
