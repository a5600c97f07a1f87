"""Invariants of the encoder-decoder for every cell type and attention scoring."""

import itertools

import pytest
import torch

from s2s.config import DecoderConfig, EncoderConfig, ModelConfig
from s2s.data import collate
from s2s.model import Seq2Seq
from s2s.tokenizer import BOS

V = 13
CASES = [
    (cell, attention, feeding)
    for cell, attention, feeding in itertools.product(["rnn", "gru", "lstm"],
                                                      ["additive", "dot", "general"], [True, False])
]


def build(cell="gru", attention="additive", input_feeding=True, layers=1, bridge=True, tie=False,
          dropout=0.0, size=12):
    torch.manual_seed(0)
    config = ModelConfig(
        embed_dim=size, dropout=dropout, tie_embeddings=tie,
        encoder=EncoderConfig(cell=cell, hidden_size=size // 2, num_layers=layers, bidirectional=True),
        decoder=DecoderConfig(cell=cell, hidden_size=size, num_layers=layers, attention=attention,
                              input_feeding=input_feeding, bridge=bridge))
    return Seq2Seq.from_config(config, V, V).eval()


SRC = [[5, 6, 7, 8, 9, 3], [4, 3], [10, 11, 12, 3]]
TGT = [[7, 8, 9], [4, 5, 6, 7, 8], [9]]


@pytest.mark.parametrize("cell,attention,feeding", CASES)
def test_padded_batch_equals_sentences_alone(cell, attention, feeding):
    model = build(cell, attention, feeding, layers=2)
    batch = collate(SRC, TGT)
    logits, weights = model(batch.src, batch.src_len, batch.tgt_in)
    for i in range(len(SRC)):
        one = collate([SRC[i]], [TGT[i]])
        alone, alone_w = model(one.src, one.src_len, one.tgt_in)
        t, s = len(TGT[i]) + 1, len(SRC[i])
        torch.testing.assert_close(logits[i, :t], alone[0], atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(weights[i, :t, :s], alone_w[0], atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("cell,attention,feeding", CASES)
def test_teacher_forced_logits_equal_step_by_step(cell, attention, feeding):
    model = build(cell, attention, feeding, layers=2)
    batch = collate(SRC, TGT)
    logits, weights = model(batch.src, batch.src_len, batch.tgt_in)
    memory, state = model.encode(batch.src, batch.src_len)
    for t in range(batch.tgt_in.size(1)):
        log_probs, w, state = model.decode_step(batch.tgt_in[:, t], memory, state)
        torch.testing.assert_close(log_probs, torch.log_softmax(logits[:, t], -1), atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(w, weights[:, t], atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("cell,attention,feeding", CASES)
def test_shapes_and_attention_masking(cell, attention, feeding):
    model = build(cell, attention, feeding)
    batch = collate(SRC, TGT)
    logits, weights = model(batch.src, batch.src_len, batch.tgt_in)
    b, s = batch.src.shape
    t = batch.tgt_in.size(1)
    assert logits.shape == (b, t, V) and weights.shape == (b, t, s)
    torch.testing.assert_close(weights.sum(-1), torch.ones(b, t))
    for i, n in enumerate(batch.src_len.tolist()):
        assert (weights[i, :, n:] == 0).all()


def test_bridge_off_starts_from_zeros_and_tied_weights_are_shared():
    batch = collate(SRC, TGT)
    _, state = build(bridge=False).encode(batch.src, batch.src_len)
    assert (state.hidden == 0).all()
    _, state = build(bridge=True).encode(batch.src, batch.src_len)
    assert (state.hidden != 0).any()
    tied = build(tie=True)
    assert tied.output.weight is tied.decoder.embed.weight


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_tiny_model_overfits_a_handful_of_pairs(cell):
    model = build(cell, dropout=0.0, size=32).train()
    batch = collate(SRC, TGT)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    losses = []
    for _ in range(200):
        logits, _ = model(batch.src, batch.src_len, batch.tgt_in)
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, V), batch.tgt_out.reshape(-1),
                                                 ignore_index=0)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[0] > 2.0 and losses[-1] < 0.05
    model.eval()
    memory, state = model.encode(batch.src, batch.src_len)
    prev = torch.full((3,), BOS)
    for t in range(batch.tgt_out.size(1)):
        log_probs, _, state = model.decode_step(prev, memory, state)
        prev = batch.tgt_in[:, t + 1] if t + 1 < batch.tgt_in.size(1) else prev
        expected = batch.tgt_out[:, t]
        real = expected != 0
        assert (log_probs.argmax(-1)[real] == expected[real]).all()
