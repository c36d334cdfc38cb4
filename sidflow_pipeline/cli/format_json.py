"""`sidflow format-json`: pretty-print a JSONL file as an indented JSON array."""

from __future__ import annotations

import json
from pathlib import Path

import click

from sidflow_pipeline.cli.common import console, err_console, fail, user_errors

__all__ = ["format_json"]


@click.command("format-json")
@click.argument("jsonl", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write here instead of stdout.")
@click.option("--strict/--skip-bad", default=True, show_default=True, help="Stop at a broken line, or skip it with a warning.")
@user_errors
def format_json(jsonl: Path, output: Path | None, strict: bool) -> None:
    """Pretty-print a JSONL file (classified/*.jsonl, feedback, ...) as an indented JSON array."""
    records = []
    for number, line in enumerate(jsonl.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as exc:
            message = f"{jsonl}:{number}: not valid JSON ({exc.msg})"
            if strict:
                fail(message)
            err_console.print(f"[yellow]skipped[/] {message}", highlight=False)
    text = json.dumps(records, indent=2, ensure_ascii=False) + "\n"
    if output is None:
        click.echo(text, nl=False)
    else:
        from sidflow_pipeline.atomic import atomic_write_text

        atomic_write_text(output, text)
        console.print(f"{len(records)} records → {output}")
