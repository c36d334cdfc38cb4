"""sidplayfp runner tests: a real sidplayfp on generated tunes and on the HVSC sample.

Generated tunes keep the suite meaningful without the sample; the sample adds the
tunes that misbehave in the wild (an RSID that ignores -t, a BASIC tune without ROMs).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import stat
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from sidflow_pipeline.sid.header import build_psid
from sidflow_pipeline.sid.sidplayfp import (
    RenderResult,
    RenderSettings,
    SidplayfpError,
    SidplayfpNotFound,
    find_sidplayfp,
    parse_sidplayfp_banner,
    render_excerpt,
    sidplayfp_info,
    sidplayfp_version,
)

SIDPLAYFP = shutil.which("sidplayfp")
needs_sidplayfp = pytest.mark.skipif(SIDPLAYFP is None, reason="sidplayfp is not installed")

# init: volume 15, voice 1 sawtooth, gate on, sustain 15; play: raise the pitch a little
# every frame, so that every moment of the tune sounds different (offsets are checkable).
TONE_CODE = bytes(
    [0xA9, 0x0F, 0x8D, 0x18, 0xD4,  # LDA #$0F; STA $D418
     0xA9, 0x00, 0x8D, 0x05, 0xD4,  # LDA #$00; STA $D405 (attack/decay 0)
     0xA9, 0xF0, 0x8D, 0x06, 0xD4,  # LDA #$F0; STA $D406 (sustain 15)
     0xA9, 0x08, 0x8D, 0x01, 0xD4,  # LDA #$08; STA $D401 (frequency high)
     0xA9, 0x21, 0x8D, 0x04, 0xD4,  # LDA #$21; STA $D404 (sawtooth + gate)
     0x60,                          # RTS
     0xEE, 0x00, 0xD4,              # play: INC $D400 (frequency low)
     0x60]                          # RTS
)


def _psid(code: bytes, play: int, songs: int = 1, **kw: object) -> bytes:
    return build_psid(
        code, load_address=0x1000, init_address=0x1000, play_address=play, songs=songs,
        name="Tone", author="SIDFlow tests", released="2026 SIDFlow", **kw,  # type: ignore[arg-type]
    )


@pytest.fixture()
def tone_sid(tmp_path: Path) -> Path:
    path = tmp_path / "tunes" / "Tone.sid"
    path.parent.mkdir()
    path.write_bytes(_psid(TONE_CODE, play=0x101A, songs=2, start_song=2, clock="NTSC", sid_model="8580"))
    return path


@pytest.fixture()
def silent_sid(tmp_path: Path) -> Path:
    path = tmp_path / "tunes" / "Silent.sid"
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(_psid(bytes([0x60, 0x60]), play=0x1001))
    return path


def _leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.startswith("."))


def _assert_dead(pid: int) -> None:
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


# --- finding the binary ------------------------------------------------------------------


def test_missing_binary_message_is_one_actionable_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(SidplayfpNotFound) as info:
        find_sidplayfp()
    message = str(info.value)
    assert "\n" not in message
    assert message == (
        "sidplayfp not found (looked for 'sidplayfp' on PATH): install it with 'sudo apt-get install sidplayfp' "
        "(Debian/Ubuntu) or 'brew install sidplayfp' (macOS), or set \"sidplayPath\" in .sidflow.json"
    )
    assert isinstance(info.value, RuntimeError)
    # render_excerpt raises the same, rather than reporting a per-song error.
    with pytest.raises(SidplayfpNotFound):
        render_excerpt(tmp_path / "x.sid", 1, tmp_path / "x.wav", RenderSettings())


def test_configured_binary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(SidplayfpNotFound, match=r"not found at '/nowhere/sidplayfp' .*sidplayPath") as info:
        find_sidplayfp("/nowhere/sidplayfp")
    assert "\n" not in str(info.value)
    with pytest.raises(SidplayfpNotFound, match=r"looked for 'no-such-sidplayfp' on PATH"):
        find_sidplayfp("no-such-sidplayfp")
    not_executable = tmp_path / "sidplayfp"
    not_executable.write_text("#!/bin/sh\n")
    with pytest.raises(SidplayfpNotFound):
        find_sidplayfp(str(not_executable))
    not_executable.chmod(not_executable.stat().st_mode | stat.S_IXUSR)
    assert find_sidplayfp(str(not_executable)) == not_executable
    monkeypatch.setenv("PATH", str(tmp_path))
    assert find_sidplayfp("sidplayfp") == not_executable
    assert find_sidplayfp() == not_executable


# --- settings -----------------------------------------------------------------------------


def test_settings_defaults_and_cache_key() -> None:
    settings = RenderSettings(start_offset_s=15, duration_s=30)
    assert settings.play_seconds == 45
    assert settings.effective_timeout_s == 135.0
    assert settings.effective_max_bytes == int((45 + 2) * 22050 * 2 * 1.5) + 65_536
    assert RenderSettings(duration_s=1).effective_timeout_s == 10.0
    assert RenderSettings(duration_s=0.3, start_offset_s=0.2).play_seconds == 1
    assert RenderSettings(duration_s=1.5, start_offset_s=2.25).play_seconds == 4
    key = settings.cache_key()
    assert key == "sidplayfp-render-v1|engine=fast|rate=22050|mono|start=15.000|duration=30.000"
    assert RenderSettings(start_offset_s=15, duration_s=30, timeout_s=1, max_bytes=100).cache_key() == key
    others = {
        RenderSettings(start_offset_s=15, duration_s=30, engine="accurate").cache_key(),
        RenderSettings(start_offset_s=15, duration_s=30, sample_rate=44100).cache_key(),
        RenderSettings(start_offset_s=15, duration_s=30, mono=False).cache_key(),
        RenderSettings(start_offset_s=10, duration_s=30).cache_key(),
        RenderSettings(start_offset_s=15, duration_s=20).cache_key(),
    }
    assert len(others) == 5 and key not in others
    assert RenderSettings(engine="accurate", mono=False).command_args() == ["-t30", "-f22050", "-s", "--residfp", "--delay=0"]


@pytest.mark.parametrize(
    ("kwargs", "why"),
    [
        ({"engine": "turbo"}, "engine"),
        ({"sample_rate": 100}, "sample_rate"),
        ({"start_offset_s": -1}, "start_offset_s"),
        ({"duration_s": 0}, "duration_s"),
        ({"duration_s": float("nan")}, "duration_s"),
        ({"timeout_s": 0}, "timeout_s"),
        ({"max_bytes": 10}, "max_bytes"),
    ],
)
def test_settings_validation(kwargs: dict[str, object], why: str) -> None:
    with pytest.raises(ValueError, match=why):
        RenderSettings(**kwargs)  # type: ignore[arg-type]


def test_result_levels_and_dict() -> None:
    result = RenderResult("ok", "fine", Path("/x.wav"), 0.5, 100, peak=0.5, rms=0.0)
    assert result.peak_dbfs == pytest.approx(-6.0206, abs=1e-3)
    assert result.rms_dbfs == float("-inf")
    assert result.to_dict() == {
        "status": "ok", "message": "fine", "wav_path": "/x.wav", "seconds": 0.5,
        "bytes_written": 100, "peak": 0.5, "rms": 0.0,
    }


# --- rendering generated tunes -------------------------------------------------------------


@needs_sidplayfp
def test_render_is_exact_mono_16bit_and_atomic(tone_sid: Path, tmp_path: Path) -> None:
    out = tmp_path / "wav" / "deep" / "tone.wav"
    settings = RenderSettings(start_offset_s=1.25, duration_s=2.5)
    result = render_excerpt(tone_sid, 1, out, settings)
    assert result.status == "ok", result.message
    assert result.wav_path == out and out.is_file()
    info = sf.info(out)
    assert (info.samplerate, info.channels, info.subtype, info.frames) == (22050, 1, "PCM_16", round(2.5 * 22050))
    assert result.bytes_written == out.stat().st_size
    assert 0.05 < result.peak <= 1.0 and 0.01 < result.rms < result.peak
    assert "[1.25, 3.75] s" in result.message
    assert _leftovers(out.parent) == []

    # The excerpt is exactly that slice of a render from the start: no -b drift.
    whole = render_excerpt(tone_sid, 1, tmp_path / "whole.wav", RenderSettings(duration_s=4))
    full, _ = sf.read(tmp_path / "whole.wav", dtype="int16")
    part, _ = sf.read(out, dtype="int16")
    assert whole.status == "ok"
    assert np.array_equal(part, full[settings.start_frame : settings.start_frame + settings.frames])
    assert settings.start_frame == round(1.25 * 22050)


@needs_sidplayfp
@pytest.mark.parametrize("engine", ["fast", "accurate"])
def test_renders_are_byte_identical_across_runs(tone_sid: Path, tmp_path: Path, engine: str) -> None:
    settings = RenderSettings(engine=engine, duration_s=1.0)  # type: ignore[arg-type]
    digests = set()
    for n in range(2):
        result = render_excerpt(tone_sid, 1, tmp_path / f"{n}.wav", settings)
        assert result.status == "ok", result.message
        digests.add(hashlib.sha256((tmp_path / f"{n}.wav").read_bytes()).hexdigest())
    assert len(digests) == 1


@needs_sidplayfp
def test_stereo_and_other_rates(tone_sid: Path, tmp_path: Path) -> None:
    result = render_excerpt(tone_sid, 2, tmp_path / "s.wav", RenderSettings(sample_rate=44100, mono=False, duration_s=0.5))
    assert result.status == "ok", result.message
    info = sf.info(tmp_path / "s.wav")
    assert (info.samplerate, info.channels, info.frames) == (44100, 2, 22050)


@needs_sidplayfp
def test_silent_tune_is_kept_and_flagged(silent_sid: Path, tmp_path: Path) -> None:
    result = render_excerpt(silent_sid, 1, tmp_path / "quiet.wav", RenderSettings(duration_s=2))
    assert result.status == "silent", result.message
    assert result.wav_path == tmp_path / "quiet.wav" and result.wav_path.is_file()
    assert "below -70 dBFS" in result.message
    data, rate = sf.read(result.wav_path, dtype="int16")
    assert len(data) == 2 * rate
    assert np.ptp(data[rate:]) == 0  # after the power-on click: nothing at all


@needs_sidplayfp
def test_bad_song_numbers_are_errors(tone_sid: Path, tmp_path: Path) -> None:
    out = tmp_path / "x.wav"
    result = render_excerpt(tone_sid, 3, out, RenderSettings(duration_s=1))
    assert result.status == "error"
    assert result.message == (
        "song 3 does not exist: the file has 2 song(s) (sidplayfp would have played song 2 instead)"
    )
    assert not out.exists() and _leftovers(tmp_path) == []
    zero = render_excerpt(tone_sid, 0, out, RenderSettings(duration_s=1))
    assert zero.status == "error" and "songs count from 1" in zero.message


@needs_sidplayfp
def test_corrupt_and_missing_files_are_errors_not_exceptions(tmp_path: Path) -> None:
    corrupt = tmp_path / "corrupt.sid"
    corrupt.write_bytes(np.random.default_rng(7).integers(0, 256, 4000, dtype=np.uint8).tobytes())
    out = tmp_path / "out" / "corrupt.wav"
    out.parent.mkdir()
    out.write_bytes(b"previous render")
    result = render_excerpt(corrupt, 1, out, RenderSettings(duration_s=1))
    assert result.status == "error"
    assert result.message == "sidplayfp exited with status 1: SIDTUNE ERROR: Could not determine file format"
    assert result.wav_path is None and result.bytes_written == 0
    assert out.read_bytes() == b"previous render"  # a failed render leaves an old file alone
    assert _leftovers(out.parent) == []

    missing = render_excerpt(tmp_path / "nope.sid", 1, out, RenderSettings(duration_s=1))
    assert missing.status == "error" and "no such SID file" in missing.message


@needs_sidplayfp
def test_wall_clock_watchdog_kills_the_process_group(tone_sid: Path, tmp_path: Path) -> None:
    pids: list[int] = []
    out = tmp_path / "out" / "long.wav"
    started = time.monotonic()
    result = render_excerpt(tone_sid, 1, out, RenderSettings(duration_s=600, timeout_s=1.5), on_spawn=pids.append)
    elapsed = time.monotonic() - started
    assert result.status == "timeout", result.message
    assert 1.5 <= elapsed < 4.0
    assert re.fullmatch(r"timeout: sidplayfp still running after 1\.\d s \(wall-clock limit 1\.5 s\); killed it", result.message)
    assert result.wav_path is None and not out.exists()
    assert _leftovers(out.parent) == []
    assert len(pids) == 1
    _assert_dead(pids[0])


@needs_sidplayfp
def test_size_cap_kills_a_runaway_render(tone_sid: Path, tmp_path: Path) -> None:
    pids: list[int] = []
    result = render_excerpt(
        tone_sid, 1, tmp_path / "big.wav", RenderSettings(duration_s=120, max_bytes=200_000), on_spawn=pids.append
    )
    assert result.status == "timeout"
    assert "over the 200,000-byte cap" in result.message
    assert result.seconds < 3
    assert _leftovers(tmp_path) == [] and not (tmp_path / "big.wav").exists()
    _assert_dead(pids[0])


@needs_sidplayfp
def test_spawn_hook_failure_still_kills_the_child(tone_sid: Path, tmp_path: Path) -> None:
    pids: list[int] = []

    def explode(pid: int) -> None:
        pids.append(pid)
        raise KeyError("hook failed")

    with pytest.raises(KeyError):
        render_excerpt(tone_sid, 1, tmp_path / "x.wav", RenderSettings(duration_s=600), on_spawn=explode)
    _assert_dead(pids[0])
    assert _leftovers(tmp_path) == []


# --- sidplayfp that misbehaves (other programs standing in for it) --------------------------


def _fake_sidplayfp(tmp_path: Path, wav: Path | None, exit_code: int = 0, say: str = "") -> Path:
    """A stand-in program: copies ``wav`` to the -w target, prints ``say``, exits."""
    script = tmp_path / "fake-sidplayfp"
    copy = f'cp "{wav}" "$target"' if wav is not None else ":"
    script.write_text(
        "#!/bin/sh\n"
        'for a in "$@"; do case "$a" in -w*) target="${a#-w}";; esac; done\n'
        f"{copy}\n"
        f"printf '%s\\n' '{say}' >&2\n"
        f"exit {exit_code}\n"
    )
    script.chmod(0o755)
    return script


def test_sidplayfp_that_writes_nothing(tone_sid: Path, tmp_path: Path) -> None:
    fake = _fake_sidplayfp(tmp_path, None, say="Creating audio file, please wait...00:01")
    result = render_excerpt(tone_sid, 1, tmp_path / "x.wav", RenderSettings(duration_s=1), binary=fake)
    assert result.status == "error"
    assert result.message == "sidplayfp exited 0 but wrote no audio"


def test_sidplayfp_that_fails_without_words(tone_sid: Path, tmp_path: Path) -> None:
    fake = _fake_sidplayfp(tmp_path, None, exit_code=3)
    result = render_excerpt(tone_sid, 1, tmp_path / "x.wav", RenderSettings(duration_s=1), binary=fake)
    assert (result.status, result.message) == ("error", "sidplayfp exited with status 3: no message")


def test_sidplayfp_that_writes_garbage(tone_sid: Path, tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(b"RIFF" + bytes(200))
    fake = _fake_sidplayfp(tmp_path, garbage)
    result = render_excerpt(tone_sid, 1, tmp_path / "x.wav", RenderSettings(duration_s=1), binary=fake)
    assert result.status == "error" and result.message.startswith("sidplayfp wrote an unreadable WAV: ")
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize(
    ("rate", "channels", "seconds", "why"),
    [
        (44100, 1, 2.0, "sidplayfp wrote 44100 Hz x 1 channel(s), asked for 22050 Hz x 1"),
        (22050, 2, 2.0, "sidplayfp wrote 22050 Hz x 2 channel(s), asked for 22050 Hz x 1"),
        (22050, 1, 0.5, "sidplayfp stopped after 0.500 s, before the excerpt's end at 1.000 s"),
    ],
)
def test_sidplayfp_that_writes_the_wrong_audio(
    tone_sid: Path, tmp_path: Path, rate: int, channels: int, seconds: float, why: str
) -> None:
    wav = tmp_path / "prepared.wav"
    sf.write(wav, np.zeros((round(rate * seconds), channels), dtype=np.int16), rate, subtype="PCM_16")
    fake = _fake_sidplayfp(tmp_path, wav)
    result = render_excerpt(tone_sid, 1, tmp_path / "x.wav", RenderSettings(duration_s=1), binary=fake)
    assert (result.status, result.message) == ("error", why)


def test_version_of_other_programs(tmp_path: Path) -> None:
    true = shutil.which("true")
    assert true is not None
    assert sidplayfp_version(true) == "unknown"
    helpful = tmp_path / "helpful-sidplayfp"
    helpful.write_text("#!/bin/sh\n[ \"$1\" = -h ] && echo 'Sidplayfp V9.8.7, Libsidplayfp V9.8.8'\nexit 1\n")
    helpful.chmod(0o755)
    assert sidplayfp_version(helpful) == "9.8.7"
    with pytest.raises(SidplayfpError, match=r"gave no tune information .*exit status 0"):
        sidplayfp_info(tmp_path / "x.sid", binary=true)


# --- sidplayfp's banner ---------------------------------------------------------------------

BOX = " " * 55 + "|\r"
BANNER = (
    "+" + "-" * 54 + "+\n"
    f"{BOX}|  SIDPLAYFP - Music Player and C64 SID Chip Emulator\n"
    f"{BOX}|        Sidplayfp V2.4.0, Libsidplayfp V2.4.2\n"
    f"{BOX}| Title        : Delicious (tune 8): Remix\n"
    f"{BOX}| Author       : Attila Koka (Ati)\n"
    f"{BOX}| Released     : 1992 Trias\n"
    f"{BOX}| File format  : PlaySID one-file format (PSID)\n"
    f"{BOX}| Playlist     : 1/1 (tune 3/4[2])\n"
    f"{BOX}| Song Speed   : PAL\n"
    f"{BOX}| Addresses    : DRIVER = $0400-$04FF, INIT = $7048\n"
    f"{BOX}|              : LOAD   = $7000-$79A8, PLAY = $7021\n"
    f"{BOX}| SID Details  : Model = CSG8580\n"
    f"{BOX}|              : 2nd SID = $d420, Model = MOS6581\n"
    f"{BOX}| BASIC ROM    : None - Basic tunes will not play!\n"
    "Playing, press ESC to stop...00:00\rPlaying, press ESC to stop...00:01\n"
)


def test_parse_banner() -> None:
    info = parse_sidplayfp_banner(BANNER)
    assert info["sidplayfp_version"] == "2.4.0" and info["libsidplayfp_version"] == "2.4.2"
    assert (info["title"], info["author"], info["released"]) == ("Delicious (tune 8): Remix", "Attila Koka (Ati)", "1992 Trias")
    assert (info["format"], info["song"], info["songs"], info["start_song"]) == ("PSID", 3, 4, 2)
    assert info["song_speed"] == "PAL"
    assert (info["load_address"], info["load_end"], info["init_address"], info["play_address"]) == (0x7000, 0x79A8, 0x7048, 0x7021)
    assert (info["driver_address"], info["driver_end"]) == (0x0400, 0x04FF)
    assert info["sid_models"] == ["CSG8580", "MOS6581"]
    assert info["extra_sid_addresses"] == [0xD420]
    assert info["basic_rom"].startswith("None")
    assert info["fields"]["Addresses"] == "DRIVER = $0400-$04FF, INIT = $7048, LOAD   = $7000-$79A8, PLAY = $7021"
    assert parse_sidplayfp_banner("sidplayfp: SIDTUNE ERROR: Could not determine file format\n") == {
        "fields": {}, "extra_sid_addresses": []
    }


@needs_sidplayfp
def test_info_and_version_from_the_real_binary(tone_sid: Path, tmp_path: Path) -> None:
    info = sidplayfp_info(tone_sid, 1)
    assert (info["title"], info["author"], info["released"]) == ("Tone", "SIDFlow tests", "2026 SIDFlow")
    assert (info["format"], info["song"], info["songs"], info["start_song"]) == ("PSID", 1, 2, 2)
    assert (info["load_address"], info["init_address"], info["play_address"]) == (0x1000, 0x1000, 0x101A)
    assert info["load_end"] == 0x1000 + len(TONE_CODE) - 1
    assert info["song_speed"] == "NTSC" and info["sid_models"] == ["CSG8580"]
    assert sidplayfp_info(tone_sid)["song"] == 2  # no song given: the start song
    version = sidplayfp_version()
    assert re.fullmatch(r"\d+\.\d+(\.\d+)?", version)
    assert info["sidplayfp_version"] == version
    assert sidplayfp_version(SIDPLAYFP) == version  # cached per binary

    corrupt = tmp_path / "corrupt.sid"
    corrupt.write_bytes(b"PSID" + bytes(10))
    with pytest.raises(SidplayfpError, match=r"exit status 1\): SIDTUNE ERROR: "):
        sidplayfp_info(corrupt)


# --- the real HVSC sample -------------------------------------------------------------------


def _magic(path: Path) -> bytes:
    return path.read_bytes()[:4]


@pytest.mark.hvsc_sample
@needs_sidplayfp
def test_real_tune_renders(hvsc_sample: Path, tmp_path: Path) -> None:
    tune = hvsc_sample / "MUSICIANS" / "A" / "Ati" / "Delicious_tune_8.sid"
    result = render_excerpt(tune, 1, tmp_path / "delicious.wav", RenderSettings(start_offset_s=5, duration_s=5))
    assert result.status == "ok", result.message
    info = sf.info(tmp_path / "delicious.wav")
    assert info.samplerate == 22050 and info.channels == 1
    assert abs(info.frames / info.samplerate - 5.0) < 0.05
    assert result.rms > 0.01


@pytest.mark.hvsc_sample
@needs_sidplayfp
def test_real_basic_rsid_ends_with_a_status(hvsc_sample: Path, tmp_path: Path) -> None:
    tune = hvsc_sample / "DEMOS" / "UNKNOWN" / "Bach_Duet_BASIC.sid"
    assert _magic(tune) == b"RSID"
    settings = RenderSettings(duration_s=5, timeout_s=8)
    started = time.monotonic()
    result = render_excerpt(tune, 1, tmp_path / "bach.wav", settings)
    assert time.monotonic() - started < settings.effective_timeout_s + 1
    assert result.status in {"ok", "silent", "timeout", "error"}
    if sidplayfp_info(tune)["basic_rom"].startswith("None"):
        # Without a BASIC ROM the tune is a power-on click and then digital silence.
        assert result.status == "silent", result.message
        assert result.peak > 0.05  # the click is there, yet it is not music
        assert "C64 ROMs" in result.message


@pytest.mark.hvsc_sample
@needs_sidplayfp
def test_real_rsid_that_ignores_the_time_limit_is_capped(hvsc_sample: Path, tmp_path: Path) -> None:
    tune = hvsc_sample / "MUSICIANS" / "A" / "Alien-Crackings" / "Digital_Remix-Disk.sid"
    assert _magic(tune) == b"RSID"
    pids: list[int] = []
    result = render_excerpt(tune, 1, tmp_path / "remix.wav", RenderSettings(duration_s=5), on_spawn=pids.append)
    if result.status == "timeout":  # sidplayfp 2.4.0 writes audio forever for this tune
        assert "cap" in result.message and result.seconds < 3
    assert result.status in {"ok", "silent", "timeout"}
    _assert_dead(pids[0])
    assert _leftovers(tmp_path) == []
    assert sidplayfp_info(tune)["format"] == "RSID"  # the banner is read without waiting for the end


@pytest.mark.hvsc_sample
@needs_sidplayfp
def test_banner_agrees_with_the_header_parser(hvsc_sample: Path) -> None:
    """Our PSID/RSID parser and sidplayfp's own report agree on every sample tune."""
    from sidflow_pipeline.sid.header import read_sid

    for tune in sorted(hvsc_sample.rglob("*.sid")):
        sid = read_sid(tune)
        h = sid.header
        info = sidplayfp_info(tune)
        assert info["format"] == h.magic, tune
        assert [info["title"], info["author"], info["released"]] == [h.name, h.author, h.released], tune
        assert info["load_address"] == sid.load_address, tune
        assert (info["init_address"], info["play_address"]) == (h.init_address, h.play_address), tune
        assert (info["songs"], info["start_song"], info["song"]) == (h.songs, h.start_song, h.start_song), tune
