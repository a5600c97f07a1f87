"""Worker processes searching batches give what one process gives, in input order."""

import dataclasses
import os
import signal

import pytest
import torch

from s2s import pool as pools
from s2s.errors import UserError
from s2s.pool import SearchPool, search_batch
from s2s.translator import Translator

from tests.conftest import cli
from tests.test_translate import translator

pytestmark = pytest.mark.skipif(not pools.can_fork(), reason="worker processes are forked: this system cannot fork")

LINES = ["a b c", "", "b c d e", "c", "a a b b c c", "  ", "d e", "e d c b a", "b", "a c e", "c d"]


def test_a_pool_gives_each_batch_what_search_gives_in_process(tokenizer):
    t = translator(tokenizer)
    batches = [[5, 6, 7, 3], [8, 3]], [[9, 10, 11, 12, 13, 3]], [[6, 3], [7, 7, 3], [5, 3]]
    alone = [search_batch(t.model, False, units, t.search, 2) for units in batches]
    workers = SearchPool(t.model, 2)
    try:
        together = list(workers.search(iter(batches), t.search, 2))
    finally:
        workers.close()
    assert len(together) == len(alone) == 3
    for mine, theirs in zip(together, alone):
        assert [[h.tokens for h in hyps] for hyps in mine] == [[h.tokens for h in hyps] for hyps in theirs]
        for a, b in zip((h for hyps in mine for h in hyps), (h for hyps in theirs for h in hyps)):
            assert a.score == pytest.approx(b.score, abs=1e-5)
            assert isinstance(a.attention, torch.Tensor) and a.attention.shape == b.attention.shape
            assert torch.allclose(a.attention, b.attention, atol=1e-5)


@pytest.mark.parametrize("beam", [1, 3])
def test_translating_with_workers_keeps_every_line_in_order(tokenizer, beam):
    one = translator(tokenizer, batch_size=2, beam=beam)
    two = dataclasses.replace(one, workers=2)
    try:
        assert two.translate(LINES) == one.translate(LINES)
        assert [len(best) for best in two.nbest(LINES, 1)] == [1] * len(LINES)
        assert two.translate(LINES)[1] == "" and two.translate(LINES)[5] == ""
    finally:
        two.pool.close()


def test_the_pool_is_forked_once_per_model_and_ends_with_close(tokenizer):
    t = dataclasses.replace(translator(tokenizer, batch_size=2), workers=2)
    t.translate(LINES)
    first = t.pool
    assert first is not None and first.number in pools._models
    t.translate(LINES[:5])
    assert t.pool is first  # the same model: the same workers
    t.with_search(beam=1).translate(LINES)
    assert t.pool is first  # another search setting goes with each batch
    t.model = translator(tokenizer).model  # another model: new workers, the old ones ended
    t.translate(LINES)
    assert t.pool is not first and first.number not in pools._models
    t.pool.close()
    assert t.pool.number not in pools._models


def test_one_batch_is_searched_in_process(tokenizer):
    t = dataclasses.replace(translator(tokenizer, batch_size=64), workers=2)
    t.translate(LINES)
    assert t.pool is None


def test_workers_are_for_the_cpu(trained, monkeypatch):
    monkeypatch.setattr("s2s.translator.resolve_device", lambda name: torch.device("cuda"))
    with pytest.raises(UserError, match="--workers 2 runs processes on the CPU"):
        Translator.load(trained, "cuda", workers=2)


def test_cli_workers_give_the_same_lines(trained, demo_corpus, tmp_path):
    src = demo_corpus / "valid.src"
    for workers in (1, 2):
        result = cli("translate", "-m", trained, "-i", src, "-o", tmp_path / f"{workers}.txt",
                     "--batch-size", "4", "--workers", str(workers), "--quiet")
        assert result.exit_code == 0, result.output
    one, two = ((tmp_path / f"{w}.txt").read_text().splitlines() for w in (1, 2))
    assert one == two and len(one) == len(src.read_text().splitlines())


class Dying(torch.nn.Module):
    """A model whose worker dies at its first step, as one the system kills would."""

    def __init__(self, model, parent):
        super().__init__()
        self.model, self.parent = model, parent

    def encode(self, src, src_len):
        return self.model.encode(src, src_len)

    def decode_step(self, prev, memory, state):
        if os.getpid() != self.parent:
            os.kill(os.getpid(), signal.SIGKILL)
        return self.model.decode_step(prev, memory, state)


def test_a_worker_that_dies_is_an_error_not_a_wait(tokenizer):
    t = translator(tokenizer)
    workers = SearchPool(Dying(t.model, os.getpid()), 2)
    with pytest.raises(UserError, match="a worker process .* ended before its batch was done"):
        list(workers.search(iter([[[5, 6, 3]], [[7, 3]]]), t.search, 1))
    assert workers.number not in pools._models


def test_a_translator_on_a_gpu_forks_no_workers(tokenizer):
    t = dataclasses.replace(translator(tokenizer, batch_size=2), workers=2, device=torch.device("cuda"))
    with pytest.raises(UserError, match="--workers 2 runs processes on the CPU"):
        t.translate(LINES)
    assert t.pool is None
