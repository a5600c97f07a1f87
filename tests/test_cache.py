"""The corpus cache: encoded once, found again by content, never stale, the same from workers."""

import logging
from dataclasses import replace
from pathlib import Path

import pytest

from s2s import cache
from s2s.config import TokenizerConfig
from s2s.data import ParallelData
from s2s.errors import UserError
from s2s.text import ParallelFiles


def _files(corpus: Path) -> ParallelFiles:
    return ParallelFiles.scan(corpus / "train.src", corpus / "train.tgt")


def _copy(corpus: Path, to: Path) -> Path:
    to.mkdir()
    for side in ("src", "tgt"):
        (to / f"train.{side}").write_bytes((corpus / f"train.{side}").read_bytes())
    return to


def test_the_cached_corpus_is_the_corpus_encoded_in_memory(demo_corpus, tokenizer, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="s2s")
    src, tgt = cache.encoded(_files(demo_corpus), tokenizer, tmp_path)
    in_memory = ParallelData.load(str(demo_corpus / "train"), "src", "tgt", tokenizer)
    stored = ParallelData(src, tgt)
    assert src.ids is None and len(stored) == len(in_memory) == 2000
    every = range(len(stored))
    assert stored.pairs(every) == in_memory.pairs(every)
    assert caplog.text.count("encoding 2000 pairs") == 1
    again = cache.encoded(_files(demo_corpus), tokenizer, tmp_path)  # found: not encoded again
    assert caplog.text.count("encoding 2000 pairs") == 1 and again[0].path == src.path


def test_helper_programs_encode_what_one_process_does(demo_corpus, tokenizer, tmp_path, monkeypatch):
    one = ParallelData(*cache.encoded(_files(demo_corpus), tokenizer, tmp_path / "one"))
    monkeypatch.setattr(cache, "LARGE_BYTES", 0)  # helpers for any size
    monkeypatch.setattr(cache, "workers", lambda: 3)
    monkeypatch.setattr(cache, "CHUNK_LINES", 300)  # shares of several chunks each, the last one short
    many = ParallelData(*cache.encoded(_files(demo_corpus), tokenizer, tmp_path / "many"))
    assert many.pairs(range(len(many))) == one.pairs(range(len(one)))
    assert not list((tmp_path / "many").glob("*.tmp-*"))  # nothing left aside


def test_text_that_changes_while_it_is_encoded_is_an_error_and_nothing_is_cached(demo_corpus, tokenizer, tmp_path):
    corpus = _copy(demo_corpus, tmp_path / "corpus")
    files = _files(corpus)
    with open(corpus / "train.src", "a") as f:
        f.write("one line more\n")
    (corpus / "train.tgt").write_text((corpus / "train.tgt").read_text() + "one line more\n")
    with pytest.raises(UserError, match=r"train\.src or .*train\.tgt changed while s2s was reading it"):
        cache.encoded(files, tokenizer, tmp_path / "cache")
    assert not list((tmp_path / "cache").iterdir())
    with pytest.raises(UserError, match="changed while s2s was reading it"):
        cache.tokenizer(files, TokenizerConfig(vocab_size=120), 1, tmp_path / "cache")
    assert not list((tmp_path / "cache").iterdir())


def test_a_helper_that_dies_is_an_error_not_a_hang(demo_corpus, tokenizer, tmp_path, monkeypatch):
    monkeypatch.setattr(cache, "LARGE_BYTES", 0)
    monkeypatch.setattr(cache.sys, "executable", str(tmp_path / "python"))
    (tmp_path / "python").write_text("#!/bin/sh\nkill -9 $$\n")
    (tmp_path / "python").chmod(0o755)
    with pytest.raises(UserError, match=r"encoding the corpus: the helper process was killed \(signal 9\)"):
        cache.encoded(_files(demo_corpus), tokenizer, tmp_path / "cache")


