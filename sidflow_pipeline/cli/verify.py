"""`sidflow verify`: check derived data against the canonical data."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from sidflow_pipeline.cli.common import Context, console, pass_ctx, user_errors

__all__ = ["verify"]


@click.command("verify")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output: one object per artifact.")
@pass_ctx
@user_errors
def verify(ctx: Context, as_json: bool) -> None:
    """Check derived data against the canonical data; name what is stale and how to fix it.

    Every failing artifact gets its own `fix:` line with the exact command, because a
    generic hint would send the user to rebuild the database when it is the feedback
    aggregates that are behind (the database's manifest records what they were built from).
    """
    from rich.table import Table

    from sidflow_pipeline.errors import fix_command
    from sidflow_pipeline.features import FEATURE_SET_VERSION
    from sidflow_pipeline.hvsc.verify import check_tree_against_manifest
    from sidflow_pipeline.lance.verify import lance_status
    from sidflow_pipeline.training.model import check_model

    cfg = ctx.config
    hvsc_ok, _meta, hvsc_detail = check_tree_against_manifest(cfg.hvsc_path)
    model_ok, model_detail = check_model(cfg.layout.model_dir, FEATURE_SET_VERSION)
    lance = lance_status(cfg)
    checks: list[dict[str, Any]] = [
        {"artifact": "HVSC tree", "ok": hvsc_ok, "status": "ok" if hvsc_ok else "stale/corrupt",
         "detail": hvsc_detail, "fix": None if hvsc_ok else fix_command("hvsc_mirror")},
        {"artifact": cfg.layout.lance_db.name, "ok": lance.ok, "status": lance.state, "detail": lance.detail, "fix": lance.fix},
        {"artifact": "rating model", "ok": model_ok, "status": "ok" if model_ok else "stale/corrupt",
         "detail": model_detail, "fix": None if model_ok else f"sidflow train --force (or {fix_command('rating_model')})"},
    ]
    failed = [c for c in checks if not c["ok"]]
    if as_json:
        click.echo(json.dumps(checks, indent=2, sort_keys=True))
    else:
        table = Table(title="sidflow verify")
        for column in ("artifact", "status", "detail"):
            table.add_column(column)
        for check in checks:
            table.add_row(check["artifact"], "[green]ok[/]" if check["ok"] else f"[red]{check['status']}[/]", check["detail"])
        console.print(table)
        for check in failed:  # click.echo: a command must not be wrapped mid-word
            click.echo(f"{check['artifact']}: {check['status']} — fix: {check['fix']}")
    if failed:
        sys.exit(1)
