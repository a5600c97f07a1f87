"""Invariants of the encoder-decoder for every cell type and attention scoring."""

import itertools
import statistics

import pytest
import torch

from s2s.config import DecoderConfig, EncoderConfig, ModelConfig
from s2s.data import collate
from s2s.model import Seq2Seq
from s2s.tokenizer import BOS, PAD

V = 13
# Every cell with every decoder variant: attention scorings with and without input
# feeding, local-p (both centres), coverage, and no attention with each context and each use of it.
VARIANTS = (
    [dict(attention=a, input_feeding=f) for a, f in itertools.product(["additive", "dot", "general"], [True, False])]
    + [dict(attention="general", local_window=2), dict(attention="additive", local_window=1, input_feeding=False),
       dict(attention="additive", coverage=True), dict(attention="additive", coverage=True, input_feeding=False),
       dict(attention="general", local_window=2, local_center="diagonal"),
       dict(attention="dot", local_window=1, local_center="diagonal", input_feeding=False)]
    + [dict(attention="none", input_feeding=False, context=c, context_use=u)
       for c, u in itertools.product(["last", "transformed_last", "transformed_mean"], ["init", "input", "both"])]
)
# The conditional GRU decoder (cgru) attends between its two GRUs: attention without input feeding.
CGRU_VARIANTS = [v for v in VARIANTS if v["attention"] != "none" and v.get("input_feeding") is False]
CGRU_VARIANTS += [dict(attention="general", local_window=2, input_feeding=False)]
CASES = [(cell, variant) for cell in ["rnn", "gru", "lstm"] for variant in VARIANTS]
CASES += [("cgru", variant) for variant in CGRU_VARIANTS]
IDS = ["-".join([cell] + [f"{k}={v}" for k, v in variant.items()]) for cell, variant in CASES]
# Training on the demo takes seconds a case, so it runs once for each decoder variant, the
# three cells taking turns, and once for each cgru variant (28 cases of the grid's 70): each
# variant learns at least once, and each cell with and without attention. The fast invariants
# above still run on the whole grid.
LEARN_CASES = [(("rnn", "gru", "lstm")[i % 3], variant) for i, variant in enumerate(VARIANTS)]
LEARN_CASES += [("cgru", variant) for variant in CGRU_VARIANTS]
LEARN_IDS = ["-".join([cell] + [f"{k}={v}" for k, v in variant.items()]) for cell, variant in LEARN_CASES]


def encoder_cell(cell: str) -> str:
    return "gru" if cell == "cgru" else cell  # cgru is a decoder