def test_a_changed_file_is_never_read_from_a_stale_entry(demo_corpus, tokenizer, tmp_path):
    corpus = _copy(demo_corpus, tmp_path / "corpus")
    before = ParallelData(*cache.encoded(_files(corpus), tokenizer, tmp_path / "cache"))
    lines = (corpus / "train.tgt").read_text().splitlines()
    lines[5] = "a line that was not there before"
    (corpus / "train.tgt").write_text("\n".join(lines) + "\n")  # same size in lines, other text
    after = ParallelData(*cache.encoded(_files(corpus), tokenizer, tmp_path / "cache"))
    assert after.pairs([5])[0][1] == tokenizer.encode_tgt(["a line that was not there before"])[0]
    assert after.pairs([5]) != before.pairs([5]) and after.pairs([4]) == before.pairs([4])
    assert len(list((tmp_path / "cache").glob("pieces-*"))) == 2


def test_a_damaged_entry_is_encoded_again(demo_corpus, tokenizer, tmp_path, caplog):
    src, _ = cache.encoded(_files(demo_corpus), tokenizer, tmp_path)
    entry = src.path.parent
    expected = ParallelData.load(str(demo_corpus / "train"), "src", "tgt", tokenizer).pairs([0])
    caplog.set_level(logging.INFO, logger="s2s")
    for damage in (lambda: (entry / "tgt.ids").write_bytes(b"\0" * 10), lambda: (entry / "src.len").unlink(),
                   lambda: (entry / "meta.json").write_text("{")):
        damage()
        caplog.clear()
        again = ParallelData(*cache.encoded(_files(demo_corpus), tokenizer, tmp_path))
        assert "is damaged" in caplog.text and "encoding 2000 pairs" in caplog.text
        assert again.pairs([0]) == expected


def test_the_tokenizer_is_learnt_once_per_text_and_settings(demo_corpus, tmp_path, caplog, monkeypatch):
    caplog.set_level(logging.INFO, logger="s2s")
    config = TokenizerConfig(vocab_size=120)
    first = cache.tokenizer(_files(demo_corpus), config, 1, tmp_path)
    again = cache.tokenizer(_files(demo_corpus), config, 1, tmp_path)
    assert "tokenizer from the cache" in caplog.text and again.src_model == first.src_model
    monkeypatch.setattr(cache, "LARGE_BYTES", 0)  # learnt by a helper program
    other = cache.tokenizer(_files(demo_corpus), replace(config, vocab_size=100, joint=False), 1, tmp_path)
    assert other.src_vocab_size == other.tgt_vocab_size == 100 and not other.joint
    separate = cache.tokenizer(_files(demo_corpus), replace(config, joint=False), 1, tmp_path / "in-process")
    monkeypatch.setattr(cache, "LARGE_BYTES", 1 << 40)
    assert separate.src_model == cache.tokenizer(_files(demo_corpus), replace(config, joint=False), 1,
                                                   tmp_path / "elsewhere").src_model


def test_a_tokenizer_error_in_the_helper_program_is_a_user_error(demo_corpus, tmp_path, monkeypatch):
    monkeypatch.setattr(cache, "LARGE_BYTES", 0)
    with pytest.raises(UserError, match="cannot train the joint tokenizer"):
        cache.tokenizer(_files(demo_corpus), TokenizerConfig(vocab_size=100_000), 1, tmp_path)


def test_a_cache_that_cannot_be_written_is_named(demo_corpus, tokenizer, tmp_path):
    (tmp_path / "file").write_text("not a directory")
    with pytest.raises(UserError, match=r"cannot write the corpus cache in .*file.*data\.cache_dir"):
        cache.encoded(_files(demo_corpus), tokenizer, tmp_path / "file" / "cache")
    with pytest.raises(UserError, match=r"cannot write the corpus cache in .*file.*data\.cache_dir"):
        cache.tokenizer(_files(demo_corpus), TokenizerConfig(vocab_size=120), 1, tmp_path / "file" / "cache")
