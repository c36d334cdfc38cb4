"""`sidflow play` through a real pseudo-terminal: real sidplayfp playing to ALSA's null
device, the generated demo collection, a LanceDB table built from it."""

from __future__ import annotations

import io
import json
import shutil
import time
from pathlib import Path

import m3u8
import pexpect
import polars as pl
import psutil
import pytest
from click.testing import CliRunner

from sidflow_pipeline.catalog.catalog import build_catalog, write_catalog
from sidflow_pipeline.cli.main import cli
from sidflow_pipeline.config import load_config
from sidflow_pipeline.demo.collection import demo_songs, write_demo_collection
from sidflow_pipeline.feedback.log import read_events
from sidflow_pipeline.lance.build import build_database
from sidflow_pipeline.mastering.profiles import load_profile
from sidflow_pipeline.radio.queue import QueueItem
from sidflow_pipeline.radio.session import RadioSession, latest_session
from sidflow_pipeline_tests.lance.synthetic import synthetic_rows
from sidflow_pipeline_tests.processes import gone, null_audio_home, player_pid, spawn_sidflow

SONG_MS = 20_000
needs_sidplayfp = pytest.mark.skipif(shutil.which("sidplayfp") is None, reason="needs sidplayfp")


@pytest.fixture()
def radio(tmp_path: Path) -> tuple[Path, Path]:
    write_demo_collection(tmp_path / "hvsc", version=1)
    config = tmp_path / "cfg.json"
    config.write_text(json.dumps({"hvscPath": "hvsc", "dataPath": "data"}))
    cfg = load_config(config)
    # Every song 20 s long, so whole songs play in a test's time: ALSA's null device does
    # not pace sidplayfp, and 20 s of song pass in about 5 s.
    frame = build_catalog(cfg.layout.hvsc_root).frame
    frame = frame.with_columns(pl.lit(SONG_MS, dtype=frame.schema["length_ms"]).alias("length_ms"))
    write_catalog(frame, cfg.layout.catalog)
    songs = sorted(demo_songs(1).items())
    fake = synthetic_rows(len(songs), seed=3)
    rows, names = [], {}
    for (key, song), row in zip(songs, fake, strict=True):
        rows.append(row | {"sid_path": key[0], "song_index": key[1]})
        names[key] = (song.tune.author, song.tune.name)
    build_database(cfg.layout.lance_db, rows, {}, names, sources={}, feedback_events=0)
    return config, null_audio_home(tmp_path)


def _spawn(config: Path, home: Path, *args: str) -> pexpect.spawn:
    return spawn_sidflow(config, home, "play", *args)


def _song(child: pexpect.spawn, position: int) -> tuple[str, int]:
    child.expect(rf"▶ \[{position}/\d+\] .*?\((\S+):(\d+)\)")
    return child.match.group(1), int(child.match.group(2))




def _status(pid: int) -> str:
    deadline = time.monotonic() + 3
    status = psutil.Process(pid).status()
    while time.monotonic() < deadline:
        status = psutil.Process(pid).status()
        if status in (psutil.STATUS_STOPPED, psutil.STATUS_TRACING_STOP):
            break
        time.sleep(0.05)
    return status


def _events(config: Path) -> list[tuple[str, str, int]]:
    report = read_events(load_config(config).data_path / "feedback")
    return [(e.action, e.sid_path, e.song_index) for e in report.events]


@needs_sidplayfp
def test_skip_pause_resume_like_dislike_quit_in_a_pty(radio: tuple[Path, Path]) -> None:
    config, home = radio
    child = _spawn(config, home, "--mood", "energetic", "--limit", "6", "--exploration", "0")
    child.logfile_read = transcript = io.StringIO()
    first = _song(child, 1)
    pid1 = player_pid(child)
    assert psutil.Process(pid1).name() == "sidplayfp"
    child.send("n")
    child.expect("skipped")
    assert gone(pid1)

    second = _song(child, 2)
    pid2 = player_pid(child)
    child.send(" ")
    child.expect("paused")
    assert _status(pid2) == psutil.STATUS_STOPPED
    time.sleep(6.0)  # longer than the whole song would take: a stopped player cannot finish
    child.send(" ")
    child.expect("resumed")
    assert psutil.Process(pid2).status() in (psutil.STATUS_RUNNING, psutil.STATUS_SLEEPING, psutil.STATUS_DISK_SLEEP)
    child.send("l")
    child.expect("liked")
    child.expect("played to the end", timeout=15)
    assert gone(pid2)

    third = _song(child, 3)
    pid3 = player_pid(child)
    child.send("d")
    child.expect("disliked")
    assert gone(pid3)

    _song(child, 4)
    pid4 = player_pid(child)
    players = [p.pid for p in psutil.Process(child.pid).children(recursive=True) if p.name() == "sidplayfp"]
    assert players == [pid4]
    child.send("q")
    child.expect(r"session (\S+): 1 play, 1 skip, 1 like, 1 dislike — resume with: sidflow play --resume")
    child.expect(pexpect.EOF)
    child.close()
    assert all(gone(pid) for pid in players)
    assert "next: " in transcript.getvalue()

    assert _events(config) == [
        ("skip", *first),
        ("like", *second),
        ("play", *second),
        ("dislike", *third),
    ]
    sessions = list((load_config(config).data_path / "sessions").glob("*.json"))
    assert len(sessions) == 1
    saved = json.loads(sessions[0].read_text())
    assert saved["position"] == 3 and not saved["ended"] and len(saved["queue"]) == 6
    actions = [e["action"] for e in saved["events"]]
    assert actions == ["started", "skip", "started", "paused", "resumed", "like", "play", "started", "dislike", "started"]

    # --resume continues at the song that was playing when we quit.
    fourth_expected = (saved["queue"][3]["sid_path"], saved["queue"][3]["song_index"])
    child = _spawn(config, home, "--resume")
    assert _song(child, 4) == fourth_expected
    player_pid(child)
    child.expect("played to the end", timeout=15)
    _song(child, 5)
    player_pid(child)
    child.send("q")
    child.expect(pexpect.EOF)
    assert _events(config)[-1] == ("play", *fourth_expected)


