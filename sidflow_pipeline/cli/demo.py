"""`sidflow demo-collection`: write the generated demo collection (and its mirror)."""

from __future__ import annotations

from pathlib import Path

import click

from sidflow_pipeline.cli.common import console, fail, user_errors

__all__ = ["demo_collection"]


@click.command("demo-collection")
@click.argument("dest", type=click.Path(file_okay=False, path_type=Path), required=False)
@click.option(
    "--mirror",
    "mirror",
    type=click.Path(file_okay=False, path_type=Path),
    help="Also write an HVSC-style mirror (base + update archives) here.",
)
@click.option("--version", "version", type=int, default=None, help="Release to write into DEST (default: the newest).")
@click.option("--base-version", type=int, default=1, show_default=True, help="Release number of the base archive.")
@click.option("--updates", type=int, default=1, show_default=True, help="Number of update archives after the base.")
@user_errors
def demo_collection(dest: Path | None, mirror: Path | None, version: int | None, base_version: int, updates: int) -> None:
    """Write the generated demo collection (real, playable PSID tunes) laid out like HVSC.

    DEST receives C64Music/ at the newest release; with --mirror, MIRROR_DIR receives
    HVSC_<N>-all-of-them.7z and HVSC_Update_<N+k>.7z (+ .sha256), the offline source the
    default configuration syncs from. Give DEST, --mirror, or both.
    """
    from sidflow_pipeline.demo.collection import write_demo_collection, write_demo_mirror

    if dest is None and mirror is None:
        fail("give a destination folder, --mirror MIRROR_DIR, or both")
    if dest is not None:
        final = version if version is not None else base_version + updates
        try:
            report = write_demo_collection(dest, version=final, base_version=base_version, updates=updates)
        except FileExistsError as exc:
            fail(f"{exc}")
        console.print(
            f"[green]demo collection[/] release {report.version}: {report.files} SID files, "
            f"{report.songs} songs → {report.root}"
        )
    if mirror is not None:
        archives = write_demo_mirror(mirror, base_version=base_version, updates=updates)
        for archive in archives:
            console.print(f"  {archive}  ({archive.stat().st_size:,} bytes)")
