"""IBM Model 1 alignments, attention agreement and the guided-alignment loss."""

import random

from dataclasses import replace

import pytest
import torch

from s2s.align import NULL, Model1, agreement, guided_loss
from s2s.run import train
from tests.conftest import tiny_config


def permuted_corpus(n=400, seed=0):
    """Source words 10..29, each translated by a fixed target word (its id + 100), in a
    shuffled order; one target word in five has no source (id 200, e.g. an article)."""
    rng = random.Random(seed)
    src, tgt, truth = [], [], []
    for _ in range(n):
        s = rng.sample(range(10, 30), rng.randint(2, 7))
        order = list(range(len(s)))
        rng.shuffle(order)
        t, a = [], []
        for i in order:
            t.append(s[i] + 100)
            a.append(i)
            if rng.random() < 0.2:
                t.append(200)
                a.append(None)
        src.append(s)
        tgt.append(t)
        truth.append(a)
    return src, tgt, truth


def test_model1_recovers_a_word_for_word_mapping_under_reordering():
    src, tgt, truth = permuted_corpus()
    model = Model1.train(src, tgt, iterations=5)
    right = total = 0
    for s, t, a in zip(src, tgt, truth):
        got = model.align(s, t)
        assert len(got) == len(t) and all(NULL <= g < len(s) for g in got)
        for g, want in zip(got, a):
            if want is not None:
                right, total = right + (g == want), total + 1
    assert right / total > 0.99


def test_model1_probabilities_are_normalised_per_source_word():
    src, tgt, _ = permuted_corpus(100)
    model = Model1.train(src, tgt, iterations=3)
    source_of = model.keys // model.vocab
    sums = torch.zeros(int(source_of.max()) + 1, dtype=torch.float64).index_add_(0, source_of, model.prob)
    present = torch.unique(source_of)
    torch.testing.assert_close(sums[present], torch.ones(len(present), dtype=torch.float64))


def test_unseen_target_pieces_are_unaligned():
    model = Model1.train([[1, 2]], [[5, 6]])
    assert model.align([1, 2], [999, 5])[0] == NULL
    assert model.align([1], []) == []


def test_agreement_counts_argmax_hits_on_aligned_positions():
    attention = torch.tensor([[[0.7, 0.3], [0.2, 0.8], [0.5, 0.5]]])  # (1, 3, 2)
    assert agreement(attention, torch.tensor([[0, 0, -1]])) == (1, 2)


def test_guided_loss_is_the_negative_log_weight_on_aligned_positions():
    attention = torch.tensor([[[0.7, 0.3], [0.2, 0.8], [0.5, 0.5]]], requires_grad=True)
    loss = guided_loss(attention, torch.tensor([[0, 1, -1]]))
    torch.testing.assert_close(loss, -(torch.log(torch.tensor(0.7)) + torch.log(torch.tensor(0.8))))
    loss.backward()
    assert attention.grad[0, 2].abs().sum() == 0  # unaligned positions get no gradient


@pytest.mark.parametrize("weight", [0.0, 1.0])
def test_training_with_and_without_guided_alignment_runs(demo_corpus, tmp_path, weight):
    progress = train(tiny_config(demo_corpus, max_steps=10, guided_alignment=weight), tmp_path / "run")
    assert progress.step == 10 and progress.skipped_steps == 0


def test_guided_alignment_towards_a_links_file_pulls_attention_to_those_links(tmp_path):
    """The demo corpus's own word links, given as a file, are what attention is pulled to:
    after 60 steps the attention argmax of a guided model is on the linked piece far more
    often than an unguided model's."""
    from s2s.alignment import piece_alignment
    from s2s.translator import Translator
    from tests.conftest import aligned_demo

    triples = aligned_demo(tmp_path)
    share = {}
    for weight in (0.0, 5.0):
        config = tiny_config(tmp_path, max_steps=60, guided_alignment=weight, lr=0.01)
        if weight:
            config = replace(config, data=replace(config.data, train_alignments=str(tmp_path / "train.align")))
        train(config, tmp_path / f"run{weight}")
        translator = Translator.load(tmp_path / f"run{weight}" / "last.pt", device="cpu")
        tok, hits, total = translator.tokenizer, 0, 0
        for s, t, links in triples[:100]:
            pieces = tok.src_pieces(tok.encode_src([s])[0])
            wanted = piece_alignment(set(links), tok.src_words(s), tok.tgt_words(t), pieces)
            attention = translator.force(s, t).hypothesis.attention  # (T + 1, S + 1)
            hits += sum(int(attention[p].argmax()) == position for p, position in enumerate(wanted) if position >= 0)
            total += sum(position >= 0 for position in wanted)
        share[weight] = hits / total
    assert share[5.0] > 0.1 and share[5.0] > 5 * share[0.0], share  # measured: 0.17 and 0.002
