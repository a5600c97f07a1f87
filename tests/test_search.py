"""Greedy and beam search, driven by scripted stub models and by a real (untrained) model."""

import itertools
from dataclasses import dataclass

import pytest
import torch

from s2s.config import DecoderConfig, EncoderConfig, ModelConfig
from s2s.data import collate, source_batch
from s2s.model import Seq2Seq
from s2s.config import SearchConfig
from s2s.penalty import length_penalty
from s2s.search import beam_search, greedy, max_lengths, reach, search
from s2s.tokenizer import BOS, EOS, PAD

V = 9


@dataclass(frozen=True)
class Rows:
    """A stub state: one row per sentence, holding the sentence id and the step."""

    ids: torch.Tensor
    step: torch.Tensor

    def select(self, index):
        return Rows(self.ids.index_select(0, index), self.step.index_select(0, index))


class ScriptedModel:
    """Sentence i emits script[i] token by token, then EOS; records the batch sizes it saw."""

    def __init__(self, script):
        self.script = script
        self.batch_sizes = []

    def encode(self, src, src_len):
        b, self.src_len = src.size(0), src.size(1)
        return Rows(torch.arange(b), torch.zeros(b, dtype=torch.long)), Rows(torch.arange(b),
                                                                           torch.zeros(b, dtype=torch.long))

    def decode_step(self, prev, memory, state):
        self.batch_sizes.append(prev.size(0))
        logits = torch.full((prev.size(0), V), -5.0)
        for row, (i, t) in enumerate(zip(state.ids.tolist(), state.step.tolist())):
            seq = self.script[i] + [EOS]
            logits[row, seq[min(t, len(seq) - 1)]] = 5.0
        return torch.log_softmax(logits, -1), torch.ones(prev.size(0), self.src_len) / self.src_len, Rows(state.ids, state.step + 1)


def test_greedy_follows_the_script_and_finished_sentences_leave_the_batch():
    model = ScriptedModel([[4, 5, 6, 7], [8], [4, 4]])
    src, src_len = source_batch([[4, 3], [4, 5, 3], [6, 6, 6, 3]])
    hyps = greedy(model, src, src_len, max_len_a=3, max_len_b=5)
    assert [h.tokens for h in hyps] == [[4, 5, 6, 7], [8], [4, 4]]
    assert model.batch_sizes == [3, 3, 2, 1, 1]
    assert [h.attention.shape for h in hyps] == [(5, 2), (2, 3), (3, 4)]


def test_max_length_is_a_times_source_plus_b():
    assert max_lengths(torch.tensor([1, 4]), 2.0, 3).tolist() == [5, 11]
    model = ScriptedModel([[4] * 50])
    src, src_len = source_batch([[5, 3]])
    (hyp,) = greedy(model, src, src_len, max_len_a=1.0, max_len_b=2)
    assert hyp.tokens == [4, 4, 4, 4]


def small_model():
    torch.manual_seed(1)
    config = ModelConfig(embed_dim=8, dropout=0.0, encoder=EncoderConfig(hidden_size=8),
                         decoder=DecoderConfig(hidden_size=8))
    return Seq2Seq.from_config(config, V, V).eval()


SRC = [[4, 5, 6, 3], [7, 3], [8, 8, 5, 6, 7, 3]]


def test_greedy_score_is_the_models_own_log_probability():
    model = small_model()
    src, src_len = source_batch(SRC)
    for i, hyp in enumerate(greedy(model, src, src_len)):
        ended = len(hyp.attention) == len(hyp.tokens) + 1
        batch = collate([SRC[i]], [hyp.tokens])
        logits, _ = model(batch.src, batch.src_len, batch.tgt_in)
        log_probs = torch.log_softmax(logits[0], -1)
        targets = batch.tgt_out[0] if ended else batch.tgt_out[0, :-1]
        expected = log_probs[torch.arange(len(targets)), targets].sum()
        assert abs(hyp.score - expected.item()) < 1e-4


def test_a_batch_gives_the_same_output_as_one_sentence_at_a_time():
    model = small_model()
    src, src_len = source_batch(SRC)
    together = greedy(model, src, src_len)
    for i, seq in enumerate(SRC):
        alone = greedy(model, *source_batch([seq]))[0]
        assert alone.tokens == together[i].tokens
        assert abs(alone.score - together[i].score) < 1e-4
        torch.testing.assert_close(alone.attention, together[i].attention, atol=1e-5, rtol=1e-4)


def test_attention_rows_are_distributions_over_the_sentences_own_source():
    model = small_model()
    src, src_len = source_batch(SRC)
    for i, hyp in enumerate(greedy(model, src, src_len)):
        assert hyp.attention.shape[1] == len(SRC[i])
        torch.testing.assert_close(hyp.attention.sum(-1), torch.ones(hyp.attention.shape[0]))


def teacher_forced(model, src_ids, hyp):
    """The model's own log-probability of a hypothesis (its EOS included when it has one)."""
    ended = len(hyp.attention) == len(hyp.tokens) + 1
    batch = collate([src_ids], [hyp.tokens])
    with torch.no_grad():
        logits, _ = model(batch.src, batch.src_len, batch.tgt_in)
    log_probs = torch.log_softmax(logits[0], -1)
    targets = batch.tgt_out[0] if ended else batch.tgt_out[0, :-1]
    return log_probs[torch.arange(len(targets)), targets].sum().item(), len(targets)


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


