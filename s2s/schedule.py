"""The learning-rate schedule: a linear warm-up, then one of

- `plateau`: constant, multiplied by train.lr_decay when validation BLEU stops improving
  (torch's ReduceLROnPlateau, stepped at each validation);
- `cosine` / `linear`: a decay from train.lr to train.min_lr over the run's budget, where
  the budget is train.max_steps or train.max_minutes of wall-clock time, whichever is
  spent first. A run with a fixed time budget ends with a small learning rate, which is
  what makes the most of that budget.
"""

from __future__ import annotations

import math

SCHEDULES = ("plateau", "cosine", "linear")


def budget_spent(step: int, max_steps: int, seconds: float, max_minutes: float) -> float:
    """The fraction of the run's budget used so far, in [0, 1]."""
    fraction = step / max_steps
    if max_minutes > 0:
        fraction = max(fraction, seconds / (60.0 * max_minutes))
    return min(fraction, 1.0)


def scheduled_lr(schedule: str, lr: float, min_lr: float, warmup_steps: int, step: int,
                 spent: float) -> float:
    """The learning rate of update number `step` (1-based) for a `cosine` or `linear`
    schedule, or the warm-up part of any schedule (`plateau` is lr after the warm-up)."""
    warm = min(1.0, step / warmup_steps) if warmup_steps > 0 else 1.0
    if schedule == "cosine":
        lr = min_lr + (lr - min_lr) * 0.5 * (1.0 + math.cos(math.pi * spent))
    elif schedule == "linear":
        lr = lr - (lr - min_lr) * spent
    return lr * warm
