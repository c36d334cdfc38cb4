"""`sidflow master`: master audio with versioned profiles, and tune them from your ratings.

The loop (docs/mastering.md): ``apply`` → listen → ``rate`` → ``analyze`` →
``update`` (validated, committed with git) → ``test`` the change → ``export``.
Profiles live in ``<dataPath>/profiles`` (seeded from the packaged defaults on first
use), ratings and patterns in ``<dataPath>/mastering-feedback``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from sidflow_pipeline.cli.common import Context, FiniteFloat, console, err_console, fail, pass_ctx, user_errors
from sidflow_pipeline.cli.output import format_option
from sidflow_pipeline.mastering.detect import DETECTABLE_TYPES, DetectionHints

__all__ = ["master"]



def _dirs(ctx: Context) -> tuple[Path, Path]:
    """(profiles dir, feedback dir) under dataPath; seeds the profiles on first use."""
    from sidflow_pipeline.mastering.profiles import ensure_profiles

    layout = ctx.config.layout
    profiles = layout.profiles_dir
    seeded = ensure_profiles(profiles)
    if seeded:
        console.print(f"[dim]seeded {len(seeded)} profile files into {profiles}[/]", highlight=False)
    return profiles, layout.mastering_feedback_dir


def hint_options(func: Any) -> Any:
    """What the caller knows beyond the audio (e.g. from the SID header)."""
    options = [
        click.option("--sid", "is_sid", is_flag=True, help="The audio is a SID render (detect among the sid_* types)."),
        click.option("--sid-model", type=click.Choice(["6581", "8580"]), help="The SID model from the header (implies --sid)."),
        click.option("--sid-count", type=click.IntRange(1, 3), help="Number of SID chips from the header (implies --sid)."),
    ]  # fmt: skip
    for option in reversed(options):
        func = option(func)
    return func


def _hints(is_sid: bool, sid_model: str | None, sid_count: int | None) -> DetectionHints:
    return DetectionHints(is_sid_render=is_sid, sid_model=sid_model, sid_count=sid_count)


@click.group("master")
def master() -> None:
    """Master audio with versioned profiles and tune the profiles from your ratings.

    \b
    sidflow master apply song.wav song.mastered.wav          detect the type, master
    sidflow master rate song.mastered.wav --rating 4 --comment "less bass"
    sidflow master analyze --type studio                      patterns → suggestions
    sidflow master update studio --bass 1.0 --reason "feedback: bass -0.5"
    sidflow master test studio --sample-size 5                previous vs current
    sidflow master export --version 1.1 --output-dir dist/
    """


def _db(value: float, unit: str) -> str:
    return f"{value:+.2f} {unit}" if unit == "dB" else f"{value:.2f} {unit}"


@master.command("apply")
@click.argument("source", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("output", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--profile", "profile_type", type=click.Choice(DETECTABLE_TYPES), help="Use this type's profile.")
@click.option("--auto", is_flag=True, help="Detect the recording type (the default).")
@hint_options
@click.option("--json", "as_json", is_flag=True, help="Print what was done as JSON (the sidecar's content).")
@pass_ctx
@user_errors
def apply_command(
    ctx: Context,
    source: Path,
    output: Path,
    profile_type: str | None,
    auto: bool,
    is_sid: bool,
    sid_model: str | None,
    sid_count: int | None,
    as_json: bool,
) -> None:
    """Master SOURCE into OUTPUT with the current profile of its type.

    Writes OUTPUT (24-bit for WAV/FLAC) and OUTPUT.mastering.json, which `rate`
    reads to know what was applied.
    """
    from sidflow_pipeline.mastering.loop import master_file

    if profile_type and auto:
        fail("choose --profile TYPE or --auto, not both")
    profiles, _ = _dirs(ctx)
    result = master_file(
        source, output, profiles, profile_type=profile_type, hints=_hints(is_sid, sid_model, sid_count)
    )
    _warn_if_target_missed(result)
    if as_json:
        click.echo(json.dumps(result.to_json(), indent=2, sort_keys=True))
        return
    det, report, profile = result.detection, result.report, result.profile
    why = "forced with --profile" if det.matched == ("forced",) else "; ".join(det.matched) or "no rule fitted"
    console.print(f"type       [bold]{det.type}[/] (confidence {det.confidence:.2f}: {why})", highlight=False)
    bands = ", ".join(f"{name} {band.gain_db:+g} dB @ {band.freq_hz:g} Hz" for name, band in profile.bands.items())
    console.print(
        f"profile    {profile.type} v{profile.version} ({bands}, width ×{profile.width_factor:g})", highlight=False
    )
    console.print(
        f"loudness   {report.loudness_in_lufs:.2f} → {result.fingerprint_after.loudness_lufs:.2f} LUFS"
        f" (target {profile.target_lufs:g})",
        highlight=False,
    )
    console.print(
        f"true peak  {report.true_peak_in_dbtp:.2f} → {result.fingerprint_after.true_peak_dbtp:.2f} dBTP"
        f" (ceiling {profile.true_peak_ceiling_dbtp:g}; limiter up to {report.limiter_max_reduction_db:.2f} dB)",
        highlight=False,
    )
    for note in report.notes:
        console.print(f"note       {note}", highlight=False)
    console.print(f"wrote      {result.output} (+ {result.sidecar.name})", highlight=False)


def _warn_if_target_missed(result: Any) -> None:
    """One yellow line on stderr when the loudness target was not met.

    The file is still written and the exit status stays 0 (the output is valid and
    under the ceiling, just not as loud as asked), but a note among the details is
    easy to miss and the profile promises its target, so the shortfall is stated on
    its own line, on stderr so that ``--json`` output stays parseable.
    """
    report, profile = result.report, result.profile
    if not report.target_missed:
        return
    achieved = result.fingerprint_after.loudness_lufs
    err_console.print(
        f"[bold yellow]warning:[/] loudness target {profile.target_lufs:g} LUFS not reached: {achieved:.2f} LUFS"
        f" ({achieved - profile.target_lufs:+.2f} LU) — the true-peak ceiling of"
        f" {profile.true_peak_ceiling_dbtp:g} dBTP allows no more (limiter up to"
        f" {report.limiter_max_reduction_db:.1f} dB)",
        highlight=False,
        soft_wrap=True,
    )


@master.command("detect")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@hint_options
@click.option("--json", "as_json", is_flag=True, help="Print fingerprint and detection as JSON.")
@user_errors
def detect_command(file: Path, is_sid: bool, sid_model: str | None, sid_count: int | None, as_json: bool) -> None:
    """Print FILE's fingerprint and detected recording type (changes nothing)."""
    from rich.table import Table

    from sidflow_pipeline.mastering.detect import detect
    from sidflow_pipeline.mastering.fingerprint import fingerprint_file

    fp = fingerprint_file(file)
    detection = detect(fp, _hints(is_sid, sid_model, sid_count))
    if as_json:
        click.echo(
            json.dumps({"fingerprint": fp.to_json(), "detection": detection.to_json()}, indent=2, sort_keys=True)
        )
        return
    table = Table(title=f"{file.name}: {detection.type} (confidence {detection.confidence:.2f})")
    table.add_column("field", style="cyan")
    table.add_column("value", justify="right")
    for key, value in fp.to_json().items():
        table.add_row(key, "—" if value is None else f"{value:g}")
    console.print(table)
    console.print("scores: " + ", ".join(f"{k} {v:.2f}" for k, v in detection.scores.items()), highlight=False)


