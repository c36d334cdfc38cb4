"""Render SID songs in process with libsidplayfp, and record what each writes to the SID.

The ``sidplayfp`` program pays its emulator's start-up for every song: building reSID's
waveform and filter tables costs ~0.45 CPU-s (reSIDfp ~0.65) before anything is
emulated, about half of a 30-second render. Those tables are built once per process,
so a worker process that renders song after song pays them once
(:class:`~sidflow_pipeline.sid.workers.RenderWorkers` keeps such workers).

**Same audio as the program.** The native module configures libsidplayfp exactly as
``sidplayfp`` 2.4 does with its default ``sidplayfp.ini`` and our flags (``fast`` =
reSID with ``-rif``: interpolation and fast sampling, filter bias 0.5; ``accurate`` =
reSIDfp, resampling, filter curves 0.5; both ``--delay=0``; 6581 and PAL unless the
header says otherwise; CIA 6526; no digi boost), so for the same settings the WAV equals
``sidplayfp -w`` output sample for sample (``tests/sid/test_engine.py`` checks it on
generated tunes and the HVSC sample). Three facts of libsidplayfp 2.4 shape the binding:
its mixer dithers with the C library's ``rand()`` (a fresh ``sidplayfp`` starts from
glibc's default seed); a reused player keeps the previous tune's unread samples; and
some RSID tunes (``/DEMOS/UNKNOWN/Lucy.sid``) read memory the library never
initialised, so they hear whatever the heap holds (valgrind shows it in the program
too; the program's output is unchanged with ``MALLOC_PERTURB_=255``, which zero-fills
every allocation, and changes with other values). So every song gets a fresh native
player (0.1 ms with reSID, 2.4 ms with reSIDfp: the tables are shared), the seed is
reset when the tune loads, and once an engine exists glibc zero-fills every block it
hands out (``M_PERTURB``), so each song starts as a fresh program does.

**Watchdogs.** The song is emulated in one-second chunks, only as far as the excerpt's
end (the emulated-time cap is the window itself); between chunks the wall-clock cap
(:attr:`RenderSettings.effective_timeout_s`) and the output cap are checked. A tune
that crashes or hangs inside a chunk is the supervisor's business: the worker process
is killed and replaced, and only that song is lost (:mod:`.workers`).

**The register trace** (``<cache key>.npz`` beside the WAV, written by
:meth:`Trace.save`; a zip of ``.npy`` arrays with fixed timestamps, so equal renders
give equal bytes). libsidplayfp runs the C64 in slices of 5,000 CPU cycles (5.07 ms
PAL, 4.89 ms NTSC) and mixes after each; after every ``play`` call of ``step_frames``
samples, which is one such slice or occasionally two, the registers of every SID are
snapshotted with ``getSidStatus`` — about 200 snapshots per second, so a 50 Hz player
is seen about 4 times per call and a 4x multispeed player about once. Arrays:

* ``regs`` uint8 ``[n, sids, 25]``: registers ``$00``–``$18`` of each SID as last
  written (per voice ``v`` at ``7*v``: freq lo, freq hi, pulse lo, pulse hi (low 4 bits),
  control (bit 0 gate, 1 sync, 2 ring, 3 test, 4 triangle, 5 saw, 6 pulse, 7 noise),
  attack/decay, sustain/release; then ``$15`` cutoff lo (3 bits), ``$16`` cutoff hi,
  ``$17`` resonance (high nibble) and filter routing (bits 0–2 voices, 3 external),
  ``$18`` mode (bit 4 LP, 5 BP, 6 HP, 7 voice 3 off) and volume (low nibble)).
* ``frame`` uint32 ``[n]``: the excerpt frame (0 = the excerpt's first sample) at the
  end of the call the snapshot follows; the state may run up to one slice (~5 ms)
  ahead of that sample. Snapshots cover the excerpt only.
* ``cia1_timer_a`` uint16 ``[n]``: CIA 1 timer A's latch, the player's call rate for
  CIA-timed (multispeed) tunes.
* ``sid_bases`` uint16 ``[sids]``, ``sid_models`` uint8 ``[sids]`` (0 unknown, 1 6581,
  2 8580, 3 any), and scalars ``clock`` (0 unknown, 1 PAL, 2 NTSC, 3 any),
  ``sample_rate``, ``step_frames``, ``start_frame`` (the excerpt's start in the song).
"""

from __future__ import annotations

import io
import math
import os
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sidflow_pipeline.errors import SidflowError
from sidflow_pipeline.sid.excerpt import RenderResult, RenderSettings, RenderStatus, finish_excerpt

__all__ = [
    "TRACE_REGISTERS",
    "TRACE_SCHEME",
    "EngineUnavailable",
    "Trace",
    "libsidplayfp_version",
    "render_excerpt_in_process",
    "snapshot_step",
]

