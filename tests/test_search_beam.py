"""Beam search (s2s.search.beam_search): its scores, exactness against exhaustive enumeration,
its stopping rule and n-best lists."""

import pytest
import torch

from s2s.data import source_batch
from s2s.penalty import length_penalty
from s2s.search import beam_search, greedy, reach

from tests.searchmodels import (SRC, Counting, PrefixModel, ScriptedModel, StepTable, exhaustive, small_model,
                                teacher_forced)


def test_beam_of_one_matches_greedy():
    model = small_model()
    src, src_len = source_batch(SRC)
    for limits in ({}, {"max_len_a": 0.0, "max_len_b": 3}):  # ending on EOS, and cut at the limit
        greedy_hyps = greedy(model, src, src_len, **limits)
        beam_hyps = beam_search(model, src, src_len, beam=1, **limits)
        for g, (b,) in zip(greedy_hyps, beam_hyps):
            assert b.tokens == g.tokens
            assert abs(b.score - g.score) < 1e-5
            torch.testing.assert_close(b.attention, g.attention)


@pytest.mark.parametrize("penalty,alpha", [("none", 0.0), ("length", 1.0), ("gnmt", 0.6)])
def test_beam_scores_are_the_models_own_penalised_log_probabilities(penalty, alpha):
    model = small_model()
    src, src_len = source_batch(SRC)
    for i, hyps in enumerate(beam_search(model, src, src_len, beam=4, nbest=4, penalty=penalty, alpha=alpha)):
        assert len(hyps) == 4
        for hyp in hyps:
            log_prob, steps = teacher_forced(model, SRC[i], hyp)
            assert abs(hyp.log_prob - log_prob) < 1e-4
            lp = length_penalty(penalty, alpha, torch.tensor(steps)).item()
            assert abs(hyp.score - log_prob / lp) < 1e-4


@pytest.mark.parametrize("penalty,alpha,min_len", [("none", 0.0, 0), ("length", 1.0, 0),
                                                   ("gnmt", 0.6, 2), ("length", 2.0, 1)])
def test_a_wide_beam_finds_what_exhaustive_enumeration_finds(penalty, alpha, min_len):
    model = PrefixModel()
    src, src_len = source_batch([[4, 4, 3], [2, 3], [1, 2, 4, 3]])
    limit = 4  # max_len_b with max_len_a = 0: 4^4 = 256 sequences cut at the limit, 85 ending
    # (4 ids may be output: V = 7 without PAD, BOS, EOS)
    hyps = beam_search(model, src, src_len, beam=128, nbest=10, max_len_a=0.0, max_len_b=limit,
                       min_len=min_len, penalty=penalty, alpha=alpha)
    for i in range(src.size(0)):
        truth = exhaustive(model, src[i:i + 1], limit, min_len, penalty, alpha)[:10]
        assert [h.tokens for h in hyps[i]] == [seq for _, seq in truth]
        assert [round(h.score, 4) for h in hyps[i]] == [round(score, 4) for score, _ in truth]


@pytest.mark.parametrize("penalty,alpha", [("length", 1.0), ("gnmt", 0.6)])
def test_a_stop_margin_no_piece_beats_keeps_search_exact_and_a_larger_one_stops_sooner(penalty, alpha):
    model = PrefixModel(seed=3)
    model.table = torch.log_softmax(0.5 * torch.randn(101, 7, generator=torch.Generator().manual_seed(3)), -1)
    src, src_len = source_batch([[4, 4, 3], [2, 3], [1, 2, 4, 3]])
    cheapest = -float(model.table.max())  # every piece costs at least this (0.74 nats)
    settings = dict(beam=3, nbest=2, max_len_a=0.0, max_len_b=12, penalty=penalty, alpha=alpha)
    exact, safe, eager = Counting(model), Counting(model), Counting(model)
    truth = beam_search(exact, src, src_len, **settings)
    found = beam_search(safe, src, src_len, stop_margin=cheapest, **settings)
    assert [[h.tokens for h in hyps] for hyps in found] == [[h.tokens for h in hyps] for hyps in truth]
    assert [[h.score for h in hyps] for hyps in found] == [[h.score for h in hyps] for hyps in truth]
    beam_search(eager, src, src_len, stop_margin=5.0, **settings)
    assert eager.rows <= safe.rows < exact.rows  # sentences stop sooner, and no sooner with a smaller margin


