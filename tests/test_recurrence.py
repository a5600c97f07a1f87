"""The decoder's GRU stepped by hand under teacher forcing (s2s.recurrence) against nn.GRU."""

import gc
import weakref

import pytest
import torch
from torch import nn

from s2s.data import collate
from s2s.decoder import Decoder
from s2s import recurrence
from s2s.recurrence import applies
from tests.test_model import build

# Sentences of different lengths, so that rows leave the batch at different steps.
SRC = [[5, 6, 7, 8, 9, 3], [4, 3], [10, 11, 12, 3], [6, 6, 3]]
TGT = [[7, 8, 9, 10, 11], [4, 5, 6, 7, 8, 9, 10], [9], [12, 4, 5]]
VARIANTS = [dict(attention="additive"), dict(attention="general"), dict(attention="additive", coverage=True),
            dict(attention="general", local_window=2, local_center="diagonal")]


def loss_and_gradients(model: nn.Module, by_hand: bool, monkeypatch) -> tuple[torch.Tensor, dict]:
    monkeypatch.setattr(Decoder, "_by_hand", lambda self, device: by_hand and applies(self.rnn, device))
    model.zero_grad()
    batch = collate(SRC, TGT)
    logits, _ = model(batch.src, batch.src_len, batch.tgt_in, batch.tgt_out)  # (N, V)
    weights = torch.linspace(-1, 1, logits.numel()).view_as(logits)  # a loss that weighs every logit differently
    (logits.log_softmax(-1) * weights).sum().backward()
    return logits.detach(), {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}


@pytest.mark.parametrize("variant", VARIANTS, ids=[str(v) for v in VARIANTS])
def test_by_hand_steps_give_nn_grus_outputs_and_gradients(variant, monkeypatch):
    model = build("gru", input_feeding=True, size=16, **variant).train()  # dropout 0: the same in both
    exact, exact_grads = loss_and_gradients(model, False, monkeypatch)
    fast, fast_grads = loss_and_gradients(model, True, monkeypatch)
    torch.testing.assert_close(fast, exact, rtol=1e-5, atol=1e-5)
    assert fast_grads.keys() == exact_grads.keys()
    assert {name for name in exact_grads if name.startswith("decoder.rnn.")} == {
        "decoder.rnn.weight_ih_l0", "decoder.rnn.weight_hh_l0", "decoder.rnn.bias_ih_l0", "decoder.rnn.bias_hh_l0"}
    for name, grad in exact_grads.items():
        assert grad.abs().sum() > 0, name
        torch.testing.assert_close(fast_grads[name], grad, rtol=1e-4, atol=1e-5, msg=name)


def test_by_hand_steps_run_without_gradients_too(monkeypatch):
    model = build("gru", input_feeding=True, size=16)
    batch = collate(SRC, TGT)
    with torch.no_grad():
        monkeypatch.setattr(Decoder, "_by_hand", lambda self, device: False)
        exact = model(batch.src, batch.src_len, batch.tgt_in, batch.tgt_out)[0]
        monkeypatch.undo()
        fast = model(batch.src, batch.src_len, batch.tgt_in, batch.tgt_out)[0]
    torch.testing.assert_close(fast, exact, rtol=1e-5, atol=1e-5)


def test_only_one_unidirectional_gru_layer_on_a_cpu_is_stepped_by_hand():
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert applies(nn.GRU(6, 4, batch_first=True), cpu)
    assert not applies(nn.GRU(6, 4, batch_first=True), cuda)
    assert not applies(nn.GRU(6, 4, num_layers=2, batch_first=True), cpu)
    assert not applies(nn.GRU(6, 4, bidirectional=True, batch_first=True), cpu)
    assert not applies(nn.LSTM(6, 4, batch_first=True), cpu)
    assert not applies(nn.GRU(6, 4, batch_first=True).to(torch.bfloat16), cpu)
    assert build("gru", input_feeding=True).decoder._by_hand(cpu)
    assert not build("gru", input_feeding=False, coverage=True).decoder._by_hand(cpu)  # the input has no feed
    assert not build("cgru", input_feeding=False).decoder._by_hand(cpu)
    assert not build("lstm", input_feeding=True).decoder._by_hand(cpu)


def test_a_batchs_graph_and_rows_are_freed_after_its_backward(monkeypatch):
    made = []
    original = recurrence.GRURecurrence.__init__

    def init(self, rnn, embedded):
        original(self, rnn, embedded)
        made.append(weakref.ref(self.rows))

    monkeypatch.setattr(recurrence.GRURecurrence, "__init__", init)
    model = build("gru", input_feeding=True, size=16).train()
    for _ in range(3):
        loss_and_gradients(model, True, monkeypatch)  # keeps no reference to the graph
    gc.collect()
    assert len(made) == 3 and all(ref() is None for ref in made)  # a cycle through the graph would keep them