# Bumped whenever the trace's layout or sampling changes.
TRACE_SCHEME = "sidflow-trace-v1"
TRACE_REGISTERS = 25
PAL_CPU_HZ = 985_248
# libsidplayfp 2.4 clocks the C64 in slices of this many cycles (sidemu::OUTPUTBUFFERSIZE).
_SLICE_CYCLES = 5000
_CHUNK_S = 1.0
_BUILD_HINT = (
    "the in-process SID engine (sidflow_pipeline.sid._libsidplayfp) is not built: install "
    "libsidplayfp-dev and pkg-config ('sudo apt-get install libsidplayfp-dev pkg-config', or "
    "'brew install libsidplayfp pkg-config') and run 'pip install -e .' again, "
    'or set "render": {"backend": "sidplayfp"} in .sidflow.json'
)
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)


class EngineUnavailable(SidflowError, RuntimeError):
    """The native module cannot be loaded; ``str()`` is one line saying how to build it."""


def _native() -> Any:
    try:
        from sidflow_pipeline.sid import _libsidplayfp
    except ImportError as exc:
        raise EngineUnavailable(f"{_BUILD_HINT} ({exc})") from exc
    return _libsidplayfp


def libsidplayfp_version() -> str:
    """The libsidplayfp the module was built against (``"2.4.2"``); part of the cache key."""
    return str(_native().LIBSIDPLAYFP_VERSION)


def snapshot_step(sample_rate: int) -> int:
    """Frames per ``play`` call: just over one emulation slice at the slowest clock (PAL).

    libsidplayfp runs at least one slice per call and keeps what the caller did not
    take; asking for less than a slice yields would pile those samples up without bound.
    """
    return math.ceil(_SLICE_CYCLES * sample_rate / PAL_CPU_HZ) + 1


@dataclass(frozen=True)
class Trace:
    """A song's SID register snapshots over its excerpt (layout in the module docstring)."""

    regs: np.ndarray[Any, np.dtype[np.uint8]]
    frame: np.ndarray[Any, np.dtype[np.uint32]]
    cia1_timer_a: np.ndarray[Any, np.dtype[np.uint16]]
    sid_bases: np.ndarray[Any, np.dtype[np.uint16]]
    sid_models: np.ndarray[Any, np.dtype[np.uint8]]
    clock: int
    sample_rate: int
    step_frames: int
    start_frame: int

    def arrays(self) -> dict[str, np.ndarray[Any, Any]]:
        return {
            "regs": self.regs,
            "frame": self.frame,
            "cia1_timer_a": self.cia1_timer_a,
            "sid_bases": self.sid_bases,
            "sid_models": self.sid_models,
            "clock": np.array(self.clock, dtype=np.uint8),
            "sample_rate": np.array(self.sample_rate, dtype=np.uint32),
            "step_frames": np.array(self.step_frames, dtype=np.uint32),
            "start_frame": np.array(self.start_frame, dtype=np.uint32),
        }

    def to_bytes(self) -> bytes:
        """An ``.npz`` that ``np.load`` reads, with fixed zip timestamps (deterministic)."""
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for name, array in self.arrays().items():
                payload = io.BytesIO()
                np.lib.format.write_array(payload, np.asarray(array, order="C"), allow_pickle=False)
                info = zipfile.ZipInfo(f"{name}.npy", date_time=_ZIP_DATE)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                archive.writestr(info, payload.getvalue())
        return buffer.getvalue()

    def save(self, path: Path) -> None:
        """Write atomically beside the WAV (temp file, rename)."""
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(self.to_bytes())
            os.replace(tmp, path)
        finally:
            Path(tmp).unlink(missing_ok=True)

    @classmethod
    def load(cls, path: Path) -> Trace:
        with np.load(path, allow_pickle=False) as data:
            return cls(
                regs=data["regs"],
                frame=data["frame"],
                cia1_timer_a=data["cia1_timer_a"],
                sid_bases=data["sid_bases"],
                sid_models=data["sid_models"],
                clock=int(data["clock"]),
                sample_rate=int(data["sample_rate"]),
                step_frames=int(data["step_frames"]),
                start_frame=int(data["start_frame"]),
            )

    @property
    def seconds(self) -> np.ndarray[Any, np.dtype[np.float64]]:
        """Each snapshot's time in seconds from the excerpt's start."""
        return self.frame.astype(np.float64) / self.sample_rate


_ROM_HINT = "; RSID and BASIC tunes often need the C64 ROMs, which the engine has not got"
# SidTuneInfo::compatibility_t: 2 = real C64 only (RSID), 3 = needs C64 BASIC.
_NEEDS_ROMS = {2, 3}