@dataclass(frozen=True)
class Prefix:
    """Stub state: a hash of each row's sentence and output so far."""

    h: torch.Tensor  # (B,)

    def select(self, index):
        return Prefix(self.h.index_select(0, index))


class PrefixModel:
    """Log-probabilities drawn from a random table by a hash of (sentence, prefix): any
    distribution can follow any prefix, so only a search without pruning is sure to find
    the best sequence."""

    def __init__(self, vocab_size=7, seed=0):
        g = torch.Generator().manual_seed(seed)
        self.table = torch.log_softmax(2 * torch.randn(101, vocab_size, generator=g), -1)  # (101, V)

    def encode(self, src, src_len):
        h = (src * torch.arange(1, src.size(1) + 1)).sum(1)  # (B,) differs between sentences
        self.s = src.size(1)
        return Prefix(h), Prefix(h)

    def decode_step(self, prev, memory, state):
        h = (state.h * 31 + prev + 1) % 1_000_003
        return self.table[h % 101], torch.full((prev.size(0), self.s), 1.0 / self.s), Prefix(h)

    def log_prob(self, src, tokens):
        h, total = self.encode(src, None)[1].h, 0.0
        prev = torch.tensor([BOS])
        for tok in tokens:
            log_probs, _, state = self.decode_step(prev, None, Prefix(h))
            total, h, prev = total + log_probs[0, tok].item(), state.h, torch.tensor([tok])
        return total


def exhaustive(model, src, limit, min_len, penalty, alpha):
    """Every sequence search may output, with its penalised score, best first."""
    words = [w for w in range(model.table.size(1)) if w not in (PAD, BOS, EOS)]
    found = []
    for n in range(limit + 1):
        for seq in itertools.product(words, repeat=n):
            seq = list(seq)
            if n < limit and n >= min_len:  # ends on EOS (allowed once min_len tokens are out)
                steps, scored = n + 1, seq + [EOS]
            elif n == limit:  # cut at the length limit
                steps, scored = n, seq
            else:
                continue
            lp = length_penalty(penalty, alpha, torch.tensor(steps)).item()
            found.append((model.log_prob(src, scored) / lp, seq))
    return sorted(found, key=lambda f: -f[0])


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


class Counting:
    """A model wrapper that counts the hypothesis-steps search asks for."""

    def __init__(self, model):
        self.model, self.rows = model, 0

    def encode(self, src, src_len):
        return self.model.encode(src, src_len)

    def decode_step(self, prev, memory, state):
        self.rows += prev.size(0)
        return self.model.decode_step(prev, memory, state)


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


class StepTable:
    """Stub: the log-probabilities of step t are row t of a table (the last row repeats)."""

    def __init__(self, rows):
        self.rows = torch.log_softmax(torch.tensor(rows), -1)  # (T, V)

    def encode(self, src, src_len):
        zero = torch.zeros(src.size(0), dtype=torch.long)
        self.s = src.size(1)
        return Prefix(zero), Prefix(zero)

    def decode_step(self, prev, memory, state):
        log_probs = self.rows[state.h.clamp(max=len(self.rows) - 1)]
        return log_probs, torch.full((prev.size(0), self.s), 1.0 / self.s), Prefix(state.h + 1)


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


def test_search_never_outputs_pad_or_bos():
    #                   PAD  UNK  BOS  EOS   4
    model = StepTable([[9.0, 0.0, 9.0, -1.0, 1.0]])
    src, src_len = source_batch([[4, 3]])
    for hyps in ([[h] for h in greedy(model, src, src_len)], beam_search(model, src, src_len, beam=3, nbest=3)):
        assert all(tok not in (PAD, BOS) for h in hyps[0] for tok in h.tokens)


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


def test_min_len_keeps_eos_away_and_max_len_cuts():
    model = ScriptedModel([[], [4]])
    src, src_len = source_batch([[4, 3], [5, 3]])
    for hyps in (beam_search(model, src, src_len, beam=3, min_len=2), [[h] for h in greedy(model, src, src_len, min_len=2)]):
        assert all(len(h[0].tokens) >= 2 for h in hyps)
    (hyp,) = beam_search(ScriptedModel([[4] * 50]), *source_batch([[5, 3]]), beam=3, max_len_a=1.0, max_len_b=2)[0]
    assert hyp.tokens == [4, 4, 4, 4]


def test_search_dispatches_on_the_beam_size():
    model = small_model()
    src, src_len = source_batch(SRC)
    one = search(model, src, src_len, SearchConfig(beam=1, length_penalty="none"))
    assert [h[0].tokens for h in one] == [h.tokens for h in greedy(model, src, src_len)]
    five = search(model, src, src_len, SearchConfig(beam=5), nbest=2)
    assert all(len(h) == 2 for h in five)
    with pytest.raises(ValueError, match="nbest"):
        beam_search(model, src, src_len, beam=2, nbest=3)
