"""`sidflow`: the companion CLI for what is interactive or one-off.

The pipeline itself runs in Dagster; these commands call the same domain code so a
user can inspect a tune, check a config or build the demo collection from the shell.
Every expected failure ends as one red line and exit status 2, not a traceback.

This module only builds the group: each command (or command group) lives in its own
module of ``cli/`` and is imported when it runs or ``--help`` lists it, so
``sidflow search`` does not pay for importing ``rate``, ``play`` or ``master``.
"""

from __future__ import annotations

import importlib
from typing import ClassVar

import click

from sidflow_pipeline.cli.common import Context

__all__ = ["cli", "main"]


class LazyGroup(click.Group):
    """Commands in their own modules, imported when run (or listed by ``--help``)."""

    LAZY: ClassVar[dict[str, str]] = {
        "config": "sidflow_pipeline.cli.config:config",
        "demo-collection": "sidflow_pipeline.cli.demo:demo_collection",
        "export-audio": "sidflow_pipeline.cli.export_audio:export_audio",
        "feedback": "sidflow_pipeline.cli.feedback:feedback",
        "fetch": "sidflow_pipeline.cli.fetch:fetch",
        "format-json": "sidflow_pipeline.cli.format_json:format_json",
        "info": "sidflow_pipeline.cli.info:info",
        "master": "sidflow_pipeline.cli.master:master",
        "play": "sidflow_pipeline.cli.play:play",
        "rate": "sidflow_pipeline.cli.rate:rate",
        "recommend": "sidflow_pipeline.cli.recommend:recommend",
        "search": "sidflow_pipeline.cli.search:search",
        "train": "sidflow_pipeline.cli.train:train",
        "verify": "sidflow_pipeline.cli.verify:verify",
        "stations": "sidflow_pipeline.cli.stations:stations",
        "explain": "sidflow_pipeline.cli.stations:explain",
    }

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.LAZY})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.LAZY and cmd_name not in self.commands:
            module, _, name = self.LAZY[cmd_name].partition(":")
            self.add_command(getattr(importlib.import_module(module), name), cmd_name)
        return super().get_command(ctx, cmd_name)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    envvar="SIDFLOW_CONFIG",
    help="Path to .sidflow.json (default: $SIDFLOW_CONFIG, else ./.sidflow.json).",
)
@click.version_option(package_name="sidflow-pipeline")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None) -> None:
    """SIDFlow: your personal C64 music station, built on the High Voltage SID Collection.

    The pipeline (sync, render, analyse, classify, train, build the database) runs as
    Dagster assets: `dagster dev -m sidflow_pipeline.definitions`. These commands are
    for inspecting tunes, checking configuration and the interactive tools.
    """
    ctx.obj = Context(config_path)


def main() -> None:  # pragma: no cover - console-script shim
    cli()


if __name__ == "__main__":  # pragma: no cover
    main()
