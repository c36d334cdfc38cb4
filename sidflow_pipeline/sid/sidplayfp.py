"""The ``sidplayfp`` program runner: find it, render WAV excerpts with it, read its banner.

Playing a song out loud while the listener presses keys is another job:
:mod:`sidflow_pipeline.sid.playback`.

``sidplayfp`` runs as a subprocess (never linked) because a bad tune must only ever
cost one song: some RSID tunes never stop, some write audio forever, some need C64
ROMs nobody has. Every render therefore runs in its own process group under a
wall-clock watchdog and an output-size cap, and ends as a per-song status
(``ok`` / ``silent`` / ``timeout`` / ``error``) instead of an exception. The only
exception is a missing ``sidplayfp`` (:class:`SidplayfpNotFound`), because then no
song can render and the user has to act.

What sidplayfp 2.4.0 (libsidplayfp 2.4.2) actually does, measured on the HVSC sample,
and what this module does about it:

* ``-t<n>`` is the length *after* the start offset (stop = ``-b`` + ``-t``), but the
  stop is only checked between 2-second output buffers, so the file is rounded up to
  an even number of seconds: ``-t1`` → 2.0 s, ``-t5`` → 6.0 s, ``-t20`` → 20.0 s, at
  22050, 44100 and 48000 Hz alike. ``-t`` takes whole seconds or ``m:ss``.
* ``-b`` fast-forwards to the start, but lands off by up to ~0.12 s
  (``-b7`` started at 6.988 s, ``-b0:02.500`` at 2.623 s; ``-b2.5`` is read as 2 s),
  and saves almost nothing because the SID is still clocked every cycle (35 s plain:
  0.82 s wall; ``-b15 -t20``: 0.80 s).
  So we do not use ``-b``: we render ``[0, ceil(start + duration)]`` and cut
  ``[start, start + duration]`` out in Python, which is sample-exact.
* ``-os<n>`` plays song *n* only. Without ``s`` sidplayfp moves on to the next
  subtunes and, with ``-w``, keeps writing. A song number beyond the file's count is
  silently replaced by the start song; we read ``Playlist : 1/1 (tune n/m[s])`` from
  the banner to catch that.
* Exit status is 1 for a file it cannot read (``SIDTUNE ERROR: Could not determine
  file format``) and 0 otherwise, even when ``-w`` pointed into a missing directory
  and nothing was written, so success is judged by the WAV, not the exit status.
* reSIDfp (``accurate``) output differs from run to run unless ``--delay=0``
  (the default is a random power-on delay); with it both engines are byte-identical
  across runs, which the WAV cache needs.
* Some RSID tunes ignore ``-t`` altogether:
  ``/MUSICIANS/A/Alien-Crackings/Digital_Remix-Disk.sid`` wrote 97 MB in 2 s
  (21,280 s of audio in 20 s) for ``-t10``. The size cap ends those in well under a
  second.
* Without C64 ROMs a BASIC tune (``/DEMOS/UNKNOWN/Bach_Duet_BASIC.sid``) renders the
  power-on click (≈0.6 s, peak −17 dBFS) and then digital zero. Almost every tune
  starts with such a click, so silence is judged after the first second of the song.

Cost, measured here (2 cores, best of 6) for 20 s of ``Delicious_tune_8.sid`` at
22050 Hz mono: ``fast`` (reSID, ``--resid -rif``) 0.53 s, ``accurate`` (reSIDfp)
1.41 s; :func:`render_excerpt` adds ~0.02 s (reading, cutting, writing). Most of the
fixed cost is emulator start-up, not the process: ``-t1`` takes 0.29 s (fast) and
0.52 s (accurate) while ``--none`` (no SID emulation) takes 0.016 s. Under load from
parallel renders, medians run ~1.3-1.7x higher.
"""

from __future__ import annotations

import os
import re
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import soundfile as sf

from sidflow_pipeline.errors import SidflowError
from sidflow_pipeline.sid.excerpt import (
    ENGINE_FLAGS,
    SILENCE_DBFS,
    Engine,
    RenderResult,
    RenderSettings,
    RenderStatus,
    finish_excerpt,
)
from sidflow_pipeline.sid.header import build_psid

