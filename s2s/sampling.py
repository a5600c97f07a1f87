"""Sampling: drawing each output piece from the model's distribution instead of searching,
as back-translation and diverse outputs want, reshaped by a temperature, top-k and
nucleus (top-p) cut.

Draws are reproducible and independent of batching: each row's random numbers come from a
counter-based hash of (seed, the sentence's source pieces, sample number, step), not
from a generator shared by the batch, so a line gets the same samples whatever file,
batch or position it is translated in.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

# splitmix64's constants (Steele et al. 2014) as signed 64-bit integers: int64 products wrap
# around in torch as in C, so the mixing is the same on every device.
_GOLDEN = -7046029254386353131  # 0x9E3779B97F4A7C15
_MIX1 = -4658895280553007687  # 0xBF58476D1CE4E5B9
_MIX2 = -7723592293110705685  # 0x94D049BB133111EB
_LOW62 = (1 << 62) - 1


def _mix(x: torch.Tensor) -> torch.Tensor:
    """A 64-bit hash of each element of an int64 tensor (splitmix64's finaliser; the shifts
    are masked so that they act as on unsigned numbers)."""
    x = x + _GOLDEN
    x = (x ^ ((x >> 30) & ((1 << 34) - 1))) * _MIX1
    x = (x ^ ((x >> 27) & ((1 << 37) - 1))) * _MIX2
    return x ^ ((x >> 31) & ((1 << 33) - 1))


def _unit(x: torch.Tensor) -> torch.Tensor:
    """Hashes as uniform floats in [0, 1): their low 62 bits over 2^62, in float64."""
    return (x & _LOW62).double() / float(1 << 62)


@dataclass(frozen=True)
class Sampler:
    """How one output piece is drawn: temperature 0 is the most likely piece (greedy);
    top_k > 0 keeps the k most likely; top_p < 1 keeps the fewest most likely pieces whose
    probabilities add up to at least p."""

    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0
    seed: int = 1

    def keys(self, src: torch.Tensor, src_len: torch.Tensor, samples: int) -> torch.Tensor:
        """(B*samples,) int64: one key per row of `samples` repeats of each sentence, from
        the seed, the sentence's pieces (not its padding) and the sample number."""
        key = torch.full((src.size(0),), self.seed, dtype=torch.long, device=src.device)
        key = _mix(key)
        for s in range(src.size(1)):  # (B,) fold in each real piece
            key = torch.where(s < src_len.to(src.device), _mix(key ^ src[:, s]), key)
        number = torch.arange(samples, device=src.device)
        return _mix(key.repeat_interleave(samples) ^ number.repeat(src.size(0)))

    def draw(self, log_probs: torch.Tensor, keys: torch.Tensor, step: int) -> torch.Tensor:
        """(R,) pieces drawn from log_probs (R, V), one per row, with row keys (R,) at `step`."""
        if self.temperature == 0 or self.top_k == 1:
            return log_probs.argmax(dim=-1)
        logits = log_probs.float() / self.temperature
        if 0 < self.top_k < logits.size(-1):
            kth = logits.topk(self.top_k, dim=-1).values[:, -1:]  # (R, 1)
            logits = logits.masked_fill(logits < kth, float("-inf"))
        probs = torch.softmax(logits, dim=-1)  # (R, V)
        if self.top_p < 1:
            ranked, order = probs.sort(dim=-1, descending=True)
            before = ranked.cumsum(dim=-1) - ranked  # mass of the more likely pieces
            ranked = ranked.masked_fill(before >= self.top_p, 0.0)  # the first always stays
            probs = torch.zeros_like(probs).scatter_(-1, order, ranked)
        cdf = probs.double().cumsum(dim=-1)  # (R, V)
        at = _mix(torch.full_like(keys, step))
        u = _unit(_mix(keys ^ at)).to(cdf.device) * cdf[:, -1]  # (R,)
        drawn = torch.searchsorted(cdf, u.unsqueeze(1), right=True).squeeze(1)
        return drawn.clamp(max=logits.size(-1) - 1)
