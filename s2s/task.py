"""What a training run changes with `task:` (translate, classify or tag), behind the one
small interface the training loop calls.

The loop (s2s.trainer) and its bookkeeping (s2s.bookkeeping) know batches, losses and a
validation score, nothing more: a task reads its splits, builds its model, says what a
batch's loss is and scores the validation split with its metric (higher is better; it
picks best.pt and drives early stopping and the plateau schedule).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn

from s2s.distributed import Group
from s2s.tokenizer import Tokenizer


@dataclass(frozen=True)
class Validation:
    """A validation's result: mean loss, the task's score and what else to record."""

    loss: float  # mean per target (piece or label) negative log-likelihood
    score: float  # the task's metric, higher is better (BLEU, accuracy in %)
    fields: dict[str, Any] = field(default_factory=dict)  # recorded with it: a signature, macro-F1


class Dataset(Protocol):
    """An encoded training or validation split, as the loop batches it. A split that draws its
    pieces afresh each epoch (s2s.labeled with a subword sampler) draws them in
    epoch_batches, and counts() and batch() read the latest epoch's draw."""

    def __len__(self) -> int: ...
    def epoch_batches(self, batch_tokens: int, seed: int, epoch: int) -> list[np.ndarray]: ...
    def counts(self, indices: np.ndarray) -> tuple[int, int]: ...  # (tokens, targets)
    def batch(self, indices: np.ndarray) -> Any: ...  # with .to(device)


class Task(Protocol):
    """One task's data, model, loss and metric."""

    metric: str  # the validation score's name: "BLEU", "accuracy"

    def read_train(self) -> str:
        """Reads (or streams and checks) the training split; returns its fingerprint."""

    def tokenizer(self, seed: int) -> Tokenizer:
        """A new tokenizer learnt from the training text (on the main process only)."""

    def datasets(self, tokenizer: Tokenizer, group: Group) -> tuple[Dataset, Dataset, tuple[list[str], list[str]]]:
        """The encoded training split (length-filtered) and validation split, and the
        validation text as two line lists (for its fingerprint). Collective under torchrun."""

    def build(self, tokenizer: Tokenizer) -> nn.Module:
        """A new model for this task (seeded by the caller)."""

    def loss(self, net: nn.Module, batch: Any) -> torch.Tensor:
        """The summed training loss of a batch's targets (net may be DDP-wrapped)."""

    def validate(self, model: nn.Module, valid: Dataset, tokenizer: Tokenizer,
                 device: torch.device) -> Validation:
        """Scores the validation split (on the main process only)."""

    def state(self) -> dict[str, Any]:
        """What a checkpoint keeps besides the model to use it (the lengths, the labels)."""