__all__ = [
    "ENGINE_FLAGS",
    "SILENCE_DBFS",
    "Engine",
    "RenderResult",
    "RenderSettings",
    "RenderStatus",
    "SidplayfpError",
    "SidplayfpNotFound",
    "find_sidplayfp",
    "parse_sidplayfp_banner",
    "render_excerpt",
    "sidplayfp_info",
    "sidplayfp_version",
]

class SidplayfpNotFound(SidflowError, RuntimeError):
    """No usable ``sidplayfp`` binary; ``str()`` is one line telling the user what to do."""


class SidplayfpError(SidflowError, RuntimeError):
    """sidplayfp ran but could not tell us what was asked (see :func:`sidplayfp_info`)."""


def find_sidplayfp(configured: str | os.PathLike[str] | None = None) -> Path:
    """The sidplayfp to run: ``configured`` (``sidplayPath``) if given, else the one on PATH.

    A configured value with a slash is a path; a bare name is looked up on PATH, so
    ``"sidplayfp-git"`` works as well as ``"/opt/bin/sidplayfp"``.
    """
    if configured:
        text = os.fspath(configured)
        expanded = os.path.expanduser(text)
        if "/" in expanded or (os.altsep is not None and os.altsep in expanded):
            candidate = Path(expanded)
            if candidate.is_file() and os.access(candidate, os.X_OK):
                return candidate
            raise SidplayfpNotFound(
                f"sidplayfp not found at '{text}' (\"sidplayPath\" in .sidflow.json): {_INSTALL_HINT}, "
                'or correct "sidplayPath" in .sidflow.json'
            )
        found = shutil.which(expanded)
        if found:
            return Path(found)
        raise SidplayfpNotFound(
            f"sidplayfp not found (looked for '{text}' on PATH, from \"sidplayPath\" in .sidflow.json): "
            f'{_INSTALL_HINT}, or correct "sidplayPath" in .sidflow.json'
        )
    found = shutil.which("sidplayfp")
    if found:
        return Path(found)
    raise SidplayfpNotFound(
        f"sidplayfp not found (looked for 'sidplayfp' on PATH): {_INSTALL_HINT}, "
        'or set "sidplayPath" in .sidflow.json'
    )


def _resolve_binary(binary: str | os.PathLike[str] | None) -> Path:
    return find_sidplayfp(binary) if binary is not None else find_sidplayfp()


_POLL_S = 0.02
_INSTALL_HINT = "install it with 'sudo apt-get install sidplayfp' (Debian/Ubuntu) or 'brew install sidplayfp' (macOS)"


