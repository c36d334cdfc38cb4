"""`sidflow fetch`: sync the local HVSC tree to the newest release."""

from __future__ import annotations

import click

from sidflow_pipeline.cli.common import Context, console, pass_ctx, user_errors

__all__ = ["fetch"]


@click.command("fetch")
@click.option("--source", help="Override hvscSource: mirror URL, file:// URL or folder.")
@pass_ctx
@user_errors
def fetch(ctx: Context, source: str | None) -> None:
    """Sync the local HVSC tree (hvscPath) to the newest release from hvscSource.

    The same code as the hvsc_mirror asset: base archive + update scripts, verified
    downloads, staging tree swapped in only when everything succeeded.
    """
    from sidflow_pipeline.hvsc.sync import sync_collection

    cfg = ctx.config
    synced = sync_collection(
        source or cfg.hvsc_source,
        cfg.hvsc_path,
        cfg.layout.hvsc_manifest_copy,
        cfg.tags_path,
        checksums=cfg.hvsc_checksums,
        log=lambda m: console.print(f"[dim]{m}[/]"),
    )
    result = synced.result
    if result.status == "current":
        console.print(f"HVSC release {result.version} is current; nothing downloaded.")
        return
    console.print(
        f"[green]{result.status}[/] HVSC release {result.version} "
        f"({result.files:,} files, {result.bytes_downloaded:,} bytes downloaded, {result.seconds:.1f} s)"
    )
    for archive in result.archives:
        console.print(f"  {archive.filename}  {archive.checksum}")
    if result.moves:
        console.print(f"  {len(result.moves)} tunes moved; old paths are mapped in {cfg.layout.path_moves}")
    if synced.tags_moved:
        console.print(f"  {synced.tags_moved} rating files under {cfg.tags_path} moved with their tunes")
