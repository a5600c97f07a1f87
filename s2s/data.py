"""Encoded parallel data as the training loop sees it: pairs filtered by length,
token-bucketed batches of pair indices, and padded tensors.

Pieces are stored bare (s2s.pieces, in memory or in the corpus cache); sources get EOS,
and targets BOS or EOS, when batched. Batching works on arrays of lengths and indices, so
that an epoch of millions of pairs costs a few bytes per pair.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from s2s.errors import UserError
from s2s.pieces import Pieces
from s2s.text import read_parallel, split_path
from s2s.tokenizer import BOS, EOS, PAD, Tokenizer

log = logging.getLogger(__name__)

POOL_BATCHES = 100  # sort this many batches' worth of examples at a time (length bucketing)


@dataclass
class Batch:
    """Padded tensors for one batch; lengths count real tokens (source EOS included)."""

    src: torch.Tensor  # (B, S) source ids + EOS, PAD after
    src_len: torch.Tensor  # (B,) on CPU, as pack_padded_sequence wants
    tgt_in: torch.Tensor  # (B, T) BOS + target ids, PAD after
    tgt_out: torch.Tensor  # (B, T) target ids + EOS, PAD after
    align: torch.Tensor | None = None  # (B, T) source position each tgt_out piece aligns to, -1 for none

    def to(self, device: torch.device) -> "Batch":
        """The batch on `device`; to a GPU through pinned memory, so the copy overlaps compute."""
        tensors = [t for t in (self.src, self.tgt_in, self.tgt_out, self.align) if t is not None]
        if device.type == "cuda":
            moved = [t.pin_memory().to(device, non_blocking=True) for t in tensors]
        else:
            moved = [t.to(device) for t in tensors]
        return Batch(moved[0], self.src_len, moved[1], moved[2], moved[3] if self.align is not None else None)


def _framed(seqs: Sequence[Sequence[int]], first: int | None = None, last: int | None = None,
            value: int = PAD) -> torch.Tensor:
    """Id sequences (lists or arrays) as a right-padded (B, L) tensor, each with `first`
    before it and `last` after it where given."""
    lead = int(first is not None)
    lengths = [len(seq) for seq in seqs]
    out = np.full((len(seqs), max(lengths) + lead + int(last is not None)), value, dtype=np.int64)
    if first is not None:
        out[:, 0] = first
    for row, (seq, n) in enumerate(zip(seqs, lengths)):
        out[row, lead:lead + n] = seq
        if last is not None:
            out[row, lead + n] = last
    return torch.from_numpy(out)


def pad(seqs: Sequence[Sequence[int]], value: int = PAD) -> torch.Tensor:
    """Right-pads id sequences into a (B, L) tensor."""
    return _framed(seqs, value=value)


def source_batch(src: Sequence[Sequence[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    """Source ids (EOS already appended) as a padded (B, S) tensor and (B,) lengths."""
    return pad(src), torch.tensor([len(s) for s in src], dtype=torch.long)


def collate(src: Sequence[Sequence[int]], tgt: Sequence[Sequence[int]],
            align: Sequence[Sequence[int]] | None = None, src_eos: bool = False) -> Batch:
    """Makes a training batch from encoded sources (with EOS, or bare with `src_eos`) and
    bare targets, with each target piece's aligned source position when given (EOS gets
    -1: unaligned)."""
    src_ids = _framed(src, last=EOS if src_eos else None)
    src_len = torch.tensor([len(s) + src_eos for s in src], dtype=torch.long)
    aligned = None if align is None else _framed(align, last=-1, value=-1)
    return Batch(src_ids, src_len, _framed(tgt, first=BOS), _framed(tgt, last=EOS), aligned)


class ParallelData:
    """An encoded parallel corpus: every line's pieces (`src`, `tgt`: s2s.pieces, bare), the
    lines that pass the length filter (`rows`; None: all) and, for a split read from text
    here, the text of those lines. Index i means the i-th kept pair."""

    def __init__(self, src: Pieces, tgt: Pieces, rows: np.ndarray | None = None):
        self.src, self.tgt, self.rows = src, tgt, rows
        self.src_len = src.lengths if rows is None else src.lengths[rows]  # (N,) pieces, EOS not counted
        self.tgt_len = tgt.lengths if rows is None else tgt.lengths[rows]  # (N,)
        self.src_text: list[str] | None = None  # set by from_text
        self.tgt_text: list[str] | None = None
        self.align: Pieces | None = None  # per kept pair, each target piece's source position

    @classmethod
    def load(cls, prefix: str, src_lang: str, tgt_lang: str, tokenizer: Tokenizer,
             max_len: int | None = None) -> "ParallelData":
        """Reads and encodes a split in memory; with max_len, drops (and logs) pairs longer than it."""
        src_path, tgt_path = split_path(prefix, src_lang), split_path(prefix, tgt_lang)
        src_text, tgt_text = read_parallel(src_path, tgt_path)
        return cls.from_text(src_text, tgt_text, tokenizer, max_len, name=str(src_path))

    @classmethod
    def from_text(cls, src_text: list[str], tgt_text: list[str], tokenizer: Tokenizer,
                  max_len: int | None = None, name: str = "corpus") -> "ParallelData":
        """Encodes aligned lines in memory; with max_len, drops (and logs) empty or longer pairs."""
        data = cls(Pieces.from_lists(tokenizer.encode_src(src_text)), Pieces.from_lists(tokenizer.encode_tgt(tgt_text)))
        data = data if max_len is None else data.filtered(max_len, name)
        keep = data.kept.tolist()
        data.src_text, data.tgt_text = [src_text[i] for i in keep], [tgt_text[i] for i in keep]
        return data

    def filtered(self, max_len: int, name: str) -> "ParallelData":
        """The pairs with 1 to max_len pieces on each side (a new ParallelData, text not kept);
        logs how many were dropped."""
        src, tgt = self.src.lengths, self.tgt.lengths
        keep = (src > 0) & (src <= max_len) & (tgt > 0) & (tgt <= max_len)
        kept = int(keep.sum())
        log.info("%s: %d pairs, %d dropped (empty or over %d pieces)", name, len(src), len(src) - kept, max_len)
        if not kept:
            raise UserError(f"{name}: no sentence pair is within data.max_len={max_len} pieces")
        rows = None if kept == len(src) else np.flatnonzero(keep).astype(np.int64 if len(src) >> 31 else np.int32)
        return ParallelData(self.src, self.tgt, rows)

    @property
    def kept(self) -> np.ndarray:
        """Each pair's line in the text it was read from."""
        return np.arange(len(self.src_len)) if self.rows is None else self.rows

    def __len__(self) -> int:
        return len(self.src_len)

    def _lines(self, indices: Sequence[int] | np.ndarray) -> np.ndarray:
        indices = np.asarray(indices, dtype=np.int64)
        return indices if self.rows is None else self.rows[indices]

    def pairs(self, indices: Sequence[int] | np.ndarray) -> list[tuple[list[int], list[int]]]:
        """The (source, target) ids of pairs, bare, as lists."""
        lines = self._lines(indices)
        return [(s.tolist(), t.tolist()) for s, t in zip(self.src.rows(lines), self.tgt.rows(lines))]

    def batch(self, indices: Sequence[int] | np.ndarray) -> Batch:
        lines = self._lines(indices)
        align = None if self.align is None else self.align.rows(indices)
        return collate(self.src.rows(lines), self.tgt.rows(lines), align, src_eos=True)

    def counts(self, indices: Sequence[int] | np.ndarray) -> tuple[int, int]:
        """(tokens, targets) of a batch without building it: tokens are source + target
        pieces (BOS/EOS not counted), targets what the loss counts (target pieces plus EOS)."""
        n_src = int(self.src_len[indices].sum(dtype=np.int64))
        n_tgt = int(self.tgt_len[indices].sum(dtype=np.int64))
        return n_src + n_tgt, n_tgt + len(indices)

    def epoch_batches(self, batch_tokens: int, seed: int, epoch: int) -> list[np.ndarray]:
        """One epoch's batches of pair indices, the same for the same (seed, epoch): sorted
        by source then target length, and padded size max(source + EOS, target + EOS)."""
        return token_batches(self.src_len, self.tgt_len, batch_tokens, seed, epoch, extra=1)


