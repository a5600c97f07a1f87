"""A model whose decoder steps run on a number of rows padded to a multiple, for bf16 kernels.

The CPU's bf16 matrix kernels (oneDNN) are compiled for each matrix shape the first time it
is seen: about 1 ms each on a 2-core Xeon with AMX. Search shrinks its batch as sentences
end, so a batch of 64 sentences with beam 5 steps through up to 64 row counts (5, 10, ...,
320), each a new shape for every product of the decoder step, and every translate command
pays for them again. Padding the rows to a multiple of `ROWS` leaves about a third of those
shapes; the padded rows repeat a real one, and their results are dropped.

`PaddedModel` offers search's protocol (`s2s.search`) over any model that offers it (a
Seq2Seq, an ensemble, a shortlist): memory and state keep their padded rows from one step
to the next, and search never sees them.

`round_up` and `COLUMNS` are the same rounding for the other padded shapes: the output
layer's rows in bf16 training (s2s.model), and the output layer's columns over a shortlist
(s2s.shortlist) or a sampled softmax (s2s.loss).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

# On test_2016_flickr, beam 5 over the shortlist in bf16, a fresh process's first pass took
# 4.7 s with 16 or 32 against 5.1-5.2 s unpadded; once every shape is compiled, the padded
# rows' work costs 2-3% with 16 and more with 32 (medians of later passes: 4.42-4.46 s, 4.41-4.67
# s, against 4.32 s). 64 made greedy's whole command slower.
ROWS = 16
# An output layer's columns in bf16 are padded to a multiple of this: a shortlist's in
# decoding (s2s.shortlist), a sampled softmax's in training (s2s.loss).
COLUMNS = 256


def round_up(n: int, multiple: int) -> int:
    """The least multiple of `multiple` that is at least n."""
    return -(-n // multiple) * multiple


def padded_index(index: torch.Tensor, multiple: int) -> torch.Tensor:
    """index (N,) followed by repeats of its first entry, up to a multiple of `multiple`."""
    extra = round_up(index.numel(), multiple) - index.numel()
    return index if extra == 0 else torch.cat([index, index[:1].expand(extra)])


@dataclass(frozen=True)
class PaddedRows:
    """A memory or decoder state of `count` rows: the real ones first, then copies of one."""

    inner: Any  # the model's own memory or state, with select(index)
    count: int  # rows it holds, padding included
    multiple: int

    def select(self, index: torch.Tensor) -> "PaddedRows":
        """Rows `index` (N,) of the real ones, in that order, padded again."""
        index = padded_index(index, self.multiple)
        return PaddedRows(self.inner.select(index), index.numel(), self.multiple)

    @property
    def vocabulary(self) -> torch.Tensor | None:
        """What the scores' columns stand for (s2s.search), as the inner memory says."""
        return getattr(self.inner, "vocabulary", None)


class PaddedModel:
    """`model` with each decoder step's rows padded to a multiple of `multiple`."""

    def __init__(self, model: Any, multiple: int = ROWS):
        self.model, self.multiple = model, multiple

    @property
    def has_attention(self) -> bool:
        return self.model.has_attention

    def encode(self, src: torch.Tensor, src_len: torch.Tensor) -> tuple[PaddedRows, PaddedRows]:
        """src (B, S), src_len (B,) -> memory and first state, as the model gives them (B rows);
        they are padded at the first select."""
        memory, state = self.model.encode(src, src_len)
        return PaddedRows(memory, src.size(0), self.multiple), PaddedRows(state, src.size(0), self.multiple)

    def decode_step(self, prev: torch.Tensor, memory: PaddedRows,
                    state: PaddedRows) -> tuple[torch.Tensor, torch.Tensor, PaddedRows]:
        """prev (N,) for the N real rows -> the model's log-probabilities (N, V), attention
        (N, S) and next state (padded rows kept)."""
        rows = prev.numel()
        if state.count > rows:  # the padding rows read any token: their results are dropped
            prev = torch.cat([prev, prev[:1].expand(state.count - rows)])  # (count,)
        log_probs, weights, inner = self.model.decode_step(prev, memory.inner, state.inner)
        return log_probs[:rows], weights[:rows], PaddedRows(inner, state.count, self.multiple)
