"""Search (s2s.search): greedy decoding, the limits both searches keep, and the dispatch on the
beam size; driven by scripted stub models and by a small real (untrained) model."""

import pytest
import torch

from s2s.config import SearchConfig
from s2s.data import collate, source_batch
from s2s.search import beam_search, greedy, max_lengths, search
from s2s.tokenizer import BOS, PAD

from tests.searchmodels import SRC, ScriptedModel, StepTable, small_model


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


def test_search_never_outputs_pad_or_bos():
    #                   PAD  UNK  BOS  EOS   4
    model = StepTable([[9.0, 0.0, 9.0, -1.0, 1.0]])
    src, src_len = source_batch([[4, 3]])
    for hyps in ([[h] for h in greedy(model, src, src_len)], beam_search(model, src, src_len, beam=3, nbest=3)):
        assert all(tok not in (PAD, BOS) for h in hyps[0] for tok in h.tokens)


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
