"""Length penalties: how search compares hypotheses of different lengths.

A hypothesis of L scored steps (its tokens, plus the final EOS when it has one) and
log-probability log p gets the score log p / lp(L):

- `none`:   lp(L) = 1, the plain log-probability (favours short outputs);
- `length`: lp(L) = L ** alpha, length normalisation (alpha = 1: mean log-probability);
- `gnmt`:   lp(L) = ((5 + L) / 6) ** alpha, the penalty of Wu et al. (2016), GNMT.

Every penalty is >= 1 and grows with L for alpha >= 0, which is what lets beam search
prove that a sentence can no longer improve (see `search.beam_search`).
"""

from __future__ import annotations

import torch

PENALTIES = ("none", "length", "gnmt")


def length_penalty(kind: str, alpha: float, length: torch.Tensor) -> torch.Tensor:
    """lp(L) for a tensor of lengths L >= 1 (any shape), as float."""
    length = length.float()
    if kind == "none" or alpha == 0:
        return torch.ones_like(length)
    if kind == "length":
        return length.pow(alpha)
    if kind == "gnmt":
        return ((5.0 + length) / 6.0).pow(alpha)
    raise ValueError(f"unknown length penalty {kind!r}; expected one of {PENALTIES}")
