"""`s2s info` (what a checkpoint holds) and `s2s average` (the mean of a run's last checkpoints)."""

from __future__ import annotations

import json
from pathlib import Path

import click
import yaml

from s2s.cli.common import setup_logging
from s2s.errors import UserError


@click.command(short_help="Show a checkpoint's config, size, vocabulary and scores.")
@click.argument("model", type=click.Path(exists=True))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of text.")
def info(model, as_json) -> None:
    """Show what a checkpoint (or a run directory's best.pt) holds.

    \b
    Examples:
      s2s info runs/demo
      s2s info runs/demo/last.pt --json
    """
    from s2s.summary import describe

    setup_logging(verbose=False)
    facts = describe(model)
    if as_json:
        click.echo(json.dumps(facts, ensure_ascii=False))
        return
    config = facts.pop("config")
    for key, value in facts.items():
        click.echo(f"{key}: {json.dumps(value, ensure_ascii=False) if isinstance(value, dict) else value}")
    click.echo("config:")
    click.echo("  " + yaml.safe_dump(config, sort_keys=False).rstrip().replace("\n", "\n  "))


@click.command(short_help="Average the weights of a run's last N checkpoints.")
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False))
@click.option("--last", "n", type=click.IntRange(min=1), default=5, show_default=True,
              help="How many of the newest step checkpoints (step-*.pt) to average.")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="The averaged checkpoint to write (usable with -m anywhere).")
def average(run_dir, n, output) -> None:
    """Average the weights of the last N checkpoints of a run into one checkpoint.

    Training keeps the checkpoints of its last validations (train.keep_checkpoints) as
    RUN_DIR/step-STEP.pt; the average of the last few often translates better than any one.

    \b
    Example:
      s2s average runs/multi30k_de_en --last 5 -o runs/multi30k_de_en/avg5.pt
      s2s eval -m runs/multi30k_de_en/avg5.pt
    """
    from s2s import checkpoint

    setup_logging(verbose=False)
    found = checkpoint.kept(run_dir)
    if len(found) < n:
        raise UserError(f"{run_dir} has {len(found)} step checkpoints ({checkpoint.STEP_PATTERN}); "
                        f"--last {n} needs {n} (train.keep_checkpoints sets how many a run keeps)")
    if not Path(output).resolve().parent.is_dir():
        raise UserError(f"-o {output}: directory {Path(output).parent} does not exist")
    chosen = found[-n:]
    checkpoint.save(output, checkpoint.average(chosen))
    click.echo(f"averaged {', '.join(p.name for p in chosen)} into {output}", err=True)
