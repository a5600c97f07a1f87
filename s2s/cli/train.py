"""`s2s train`: a config (plus overrides) into a run directory, or a run resumed."""

from __future__ import annotations

import os

import click

from s2s.cli.common import device_option, quiet_option, setup_logging, show_progress


@click.command(short_help="Train a model into a run directory.")
@click.option("-c", "--config", "config_path", type=click.Path(dir_okay=False),
              help="YAML config file (optional with --resume: the run's config.yaml is used).")
@click.option("--set", "overrides", multiple=True, metavar="SECTION.KEY=VALUE",
              help="Override one config value; repeatable, e.g. --set train.max_steps=2000.")
@click.option("-o", "--output", "run_dir", type=click.Path(file_okay=False),
              help="Run directory (default: runs/CONFIG_NAME).")
@click.option("--resume", is_flag=True, help="Continue the run in the run directory from last.pt.")
@device_option
@quiet_option
def train(config_path, overrides, run_dir, resume, device_name, quiet) -> None:
    """Train a model: tokenizer, network and checkpoints in a run directory.

    \b
    Examples:
      s2s train -c configs/demo.yaml -o runs/demo --set train.max_steps=2000
      s2s train -o runs/demo --resume
    """
    from s2s.run import run_config
    from s2s.run import train as run_training

    setup_logging(verbose=True)
    if config_path is None and not (resume and run_dir):
        raise click.UsageError("give a config with -c (or -o RUN_DIR --resume to continue a run)")
    config, run_dir = run_config(config_path, run_dir, overrides, resume)
    progress = run_training(config, run_dir, resume=resume, device=device_name,
                            progress_bar=show_progress(quiet))
    if os.environ.get("RANK", "0") == "0":  # under torchrun, rank 0 speaks for all
        metric = "BLEU" if config.task == "translate" else "accuracy"
        click.echo(f"best validation {metric} {progress.best_score:.2f} at step {progress.best_step}; "
                   f"checkpoints in {run_dir}", err=True)