def token_batches(src_len: Sequence[int] | np.ndarray, tgt_len: Sequence[int] | np.ndarray, batch_tokens: int,
                  seed: int, epoch: int, extra: int = 0) -> list[np.ndarray]:
    """One epoch's batches of example indices, the same for the same (seed, epoch).

    Examples are shuffled, sorted by (src_len, tgt_len) inside pools of about POOL_BATCHES
    batches (so a batch holds similar lengths and little padding), cut so that
    sentences x (longest side + extra) <= batch_tokens, and the batches shuffled again.
    Memory: an index array and the sizes, a few bytes per example.
    """
    src_len, tgt_len = np.asarray(src_len), np.asarray(tgt_len)
    n = len(src_len)
    gen = torch.Generator().manual_seed(seed * 100_003 + epoch)
    order = torch.randperm(n, generator=gen, dtype=torch.int32 if n < 1 << 31 else torch.int64).numpy()  # (N,)
    sizes = np.maximum(src_len, tgt_len).astype(np.int32)  # (N,) wider than uint16: no wrap at + extra
    mean = (int(sizes[order[:1000]].sum(dtype=np.int64)) + extra * min(n, 1000)) / min(n, 1000)
    pool = max(1, int(POOL_BATCHES * batch_tokens / mean))
    bounds = [0]
    for start in range(0, n, pool):
        segment = order[start:start + pool]  # a view: sorted in place
        segment[:] = segment[np.lexsort((tgt_len[segment], src_len[segment]))]  # stable, like sorted()
        count = longest = 0
        for k, size in enumerate((sizes[segment] + extra).tolist(), start):
            longest_if_added = longest if longest > size else size
            if count and longest_if_added * (count + 1) > batch_tokens:
                bounds.append(k)
                count, longest_if_added = 0, size
            count, longest = count + 1, longest_if_added
        bounds.append(start + len(segment))
    batches = [order[a:b] for a, b in zip(bounds[:-1], bounds[1:])]
    shuffled = torch.randperm(len(batches), generator=gen).tolist()
    return [batches[i] for i in shuffled]
