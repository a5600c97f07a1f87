"""Stored pieces: every line's ids come back as written, from memory or from the file."""

import random

import numpy as np
import pytest

from s2s.pieces import BLOCK, LENGTH_DTYPE, Pieces, id_dtype


def _lines(n: int, seed: int = 3) -> list[list[int]]:
    rng = random.Random(seed)
    return [[rng.randrange(70_000 if k % 97 == 0 else 300) for _ in range(rng.choice((0, 1, 5, 30, 200)))]
            for k in range(n)]


def test_lines_come_back_from_memory_across_blocks():
    lines = _lines(5 * BLOCK + 3)
    pieces = Pieces.from_lists(lines)
    rows = [0, BLOCK - 1, BLOCK, 3 * BLOCK + 7, len(lines) - 1, 2, 2]
    assert [r.tolist() for r in pieces.rows(rows)] == [lines[r] for r in rows]
    assert pieces.lengths.dtype == np.uint16 and pieces.lengths.tolist() == [len(line) for line in lines]
    assert pieces.total == sum(map(len, lines))


def _write(prefix, lines, dtype):
    np.array([len(x) for x in lines], dtype=LENGTH_DTYPE).tofile(f"{prefix}.len")
    np.array([i for x in lines for i in x], dtype=dtype).tofile(f"{prefix}.ids")


def test_lines_come_back_from_the_file(tmp_path):
    lines = _lines(700)
    _write(tmp_path / "side", lines, id_dtype(70_000))
    stored = Pieces.open(tmp_path / "side", id_dtype(70_000))
    assert stored.dtype == np.uint32 and stored.ids is None  # ids stay on disk
    order = random.Random(1).sample(range(len(lines)), len(lines))
    assert [r.tolist() for r in stored.rows(order)] == [lines[r] for r in order]


def test_many_lines_at_once_come_back_in_order(monkeypatch):
    import s2s.pieces
    lines = _lines(1000)
    monkeypatch.setattr(s2s.pieces, "ROWS_AT_ONCE", 64)  # several rounds of offsets
    order = random.Random(2).sample(range(len(lines)), 900)
    assert [r.tolist() for r in Pieces.from_lists(lines).rows(order)] == [lines[r] for r in order]


def test_a_file_that_does_not_match_its_lengths_is_refused(tmp_path):
    _write(tmp_path / "side", [[1, 2], [3, 4, 5]], np.uint16)
    with open(tmp_path / "side.ids", "ab") as f:
        f.write(b"\0\0")
    with pytest.raises(ValueError, match="not the 5 ids"):
        Pieces.open(tmp_path / "side", np.dtype(np.uint16))


def test_ids_take_two_bytes_where_the_vocabulary_allows():
    assert id_dtype(8000) == np.uint16 and id_dtype(1 << 16) == np.uint16 and id_dtype((1 << 16) + 1) == np.uint32
