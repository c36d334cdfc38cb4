"""`sidflow train`: train (or evaluate) the rating model from the shell."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from sidflow_pipeline.cli.common import Context, FiniteFloatRange, console, err_console, pass_ctx, user_errors

__all__ = ["train"]


def _cell(metrics: Any, dim: str) -> str:
    if metrics is None or dim not in metrics.per_dim:
        return "—"
    m = metrics.per_dim[dim]
    return f"{m['mae']:.3f} / {m['r2']:.2f}"


@click.command("train")
@click.option("--evaluate", "evaluate_only", is_flag=True, help="Only evaluate the current model and the baseline on the held-out songs.")
@click.option("--force", is_flag=True, help="Publish the new model even if it is worse than the current one.")
@click.option(
    "--num-boost-round", "--epochs", "rounds", type=click.IntRange(1, 10_000), default=300, show_default=True,
    help="Boosting rounds per dimension (--epochs is accepted for the design documents' name).",
)  # fmt: skip
@click.option("--learning-rate", type=FiniteFloatRange(0.001, 1.0), default=0.05, show_default=True)
@click.option("--num-leaves", type=click.IntRange(2, 256), default=7, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON.")
@pass_ctx
@user_errors
def train(ctx: Context, evaluate_only: bool, force: bool, rounds: int, learning_rate: float, num_leaves: int, as_json: bool) -> None:
    """Train the LightGBM rating model on your ratings and feedback.

    \b
    Samples: manual ratings (weight 1.0, every dimension you set) and feedback for p
    (like → 5 @0.7, dislike → 1 @0.5, skip → 2 @0.3). 20 % of SID files (fixed by a
    hash) are held out; the new model is published to data/model/ only if its mean
    held-out MAE is not worse than the current model's (exit 1 otherwise).
    Reclassify afterwards: the sidflow_retrain job (or scripts/run.sh).
    """
    from rich.table import Table

    from sidflow_pipeline.training.model import create_model
    from sidflow_pipeline.training.train import load_training_data, run_training

    cfg = ctx.config
    data = load_training_data(cfg)
    for problem in data.problems:
        err_console.print(f"[yellow]warning:[/] {problem}", highlight=False)
    spec = create_model(num_boost_round=rounds, learning_rate=learning_rate, num_leaves=num_leaves)
    with console.status("training…" if not evaluate_only else "evaluating…"):
        outcome = run_training(cfg, spec=spec, force=force, evaluate_only=evaluate_only, data=data, notes="sidflow train")
    if as_json:
        out = {
            "status": outcome.status,
            "reason": outcome.reason,
            "trainSamples": outcome.train_samples,
            "heldOutSamples": outcome.test_samples,
            "candidate": outcome.candidate.to_json() if outcome.candidate else None,
            "current": outcome.current.to_json() if outcome.current else None,
            "baseline": outcome.baseline.to_json() if outcome.baseline else None,
        }
        click.echo(json.dumps(out, indent=2, sort_keys=True))
    else:
        title = f"held-out MAE / R² — {outcome.train_samples} training songs, {outcome.test_samples} held out"
        table = Table(title=title)
        for column in ("dim", "new model", "current model", "baseline"):
            table.add_column(column, justify="left" if column == "dim" else "right")
        for dim in ("e", "m", "c", "p"):
            table.add_row(dim, _cell(outcome.candidate, dim), _cell(outcome.current, dim), _cell(outcome.baseline, dim))
        console.print(table)
        colour = {"published": "green", "rejected": "red"}.get(outcome.status, "yellow")
        console.print(f"[{colour}]{outcome.status}[/]: {outcome.reason}", highlight=False)
        if outcome.status == "published":
            from sidflow_pipeline.cli.common import PENDING_MODEL

            console.print(PENDING_MODEL, highlight=False, soft_wrap=True)
    if outcome.status == "rejected":
        sys.exit(1)