def render_excerpt_in_process(
    sid_path: Path | str,
    song_index: int,
    out_wav: Path | str,
    settings: RenderSettings,
    *,
    out_trace: Path | str | None = None,
) -> RenderResult:
    """Render ``[start, start + duration]`` of song ``song_index`` (1-based) in this process.

    The same contract as :func:`sidflow_pipeline.sid.sidplayfp.render_excerpt`: the WAV
    appears atomically, an existing file is left alone on failure, and a bad tune ends
    as a status, never an exception. With ``out_trace`` the register trace of the
    excerpt is written there too. Raises :class:`EngineUnavailable` only when the
    native module is missing (then no song can render).
    """
    native = _native()
    started = time.monotonic()

    def finish(status: RenderStatus, message: str, **values: Any) -> RenderResult:
        return RenderResult(status, message, seconds=time.monotonic() - started, **{"wav_path": None, **values})

    if song_index < 1:
        return finish("error", f"song index {song_index} is not a song (songs count from 1)")
    try:
        data = Path(sid_path).read_bytes()
    except FileNotFoundError:
        return finish("error", f"no such SID file: {sid_path}")
    except OSError as exc:
        return finish("error", f"cannot read {sid_path}: {exc.strerror or exc}")
    fast = settings.engine == "fast"
    engine = native.Engine("resid" if fast else "residfp", settings.sample_rate, fast, not settings.mono)
    try:
        info = engine.load(data, song_index)
    except ValueError as exc:
        return finish("error", f"libsidplayfp cannot load the tune: {exc}")
    if info["song"] != song_index:
        return finish(
            "error",
            f"song {song_index} does not exist: the file has {info['songs']} song(s) "
            f"(sidplayfp would have played song {info['song']} instead)",
        )
    end_frame = settings.start_frame + settings.frames
    limit_s = settings.effective_timeout_s
    limit_bytes = settings.effective_max_bytes
    step = snapshot_step(settings.sample_rate)
    chunk = max(step, round(_CHUNK_S * settings.sample_rate))
    pieces: list[np.ndarray[Any, Any]] = []
    regs: list[np.ndarray[Any, Any]] = []
    frames_at: list[np.ndarray[Any, Any]] = []
    timers: list[np.ndarray[Any, Any]] = []
    done = 0
    while done < end_frame:
        want = min(chunk, end_frame - done)
        try:
            samples, snap, at, timer = engine.play(want, step)
        except RuntimeError as exc:
            return finish("error", f"libsidplayfp failed after {done / settings.sample_rate:.1f} s: {exc}")
        pieces.append(samples)
        regs.append(snap)
        frames_at.append(at.astype(np.int64) + done)
        timers.append(timer)
        done += want
        elapsed = time.monotonic() - started
        if done < end_frame and elapsed > limit_s:
            return finish(
                "timeout",
                f"timeout: libsidplayfp still rendering after {elapsed:.1f} s at {done / settings.sample_rate:.1f} s "
                f"of {end_frame / settings.sample_rate:.1f} s (wall-clock limit {limit_s:g} s); stopped it",
            )
        written = 44 + sum(piece.nbytes for piece in pieces)
        if written > limit_bytes:
            return finish(
                "timeout", f"timeout: libsidplayfp produced {written:,} bytes, over the {limit_bytes:,}-byte cap"
            )
    audio = np.concatenate(pieces).reshape(-1, settings.channels)
    out = Path(out_wav)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return finish("error", f"cannot write into {out.parent}: {exc}")
    hint = _ROM_HINT if info["compatibility"] in _NEEDS_ROMS else ""
    result = finish_excerpt(audio, settings.sample_rate, settings, out, song_index, finish, producer="libsidplayfp", silent_hint=hint)
    if out_trace is not None and result.wav_path is not None:
        trace = _excerpt_trace(info, settings, step, regs, frames_at, timers)
        try:
            trace.save(Path(out_trace))
        except OSError as exc:
            return finish("error", f"cannot write {out_trace}: {exc}")
    return result


def _excerpt_trace(
    info: dict[str, Any],
    settings: RenderSettings,
    step: int,
    regs: list[np.ndarray[Any, Any]],
    frames_at: list[np.ndarray[Any, Any]],
    timers: list[np.ndarray[Any, Any]],
) -> Trace:
    """The snapshots that fall in the excerpt, with frames counted from its start.

    The last snapshot before the excerpt is kept (at frame 0) so the state at the
    excerpt's first sample is known.
    """
    sids = max(1, len(info["sid_bases"]))
    all_regs = np.concatenate(regs) if regs else np.zeros((0, sids, TRACE_REGISTERS), np.uint8)
    all_frames = np.concatenate(frames_at) if frames_at else np.zeros(0, np.int64)
    all_timers = np.concatenate(timers) if timers else np.zeros(0, np.uint16)
    start, end = settings.start_frame, settings.start_frame + settings.frames
    inside = (all_frames > start) & (all_frames <= end)
    before = np.nonzero(all_frames <= start)[0]
    keep = np.concatenate([before[-1:], np.nonzero(inside)[0]]).astype(np.int64)
    frame = np.clip(all_frames[keep] - start, 0, None).astype(np.uint32)
    return Trace(
        regs=np.ascontiguousarray(all_regs[keep], dtype=np.uint8),
        frame=frame,
        cia1_timer_a=all_timers[keep].astype(np.uint16),
        sid_bases=np.array(info["sid_bases"], dtype=np.uint16),
        sid_models=np.array(info["sid_models"], dtype=np.uint8),
        clock=int(info["clock"]),
        sample_rate=settings.sample_rate,
        step_frames=step,
        start_frame=start,
    )


def warm_up(engine: str = "fast") -> None:
    """Build the emulation's tables now (the once-per-process cost), not in the first song."""
    _native().Engine("resid" if engine == "fast" else "residfp", 22050, engine == "fast", False)