def test_exports_are_deterministic_and_parse(radio: tuple[Path, Path], tmp_path: Path) -> None:
    config, _home = radio
    runner = CliRunner()
    outputs = {}
    for fmt in ("json", "m3u", "m3u8"):
        texts = []
        for run in range(2):
            target = tmp_path / f"q{run}.{fmt}"
            args = ["--config", str(config), "play", "--blend", "quiet:0.7,complex:0.3", "--limit", "8", "--exploration", "0.6",
                    "--seed", "11", "--export", str(target), "--export-only"]  # fmt: skip
            result = runner.invoke(cli, args)
            assert result.exit_code == 0, result.output
            assert f"exported 8 songs to {target} ({fmt})" in result.output
            texts.append(target.read_bytes())
        assert texts[0] == texts[1]
        outputs[fmt] = texts[0]
    playlist = m3u8.loads(outputs["m3u8"].decode())
    assert len(playlist.segments) == 8
    data = json.loads(outputs["json"])
    assert [s["file"] for s in data["songs"]] == [seg.uri for seg in playlist.segments]
    assert all(Path(seg.uri).is_file() for seg in playlist.segments)
    assert all(seg.duration == s["length_s"] and s["title"] in seg.title for seg, s in zip(playlist.segments, data["songs"], strict=True))
    assert data["query"]["seed"] == 11 and data["query"]["blend"] == "quiet:0.7,complex:0.3"
    assert outputs["m3u"].decode("latin-1").splitlines()[0] == "#EXTM3U"
    # The export format follows the suffix; an explicit --export-format wins.
    target = tmp_path / "list.txt"
    result = runner.invoke(
        cli,
        [
            "--config",
            str(config),
            "play",
            "--mood",
            "dark",
            "--export",
            str(target),
            "--export-format",
            "m3u8",
            "--export-only",
        ],
    )
    assert result.exit_code == 0 and target.read_text().startswith("#EXTM3U")


def test_without_sidplayfp_export_still_works(radio: tuple[Path, Path], tmp_path: Path) -> None:
    config, _home = radio
    config.write_text(json.dumps({**json.loads(config.read_text()), "sidplayPath": "no-such-sidplayfp"}))
    runner = CliRunner()
    result = runner.invoke(cli, ["--config", str(config), "play", "--mood", "quiet"])
    assert result.exit_code == 2 and "--export FILE --export-only" in result.output
    result = runner.invoke(cli, ["--config", str(config), "play", "--mood", "quiet", "--export", str(tmp_path / "q.json"), "--export-only"])
    assert result.exit_code == 0 and (tmp_path / "q.json").is_file()


@needs_sidplayfp
def test_no_audio_device_is_one_clear_line(radio: tuple[Path, Path], tmp_path: Path) -> None:
    config, _home = radio
    empty = tmp_path / "empty-home"
    empty.mkdir()
    child = _spawn(config, empty, "--mood", "quiet", "--limit", "3")
    child.expect("no audio device")
    child.expect("--export FILE --export-only")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 1
    assert _events(config) == []


@needs_sidplayfp
def test_a_preview_cut_short_is_not_logged_as_played(radio: tuple[Path, Path]) -> None:
    config, home = radio
    child = _spawn(config, home, "--mood", "quiet", "--limit", "2", "--exploration", "0", "--preview", "4")
    _song(child, 1)
    child.expect(r"preview ended after 00:04 \(not logged as played\)", timeout=15)
    _song(child, 2)
    child.expect("preview ended", timeout=15)
    child.expect(r"session \S+: 0 play, 0 skip, 0 like, 0 dislike")
    child.expect(pexpect.EOF)
    assert _events(config) == []
    saved = json.loads(next((load_config(config).data_path / "sessions").glob("*.json")).read_text())
    assert [e["action"] for e in saved["events"]] == ["started", "previewed", "started", "previewed"]
    assert saved["ended"]