def test_reach_is_the_best_score_a_hypothesis_can_still_end_with():
    """A live hypothesis of 4 pieces ends at 5 pieces or more (EOS or another piece), each costing
    at least the margin; with margin 0 the bound is the exact one, at the length limit."""
    log_prob, limits = torch.tensor([-3.0, -0.5, -8.0]), torch.tensor([9, 6, 12])
    for margin in (0.0, 0.1, 1.0):
        for penalty, alpha in (("length", 1.0), ("gnmt", 0.6), ("none", 0.0)):
            found = reach(log_prob, 4, limits, margin, penalty, alpha)
            for i in range(3):
                best = max((log_prob[i].item() - margin * (n - 4)) / length_penalty(penalty, alpha, torch.tensor(n)).item()
                           for n in range(5, int(limits[i]) + 1))
                assert found[i].item() == pytest.approx(best, rel=1e-6)
    assert reach(log_prob, 4, limits, 1.0, "none", 0.0).tolist() == [-4.0, -1.5, -9.0]  # one more piece at least
    assert reach(log_prob, 12, limits, 1.0, "length", 1.0).tolist() == [float("-inf")] * 3  # nowhere left to go


def test_a_narrow_beam_can_miss_what_a_wide_one_finds():
    """The exhaustive comparison can fail: a beam of 1 does miss the best sequence."""
    src, src_len = source_batch([[4, 4, 3]])
    settings = dict(max_len_a=0.0, max_len_b=4, penalty="length", alpha=1.0)
    missed = 0
    for seed in range(10):
        model = PrefixModel(seed=seed)
        truth = exhaustive(model, src, 4, 0, "length", 1.0)[0][1]
        assert beam_search(model, src, src_len, beam=128, **settings)[0][0].tokens == truth
        missed += beam_search(model, src, src_len, beam=1, **settings)[0][0].tokens != truth
    assert missed > 0


def test_search_goes_on_while_a_longer_hypothesis_can_still_win():
    """EOS first is likelier, but with length normalisation the cheap continuation wins."""
    #                   0     1     2    EOS    4
    model = StepTable([[-9.0, -9.0, -9.0, 2.0, 1.5],
                       [-9.0, -9.0, -9.0, -3.0, 6.0]])
    src, src_len = source_batch([[4, 3]])
    settings = dict(beam=2, max_len_a=0.0, max_len_b=6)
    assert beam_search(model, src, src_len, penalty="none", **settings)[0][0].tokens == []
    assert beam_search(model, src, src_len, penalty="length", alpha=1.0, **settings)[0][0].tokens == [4] * 6


def test_a_batch_of_beams_gives_the_same_results_as_one_sentence_at_a_time():
    model = small_model()
    src, src_len = source_batch(SRC)
    together = beam_search(model, src, src_len, beam=4, nbest=3, penalty="length", alpha=1.0)
    for i, seq in enumerate(SRC):
        alone = beam_search(model, *source_batch([seq]), beam=4, nbest=3, penalty="length", alpha=1.0)[0]
        assert [h.tokens for h in alone] == [h.tokens for h in together[i]]
        for a, t in zip(alone, together[i]):
            assert abs(a.score - t.score) < 1e-4
            torch.testing.assert_close(a.attention, t.attention, atol=1e-5, rtol=1e-4)


def test_nbest_lists_are_sorted_distinct_and_n_long():
    model = small_model()
    src, src_len = source_batch(SRC)
    for hyps in beam_search(model, src, src_len, beam=6, nbest=5, penalty="gnmt", alpha=0.6):
        assert len(hyps) == 5
        scores = [h.score for h in hyps]
        assert scores == sorted(scores, reverse=True)
        assert len({tuple(h.tokens) for h in hyps}) == 5


def test_nbest_lists_stop_at_what_exists():
    """With a limit of one token, 5 outputs exist: EOS alone, or one id that is not PAD/BOS/EOS."""
    model = PrefixModel()
    src, src_len = source_batch([[4, 3]])
    (hyps,) = beam_search(model, src, src_len, beam=8, nbest=8, max_len_a=0.0, max_len_b=1)
    assert sorted(tuple(h.tokens) for h in hyps) == [(), (1,), (4,), (5,), (6,)]


def test_beam_attention_rows_are_distributions_over_the_sentences_own_source():
    model = small_model()
    src, src_len = source_batch(SRC)
    for i, hyps in enumerate(beam_search(model, src, src_len, beam=3, nbest=3)):
        for hyp in hyps:
            ended = len(hyp.attention) == len(hyp.tokens) + 1
            assert ended or len(hyp.attention) == len(hyp.tokens)
            assert hyp.attention.shape[1] == len(SRC[i])
            torch.testing.assert_close(hyp.attention.sum(-1), torch.ones(hyp.attention.shape[0]))


def test_finished_sentences_leave_the_beam_batch():
    model = ScriptedModel([[4, 5, 6, 7], [8], [4, 4]])
    src, src_len = source_batch([[4, 3], [4, 5, 3], [6, 6, 6, 3]])
    hyps = beam_search(model, src, src_len, beam=2, max_len_a=3, max_len_b=5)
    assert [h[0].tokens for h in hyps] == [[4, 5, 6, 7], [8], [4, 4]]
    assert model.batch_sizes == [6, 6, 4, 2, 2]
