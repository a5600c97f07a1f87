"""An ensemble: several translation models searched as one.

At each step the members' next-piece distributions are averaged as probabilities, and
search sees the log of that mean: log (1/M) sum_m p_m = logsumexp_m(log p_m) - log M. This
is what OpenNMT-py and fairseq do; the mean of log-probabilities (Marian) would multiply
the distributions instead, letting one member veto a piece the others like.

The ensemble offers the protocol of one model (`encode`, `decode_step`, and the teacher-
forced `forward` that forced decoding scores given translations with), so search, n-best
lists, alignments and forced decoding work on it unchanged. Its attention is the mean of
its members' that have attention. Members may differ in architecture but must share the
tokenizer (the checkpoint loader checks it): the same pieces in and out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class Members:
    """One value per member (memories, or decoder states), whose rows are selected together."""

    parts: tuple

    def select(self, index: torch.Tensor) -> "Members":
        """Rows `index` (B',) of every member's value, in that order."""
        return Members(tuple(part.select(index) for part in self.parts))


class Ensemble(nn.Module):
    """Translation models (s2s.model.Seq2Seq) decoding together, their probabilities averaged."""

    def __init__(self, members: list[nn.Module]):
        super().__init__()
        if len(members) < 2:
            raise ValueError(f"an ensemble needs at least 2 models, got {len(members)}")
        self.members = nn.ModuleList(members)

    @property
    def has_attention(self) -> bool:
        return any(member.has_attention for member in self.members)

    def encode(self, src: torch.Tensor, src_len: torch.Tensor) -> tuple[Members, Members]:
        """src (B, S), src_len (B,) -> every member's memory and first decoder state."""
        found = [member.encode(src, src_len) for member in self.members]
        return Members(tuple(memory for memory, _ in found)), Members(tuple(state for _, state in found))

    def decode_step(self, prev: torch.Tensor, memory: Members,
                    state: Members) -> tuple[torch.Tensor, torch.Tensor, Members]:
        """prev (B,) -> log of the members' mean probabilities (B, V), attention (B, S), next states."""
        steps = [member.decode_step(prev, m, s) for member, m, s in zip(self.members, memory.parts, state.parts)]
        log_probs = _mean_probabilities([log_probs for log_probs, _, _ in steps])
        return log_probs, self._attention([weights for _, weights, _ in steps]), Members(tuple(s for _, _, s in steps))

    def forward(self, src: torch.Tensor, src_len: torch.Tensor, tgt_in: torch.Tensor,
                tgt_out: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Teacher forcing: the log of the members' mean probabilities (B, T, V), or (N, V) for
        the non-padding positions of tgt_out as Seq2Seq.forward gives logits (log_softmax
        leaves them as they are), and the mean attention (B, T, S)."""
        found = [member(src, src_len, tgt_in, tgt_out) for member in self.members]
        log_probs = _mean_probabilities([torch.log_softmax(logits.float(), dim=-1) for logits, _ in found])
        return log_probs, self._attention([weights for _, weights in found])

    def _attention(self, weights: list[torch.Tensor]) -> torch.Tensor:
        """The mean of the attention (B, [T,] S) of the members that have attention."""
        used = [w for w, member in zip(weights, self.members) if member.has_attention] or weights
        return torch.stack(used).mean(dim=0)


def _mean_probabilities(log_probs: list[torch.Tensor]) -> torch.Tensor:
    """log (1/M) sum_m exp(log_probs[m]), each (..., V), without leaving log space."""
    return torch.logsumexp(torch.stack(log_probs), dim=0) - math.log(len(log_probs))