@needs_sidplayfp
def test_a_song_that_fails_is_skipped(radio: tuple[Path, Path]) -> None:
    config, home = radio
    runner = CliRunner()
    queue = json.loads(
        runner.invoke(
            cli,
            ["--config", str(config), "recommend", "--mood", "bright", "--limit", "3", "--exploration", "0", "--json"],
        ).output
    )["results"]
    broken = load_config(config).layout.hvsc_root / queue[0]["sid_path"]
    broken.write_bytes(b"PSID" + b"\x00" * 10)  # truncated header: sidplayfp refuses it
    child = _spawn(config, home, "--mood", "bright", "--limit", "3", "--exploration", "0")
    _song(child, 1)
    child.expect("cannot play this song")
    child.expect("skipping")
    _song(child, 2)
    player_pid(child)
    child.send("q")
    child.expect(pexpect.EOF)


def test_bad_invocations(radio: tuple[Path, Path]) -> None:
    config, _ = radio
    runner = CliRunner()
    result = runner.invoke(cli, ["--config", str(config), "play", "--mood", "quiet", "--export-only"])
    assert result.exit_code == 2 and "--export-only needs --export FILE" in result.output
    result = runner.invoke(cli, ["--config", str(config), "play", "--resume"])
    assert result.exit_code == 2 and "no unfinished radio session" in result.output
    result = runner.invoke(cli, ["--config", str(config), "play", "--mood", "quiet", "--filters", "e>=5,e<=1"])
    assert result.exit_code == 2 and "no songs match" in result.output
    sessions = load_config(config).data_path / "sessions"
    sessions.mkdir(parents=True)
    (sessions / "20990101T000000Z-dead.json").write_text("{broken")
    result = runner.invoke(cli, ["--config", str(config), "play", "--resume"])
    assert result.exit_code == 2 and "not a readable radio session" in result.output
    assert "no unfinished radio session" in result.output and "(1 unreadable)" in result.output


def test_resume_passes_over_an_unreadable_newer_session(radio: tuple[Path, Path]) -> None:
    config, _ = radio
    runner = CliRunner()
    sessions = load_config(config).data_path / "sessions"
    assert (
        runner.invoke(
            cli,
            [
                "--config",
                str(config),
                "play",
                "--mood",
                "quiet",
                "--limit",
                "3",
                "--export",
                str(sessions.parent / "q.json"),
                "--export-only",
            ],
        ).exit_code
        == 0
    )
    queue = json.loads((sessions.parent / "q.json").read_text())
    items = [QueueItem.from_json(i) for i in queue["songs"]]
    older = RadioSession(
        path=sessions / "20260101T000000Z-old.json",
        id="20260101T000000Z-old",
        started_at="2026-01-01T00:00:00Z",
        query={},
        queue=items,
    )
    older.save()
    (sessions / "20990101T000000Z-dead.json").write_text("{broken")
    problems: list[str] = []
    found = latest_session(sessions, problems)
    assert found is not None and found.id == older.id
    assert len(problems) == 1 and "20990101T000000Z-dead.json" in problems[0]


