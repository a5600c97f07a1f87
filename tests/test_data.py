"""Encoded parallel data: the length filter, token-bucketed batches and their tensors."""

import random

import numpy as np
import torch

from s2s.data import POOL_BATCHES, ParallelData, token_batches
from s2s.tokenizer import BOS, EOS, PAD


def test_long_pairs_are_dropped_and_counted(demo_corpus, tokenizer, caplog):
    full = ParallelData.load(str(demo_corpus / "train"), "src", "tgt", tokenizer)
    caplog.set_level("INFO", logger="s2s")
    short = ParallelData.load(str(demo_corpus / "train"), "src", "tgt", tokenizer, max_len=12)
    dropped = len(full) - len(short)
    assert 0 < dropped < len(full)
    assert f"{dropped} dropped" in caplog.text
    assert all(0 < len(s) <= 12 and 0 < len(t) <= 12 for s, t in short.pairs(range(len(short))))
    assert (short.src_len <= 12).all() and (short.tgt_len <= 12).all()
    assert short.pairs([0]) == full.pairs([int(short.kept[0])])


def test_epoch_batches_cover_each_pair_once_within_budget(demo_corpus, tokenizer):
    data = ParallelData.load(str(demo_corpus / "train"), "src", "tgt", tokenizer, max_len=40)
    batches = data.epoch_batches(batch_tokens=400, seed=3, epoch=0)
    flat = sorted(i for b in batches for i in b.tolist())
    assert flat == list(range(len(data)))
    for b in batches:
        longest = max(max(len(s) + 1, len(t) + 1) for s, t in data.pairs(b))
        assert len(b) == 1 or longest * len(b) <= 400


def test_epoch_order_is_reproducible_and_reshuffled(demo_corpus, tokenizer):
    data = ParallelData.load(str(demo_corpus / "train"), "src", "tgt", tokenizer, max_len=40)
    listed = lambda seed, epoch: [b.tolist() for b in data.epoch_batches(400, seed, epoch)]  # noqa: E731
    assert listed(3, 0) == listed(3, 0)
    assert listed(3, 0) != listed(3, 1)
    assert listed(3, 0) != listed(4, 0)


def test_batches_hold_similar_lengths(demo_corpus, tokenizer):
    data = ParallelData.load(str(demo_corpus / "train"), "src", "tgt", tokenizer, max_len=40)
    batches = data.epoch_batches(400, 3, 0)
    padding = sum(int(data.src_len[b].max()) * len(b) - int(data.src_len[b].sum()) for b in batches)
    real = int(data.src_len.sum())
    assert padding / real < 0.1  # random batches of these lengths pad about 40%


def test_batch_tensors(demo_corpus, tokenizer):
    data = ParallelData.load(str(demo_corpus / "valid"), "src", "tgt", tokenizer)
    batch = data.batch([0, 1, 2])
    assert batch.src.shape[0] == 3 and batch.tgt_in.shape == batch.tgt_out.shape
    assert (batch.tgt_in[:, 0] == BOS).all()
    for row, (src, tgt) in enumerate(data.pairs([0, 1, 2])):
        n = len(tgt)
        assert batch.tgt_out[row, n] == EOS and batch.tgt_in[row, 1:n + 1].tolist() == tgt
        assert batch.src[row, :len(src)].tolist() == src and batch.src_len[row] == len(src) + 1
        assert batch.src[row, batch.src_len[row] - 1] == EOS
        assert (batch.src[row, batch.src_len[row]:] == PAD).all()


def _batches_as_lists(src_len, tgt_len, batch_tokens, seed, epoch):
    """token_batches as it was written over Python lists (before index arrays): the order
    that runs trained before then must keep."""
    gen = torch.Generator().manual_seed(seed * 100_003 + epoch)
    order = torch.randperm(len(src_len), generator=gen).tolist()
    size = lambda i: max(src_len[i], tgt_len[i])  # noqa: E731
    mean = sum(size(i) for i in order[:1000]) / min(len(order), 1000)
    pool = max(1, int(POOL_BATCHES * batch_tokens / mean))
    batches = []
    for start in range(0, len(order), pool):
        current, longest = [], 0
        for i in sorted(order[start:start + pool], key=lambda i: (src_len[i], tgt_len[i])):
            longest_if_added = max(longest, size(i))
            if current and longest_if_added * (len(current) + 1) > batch_tokens:
                batches.append(current)
                current, longest_if_added = [], size(i)
            current.append(i)
            longest = longest_if_added
        if current:
            batches.append(current)
    shuffled = torch.randperm(len(batches), generator=gen).tolist()
    return [batches[i] for i in shuffled]


def test_index_array_batches_are_the_batches_lists_made():
    rng = random.Random(4)
    for n, budget in ((1, 50), (37, 60), (5000, 400), (30_000, 2000)):
        src = [rng.randint(1, 40) for _ in range(n)]
        tgt = [max(1, s + rng.randint(-5, 9)) for s in src]
        for seed, epoch in ((1, 0), (7, 3)):
            expected = _batches_as_lists([s + 1 for s in src], [t + 1 for t in tgt], budget, seed, epoch)
            found = token_batches(np.array(src, np.uint16), np.array(tgt, np.uint16), budget, seed, epoch, extra=1)
            assert [b.tolist() for b in found] == expected
