"""Search: turning a model's step-by-step distributions into output sequences.

Search never imports the model. It needs only the protocol `encode(src, src_len) ->
(memory, state)` and `decode_step(prev, memory, state) -> (log_probs, attention, state)`,
where memory and state have `select(index)`; any model offering that, or a stub in a
test, works. Greedy search lives here now; beam search will join it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import torch

from s2s.tokenizer import BOS, EOS


class Selectable(Protocol):
    def select(self, index: torch.Tensor) -> "Selectable": ...


class StepModel(Protocol):
    def encode(self, src: torch.Tensor, src_len: torch.Tensor) -> tuple[Selectable, Selectable]: ...

    def decode_step(self, prev: torch.Tensor, memory: Selectable,
                    state: Selectable) -> tuple[torch.Tensor, torch.Tensor, Selectable]: ...


@dataclass
class Hypothesis:
    """One output sequence with its model score and attention."""

    tokens: list[int]  # target ids, EOS excluded
    score: float  # sum of log-probabilities of tokens and the final EOS (if it was produced)
    attention: torch.Tensor  # (len(tokens) + 1, S_i) weights over this sentence's source, EOS step last


def max_lengths(src_len: torch.Tensor, a: float, b: int) -> torch.Tensor:
    """Per-sentence output limit a * source_length + b, in target tokens (EOS included)."""
    return (src_len.float() * a + b).long().clamp(min=1)


@torch.no_grad()
def greedy(model: StepModel, src: torch.Tensor, src_len: torch.Tensor, *, max_len_a: float = 2.0,
           max_len_b: int = 10) -> list[Hypothesis]:
    """Greedy decoding of a batch; sentences leave the batch as soon as they end.

    src: (B, S) padded ids; src_len: (B,). Returns one Hypothesis per sentence, in order.
    """
    memory, state = model.encode(src, src_len)
    b, device = src.size(0), src.device
    limits = max_lengths(src_len, max_len_a, max_len_b).to(device)  # (B,)
    steps = int(limits.max())
    tokens = torch.full((b, steps), EOS, dtype=torch.long, device=device)  # (B, Tmax)
    scores = torch.zeros(b, device=device)
    attention = torch.zeros(b, steps, src.size(1), device=device)  # (B, Tmax, S)
    lengths = limits.clone()  # steps taken, EOS included (set when a sentence stops)
    alive = torch.arange(b, device=device)  # rows of the original batch still decoding
    prev = torch.full((b,), BOS, dtype=torch.long, device=device)
    for t in range(steps):
        log_probs, weights, state = model.decode_step(prev, memory, state)  # (A, V), (A, S)
        best_logp, best = log_probs.max(dim=-1)  # (A,)
        tokens[alive, t] = best
        scores[alive] += best_logp
        attention[alive, t, : weights.size(1)] = weights.float()
        done = (best == EOS) | (limits[alive] <= t + 1)
        if bool(done.any()):
            lengths[alive[done]] = t + 1
            keep = (~done).nonzero().squeeze(1)
            if keep.numel() == 0:
                break
            alive, memory, state, best = alive[keep], memory.select(keep), state.select(keep), best[keep]
        prev = best
    return _hypotheses(tokens.cpu(), scores.cpu(), attention.cpu(), lengths.cpu(), src_len.cpu())


def _hypotheses(tokens: torch.Tensor, scores: torch.Tensor, attention: torch.Tensor,
                lengths: torch.Tensor, src_len: torch.Tensor) -> list[Hypothesis]:
    """Cuts each row at its length and drops a final EOS."""
    out = []
    for i in range(tokens.size(0)):
        row = tokens[i, : int(lengths[i])].tolist()
        if row and row[-1] == EOS:
            row = row[:-1]
        out.append(Hypothesis(row, float(scores[i]), attention[i, : int(lengths[i]), : int(src_len[i])]))
    return out
