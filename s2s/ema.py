"""An exponential moving average of a model's weights (`train.ema_decay`).

Training updates the weights; the average follows them, and validation, best.pt, the
step checkpoints and last.pt's `model` hold the average, which is what translation and
prediction then use. last.pt keeps the weights being trained beside it, so that --resume
continues exactly. Marian calls this exponential smoothing, fairseq EMA. The average
smooths out the noise of the last updates; where the schedule already ends with small
updates it changes little (measured in docs/training.md).

After update n the average is a <- d_n * a + (1 - d_n) * w, with d_n = min(d, (1 + n) /
(10 + n)): early in training, when the first weights are far from good, the average
forgets them quickly (d_1 = 0.18, d_90 = 0.91), and then decays at the configured d.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import nn

from s2s.checkpoint import tensor_identity


def decay_at(decay: float, update: int) -> float:
    """The decay used by update number `update` (1 for the first)."""
    return min(decay, (1.0 + update) / (10.0 + update))


class MovingAverage:
    """The running average of a model's floating-point weights and buffers, by state name.

    A tensor that the state dict lists under several names (tied embeddings) is averaged
    once, under its first name, and saved as one tensor under all of them.
    """

    def __init__(self, model: nn.Module, decay: float):
        self.decay = decay
        state, first = model.state_dict(), {}
        self.alias = {name: first.setdefault(tensor_identity(t), name)  # name -> first name
                      for name, t in state.items() if t.is_floating_point()}
        self.names = list(first.values())
        self.average = {name: state[name].detach().clone() for name in self.names}

    def _current(self, model: nn.Module) -> list[torch.Tensor]:
        state = model.state_dict()
        return [state[name] for name in self.names]

    @torch.no_grad()
    def update(self, model: nn.Module, update: int) -> None:
        """Moves the average towards the model's weights after update number `update`."""
        weight = 1.0 - decay_at(self.decay, update)
        torch._foreach_lerp_([self.average[name] for name in self.names], self._current(model), weight)

    def state_dict(self, model: nn.Module) -> dict[str, torch.Tensor]:
        """The model's state dict with the averaged tensors in place of its own."""
        return {**model.state_dict(), **{name: self.average[first] for name, first in self.alias.items()}}

    def load(self, average: dict[str, torch.Tensor]) -> None:
        """Takes the average from a saved state dict (last.pt's `model`, read onto the CPU)
        onto the model's device."""
        self.average = {name: average[name].to(self.average[name].device, copy=True) for name in self.names}

    @contextlib.contextmanager
    def swapped_in(self, model: nn.Module) -> Iterator[None]:
        """The model computes with the averaged weights inside, with its own again after."""
        current = self._current(model)
        with torch.no_grad():
            own = [t.clone() for t in current]
            torch._foreach_copy_(current, [self.average[name] for name in self.names])
        try:
            yield
        finally:
            with torch.no_grad():
                torch._foreach_copy_(current, own)
