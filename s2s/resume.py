"""Resuming a run: what may change since it was saved, and each process's random state.

--resume continues a run from last.pt exactly: same step, optimizer, schedule, data
position and random state. Changes that would contradict what was saved are refused.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from pathlib import Path

import torch

from s2s.config import Config
from s2s.distributed import Group
from s2s.errors import UserError

log = logging.getLogger(__name__)

# `train` keys that may change on --resume without breaking what was saved (the optimiser,
# schedule and data order would silently ignore or contradict a change to the others).
RESUMABLE_CHANGES = {"max_steps", "max_minutes", "max_epochs", "patience", "valid_every", "valid_batch_size",
                     "log_every", "max_nonfinite", "keep_checkpoints", "bf16"}


def check_compatible(saved: Config, now: Config, run_dir: Path) -> None:
    """Refuses changes that the saved model, optimiser or data order contradict."""
    for section in ("model", "tokenizer"):
        if getattr(saved, section) != getattr(now, section):
            raise UserError(f"--resume: the '{section}' section differs from the one the run in "
                            f"{run_dir} was started with")
    if saved.task != now.task:
        raise UserError(f"--resume: the run in {run_dir} was started with task: {saved.task}, not {now.task}")
    for key in ("src_lang", "tgt_lang", "format", "max_len"):
        if getattr(saved.data, key) != getattr(now.data, key):
            raise UserError(f"--resume: data.{key} differs from the run's ({getattr(saved.data, key)!r})")
    for key, value in asdict(saved.train).items():
        if key not in RESUMABLE_CHANGES and getattr(now.train, key) != value:
            raise UserError(f"--resume: train.{key} cannot change on resume (the run has "
                            f"{value!r}); only {', '.join(sorted(RESUMABLE_CHANGES))} can")


def check_same_text(resumed: dict | None, fingerprints: dict[str, str], key: str, run_dir: Path) -> None:
    """The corpus may have moved (paths may change) but its text may not."""
    if resumed is not None and resumed["fingerprints"][key] != fingerprints[key]:
        what = {"train": "training", "valid": "validation"}[key]
        raise UserError(f"--resume: the {what} text differs from the one the run in "
                        f"{run_dir} was trained on (same paths, other content?)")


def rng_state(group: Group) -> dict:
    """This process's random state, and under torchrun every process's (by rank; collective)."""
    state = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state()  # this process's GPU only
    if group.distributed:
        state["ranks"] = group.gather(dict(state))
    return state


def own_rng(rng: dict, group: Group, seed: int, step: int) -> dict:
    """The saved random state of this process's rank; re-seeded if the process count changed."""
    saved = rng.get("ranks", [rng])
    if len(saved) == group.world_size:
        return saved[group.rank]
    log.warning("the run was saved by %d process(es) and resumes with %d: dropout is re-seeded, so "
                "it will not repeat a run without the change exactly", len(saved), group.world_size)
    torch.manual_seed(seed + 1_000_003 * group.rank + step)
    return {"torch": torch.get_rng_state()}