@master.command("rate")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--rating", type=click.IntRange(1, 5), required=True, help="1 (bad) .. 5 (perfect).")
@click.option("--comment", help='What to change, e.g. "less bass", "too quiet", "not wide enough".')
@hint_options
@pass_ctx
@user_errors
def rate_command(
    ctx: Context,
    file: Path,
    rating: int,
    comment: str | None,
    is_sid: bool,
    sid_model: str | None,
    sid_count: int | None,
) -> None:
    """Rate a mastered FILE (or a source) into mastering-feedback/ratings.jsonl."""
    from sidflow_pipeline.mastering.loop import rate_file

    _profiles, feedback = _dirs(ctx)
    entry = rate_file(feedback, file, rating, comment, hints=_hints(is_sid, sid_model, sid_count))
    console.print(f"rated      {file.name}: {'★' * rating}{'☆' * (5 - rating)} ({rating}/5)", highlight=False)
    kind, confidence, version = entry["detected_type"], entry["confidence"], entry["profile_version"]
    applied = f"profile v{version}" if entry["mastered"] else "not mastered (no profile applied; not counted for suggestions)"
    console.print(f"type       {kind} (confidence {confidence:.2f}), {applied}", highlight=False)
    if comment:
        console.print(f"comment    {comment}", highlight=False)
    console.print(f"saved to   {ctx.config.layout.mastering_ratings}", highlight=False)


