"""Greedy search, driven by scripted stub models and by a real (untrained) model."""

from dataclasses import dataclass

import torch

from s2s.config import DecoderConfig, EncoderConfig, ModelConfig
from s2s.data import collate, source_batch
from s2s.model import Seq2Seq
from s2s.search import greedy, max_lengths
from s2s.tokenizer import BOS, EOS

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
