"""`sidflow config`: inspect the configuration (.sidflow.json)."""

from __future__ import annotations

import json
from typing import Any

import click

from sidflow_pipeline.cli.common import Context, console, fail, pass_ctx, user_errors

__all__ = ["config"]


@click.group()
def config() -> None:
    """Inspect the configuration (.sidflow.json)."""


@config.command("validate")
@click.option("--json", "as_json", is_flag=True, help="Print the resolved config as JSON.")
@pass_ctx
@user_errors
def config_validate(ctx: Context, as_json: bool) -> None:
    """Load and validate the config and its paths, then print it with every path resolved.

    Each configured path must have the right kind: hvscPath and dataPath must be
    existing folders, the derived folders folders or creatable, a local hvscSource an
    existing folder. Every problem is named on the one error line.
    """
    from rich.table import Table

    from sidflow_pipeline.config import path_problems

    cfg = ctx.config
    problems = path_problems(cfg)
    if problems:
        source = cfg.source_file or "(defaults)"
        fail(f"{source}: " + "; ".join(problems))
    data = cfg.to_json_dict()
    if as_json:
        click.echo(json.dumps(data, indent=2, sort_keys=True))
        return
    source = str(cfg.source_file) if cfg.source_file else "(no config file: defaults)"
    table = Table(title=f"sidflow config — {source}", show_lines=False)
    table.add_column("key", style="cyan", no_wrap=True)
    table.add_column("value")
    for key, value in _flatten(data):
        table.add_row(key, "null" if value is None else str(value))
    console.print(table)
    console.print("[green]config OK[/]")


def _flatten(data: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for key in sorted(data):
        value = data[key]
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out.extend(_flatten(value, name + "."))
        else:
            out.append((name, value))
    return out
