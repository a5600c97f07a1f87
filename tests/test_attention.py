import pytest
import torch

from s2s.attention import Attention


@pytest.mark.parametrize("kind", ["additive", "dot", "general"])
def test_weights_sum_to_one_and_are_zero_on_padding(kind):
    torch.manual_seed(0)
    attention = Attention(kind=kind, query_size=8, memory_size=8)
    memory = torch.randn(3, 5, 8)  # (B, S, He)
    lengths = torch.tensor([5, 3, 1])
    mask = torch.arange(5)[None, :] < lengths[:, None]
    query = torch.randn(3, 4, 8)  # (B, T, Hq)
    context, weights = attention(query, attention.keys(memory), memory, mask)
    assert context.shape == (3, 4, 8) and weights.shape == (3, 4, 5)
    torch.testing.assert_close(weights.sum(-1), torch.ones(3, 4))
    assert (weights.masked_select(~mask[:, None, :].expand_as(weights)) == 0).all()
    # padding positions never leak into the context, whatever they hold
    memory2 = memory.clone()
    memory2[~mask] = 1e3
    context2, _ = attention(query, attention.keys(memory2), memory2, mask)
    torch.testing.assert_close(context, context2)


def test_dot_attention_matches_hand_computation():
    attention = Attention(kind="dot", query_size=2, memory_size=2)
    memory = torch.tensor([[[1.0, 0.0], [0.0, 1.0]]])
    query = torch.tensor([[[2.0, 0.0]]])
    context, weights = attention(query, attention.keys(memory), memory, torch.ones(1, 2, dtype=torch.bool))
    expected = torch.softmax(torch.tensor([2.0, 0.0]), 0)
    torch.testing.assert_close(weights[0, 0], expected)
    torch.testing.assert_close(context[0, 0], expected)


def test_dot_attention_rejects_unequal_sizes():
    with pytest.raises(ValueError):
        Attention(kind="dot", query_size=4, memory_size=6)
