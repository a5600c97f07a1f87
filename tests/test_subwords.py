"""s2s.subwords: drawn segmentations spell the same words, follow P ** alpha, and repeat with the seed."""

import collections
import itertools
import math
import random

import numpy as np
import pytest

from s2s.config import TokenizerConfig
from s2s.configfile import from_dict
from s2s.errors import UserError
from s2s.labeled import LabeledData
from s2s.labels import LabelSet, Labelled
from s2s.subwords import NBEST, SubwordSampler
from s2s.tokenizer import EOS, UNK, Tokenizer

WORDS = ["".join(parts) for parts in itertools.product(("un", "re", "over", ""), ("believ", "charm", "even", "long"),
                                                        ("able", "ably", "ing", "ly", ""))]
_rng = random.Random(0)
SENTENCES = [" ".join(_rng.choice(WORDS) for _ in range(_rng.randint(1, 8))) for _ in range(400)]


@pytest.fixture(scope="module")
def tokenizer() -> Tokenizer:
    return Tokenizer.train(TokenizerConfig(vocab_size=100), SENTENCES, None)


def best(tokenizer, text):
    return tokenizer.encode_src([text])[0]


def sentence(sampler, ids, rng):
    """A sentence's pieces with each word's segmentation drawn afresh."""
    return [piece for word in sampler.draw_all(sampler.words(ids), rng) for piece in word]


def test_every_draw_spells_the_sentence_and_keeps_its_word_boundaries(tokenizer):
    sampler, rng = SubwordSampler(tokenizer.src, 0.05), np.random.default_rng(0)
    changed = 0
    for text in SENTENCES:
        ids = best(tokenizer, text)
        drawn = sentence(sampler, ids, rng)
        assert tokenizer.decode_tgt([drawn])[0] == text and len(sampler.words(drawn)) == len(text.split())
        changed += drawn != ids
    assert changed > len(SENTENCES) / 2  # a flat distribution does cut most sentences differently


def test_draws_follow_the_segmentations_probability_to_the_power_alpha(tokenizer):
    word = tuple(best(tokenizer, "unbelievably"))
    nbests = tokenizer.src.nbest_encode("unbelievably", nbest_size=NBEST, return_type="proto").nbests
    alpha, n = 0.05, 20000
    weights = [math.exp(alpha * x.score) for x in nbests]
    sampler, rng = SubwordSampler(tokenizer.src, alpha), np.random.default_rng(1)
    counts = collections.Counter(sampler.draw(word, u) for u in rng.random(n))
    assert len(nbests) > 2 and set(counts) == {tuple(p.id for p in x.pieces) for x in nbests}
    for x, weight in zip(nbests, weights):  # every segmentation's share, within 4 standard errors
        expected = weight / sum(weights)
        share = counts[tuple(p.id for p in x.pieces)] / n
        assert abs(share - expected) < 4 * math.sqrt(expected * (1 - expected) / n) + 1e-3


def test_a_large_alpha_keeps_the_best_segmentation_and_the_same_seed_draws_the_same(tokenizer):
    ids = best(tokenizer, "unbelievably recharming overlong")
    sharp = SubwordSampler(tokenizer.src, 1000.0)
    assert sentence(sharp, ids, np.random.default_rng(0)) == ids
    flat = SubwordSampler(tokenizer.src, 0.1)
    rngs = [np.random.default_rng(seed) for seed in (7, 7, 8)]
    draws = [[sentence(flat, ids, rng) for _ in range(10)] for rng in rngs]
    assert draws[0] == draws[1] and draws[0] != draws[2]


def test_a_word_with_the_unknown_piece_is_left_as_it_is(tokenizer):
    ids = best(tokenizer, "charm ✓✓ even")
    assert UNK in ids
    sampler = SubwordSampler(tokenizer.src, 0.1)
    unknown = [w for w in sampler.words(ids) if UNK in w]
    assert unknown and all(sampler.draw(w, u) == w for w in unknown for u in (0.0, 0.5, 0.99))


def labelled(task):
    if task == "classify":
        return Labelled(list(SENTENCES), [str(i % 2) for i in range(len(SENTENCES))], "train")
    words = [s.split() for s in SENTENCES]
    return Labelled(words, [[w[0] for w in s] for s in words], "train")


@pytest.mark.parametrize("task", ["classify", "tag"])
def test_each_epoch_cuts_the_training_words_afresh_and_keeps_every_label_in_place(tokenizer, task):
    examples = labelled(task)
    data = LabeledData.encode(task, examples, tokenizer, LabelSet.of(examples), max_len=100)
    best_src, best_first = data.best_src, data.best_first
    data.sampler = SubwordSampler(tokenizer.src, 0.1)
    epochs = []
    for epoch in (0, 1, 0):
        data.epoch_batches(200, seed=1, epoch=epoch)
        epochs.append((data.src, data.first))
        for i, ids in enumerate(data.src):
            assert ids[-1] == EOS and EOS not in ids[:-1]
            assert tokenizer.decode_tgt([ids[:-1]]) == tokenizer.decode_tgt([best_src[i][:-1]])
            if task == "tag":  # one first piece per word, each at the start of its word's pieces
                ends = data.first[i][1:] + [len(ids) - 1]
                spelled = [tokenizer.decode_tgt([ids[a:b]])[0] for a, b in zip(data.first[i], ends)]
                assert spelled == examples.inputs[i] and len(data.first[i]) == len(data.labels[i])
    assert epochs[0] == epochs[2] and epochs[0][0] != epochs[1][0]  # a resumed epoch draws the same
    assert epochs[0][0] != best_src and (data.best_src, data.best_first) == (best_src, best_first)
    assert data.epoch_batches(200, seed=-5, epoch=0)  # the config allows a negative seed


def test_config_refuses_subword_sampling_where_it_cannot_apply():
    data = {"train": "a", "valid": "b"}
    with pytest.raises(UserError, match="train.subword_alpha.*classify and tag"):
        from_dict({"data": data, "train": {"subword_alpha": 0.5}})
    with pytest.raises(UserError, match="train.subword_alpha.*unigram.*bpe"):
        from_dict({"task": "classify", "data": data, "tokenizer": {"type": "bpe"}, "train": {"subword_alpha": 0.5}})
    with pytest.raises(UserError, match="train.subword_alpha.*>= 0"):
        from_dict({"task": "classify", "data": data, "train": {"subword_alpha": -1}})
    assert from_dict({"task": "tag", "data": data, "train": {"subword_alpha": 0.5}}).train.subword_alpha == 0.5


def test_only_the_training_split_of_a_labelling_task_gets_a_sampler(tmp_path):
    from s2s.labeling import LabelTask
    for split in ("train", "valid"):
        (tmp_path / split).write_text("".join(f"{i % 2} {text}\n" for i, text in enumerate(SENTENCES)))
    raw = {"task": "classify", "data": {"train": str(tmp_path / "train"), "valid": str(tmp_path / "valid"),
                                        "format": "label_first"},
           "tokenizer": {"vocab_size": 100}, "train": {"subword_alpha": 0.5}}
    task = LabelTask(from_dict(raw))
    task.read_train()
    train, valid, _ = task.datasets(task.tokenizer(seed=1))
    assert isinstance(train.sampler, SubwordSampler) and train.sampler.alpha == 0.5 and valid.sampler is None
