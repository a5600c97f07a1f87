import gzip

import pytest

from s2s.data import ParallelData, read_lines, read_parallel, split_path
from s2s.errors import UserError
from s2s.tokenizer import BOS, EOS, PAD


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


def test_long_pairs_are_dropped_and_counted(demo_corpus, tokenizer, caplog):
    full = ParallelData.load(str(demo_corpus / "train"), "src", "tgt", tokenizer)
    caplog.set_level("INFO", logger="s2s")
    short = ParallelData.load(str(demo_corpus / "train"), "src", "tgt", tokenizer, max_len=12)
    dropped = len(full) - len(short)
    assert 0 < dropped < len(full)
    assert f"{dropped} dropped" in caplog.text
    assert all(len(s) - 1 <= 12 and len(t) <= 12 for s, t in zip(short.src, short.tgt))


def test_epoch_batches_cover_each_pair_once_within_budget(demo_corpus, tokenizer):
    data = ParallelData.load(str(demo_corpus / "train"), "src", "tgt", tokenizer, max_len=40)
    batches = data.epoch_batches(batch_tokens=400, seed=3, epoch=0)
    flat = sorted(i for b in batches for i in b)
    assert flat == list(range(len(data)))
    for b in batches:
        longest = max(max(len(data.src[i]), len(data.tgt[i]) + 1) for i in b)
        assert len(b) == 1 or longest * len(b) <= 400


def test_epoch_order_is_reproducible_and_reshuffled(demo_corpus, tokenizer):
    data = ParallelData.load(str(demo_corpus / "train"), "src", "tgt", tokenizer, max_len=40)
    assert data.epoch_batches(400, 3, 0) == data.epoch_batches(400, 3, 0)
    assert data.epoch_batches(400, 3, 0) != data.epoch_batches(400, 3, 1)
    assert data.epoch_batches(400, 3, 0) != data.epoch_batches(400, 4, 0)


def test_batches_hold_similar_lengths(demo_corpus, tokenizer):
    data = ParallelData.load(str(demo_corpus / "train"), "src", "tgt", tokenizer, max_len=40)
    batches = data.epoch_batches(400, 3, 0)
    padding = sum(sum(max(len(data.src[j]) for j in b) - len(data.src[i]) for i in b) for b in batches)
    real = sum(len(s) for s in data.src)
    assert padding / real < 0.1  # random batches of these lengths pad about 40%


def test_batch_tensors(demo_corpus, tokenizer):
    data = ParallelData.load(str(demo_corpus / "valid"), "src", "tgt", tokenizer)
    batch = data.batch([0, 1, 2])
    assert batch.src.shape[0] == 3 and batch.tgt_in.shape == batch.tgt_out.shape
    assert (batch.tgt_in[:, 0] == BOS).all()
    for row in range(3):
        n = len(data.tgt[row])
        assert batch.tgt_out[row, n] == EOS and batch.tgt_in[row, 1:n + 1].tolist() == data.tgt[row]
        assert batch.src[row, batch.src_len[row] - 1] == EOS
        assert (batch.src[row, batch.src_len[row]:] == PAD).all()


def test_a_damaged_gzip_file_is_a_clear_error(tmp_path):
    data = gzip.compress(b"one\ntwo\n" * 1000)
    (tmp_path / "t.src.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(UserError, match=r"cannot read .*t\.src\.gz"):
        list(read_lines(tmp_path / "t.src.gz"))
