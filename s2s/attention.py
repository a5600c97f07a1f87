"""Attention: scores decoder queries against the encoder memory and mixes it into a context.

Three scorings: additive (Bahdanau, v^T tanh(W_k m + W_q q)), Luong dot (q . m) and Luong
general (q^T W m). Two options on top:

- local-p (Luong et al. 2015, `window` D > 0): each query predicts a source position
  p = (len - 1) * sigmoid(v_p^T tanh(W_p q)); the scores are normalised over the window
  [p - D, p + D] only and then multiplied by a Gaussian exp(-(s - p)^2 / (2 (D/2)^2))
  centred on p. As in the paper, the weights are not renormalised after the Gaussian, so
  they sum to at most 1. With `center="diagonal"` the query at target position t predicts
  an offset from the diagonal instead, p = clamp(t + v_p^T tanh(W_p q), 0, len - 1): the
  window starts where a monotone translation would look (Luong's local-m) and moves from
  there, where the sigmoid's p can settle at one end of the sentence and no longer move.
- coverage (additive only; Tu et al. 2016, See et al. 2017): the running sum of the
  attention weights of earlier steps enters the scores, v^T tanh(W_k m + W_q q + w_c cov),
  so that the decoder can learn not to attend to the same words again.

The memory-side projection is computed once per batch by `keys()` and handed back in with
every query, so nothing is cached on the module between calls.

Attention computes in fp32 whatever its query's format, and hands the context back in the
query's: in a bf16 model (`s2s.precision`) it keeps fp32 weights, as the CPU runs its tanh,
its products with one output column (v) and its small batched products slower in bf16
than in fp32. The memory comes in fp32: the decoder casts it once per batch
(`Decoder.remember`), not at every step.
"""

from __future__ import annotations

import torch
from torch import nn

from s2s.config import LOCAL_CENTERS


class Attention(nn.Module):
    """One attention scoring function over a padded memory, global or local-p."""

    def __init__(self, *, kind: str, query_size: int, memory_size: int, window: int = 0,
                 coverage: bool = False, center: str = "predicted"):
        super().__init__()
        if center not in LOCAL_CENTERS:
            raise ValueError(f"unknown local-p centre {center!r}")
        self.kind, self.window, self.center = kind, window, center
        if kind == "additive":
            self.key_proj = nn.Linear(memory_size, query_size, bias=False)
            self.query_proj = nn.Linear(query_size, query_size, bias=True)
            self.v = nn.Linear(query_size, 1, bias=False)
        elif kind == "general":
            self.key_proj = nn.Linear(memory_size, query_size, bias=False)
        elif kind == "dot":
            if memory_size != query_size:
                raise ValueError(f"dot attention needs equal sizes, got {memory_size} and {query_size}")
            self.key_proj = None
        else:
            raise ValueError(f"unknown attention {kind!r}")
        if coverage and kind != "additive":
            raise ValueError("coverage needs additive attention")
        self.coverage = nn.Parameter(torch.zeros(query_size)) if coverage else None  # w_c
        if window > 0:
            self.position_proj = nn.Linear(query_size, query_size, bias=False)  # W_p
            self.position_v = nn.Linear(query_size, 1, bias=False)  # v_p

    def keys(self, memory: torch.Tensor) -> torch.Tensor:
        """Projects the fp32 memory once per batch: (B, S, He) -> (B, S, Hq)."""
        return memory if self.key_proj is None else self.key_proj(memory)

    def forward(self, query: torch.Tensor, keys: torch.Tensor, memory: torch.Tensor, mask: torch.Tensor,
                coverage: torch.Tensor | None = None, start: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
        """Attends for a block of queries.

        query: (B, T, Hq); keys: (B, S, Hq) from keys(); memory: (B, S, He) in fp32;
        mask: (B, S) True on real source positions; coverage: (B, S) summed earlier weights
        (with coverage on; T must be 1 then, as each step's coverage depends on the last);
        start: the target position of the first query (the diagonal centre counts from it).
        Returns context (B, T, He) and weights (B, T, S): 0 on padding; each row sums to 1
        (global) or at most 1 (local-p). The context comes in the query's format, the
        weights in fp32.
        """
        given, query = query.dtype, query.float()  # no copy when fp32
        if self.kind == "additive":
            hidden = keys.unsqueeze(1) + self.query_proj(query).unsqueeze(2)  # (B, T, S, Hq)
            if self.coverage is not None:
                hidden = hidden + coverage[:, None, :, None] * self.coverage  # (B, 1, S, 1) x (Hq,)
            scores = self.v(hidden.tanh_()).squeeze(-1)  # (B, T, S); in place: hidden is a new sum
        else:
            scores = torch.bmm(query, keys.transpose(1, 2))  # (B, T, S)
        allowed = mask.unsqueeze(1)  # (B, 1, S)
        if self.window > 0:
            centre = self.position(query, mask, start)  # (B, T); float32 also under bf16 autocast
            positions = torch.arange(mask.size(1), device=mask.device, dtype=torch.float32)  # (S,)
            distance = positions.view(1, 1, -1) - centre.unsqueeze(-1)  # (B, T, S)
            allowed = allowed & (distance.abs() <= self.window)
        weights = torch.softmax(scores.masked_fill(~allowed, float("-inf")), dim=-1)  # (B, T, S)
        if self.window > 0:
            sigma = self.window / 2
            weights = weights * torch.exp(-distance ** 2 / (2 * sigma ** 2))
        return torch.bmm(weights, memory).to(given), weights

    def position(self, query: torch.Tensor, mask: torch.Tensor, start: int = 0) -> torch.Tensor:
        """Local-p's predicted source positions (B, T), each in [0, length - 1], for queries at
        target positions start, start + 1, ..."""
        last = (mask.sum(dim=1, keepdim=True) - 1).float()  # (B, 1)
        raw = self.position_v(torch.tanh(self.position_proj(query))).float().squeeze(-1)  # (B, T)
        if self.center == "predicted":
            return last * torch.sigmoid(raw)
        steps = start + torch.arange(query.size(1), device=query.device, dtype=torch.float32)  # (T,)
        return torch.minimum(steps + raw, last).clamp(min=0)