def _decode(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace")


_NOISE_RE = re.compile(r"^(?:[+\-|\s]*|Playing, press ESC to stop.*|Creating audio file, please wait.*)$")


def _last_line(text: str, exe: Path) -> str:
    """The last meaningful line of sidplayfp's stderr (boxes, progress and its own name dropped)."""
    for piece in reversed(re.split(r"[\r\n]+", text)):
        line = piece.strip()
        if line and not _NOISE_RE.match(line):
            return line.removeprefix(f"{exe}: ")[:240]
    return ""


def _kill_group(proc: subprocess.Popen[Any]) -> None:
    """SIGKILL the render's whole process group, then reap it (no zombies, no orphans)."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):  # pragma: no cover - exited in between
            pass
    proc.wait()


def _text_env() -> dict[str, str]:
    # sidplayfp converts the tune's Latin-1 strings to the locale's charset; under the C
    # locale it cuts "Chris Hülsbeck" to "Chris H". Ask for UTF-8.
    env = dict(os.environ)
    env["LC_ALL"] = "en_US.UTF-8" if sys.platform == "darwin" else "C.UTF-8"
    return env


def render_excerpt(
    sid_path: Path | str,
    song_index: int,
    out_wav: Path | str,
    settings: RenderSettings,
    binary: Path | str | None = None,
    *,
    on_spawn: Callable[[int], None] | None = None,
) -> RenderResult:
    """Render ``[start, start + duration]`` of song ``song_index`` (1-based) to ``out_wav``.

    The WAV (16-bit PCM at ``settings.sample_rate``) appears atomically: sidplayfp
    writes a hidden temporary file beside ``out_wav``, and only a finished, checked
    excerpt is moved into place, so a crash or kill never leaves a half-written file
    that a cache would trust. On failure an existing ``out_wav`` is left untouched.

    Never raises for a bad tune; raises :class:`SidplayfpNotFound` when there is no
    sidplayfp. ``on_spawn`` receives the child's pid (for supervision and tests).
    """
    started = time.monotonic()

    def finish(status: RenderStatus, message: str, **values: Any) -> RenderResult:
        return RenderResult(status, message, seconds=time.monotonic() - started, **{"wav_path": None, **values})

    exe = _resolve_binary(binary)
    if song_index < 1:
        return finish("error", f"song index {song_index} is not a song (songs count from 1)")
    sid = Path(sid_path).resolve()  # absolute: a name starting with '-' is never an option
    if not sid.is_file():
        return finish("error", f"no such SID file: {sid_path}")
    out = Path(out_wav)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        fd, raw_name = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".sidplayfp.wav")
    except OSError as exc:
        return finish("error", f"cannot write into {out.parent}: {exc}")
    os.close(fd)
    raw = Path(raw_name)
    try:
        cmd = [str(exe), f"-os{song_index}", *settings.command_args(), "-q", f"-w{raw}", str(sid)]
        with tempfile.TemporaryFile() as log:
            # stderr goes to a file, not a pipe: sidplayfp prints progress for as long as
            # it runs, and an undrained pipe would stall it (and our watchdog with it).
            proc = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log, start_new_session=True
            )
            try:
                if on_spawn is not None:
                    on_spawn(proc.pid)
                stop_reason = _watch(proc, raw, settings, started)
            finally:
                _kill_group(proc)
            log.seek(0)
            stderr = _decode(log.read())
        if stop_reason is not None:
            return finish("timeout", stop_reason)
        return _finish_render(proc.returncode, stderr, exe, raw, out, song_index, settings, finish)
    finally:
        raw.unlink(missing_ok=True)


def _watch(proc: subprocess.Popen[Any], raw: Path, settings: RenderSettings, started: float) -> str | None:
    """Wait for sidplayfp; return why it had to be killed, or None when it exited."""
    limit_s = settings.effective_timeout_s
    limit_bytes = settings.effective_max_bytes
    while True:
        try:
            proc.wait(timeout=_POLL_S)
            return None
        except subprocess.TimeoutExpired:
            pass
        elapsed = time.monotonic() - started
        if elapsed > limit_s:
            return (
                f"timeout: sidplayfp still running after {elapsed:.1f} s (wall-clock limit {limit_s:g} s); "
                "killed it"
            )
        try:
            size = raw.stat().st_size
        except OSError:
            size = 0
        if size > limit_bytes:
            return (
                f"timeout: sidplayfp wrote {size:,} bytes in {elapsed:.1f} s, over the {limit_bytes:,}-byte cap "
                f"for {settings.play_seconds} s of audio (the tune ignores the time limit); killed it"
            )


_PLAYLIST_RE = re.compile(r"\(tune\s*(\d+)/(\d+)\[(\d+)\]\)")


def _finish_render(
    returncode: int,
    stderr: str,
    exe: Path,
    raw: Path,
    out: Path,
    song_index: int,
    settings: RenderSettings,
    finish: Callable[..., RenderResult],
) -> RenderResult:
    said = _last_line(stderr, exe)
    if returncode != 0:
        return finish("error", f"sidplayfp exited with status {returncode}: {said or 'no message'}")
    playlist = _PLAYLIST_RE.search(stderr)
    if playlist and int(playlist.group(1)) != song_index:
        return finish(
            "error",
            f"song {song_index} does not exist: the file has {playlist.group(2)} song(s) "
            f"(sidplayfp would have played song {playlist.group(1)} instead)",
        )
    size = raw.stat().st_size if raw.exists() else 0
    if size <= 44:
        return finish("error", f"sidplayfp exited 0 but wrote no audio{': ' + said if said else ''}")
    try:
        data, rate = sf.read(raw, dtype="int16", always_2d=True)
    except (RuntimeError, ValueError) as exc:  # soundfile.LibsndfileError is a RuntimeError
        return finish("error", f"sidplayfp wrote an unreadable WAV: {str(exc).splitlines()[0]}")
    if rate != settings.sample_rate or data.shape[1] != settings.channels:
        return finish(
            "error",
            f"sidplayfp wrote {rate} Hz x {data.shape[1]} channel(s), "
            f"asked for {settings.sample_rate} Hz x {settings.channels}",
        )
    no_roms = re.search(r"(?:Kernal|BASIC) ROM\s*:\s*None", stderr) is not None
    hint = "; RSID and BASIC tunes often need the C64 ROMs, which sidplayfp has not got" if no_roms else ""
    return finish_excerpt(data, rate, settings, out, song_index, finish, producer="sidplayfp", silent_hint=hint)


# --- banner: what sidplayfp says about a tune ------------------------------------------

_FIELD_RE = re.compile(r"^\|\s(?P<label>[^:|]*?)\s*:\s?(?P<value>.*)$")
_ADDRESS_RE = re.compile(r"([A-Z]+)\s*=\s*\$([0-9A-Fa-f]+)(?:-\$([0-9A-Fa-f]+))?")
_EXTRA_SID_RE = re.compile(r"(\d)(?:st|nd|rd|th) SID = \$([0-9A-Fa-f]+)")


def parse_sidplayfp_banner(text: str) -> dict[str, Any]:
    """Structure the ``-v`` banner sidplayfp prints before playing.

    Returns ``fields`` (every ``label: value`` as printed; continuation lines joined
    with ", ") plus typed views: title/author/released, ``format`` (PSID/RSID),
    ``song``/``songs``/``start_song`` from the playlist line, ``song_speed``,
    ``load_address``/``load_end``/``init_address``/``play_address``, ``sid_models``
    (``MOS6581``, ``CSG8580``, ...), ``extra_sid_addresses``, and the ROM lines. A key is
    missing when the banner did not say it, rather than guessed.
    """
    fields: dict[str, str] = {}
    last: str | None = None
    for piece in re.split(r"[\r\n]+", text):
        match = _FIELD_RE.match(piece.rstrip())
        if not match:
            continue
        label, value = match.group("label").strip(), match.group("value").strip()
        if label:
            fields[label] = value
            last = label
        elif last is not None:
            fields[last] = f"{fields[last]}, {value}"
    info: dict[str, Any] = {"fields": fields}
    version = re.search(r"Sidplayfp V([0-9][\w.\-]*)", text)
    if version:
        info["sidplayfp_version"] = version.group(1)
    lib_version = re.search(r"Libsidplayfp V([0-9][\w.\-]*)", text)
    if lib_version:
        info["libsidplayfp_version"] = lib_version.group(1)
    for key, label in (
        ("title", "Title"),
        ("author", "Author"),
        ("released", "Released"),
        ("file_format", "File format"),
        ("condition", "Condition"),
        ("song_speed", "Song Speed"),
        ("play_speed", "Play speed"),
        ("play_mode", "Play mode"),
        ("kernal_rom", "Kernal ROM"),
        ("basic_rom", "BASIC ROM"),
        ("chargen_rom", "Chargen ROM"),
    ):
        if label in fields:
            info[key] = fields[label]
    kind = re.search(r"\((\w+)\)\s*$", fields.get("File format", ""))
    if kind:
        info["format"] = kind.group(1)
    playlist = _PLAYLIST_RE.search(fields.get("Playlist", ""))
    if playlist:
        info["song"], info["songs"], info["start_song"] = (int(g) for g in playlist.groups())
    for name, start, end in _ADDRESS_RE.findall(fields.get("Addresses", "")):
        key = name.lower()
        info[f"{key}_address"] = int(start, 16)
        if end:
            info[f"{key}_end"] = int(end, 16)
    details = fields.get("SID Details", "")
    models = re.findall(r"Model = (\S+?)(?:,|$)", details)
    if models:
        info["sid_models"] = models
    info["extra_sid_addresses"] = [int(address, 16) for _n, address in _EXTRA_SID_RE.findall(details)]
    return info


def sidplayfp_info(
    sid_path: Path | str,
    song_index: int | None = None,
    binary: Path | str | None = None,
    *,
    timeout_s: float = 5.0,
) -> dict[str, Any]:
    """What sidplayfp reports about a tune (``-t1 --none -v -os<n>``), parsed.

    An independent reading of the header, so tests can check our own parser against
    the reference player. Reading stops as soon as the banner is complete and the
    process group is killed then, so a tune that never ends costs no more than its
    banner; ``timeout_s`` bounds a sidplayfp that prints nothing. Raises
    :class:`SidplayfpError` when sidplayfp rejects the file or prints no banner.
    """
    exe = _resolve_binary(binary)
    sid = Path(sid_path).resolve()
    song = f"-os{song_index}" if song_index is not None else "-os"
    cmd = [str(exe), "-t1", "--none", "-v", song, str(sid)]
    proc = subprocess.Popen(
        cmd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
        env=_text_env(),
    )
    assert proc.stderr is not None
    buffer = bytearray()
    deadline = time.monotonic() + timeout_s
    selector = selectors.DefaultSelector()
    try:
        selector.register(proc.stderr, selectors.EVENT_READ)
        while (remaining := deadline - time.monotonic()) > 0:
            if not selector.select(timeout=remaining):
                break
            chunk = os.read(proc.stderr.fileno(), 65_536)
            if not chunk:
                break
            buffer += chunk
            if b"Playing, press ESC" in buffer:
                break  # the banner is complete; the rest is progress output
    finally:
        selector.close()
        _kill_group(proc)
        proc.stderr.close()
    text = _decode(bytes(buffer))
    info = parse_sidplayfp_banner(text)
    if not info["fields"]:
        said = _last_line(text, exe)
        raise SidplayfpError(
            f"sidplayfp gave no tune information for {sid_path} "
            f"(exit status {proc.returncode}): {said or 'no output within ' + format(timeout_s, 'g') + ' s'}"
        )
    return info


_VERSION_CACHE: dict[tuple[str, int], str] = {}


def _probe_tune() -> bytes:
    # init and play are both RTS: a valid, silent PSID that every sidplayfp accepts.
    return build_psid(
        bytes([0x60, 0x60]),
        load_address=0x1000,
        init_address=0x1000,
        play_address=0x1001,
        songs=1,
        name="sidflow probe",
        author="sidflow",
        released="",
    )


def sidplayfp_version(binary: Path | str | None = None) -> str:
    """sidplayfp's version (``"2.4.0"``), or ``"unknown"``; cached per binary and mtime.

    sidplayfp has no ``--version``: it prints ``Sidplayfp V2.4.0`` only in the banner
    it shows when playing, so we play a tiny generated silent tune without output. The
    cache key includes the binary's mtime so an upgrade is noticed.
    """
    exe = _resolve_binary(binary)
    key = (str(exe.resolve()), exe.stat().st_mtime_ns)
    if key in _VERSION_CACHE:
        return _VERSION_CACHE[key]
    version = "unknown"
    with tempfile.TemporaryDirectory(prefix="sidflow-probe-") as tmp:
        probe = Path(tmp) / "probe.sid"
        probe.write_bytes(_probe_tune())
        try:
            version = sidplayfp_info(probe, 1, exe).get("sidplayfp_version", "unknown")
        except SidplayfpError:
            pass
    if version == "unknown":
        try:
            helped = subprocess.run(
                [str(exe), "-h"], stdin=subprocess.DEVNULL, capture_output=True, timeout=5, check=False
            )
            found = re.search(r"Sidplayfp V([0-9][\w.\-]*)", _decode(helped.stdout + helped.stderr))
            if found:
                version = found.group(1)
        except (OSError, subprocess.TimeoutExpired):
            pass
    _VERSION_CACHE[key] = version
    return version
