"""One side of an encoded corpus: the piece ids of every line, stored compactly.

Lengths (pieces per line) are held in memory as a numpy array, two bytes a line where
they fit; the ids themselves are either an array in memory (validation, small corpora
built from text) or a file on disk that is read a batch at a time (`os.pread`, through
the page cache that every process on the machine shares). A line's position in the ids
is found from the lengths and one offset kept for every BLOCK lines, so a corpus of
millions of lines costs a few bytes a line in memory.

On disk a side is two files: NAME.ids (every line's ids, concatenated, uint16 or uint32
where the vocabulary is larger: `id_dtype`) and NAME.len (every line's length, uint32);
s2s.cache writes them and keeps their id type in the entry's meta.json.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

BLOCK = 64  # lines per stored offset
LENGTH_DTYPE = np.uint32  # of NAME.len on disk
ROWS_AT_ONCE = 1 << 14  # lines whose offsets are found together


def id_dtype(vocab_size: int) -> np.dtype:
    """The narrowest unsigned type that holds every id of a vocabulary."""
    return np.dtype(np.uint16 if vocab_size <= 1 << 16 else np.uint32)


def _compact(lengths: np.ndarray) -> np.ndarray:
    """Lengths as uint16 where they fit (they almost always do), else as they are."""
    return lengths.astype(np.uint16) if not len(lengths) or lengths.max() < 1 << 16 else lengths


class Pieces:
    """Piece ids of N lines: `lengths` (N,) in memory, ids in memory or in a file.

    `rows(indices)` gives the ids of those lines, each a 1-D numpy array.
    """

    def __init__(self, lengths: np.ndarray, ids: np.ndarray | None = None, path: Path | None = None,
                 dtype: np.dtype | None = None):
        self._fd: int | None = None
        if (ids is None) == (path is None):
            raise ValueError("ids in memory or a file of them, one of the two")
        self.lengths = _compact(np.asarray(lengths))
        n = len(self.lengths)
        sums = np.add.reduceat(self.lengths, np.arange(0, n, BLOCK), dtype=np.int64) if n else np.zeros(0, np.int64)
        self._blocks = np.concatenate([[0], np.cumsum(sums)]).astype(np.int64)  # offset of every BLOCK-th line
        self.total = int(self._blocks[-1])  # ids in all
        self.ids, self.path = ids, path
        self.dtype = np.dtype(dtype if dtype is not None else ids.dtype)
        if path is not None:
            size = Path(path).stat().st_size
            if size != self.total * self.dtype.itemsize:
                raise ValueError(f"{path} holds {size} bytes, not the {self.total} ids its lengths add up to")

    @classmethod
    def from_lists(cls, seqs: Sequence[Sequence[int]], dtype: np.dtype | type = np.int32) -> "Pieces":
        """Pieces in memory, from id lists."""
        lengths, ids = flatten(seqs, np.dtype(dtype))
        return cls(lengths, ids=ids)

    @classmethod
    def open(cls, prefix: Path, dtype: np.dtype) -> "Pieces":
        """A side stored as PREFIX.ids (of `dtype`) and PREFIX.len: lengths read into memory,
        ids left on disk."""
        lengths = np.fromfile(f"{prefix}.len", dtype=LENGTH_DTYPE)
        return cls(lengths, path=Path(f"{prefix}.ids"), dtype=dtype)

    def __len__(self) -> int:
        return len(self.lengths)

    def offsets(self, rows: np.ndarray) -> np.ndarray:
        """(R,) int64: where each line's ids start, from its block's offset and the lengths
        of the lines before it in the block."""
        rows = np.asarray(rows, dtype=np.int64)
        first = rows - rows % BLOCK
        window = first[:, None] + np.arange(BLOCK)  # (R, BLOCK) the lines of each row's block
        before = window < rows[:, None]
        lengths = self.lengths[np.minimum(window, len(self.lengths) - 1)]
        return self._blocks[rows // BLOCK] + np.where(before, lengths, 0).sum(axis=1, dtype=np.int64)

    def rows(self, rows: Sequence[int] | np.ndarray) -> list[np.ndarray]:
        """The ids of lines `rows`, in that order."""
        rows = np.asarray(rows, dtype=np.int64)
        if len(rows) > ROWS_AT_ONCE:  # offsets() holds (R, BLOCK) arrays
            return [ids for start in range(0, len(rows), ROWS_AT_ONCE)
                    for ids in self.rows(rows[start:start + ROWS_AT_ONCE])]
        starts, lengths = self.offsets(rows).tolist(), self.lengths[rows].tolist()
        if self.ids is not None:
            return [self.ids[s:s + n] for s, n in zip(starts, lengths)]
        if self._fd is None:
            self._fd = os.open(self.path, os.O_RDONLY)
        size, fd = self.dtype.itemsize, self._fd
        return [np.frombuffer(os.pread(fd, n * size, s * size), dtype=self.dtype) for s, n in zip(starts, lengths)]

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __del__(self):
        self.close()


def flatten(seqs: Sequence[Sequence[int]], dtype: np.dtype) -> tuple[np.ndarray, np.ndarray]:
    """Id lists as (lengths, concatenated ids) arrays."""
    lengths = np.fromiter(map(len, seqs), dtype=np.int64, count=len(seqs))
    ids = np.fromiter(itertools.chain.from_iterable(seqs), dtype=dtype, count=int(lengths.sum()))
    return lengths, ids