def build(cell="gru", attention="additive", input_feeding=True, layers=1, bridge=True, tie=False,
          dropout=0.0, size=12, embed=None, share=False, **decoder):
    torch.manual_seed(0)
    config = ModelConfig(
        embed_dim=embed or size, dropout=dropout, tie_embeddings=tie, share_embeddings=share,
        encoder=EncoderConfig(cell=encoder_cell(cell), hidden_size=size // 2, num_layers=layers, bidirectional=True),
        decoder=DecoderConfig(cell=cell, hidden_size=size, num_layers=layers, attention=attention,
                              input_feeding=input_feeding, bridge=bridge, **decoder))
    return Seq2Seq.from_config(config, V, V).eval()


SRC = [[5, 6, 7, 8, 9, 3], [4, 3], [10, 11, 12, 3]]
TGT = [[7, 8, 9], [4, 5, 6, 7, 8], [9]]


@pytest.mark.parametrize("cell,variant", CASES, ids=IDS)
def test_padded_batch_equals_sentences_alone(cell, variant):
    model = build(cell, layers=2, **variant)
    batch = collate(SRC, TGT)
    logits, weights = model(batch.src, batch.src_len, batch.tgt_in)
    for i in range(len(SRC)):
        one = collate([SRC[i]], [TGT[i]])
        alone, alone_w = model(one.src, one.src_len, one.tgt_in)
        t, s = len(TGT[i]) + 1, len(SRC[i])
        torch.testing.assert_close(logits[i, :t], alone[0], atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(weights[i, :t, :s], alone_w[0], atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("cell,variant", CASES, ids=IDS)
def test_teacher_forced_logits_equal_step_by_step(cell, variant):
    model = build(cell, layers=2, **variant)
    batch = collate(SRC, TGT)
    logits, weights = model(batch.src, batch.src_len, batch.tgt_in)
    memory, state = model.encode(batch.src, batch.src_len)
    for t in range(batch.tgt_in.size(1)):
        log_probs, w, state = model.decode_step(batch.tgt_in[:, t], memory, state)
        real = batch.tgt_in[:, t] != PAD  # teacher forcing skips the steps after a target's end
        torch.testing.assert_close(log_probs[real], torch.log_softmax(logits[real, t], -1), atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(w[real], weights[real, t], atol=1e-5, rtol=1e-4)


def test_stepping_skips_the_steps_after_each_target_ends():
    """With input feeding, targets of different lengths in any order: each sentence's outputs
    are those of its own decoding, and the rows past its end are left at zero."""
    model = build(cell="lstm", layers=2, coverage=True)
    order = [1, 0, 2]  # not sorted by target length
    batch = collate([SRC[i] for i in order], [TGT[i] for i in order])
    vectors, weights = model.decoder(batch.tgt_in, *model.encode(batch.src, batch.src_len))
    for row, i in enumerate(order):
        one = collate([SRC[i]], [TGT[i]])
        alone, alone_w = model.decoder(one.tgt_in, *model.encode(one.src, one.src_len))
        t, s = len(TGT[i]) + 1, len(SRC[i])
        torch.testing.assert_close(vectors[row, :t], alone[0], atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(weights[row, :t, :s], alone_w[0], atol=1e-5, rtol=1e-4)
        assert (vectors[row, t:] == 0).all() and (weights[row, t:] == 0).all()


def test_logits_of_the_targets_alone_are_those_of_their_positions():
    """Given tgt_out, the output layer runs on its non-padding positions only, in its order."""
    model = build()
    batch = collate(SRC, TGT)
    full, weights = model(batch.src, batch.src_len, batch.tgt_in)
    real, real_w = model(batch.src, batch.src_len, batch.tgt_in, batch.tgt_out)
    keep = batch.tgt_out != PAD
    assert real.shape == (sum(len(t) + 1 for t in TGT), V)
    torch.testing.assert_close(real, full[keep])
    torch.testing.assert_close(real_w, weights)


@pytest.mark.parametrize("cell,variant", CASES, ids=IDS)
def test_shapes_and_attention_masking(cell, variant):
    model = build(cell, **variant)
    batch = collate(SRC, TGT)
    logits, weights = model(batch.src, batch.src_len, batch.tgt_in)
    b, s = batch.src.shape
    t = batch.tgt_in.size(1)
    assert logits.shape == (b, t, V) and weights.shape == (b, t, s)
    real = batch.tgt_in != PAD  # (B, T) what a padding position holds means nothing
    if variant["attention"] == "none":
        assert (weights == 0).all()
    elif variant.get("local_window"):  # a Gaussian-weighted window: at most 1
        assert (weights.sum(-1)[real] <= 1 + 1e-6).all() and (weights.sum(-1)[real] > 0).all()
    else:
        torch.testing.assert_close(weights.sum(-1)[real], torch.ones(b, t)[real])
    for i, n in enumerate(batch.src_len.tolist()):
        assert (weights[i, :, n:] == 0).all()


def test_the_context_is_made_and_used_as_configured():
    batch = collate(SRC, TGT)
    for context, use in itertools.product(["last", "transformed_last", "transformed_mean"], ["init", "input", "both"]):
        model = build(attention="none", input_feeding=False, context=context, context_use=use)
        values, final = model.encoder(batch.src, batch.src_len)
        memory, state = model.encode(batch.src, batch.src_len)
        if context == "last":
            torch.testing.assert_close(memory.context, final)
        elif context == "transformed_last":
            torch.testing.assert_close(memory.context, torch.tanh(model.decoder.context_proj(final)))
        else:
            mean = torch.stack([values[i, :n].mean(0) for i, n in enumerate(batch.src_len.tolist())])
            torch.testing.assert_close(memory.context, torch.tanh(model.decoder.context_proj(mean)))
        if use == "input":
            assert (state.hidden == 0).all()
        else:
            torch.testing.assert_close(state.hidden[0], memory.context)
        expected_inputs = 12 + (memory.context.size(1) if use != "init" else 0)
        assert model.decoder.rnn.input_size == expected_inputs


def test_a_cgru_step_is_gru_then_attention_then_gru_on_the_context():
    """cgru (Nematus): GRU1 reads the embedding, attention queries with its output, GRU2
    reads the context from there; GRU2's state is the step's state and goes into the output."""
    model = build("cgru", input_feeding=False, layers=2)
    dec, batch = model.decoder, collate(SRC, TGT)
    memory, state = model.encode(batch.src, batch.src_len)
    prev = batch.tgt_in[:, 0]
    _, weights, after = model.decode_step(prev, memory, state)
    first, first_state = dec.rnn(dec.embed(prev).unsqueeze(1), state.hidden)  # (B, 1, H), (L, B, H)
    context, expected = dec.attention(first, memory.keys, memory.values, memory.mask)  # (B, 1, He), (B, 1, S)
    top = dec.conditional(context[:, 0], first[:, 0])  # (B, H)
    torch.testing.assert_close(weights, expected[:, 0])
    torch.testing.assert_close(after.hidden[-1], top)
    torch.testing.assert_close(after.hidden[:-1], first_state[:-1])  # the lower layer is GRU1's own
    torch.testing.assert_close(after.feed, torch.tanh(dec.combine(torch.cat([top, context[:, 0]], dim=-1))))
    assert not torch.allclose(top, first[:, 0])


def test_coverage_is_the_sum_of_past_attention():
    model = build(attention="additive", coverage=True)
    batch = collate(SRC, TGT)
    memory, state = model.encode(batch.src, batch.src_len)
    total = torch.zeros(batch.src.shape)
    for t in range(batch.tgt_in.size(1)):
        torch.testing.assert_close(state.coverage, total)
        _, weights, state = model.decode_step(batch.tgt_in[:, t], memory, state)
        total = total + weights


def test_bridge_off_starts_from_zeros_and_tied_weights_are_shared():
    batch = collate(SRC, TGT)
    _, state = build(bridge=False).encode(batch.src, batch.src_len)
    assert (state.hidden == 0).all()
    _, state = build(bridge=True).encode(batch.src, batch.src_len)
    assert (state.hidden != 0).any()
    tied = build(tie=True)
    assert tied.output.weight is tied.decoder.embed.weight and tied.bottleneck is None


def count(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())  # a shared tensor counts once


def test_tying_a_wider_decoder_narrows_its_output_and_sharing_joins_both_embeddings():
    H, E = 12, 8
    untied, tied, shared = (build(size=H, embed=E, tie=t, share=s) for t, s in
                            [(False, False), (True, False), (True, True)])
    assert tied.bottleneck.weight.shape == (E, H) and tied.output.weight is tied.decoder.embed.weight
    assert count(untied) - count(tied) == V * H - H * E  # output weights (V, H) gone, (E, H) added
    assert shared.encoder.embed.weight is shared.decoder.embed.weight is shared.output.weight
    assert count(tied) - count(shared) == V * E
    assert untied.bottleneck is None and untied.output.weight is not untied.decoder.embed.weight


def fit(model: torch.nn.Module, batch, steps: int, lr: float) -> list[float]:
    """Adam on one batch; the loss of each step."""
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        logits, _ = model(batch.src, batch.src_len, batch.tgt_in)
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, V), batch.tgt_out.reshape(-1),
                                                 ignore_index=0)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def test_a_tied_and_shared_model_steps_as_it_is_teacher_forced_and_learns():
    model = build(size=16, embed=8, tie=True, share=True).train()
    batch = collate(SRC, TGT)
    assert fit(model, batch, steps=150, lr=0.02)[-1] < 0.05
    model.eval()
    logits, _ = model(batch.src, batch.src_len, batch.tgt_in)
    memory, state = model.encode(batch.src, batch.src_len)
    for t in range(batch.tgt_in.size(1)):
        log_probs, _, state = model.decode_step(batch.tgt_in[:, t], memory, state)
        real = batch.tgt_in[:, t] != PAD
        torch.testing.assert_close(log_probs[real], torch.log_softmax(logits[real, t], -1), atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("cell,variant", CASES, ids=IDS)
def test_tiny_model_overfits_a_handful_of_pairs(cell, variant):
    model = build(cell, dropout=0.0, size=32, **variant).train()
    batch = collate(SRC, TGT)
    losses = fit(model, batch, steps=200, lr=0.01)
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


@pytest.mark.parametrize("cell,variant", LEARN_CASES, ids=LEARN_IDS)
def test_every_variant_learns_the_demo_corpus(cell, variant, demo_corpus, tokenizer):
    """40 Adam steps on 256 demo pairs: the loss falls well below where it started (that
    every variant can fit a few pairs exactly is the test above)."""
    from s2s.data import ParallelData
    from s2s.text import read_parallel

    src, tgt = read_parallel(demo_corpus / "train.src", demo_corpus / "train.tgt")
    data = ParallelData.from_text(src[:256], tgt[:256], tokenizer)
    torch.manual_seed(0)
    config = ModelConfig(embed_dim=32, dropout=0.0,
                         encoder=EncoderConfig(cell=encoder_cell(cell), hidden_size=24, bidirectional=True),
                         decoder=DecoderConfig(cell=cell, hidden_size=48, **variant))
    model = Seq2Seq.from_config(config, tokenizer.src_vocab_size, tokenizer.tgt_vocab_size)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    batches = [data.batch(list(range(i, i + 64))) for i in range(0, 256, 64)]
    losses = []
    for step in range(40):
        batch = batches[step % len(batches)]
        logits, _ = model(batch.src, batch.src_len, batch.tgt_in)
        loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), batch.tgt_out.flatten(), ignore_index=0)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        losses.append(loss.item())
    assert statistics.median(losses[-5:]) < 0.8 * losses[0]  # the median: robust to one spike


def test_stepping_counts_the_target_position_that_the_diagonal_centre_starts_from():
    from s2s.decoder import Decoder, Memory
    torch.manual_seed(0)
    decoder = Decoder(vocab_size=7, embed_dim=4, cell="gru", hidden_size=6, num_layers=1, attention="general",
                      input_feeding=True, bridge=True, memory_size=6, dropout=0.0, window=1, center="diagonal")
    starts, position = [], decoder.attention.position
    decoder.attention.position = lambda query, mask, start=0: starts.append(start) or position(query, mask, start)
    values = torch.randn(2, 5, 6)
    memory = Memory(values, decoder.attention.keys(values), torch.ones(2, 5, dtype=torch.bool))
    state = decoder.init_state(torch.randn(2, 6), memory)
    for _ in range(3):
        _, _, state = decoder.step(torch.tensor([1, 2]), memory, state)
    assert starts == [0, 1, 2] and state.step == 3
    assert state.select(torch.tensor([1])).step == 3 and state.head(1).step == 3