@needs_sidplayfp
def test_export_audio_master_gives_consistent_loudness(radio: tuple[Path, Path], tmp_path: Path) -> None:
    from sidflow_pipeline.mastering.audio import read_audio
    from sidflow_pipeline.mastering.fingerprint import integrated_loudness_lufs, true_peak_dbtp
    from sidflow_pipeline.mastering.profiles import load_profile

    config, _home = radio
    runner = CliRunner()
    playlist = tmp_path / "q.m3u8"
    runner.invoke(cli, ["--config", str(config), "play", "--mood", "bright", "--limit", "4", "--export", str(playlist), "--export-only"])
    mastered = runner.invoke(
        cli,
        ["--config", str(config), "export-audio", str(playlist), str(tmp_path / "m"), "--master", "--preview", "12"],
    )
    assert mastered.exit_code == 0, mastered.output
    plain = runner.invoke(cli, ["--config", str(config), "export-audio", str(playlist), str(tmp_path / "p"), "--preview", "12"])
    assert plain.exit_code == 0, plain.output
    profiles = load_config(config).data_path / "profiles"

    def measure(folder: Path) -> list[float]:
        values = []
        for flac in sorted(folder.glob("*.flac")):
            audio, sr = read_audio(flac)
            assert sr == 44100 and audio.shape[1] == 2
            values.append((integrated_loudness_lufs(audio, sr), true_peak_dbtp(audio)))
        assert len(values) == 4
        return values

    after = measure(tmp_path / "m")
    before = measure(tmp_path / "p")
    kinds = [line.split("│")[3].split()[0] for line in mastered.output.splitlines() if "v1.0" in line]
    assert len(kinds) == 4
    for (lufs, peak), kind in zip(after, kinds, strict=True):
        profile = load_profile(profiles, kind)
        assert abs(lufs - profile.target_lufs) <= 0.5 and peak <= profile.true_peak_ceiling_dbtp + 0.05
    spread = lambda values: max(v[0] for v in values) - min(v[0] for v in values)  # noqa: E731
    assert spread(after) <= 1.0 < spread(before)
    assert "loudness spread" in mastered.output
    result = runner.invoke(
        cli,
        [
            "--config",
            str(config),
            "export-audio",
            str(tmp_path / "q.m3u8"),
            str(tmp_path / "x"),
            "--format",
            "wav",
            "--preview",
            "2",
        ],
    )
    assert result.exit_code == 0 and len(list((tmp_path / "x").glob("*.wav"))) == 4
    (tmp_path / "bad.json").write_text("{}")
    result = runner.invoke(cli, ["--config", str(config), "export-audio", str(tmp_path / "bad.json"), str(tmp_path / "y")])
    assert result.exit_code == 2 and "not a sidflow playlist export" in result.output


@needs_sidplayfp
@pytest.mark.skipif(shutil.which("aplay") is None, reason="needs aplay (alsa-utils)")
def test_play_master_plays_mastered_audio(radio: tuple[Path, Path]) -> None:
    """aplay writes to ALSA's null device as fast as it can (no pacing, unlike sidplayfp),
    so each mastered song ends at once here; pausing is covered by the sidplayfp test."""
    config, home = radio
    child = _spawn(config, home, "--mood", "dark", "--limit", "2", "--master", "--exploration", "0")
    child.logfile_read = transcript = io.StringIO()
    first = _song(child, 1)
    child.expect(r"mastered as (\S+) \(\d+%\) with profile v1\.0: \S+ → (-?[\d.]+) LUFS, true peak (-?[\d.]+) dBTP")
    profile = load_profile(load_config(config).data_path / "profiles", child.match.group(1))
    assert abs(float(child.match.group(2)) - profile.target_lufs) <= 0.5
    assert float(child.match.group(3)) <= profile.true_peak_ceiling_dbtp
    player_pid(child)
    child.expect("played to the end", timeout=30)
    second = _song(child, 2)
    child.expect("mastered as")
    child.expect("played to the end", timeout=30)
    child.expect(r"session \S+: 2 play, 0 skip, 0 like, 0 dislike")
    child.expect(pexpect.EOF)
    assert transcript.getvalue().count("mastered as") == 2
    assert _events(config) == [("play", *first), ("play", *second)]


@needs_sidplayfp
def test_like_then_next_records_one_like_and_no_skip(radio: tuple[Path, Path]) -> None:
    """Issue 20: `l` then `n` is "I like it, play the next one" — one like, not also a skip."""
    config, home = radio
    child = _spawn(config, home, "--mood", "energetic", "--limit", "6", "--exploration", "0")
    first = _song(child, 1)
    player_pid(child)
    child.send("l")
    child.expect("liked")
    child.send("l")  # a second press is not a second like
    child.expect("liked")
    child.send("n")
    child.expect("not logged as a skip")
    _song(child, 2)
    player_pid(child)
    child.send("q")
    child.expect(r"session \S+: 0 play, 0 skip, 1 like, 0 dislike")
    child.expect(pexpect.EOF)
    assert _events(config) == [("like", *first)]


@needs_sidplayfp
def test_play_without_a_seed_plays_for_me_and_leaves_out_what_was_just_disliked(radio: tuple[Path, Path]) -> None:
    config, home = radio
    child = _spawn(config, home, "--limit", "3")  # no seed: "for me" (nothing liked yet: p + exploration)
    disliked = _song(child, 1)
    child.send("d")
    child.expect("disliked")
    _song(child, 2)
    child.send("q")
    child.expect(pexpect.EOF)
    child.close()
    # No rebuild in between: the dislike is read from the log by the next queue.
    again = _spawn(config, home, "--limit", "30")
    first = _song(again, 1)
    again.send("q")
    again.expect(pexpect.EOF)
    again.close()
    assert first != disliked
    sessions = sorted((load_config(config).data_path / "sessions").glob("*.json"), key=lambda p: p.stat().st_mtime)
    queue = json.loads(sessions[-1].read_text())["queue"]
    assert len(queue) > 3 and disliked not in [(q["sid_path"], q["song_index"]) for q in queue]
    assert _events(config)[0] == ("dislike", *disliked)
