"""Reading text: lines, pairing, fingerprints, streamed in bounded memory."""

import gzip

import pytest

from s2s.errors import UserError
from s2s.text import ParallelFiles, fingerprint, line_chunks, read_lines, read_parallel, split_path


def test_unequal_line_counts_name_both_files(tmp_path):
    (tmp_path / "t.src").write_text("a\nb\nc\n")
    (tmp_path / "t.tgt").write_text("x\ny\n")
    with pytest.raises(UserError, match=r"t\.src has 3 lines but .*t\.tgt has 2"):
        read_parallel(tmp_path / "t.src", tmp_path / "t.tgt")


def test_an_empty_corpus_is_named(tmp_path):
    (tmp_path / "e.src").write_bytes(b"")
    (tmp_path / "e.tgt").write_bytes(b"")
    with pytest.raises(UserError, match=r"e\.src and .*e\.tgt are empty"):
        read_parallel(tmp_path / "e.src", tmp_path / "e.tgt")


def test_lines_keep_everything_but_their_line_end(tmp_path):
    (tmp_path / "x.txt").write_bytes(b"crlf\r\n\r\n \t\nnul\x00\x01\nnew\xc2\x85line\nlast")
    assert list(read_lines(tmp_path / "x.txt")) == ["crlf", "", " \t", "nul\x00\x01", "new\x85line", "last"]
    (tmp_path / "bad.txt").write_bytes(b"ok\nbr\xffoken\n")
    assert list(read_lines(tmp_path / "bad.txt", errors="replace")) == ["ok", "br\ufffdoken"]


def test_gzip_files_are_read(tmp_path):
    with gzip.open(tmp_path / "t.src.gz", "wt", encoding="utf-8") as f:
        f.write("héllo\r\nwörld\n")
    path = split_path(str(tmp_path / "t"), "src")
    assert list(read_lines(path)) == ["héllo", "wörld"]


def test_missing_file_and_bad_utf8_are_named(tmp_path):
    with pytest.raises(UserError, match=r"file not found: .*nope\.src"):
        split_path(str(tmp_path / "nope"), "src")
    (tmp_path / "bad.src").write_bytes(b"fine\nbr\xffoken\n")
    with pytest.raises(UserError, match=r"bad\.src:2: invalid UTF-8 at byte 2"):
        list(read_lines(tmp_path / "bad.src"))


def test_a_damaged_gzip_file_is_a_clear_error(tmp_path):
    data = gzip.compress(b"one\ntwo\n" * 1000)
    (tmp_path / "t.src.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(UserError, match=r"cannot read .*t\.src\.gz"):
        list(read_lines(tmp_path / "t.src.gz"))


def test_scanning_files_fingerprints_them_as_their_lines(tmp_path):
    src = ["é\tun", "", "trois\r", "x" * 5000] * 40_000  # more than one chunk
    tgt = [f"line {i}" for i in range(len(src))]
    (tmp_path / "t.src").write_bytes("".join(s + "\r\n" for s in src).encode())
    with gzip.open(tmp_path / "t.tgt.gz", "wt", encoding="utf-8") as f:
        f.write("\n".join(tgt))  # no line end after the last line
    files = ParallelFiles.scan(tmp_path / "t.src", tmp_path / "t.tgt.gz")
    read = read_parallel(tmp_path / "t.src", tmp_path / "t.tgt.gz")
    assert files.lines == len(src) and files.fingerprint == fingerprint(*read)
    assert [line for chunk in line_chunks(tmp_path / "t.src") for line in chunk] == read[0]
    assert [line for chunk in line_chunks(tmp_path / "t.tgt.gz") for line in chunk] == tgt


def test_scanning_names_a_bad_line_or_unequal_files(tmp_path):
    lines = [b"ok\n"] * 70_000 + [b"br\xffoken\n"]
    (tmp_path / "a.src").write_bytes(b"".join(lines))
    (tmp_path / "a.tgt").write_bytes(b"y\n" * len(lines))
    with pytest.raises(UserError, match=r"a\.src:70001: invalid UTF-8 at byte 2"):
        ParallelFiles.scan(tmp_path / "a.src", tmp_path / "a.tgt")
    (tmp_path / "b.src").write_bytes(b"x\n" * 70_001)
    (tmp_path / "b.tgt").write_bytes(b"y\n" * 3)
    with pytest.raises(UserError, match=r"b\.src has 70001 lines but .*b\.tgt has 3"):
        ParallelFiles.scan(tmp_path / "b.src", tmp_path / "b.tgt")
    (tmp_path / "e.src").write_bytes(b"")
    (tmp_path / "e.tgt").write_bytes(b"")
    with pytest.raises(UserError, match=r"e\.src and .*e\.tgt are empty"):
        ParallelFiles.scan(tmp_path / "e.src", tmp_path / "e.tgt")