@master.command("analyze")
@click.option("--type", "kind", type=click.Choice(DETECTABLE_TYPES), help="Only this recording type.")
@click.option("--all-versions", is_flag=True, help="Suggest from every version's ratings, not just the current one's.")
@click.option("--json", "as_json", is_flag=True, help="Print patterns.json instead of tables.")
@pass_ctx
@user_errors
def analyze_command(ctx: Context, kind: str | None, all_versions: bool, as_json: bool) -> None:
    """Patterns in the ratings and comments, per type, with concrete suggestions.

    Writes mastering-feedback/patterns.json (with --type, only that type's entry is
    replaced). Only ratings of mastered audio count toward suggestions.
    """
    from sidflow_pipeline.mastering.analyze import analyze_ratings, write_patterns
    from sidflow_pipeline.mastering.ratings import read_ratings

    profiles, feedback = _dirs(ctx)
    entries, skipped = read_ratings(feedback)
    patterns = analyze_ratings(entries, profiles, kind=kind, all_versions=all_versions, skipped_lines=skipped)
    path = write_patterns(feedback, patterns, merge=kind is not None)  # --type T keeps the other types
    if as_json:
        click.echo(json.dumps(patterns, indent=2, sort_keys=True, ensure_ascii=False))
        return
    if not patterns["types"]:
        console.print(
            f"no ratings yet in {feedback} (rate with `sidflow master rate FILE --rating N`)", highlight=False
        )
    for summary in patterns["types"].values():
        _print_summary(summary)
    if skipped:
        console.print(f"[yellow]skipped {skipped} broken line(s) in ratings.jsonl[/]", highlight=False)
    console.print(f"wrote {path}", highlight=False)


def _print_summary(summary: dict[str, Any]) -> None:
    from rich.table import Table

    average = summary["average_rating"]
    title = f"{summary['type']} — profile v{summary['current_version']} — {summary['samples']} ratings" + (
        f", average {average:.1f}/5" if average is not None else ""
    )
    table = Table(title=title, show_header=True)
    table.add_column("what", style="cyan", no_wrap=True)
    table.add_column("detail")
    stars = "  ".join(f"{star}★ {summary['histogram'][str(star)]}" for star in range(5, 0, -1))
    table.add_row("ratings", stars)
    versions = ", ".join(f"v{v}: {n}" for v, n in summary["samples_by_version"].items()) or "—"
    unmastered = summary["unmastered_samples"]
    if unmastered:
        versions += f"; unmastered: {unmastered} (not counted)"
    table.add_row("by version", f"{versions} (analysed: {summary['analysed_version']}, {summary['analysed_samples']})")
    for pattern in summary["patterns"]:
        phrases = ", ".join(f'"{p}" ×{n}' for p, n in pattern["phrases"].items())
        table.add_row(f"{pattern['parameter']}: {pattern['direction']}", f"{pattern['count']} — {phrases}")
    for suggestion in summary["suggestions"]:
        current = suggestion.get("current")
        change = f"{current:g} → {suggestion['suggested']:g}" if current is not None else f"{suggestion['delta']:+g}"
        votes = f"{suggestion['more']} more / {suggestion['less']} less"
        table.add_row(
            f"suggest {suggestion['parameter']}", f"{suggestion['field']} {change} ({suggestion['delta']:+g}; {votes})"
        )
    if not summary["suggestions"]:
        table.add_row("suggest", "no change (no parameter has a clear majority)")
    for key in ("top_comment", "bottom_comment"):
        if summary[key]:
            table.add_row(key.replace("_", " "), f"{summary[key]['rating']}★ {summary[key]['comment']}")
    console.print(table)
    if summary["update_command"]:
        console.print(f"[bold]next:[/] {summary['update_command']}", highlight=False, soft_wrap=True)


