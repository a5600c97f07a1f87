"""A training run from the outside: which config and run directory, and the process group
and log file around the `s2s.trainer.Trainer`. `train` is what `s2s train` and the Python
API call (`s2s.train`).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from pathlib import Path

import torch

from s2s import checkpoint
from s2s.bookkeeping import Progress
from s2s.config import Config
from s2s.configfile import apply_overrides, from_dict, load_config
from s2s.devices import resolve_device
from s2s.distributed import Group
from s2s.errors import UserError
from s2s.trainer import Trainer


def run_config(config: Config | str | Path | None, run_dir: str | Path | None, overrides: Sequence[str] = (),
               resume: bool = False) -> tuple[Config, Path]:
    """The config and run directory a training run uses: `config` as given (a Config, or a
    YAML file read with `overrides`), or on `resume` without one the run's own config.yaml;
    `run_dir` defaults to runs/CONFIG_NAME for a config file."""
    if config is None:
        if not (resume and run_dir):
            raise UserError("give a config (or the run directory of a run to resume)")
        if not (Path(run_dir) / checkpoint.LAST).is_file():
            raise UserError(f"--resume: {Path(run_dir) / checkpoint.LAST} does not exist (nothing to resume)")
        config = Path(run_dir) / "config.yaml"
    if isinstance(config, Config):
        if run_dir is None:
            raise UserError("a run directory is required when the config is given as a Config")
        if overrides:
            config = from_dict(apply_overrides(config.to_dict(), list(overrides)))
        return config, Path(run_dir)
    return load_config(config, list(overrides)), Path(run_dir or Path("runs") / Path(config).stem)


def peak_memory() -> tuple[float, float] | None:
    """(this process's, its largest finished child's) peak resident memory in MB, where the
    system reports it."""
    try:
        import resource
    except ImportError:  # not on this system
        return None
    unit = 1 if sys.platform == "darwin" else 1024  # bytes there, kilobytes on Linux
    return tuple(resource.getrusage(who).ru_maxrss * unit / 2 ** 20
                 for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))


def train(config: Config | str | Path | None, run_dir: str | Path | None = None, *, overrides: Sequence[str] = (),
          resume: bool = False, device: str | torch.device = "auto", progress_bar: bool = False) -> Progress:
    """Trains a model as `config` says into `run_dir`, or resumes the run there; returns
    the run's progress (best validation score and step, history).

    `config` is a Config or a YAML file, read with `overrides` ("train.max_steps=2000");
    with `resume` it may be None (the run's own config.yaml). `run_dir` defaults to
    runs/CONFIG_NAME. Under torchrun, every process calls this; rank 0 alone writes to
    `run_dir` and logs.
    """
    config, run_dir = run_config(config, run_dir, overrides, resume)
    device = resolve_device(device)
    group = Group.start(device)
    device = group.device(device)
    root = logging.getLogger("s2s")
    level = root.level
    handler = None
    if group.main:
        run_dir.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(run_dir / "train.log", encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        root.addHandler(handler)
        root.setLevel(logging.INFO)  # the run's log file keeps progress even when stderr is quiet
    else:
        root.setLevel(logging.ERROR)  # one process speaks for all
    try:
        trainer = Trainer(config, run_dir, device, progress_bar, group)
        trainer.prepare(resume)
        progress = trainer.run()
        peaks = group.gather(peak_memory())
        if None not in peaks:
            root.info("peak memory (resident set) %s MB per process; of the processes it started (tokenizer, "
                      "encoding) at most %.0f MB", ", ".join(f"{own:.0f}" for own, _ in peaks), max(c for _, c in peaks))
        group.barrier()  # all processes leave together: none tears down its links while another still writes
        return progress
    finally:
        root.setLevel(level)
        if handler is not None:
            root.removeHandler(handler)
            handler.close()
        group.stop()
