"""An ensemble of models offers the protocol of one model, with the members' probabilities averaged."""

import pytest
import torch

from s2s.config import DecoderConfig, EncoderConfig, ModelConfig, SearchConfig
from s2s.data import collate
from s2s.ensemble import Ensemble
from s2s.model import Seq2Seq
from s2s.search import search
from s2s.tokenizer import PAD

V = 13
SRC = [[5, 6, 7, 8, 9, 3], [4, 3], [10, 11, 12, 3]]
TGT = [[7, 8, 9], [4, 5, 6, 7, 8], [9]]


def build(seed: int, cell: str = "gru", attention: str = "additive", input_feeding: bool = True,
          size: int = 12) -> Seq2Seq:
    torch.manual_seed(seed)
    config = ModelConfig(embed_dim=size, dropout=0.0,
                         encoder=EncoderConfig(cell="gru" if cell == "cgru" else cell, hidden_size=size // 2),
                         decoder=DecoderConfig(cell=cell, hidden_size=size, attention=attention,
                                               input_feeding=input_feeding))
    return Seq2Seq.from_config(config, V, V).eval()


def mixed() -> Ensemble:
    """Three members of different architectures, one without attention."""
    return Ensemble([build(1), build(2, cell="cgru", input_feeding=False, size=8),
                     build(3, cell="lstm", attention="none", input_feeding=False)]).eval()


def test_each_step_is_the_log_of_the_members_mean_probability():
    ensemble, batch = mixed(), collate(SRC, TGT)
    memory, state = ensemble.encode(batch.src, batch.src_len)
    member_states = [m.encode(batch.src, batch.src_len) for m in ensemble.members]
    for t in range(batch.tgt_in.size(1)):
        prev = batch.tgt_in[:, t]
        log_probs, weights, state = ensemble.decode_step(prev, memory, state)  # (B, V), (B, S)
        found = [m.decode_step(prev, *ms) for m, ms in zip(ensemble.members, member_states)]
        member_states = [(ms[0], f[2]) for ms, f in zip(member_states, found)]
        mean = torch.stack([f[0].exp() for f in found]).mean(0)  # (B, V)
        torch.testing.assert_close(log_probs.exp(), mean)
        torch.testing.assert_close(log_probs.exp().sum(-1), torch.ones(len(SRC)))
        # the attention is that of the members with attention (the third has none)
        torch.testing.assert_close(weights, (found[0][1] + found[1][1]) / 2)


def test_an_ensemble_of_one_model_twice_is_that_model():
    model, batch = build(1), collate(SRC, TGT)
    ensemble = Ensemble([model, model])
    config = SearchConfig(beam=3)
    alone, together = search(model, batch.src, batch.src_len, config, nbest=3), \
        search(ensemble, batch.src, batch.src_len, config, nbest=3)
    for mine, theirs in zip(alone, together):
        assert [h.tokens for h in mine] == [h.tokens for h in theirs]
        assert [h.score for h in mine] == pytest.approx([h.score for h in theirs], abs=1e-5)


def test_teacher_forcing_equals_stepping_so_forced_scores_match_search():
    ensemble, batch = mixed(), collate(SRC, TGT)
    log_probs, weights = ensemble(batch.src, batch.src_len, batch.tgt_in)  # (B, T, V), (B, T, S)
    torch.testing.assert_close(torch.log_softmax(log_probs, -1), log_probs)  # already normalised
    memory, state = ensemble.encode(batch.src, batch.src_len)
    for t in range(batch.tgt_in.size(1)):
        step, w, state = ensemble.decode_step(batch.tgt_in[:, t], memory, state)
        real = batch.tgt_in[:, t] != PAD
        torch.testing.assert_close(step[real], log_probs[real, t], atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(w[real], weights[real, t], atol=1e-5, rtol=1e-4)
    packed, _ = ensemble(batch.src, batch.src_len, batch.tgt_in, batch.tgt_out)  # (N, V) real targets only
    torch.testing.assert_close(packed, log_probs[batch.tgt_out != PAD])


@pytest.mark.parametrize("beam", [1, 4])
def test_a_sentence_gets_the_same_output_alone_and_in_a_batch(beam):
    ensemble, batch = mixed(), collate(SRC, TGT)
    together = search(ensemble, batch.src, batch.src_len, SearchConfig(beam=beam))
    for i, src in enumerate(SRC):
        one = collate([src], [TGT[i]])
        alone = search(ensemble, one.src, one.src_len, SearchConfig(beam=beam))
        assert alone[0][0].tokens == together[i][0].tokens
        assert alone[0][0].score == pytest.approx(together[i][0].score, abs=1e-5)


def test_an_ensemble_needs_two_models_and_knows_whether_it_has_attention():
    with pytest.raises(ValueError, match="at least 2"):
        Ensemble([build(1)])
    assert mixed().has_attention
    blind = build(4, attention="none", input_feeding=False)
    assert not Ensemble([blind, blind]).has_attention