def _parse_set(values: tuple[str, ...]) -> dict[str, float]:
    out: dict[str, float] = {}
    for item in values:
        name, sep, raw = item.partition("=")
        try:
            if not sep:
                raise ValueError
            out[name.strip()] = float(raw)
        except ValueError:
            fail(f"--set expects FIELD=NUMBER (e.g. eq.bass.freq_hz=100), got {item!r}")
    return out


@master.command("update")
@click.argument("kind", metavar="TYPE", type=click.Choice(DETECTABLE_TYPES))
@click.option("--bass", type=FiniteFloat, help="New bass shelf gain (dB).")
@click.option("--mid", type=FiniteFloat, help="New mid peaking gain (dB).")
@click.option("--treble", type=FiniteFloat, help="New treble shelf gain (dB).")
@click.option("--width", type=FiniteFloat, help="New stereo width factor (1 = unchanged).")
@click.option("--lufs", type=FiniteFloat, help="New loudness target (LUFS).")
@click.option("--ceiling", type=FiniteFloat, help="New true-peak ceiling (dBTP).")
@click.option(
    "--set", "settings", multiple=True, metavar="FIELD=VALUE", help="Any other field, e.g. eq.bass.freq_hz=100."
)
@click.option("--reason", required=True, help="Why (goes into versions.json and the commit message).")
@pass_ctx
@user_errors
def update_command(ctx: Context, /, kind: str, reason: str, settings: tuple[str, ...], **values: float | None) -> None:
    """Write the next version of TYPE's profile, validate it, and commit it (git) or record it."""
    from sidflow_pipeline.mastering.update import OPTION_FIELDS, update_profile

    changes = {OPTION_FIELDS[name]: value for name, value in values.items() if value is not None}
    changes.update(_parse_set(settings))
    profiles, _ = _dirs(ctx)
    result = update_profile(profiles, kind, changes, reason)
    console.print(f"[bold]{kind}[/] v{result.old_version} → v{result.new_version}", highlight=False)
    for field, (old, new) in sorted(result.changes.items()):
        console.print(f"  {field}: {old:g} → {new:g} ({new - old:+g})", highlight=False)
    passed = sum(c.passed for c in result.checks)
    console.print(f"validation: {passed}/{len(result.checks)} checks passed", highlight=False)
    if result.commit:
        console.print(f"committed  {result.commit[:12]} ({result.path.name} + versions.json)", highlight=False)
    else:
        console.print(
            "recorded   in versions.json history (the profiles folder is not in a git repository)", highlight=False
        )
    console.print(f"wrote      {result.path}", highlight=False)


@master.command("test")
@click.argument("kind", metavar="TYPE", type=click.Choice(DETECTABLE_TYPES))
@click.option("--sample-size", type=click.IntRange(1, 1000), default=5, show_default=True, help="Tracks to compare on.")
@click.option(
    "--files",
    "files_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Pick tracks from this folder (default: the tracks you rated as TYPE).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the track sample.")
