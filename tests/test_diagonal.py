"""The diagonal model (IBM Model 1 with fast_align's prior on positions), and both directions
trained by agreement."""

import random

import torch

from s2s.align import NULL, Model1, Pairs
from s2s.diagonal import Cells, DiagonalModel, Training, _partners, agreeing
from tests.test_align import permuted_corpus


def monotone_corpus(n=400, seed=0):
    """Word-for-word translations in the same order (target word = source word + 100), from
    only six source words, so that most sentences repeat a word."""
    rng = random.Random(seed)
    src = [[rng.choice(range(10, 16)) for _ in range(rng.randint(3, 9))] for _ in range(n)]
    return src, [[w + 100 for w in s] for s in src], [list(range(len(s))) for s in src]


def share_right(model, src, tgt, truth):
    pairs = [(g, want) for s, t, a in zip(src, tgt, truth) for g, want in zip(model.align(s, t), a)
             if want is not None]
    return sum(g == want for g, want in pairs) / len(pairs)


def test_the_diagonal_model_tells_repeated_words_apart_by_their_position():
    src, tgt, truth = monotone_corpus()
    assert share_right(DiagonalModel.train(src, tgt), src, tgt, truth) > 0.99
    assert share_right(Model1.train(src, tgt), src, tgt, truth) < 0.8  # measured: 0.65 (the first of equals)


def test_the_diagonal_model_fits_its_tension_to_the_word_order():
    src, tgt, truth = monotone_corpus()
    assert DiagonalModel.train(src, tgt, tension=4.0).tension > 10  # measured: 14, the cap
    src, tgt, truth = permuted_corpus()
    model = DiagonalModel.train(src, tgt, tension=4.0)
    assert model.tension < 1  # measured: 0.26
    assert share_right(model, src, tgt, truth) > 0.99  # a flat prior: the words still decide


def test_the_diagonal_prior_is_a_distribution_over_each_target_words_sources():
    src, tgt, _ = permuted_corpus(50)
    pairs, cells = Pairs.of(src, tgt, vocab=201), Cells.of(src, tgt)
    for tension in (0.1, 4.0, 14.0):
        prior = cells.prior(tension, null_prob=0.08)  # (N,)
        torch.testing.assert_close(pairs.per_target(prior), torch.ones(len(prior), dtype=torch.float64))
        null = pairs.unique[pairs.inverse] < pairs.vocab  # source id 0: NULL
        torch.testing.assert_close(prior[null], torch.full((int(null.sum()),), 0.08, dtype=torch.float64))


def test_the_diagonal_model_without_a_dirichlet_prior_normalises_each_source_word():
    src, tgt, _ = permuted_corpus(100)
    for alpha, check in ((0.0, lambda s: torch.allclose(s, torch.ones_like(s))), (0.01, lambda s: bool((s < 1).all()))):
        lexicon = DiagonalModel.train(src, tgt, iterations=3, alpha=alpha).lexicon
        source_of = lexicon.keys // lexicon.vocab
        sums = torch.zeros(int(source_of.max()) + 1, dtype=torch.float64).index_add_(0, source_of, lexicon.prob)
        assert check(sums[torch.unique(source_of)]), alpha  # variational Bayes leaves mass to unseen words


def test_the_diagonal_model_leaves_unseen_and_source_less_words_unaligned():
    model = DiagonalModel.train([[1, 2], []], [[5, 6], [7]])
    assert model.align([1, 2], [999, 5])[0] == NULL
    assert model.align([], [5]) == [NULL]
    assert model.align([1], []) == []


def test_each_link_has_one_partner_in_the_other_direction_with_the_same_words():
    src, tgt, _ = permuted_corpus(60)
    src, tgt = src + [[], [11]], tgt + [[110], []]  # a side left blank, either way
    to_backward, to_forward = _partners(src, tgt)
    forward, backward = Pairs.of(src, tgt, vocab=300), Pairs.of(tgt, src, vocab=300)
    assert len(to_backward) == len(forward.inverse) and len(to_forward) == len(backward.inverse)
    linked = to_backward >= 0
    assert torch.equal(to_forward[to_backward[linked]], torch.nonzero(linked).squeeze(1))  # there and back
    words = lambda pairs, k: (pairs.unique[pairs.inverse[k]] // 300 - 1, pairs.unique[pairs.inverse[k]] % 300)
    e, f = words(forward, torch.nonzero(linked).squeeze(1))  # (source word, target word)
    f2, e2 = words(backward, to_backward[linked])
    assert torch.equal(e, e2) and torch.equal(f, f2)
    assert int((to_backward < 0).sum()) == sum(len(t) for t in tgt)  # one NULL element per target word


def test_agreement_keeps_a_distribution_per_word_and_moves_disagreement_to_null():
    src, tgt, _ = permuted_corpus(60)
    forward, backward = Training(src, tgt, 4.0, 0.08, 0.01), Training(tgt, src, 4.0, 0.08, 0.01)
    to_backward, _ = _partners(src, tgt)
    mine, theirs = forward.posterior(), backward.posterior()
    agreed = agreeing(forward, mine, theirs, to_backward)
    assert (agreed >= 0).all()
    torch.testing.assert_close(forward.pairs.per_target(agreed), torch.ones(len(agreed), dtype=torch.float64))
    assert (agreed[~forward.is_null] <= mine[~forward.is_null]).all()
    assert (agreed[forward.is_null] >= mine[forward.is_null]).all()


def test_jointly_trained_directions_both_find_the_words_translations():
    for src, tgt, truth in (monotone_corpus(), permuted_corpus()):
        forward, backward = DiagonalModel.train_jointly(src, tgt)
        assert share_right(forward, src, tgt, truth) > 0.99
        back = [[next((j for j, i in enumerate(a) if i == k), None) for k in range(len(s))] for s, a in zip(src, truth)]
        assert share_right(backward, tgt, src, back) > 0.99
