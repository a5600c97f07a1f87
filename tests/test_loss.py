import pytest
import torch

from s2s.config import DecoderConfig, EncoderConfig, ModelConfig, TrainConfig
from s2s.data import collate
from s2s.errors import UserError
from s2s.loss import batch_loss, sampled_columns
from s2s.model import Seq2Seq
from s2s.padded import COLUMNS
from s2s.tokenizer import PAD

V = 600


def small_model() -> Seq2Seq:
    torch.manual_seed(0)
    config = ModelConfig(embed_dim=8, dropout=0.0, encoder=EncoderConfig(hidden_size=8),
                         decoder=DecoderConfig(hidden_size=12))
    return Seq2Seq.from_config(config, V, V)


def batch():
    return collate([[4, 5, 6], [7, 8], [9, 10, 11, 12]], [[400, 5], [17, 599, 17, 30], [4]])


def test_the_sample_holds_every_target_and_maps_it_to_its_column():
    targets = torch.tensor([400, 5, 3, 17, 599, 17, 30, 3, 4, 3])
    columns, mapped, _ = sampled_columns(targets, V, sample=100)
    assert torch.equal(columns[mapped], targets)
    assert torch.equal(columns, columns.unique())  # sorted, each id once
    assert columns.numel() == COLUMNS  # 8 targets + 100 drawn, rounded up to a multiple
    assert sampled_columns(targets, V, sample=300)[0].numel() == 2 * COLUMNS
    assert torch.equal(sampled_columns(targets, V, sample=10_000)[0], torch.arange(V))  # at most the vocabulary


def test_the_draw_reaches_pieces_that_are_no_target():
    torch.manual_seed(0)
    targets = torch.tensor([4, 5, 6])
    seen = set()
    for _ in range(20):
        seen |= set(sampled_columns(targets, V, sample=50)[0].tolist())
    assert len(seen) > V * 0.9


def test_the_drawn_pieces_estimate_the_mass_of_all_that_are_left_out():
    torch.manual_seed(1)
    logits = 2 * torch.randn(V)  # (V,)
    targets = torch.tensor([4, 5, 6, 4])
    left_out = torch.ones(V, dtype=torch.bool)
    left_out[targets] = False
    true_mass = logits[left_out].exp().sum()
    estimates = []
    for _ in range(2000):
        columns, _, offset = sampled_columns(targets, V, sample=40)
        assert bool((offset[torch.isin(columns, targets)] == 0).all())
        drawn = offset > 0
        estimates.append((logits[columns][drawn] + offset[drawn]).exp().sum())
    assert abs(float(torch.stack(estimates).mean() / true_mass) - 1) < 0.03  # unbiased; uncorrected it is ~0.4


def test_a_sample_of_everything_is_the_full_softmax():
    model, b = small_model(), batch()
    full, _, n = batch_loss(model, b, 0.1)
    sampled, _, m = batch_loss(model, b, 0.1, sample=V)
    assert n == m == int((b.tgt_out != PAD).sum())
    assert torch.allclose(full, sampled, atol=1e-5)


def test_the_sampled_loss_is_the_cross_entropy_over_its_columns_and_leaves_other_rows_alone():
    model, b = small_model(), batch()
    torch.manual_seed(5)
    loss, _, _ = batch_loss(model, b, 0.0, sample=50)
    torch.manual_seed(5)
    targets = b.tgt_out[b.tgt_out != PAD]
    columns, mapped, offset = sampled_columns(targets, V, 50)
    logits, _ = model(b.src, b.src_len, b.tgt_in, b.tgt_out)  # (N, V)
    expected = torch.nn.functional.cross_entropy(logits[:, columns] + offset, mapped, reduction="sum")
    assert torch.allclose(loss, expected, atol=1e-5)
    loss.backward()
    grad = model.output.weight.grad  # (V, H)
    left_out = torch.ones(V, dtype=torch.bool)
    left_out[columns] = False
    assert bool(grad[left_out].eq(0).all()) and bool(grad[columns].abs().sum(1).gt(0).all())


def test_bf16_logits_over_columns_are_the_full_ones_cut():
    model, b = small_model(), batch()
    model.output_bf16 = True
    columns = torch.tensor([0, 3, 17, 400, 599])
    full, _ = model(b.src, b.src_len, b.tgt_in, b.tgt_out)
    cut, _ = model(b.src, b.src_len, b.tgt_in, b.tgt_out, columns)
    assert torch.equal(cut, full[:, columns])


def test_a_negative_sample_size_is_refused():
    with pytest.raises(UserError, match="train.output_sample"):
        TrainConfig(output_sample=-1)