@click.option("--old", "old_version", help="Compare this version (default: the one before the current).")
@click.option("--new", "new_version", help="…against this one (default: the current).")
@format_option()
@click.option("--json", "as_json", is_flag=True, hidden=True, help="Same as --format json.")
@pass_ctx
@user_errors
def test_command(
    ctx: Context,
    kind: str,
    sample_size: int,
    files_dir: Path | None,
    seed: int,
    old_version: str | None,
    new_version: str | None,
    fmt: str,
    as_json: bool,
) -> None:
    """Previous vs current profile of TYPE on N tracks.

    The tracks are a seeded sample of --files DIR when given; otherwise the audio
    files you rated as TYPE (mastering-feedback/ratings.jsonl) that still exist;
    generated signals only when there are none. The title says which.
    """
    from sidflow_pipeline.mastering.compare import compare_versions

    profiles, feedback = _dirs(ctx)
    result = compare_versions(
        profiles,
        kind,
        sample_size,
        files_dir=files_dir,
        feedback_dir=feedback,
        seed=seed,
        old=old_version,
        new=new_version,
    )
    _print_comparison(result, "json" if as_json else fmt)


def _print_comparison(result: Any, fmt: str) -> None:
    """``master test`` as a table that fits the terminal, JSON/JSONL, or the tracks as M3U/paths."""
    from sidflow_pipeline.cli.output import Column, emit_json, emit_jsonl, print_lines, print_table

    if fmt == "json":
        emit_json(result.to_json())
        return
    if fmt == "jsonl":
        emit_jsonl({"type": result.type, "old_version": str(result.old_version), "new_version": str(result.new_version),
                    **row.to_json()} for row in result.rows)  # fmt: skip
        return
    if fmt in ("m3u", "paths"):
        files = [row.track for row in result.rows if Path(row.track).is_file()]
        if not files:
            fail(f"no audio files to list: the comparison used {result.source}")
        if fmt == "paths":
            print_lines(str(Path(f).absolute()) for f in files)
        else:
            lines = ["#EXTM3U", f"#PLAYLIST:sidflow master test {result.type}"]
            for f in files:
                lines += [f"#EXTINF:-1,{Path(f).stem}", str(Path(f).absolute())]
            print_lines(lines)
        return
    click.echo(f"tracks     {result.source}")
    columns = [
        Column("track", min_width=12, keep_end=True),
        Column("LUFS in→old→new", "right", 15),
        Column("dBTP in→old→new", "right", 15, drop=2),
        Column("centroid Hz old→new", "right", 11, drop=3),
        Column("bass/mid dB in→old→new", "right", 15, drop=1),
    ]
    rows = []
    for row in result.rows:
        b, o, n = row.before, row.old, row.new
        rows.append([
            row.track,
            f"{b.loudness_lufs:.1f}→{o.loudness_lufs:.1f}→{n.loudness_lufs:.1f}",
            f"{b.true_peak_dbtp:.1f}→{o.true_peak_dbtp:.2f}→{n.true_peak_dbtp:.2f}",
            f"{o.spectral_centroid_hz:.0f}→{n.spectral_centroid_hz:.0f}",
            f"{b.bass_mid_ratio_db:.1f}→{o.bass_mid_ratio_db:.2f}→{n.bass_mid_ratio_db:.2f}",
        ])  # fmt: skip
    print_table(f"{result.type}: v{result.old_version} (old) vs v{result.new_version} (new)", columns, rows)


@master.command("export")
@click.option("--version", "version", required=True, help="The profile version to export, e.g. 1.1.")
@click.option("--output-dir", type=click.Path(file_okay=False, path_type=Path), required=True)
@click.option("--type", "kinds", multiple=True, type=click.Choice(DETECTABLE_TYPES), help="Only these types.")
@pass_ctx
@user_errors
def export_command(ctx: Context, version: str, output_dir: Path, kinds: tuple[str, ...]) -> None:
    """Copy that version of every profile (or of --type) into a folder usable as a profiles dir."""
    from sidflow_pipeline.mastering.profiles import export_profiles

    profiles, _ = _dirs(ctx)
    written, skipped = export_profiles(profiles, version, output_dir, kinds or None)
    for path in written:
        console.print(f"wrote      {path}", highlight=False)
    if skipped:
        console.print(f"no v{version} for: {', '.join(skipped)}", highlight=False)


if __name__ == "__main__":  # pragma: no cover - `python -m sidflow_pipeline.cli.master …` (also `sidflow master`)
    master(obj=Context(None))
