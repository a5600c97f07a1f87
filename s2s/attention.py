"""Attention: scores decoder queries against the encoder memory and mixes it into a context.

Three scorings: additive (Bahdanau, v^T tanh(W_k m + W_q q)), Luong dot (q . m) and Luong
general (q^T W m). The memory-side projection is computed once per batch by `keys()` and
handed back in with every query, so nothing is cached on the module between calls.
"""

from __future__ import annotations

import torch
from torch import nn


class Attention(nn.Module):
    """One attention scoring function over a padded memory."""

    def __init__(self, *, kind: str, query_size: int, memory_size: int):
        super().__init__()
        self.kind = kind
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

    def keys(self, memory: torch.Tensor) -> torch.Tensor:
        """Projects the memory once per batch: (B, S, He) -> (B, S, Hq)."""
        return memory if self.key_proj is None else self.key_proj(memory)

    def forward(self, query: torch.Tensor, keys: torch.Tensor, memory: torch.Tensor,
                mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Attends for a block of queries.

        query: (B, T, Hq); keys: (B, S, Hq) from keys(); memory: (B, S, He);
        mask: (B, S) True on real source positions.
        Returns context (B, T, He) and weights (B, T, S): each row sums to 1, 0 on padding.
        """
        if self.kind == "additive":
            hidden = torch.tanh(keys.unsqueeze(1) + self.query_proj(query).unsqueeze(2))  # (B, T, S, Hq)
            scores = self.v(hidden).squeeze(-1)  # (B, T, S)
        else:
            scores = torch.bmm(query, keys.transpose(1, 2))  # (B, T, S)
        scores = scores.masked_fill(~mask.unsqueeze(1), float("-inf"))
        weights = torch.softmax(scores, dim=-1)  # (B, T, S)
        return torch.bmm(weights, memory), weights
