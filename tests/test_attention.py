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


def test_coverage_needs_additive_scoring():
    with pytest.raises(ValueError):
        Attention(kind="general", query_size=4, memory_size=4, coverage=True)


def test_local_p_matches_hand_computation():
    """W_p = 0 puts p at the middle of each sentence: (len - 1) * sigmoid(0) = (len - 1) / 2.
    With D = 1 the window is [p - 1, p + 1]; softmax there, times exp(-(s - p)^2 / (2 * 0.5^2))."""
    attention = Attention(kind="dot", query_size=1, memory_size=1, window=1)
    torch.nn.init.zeros_(attention.position_proj.weight)
    memory = torch.tensor([[[0.0], [1.0], [2.0], [3.0], [4.0]], [[1.0], [1.0], [1.0], [0.0], [0.0]]])
    mask = torch.tensor([[True] * 5, [True, True, True, False, False]])  # lengths 5 and 3
    query = torch.tensor([[[1.0]], [[1.0]]])
    torch.testing.assert_close(attention.position(query, mask), torch.tensor([[2.0], [1.0]]))
    context, weights = attention(query, attention.keys(memory), memory, mask)
    # sentence 1: p = 2, positions 1, 2, 3 (scores 1, 2, 3), Gaussian 1 at 2 and e^-2 at 1 and 3
    soft = torch.softmax(torch.tensor([1.0, 2.0, 3.0]), 0)
    g = torch.exp(torch.tensor(-2.0))
    expected = torch.tensor([0.0, soft[0] * g, soft[1], soft[2] * g, 0.0])
    torch.testing.assert_close(weights[0, 0], expected)
    torch.testing.assert_close(context[0, 0], (expected * torch.arange(5.0)).sum().view(1))
    # sentence 2: p = 1, positions 0, 1, 2 with equal scores; padding stays 0
    torch.testing.assert_close(weights[1, 0], torch.tensor([g / 3, 1 / 3, g / 3, 0.0, 0.0]))


def test_the_diagonal_centre_is_the_target_position_plus_a_predicted_offset():
    """p = clamp(t + v_p . tanh(W_p q), 0, len - 1), t counted from `start`."""
    attention = Attention(kind="dot", query_size=1, memory_size=1, window=1, center="diagonal")
    mask = torch.tensor([[True] * 5, [True, True, True, False, False]])  # lengths 5 and 3
    query = torch.ones(2, 4, 1)  # (B, T = 4, H)
    torch.nn.init.zeros_(attention.position_v.weight)
    diagonal = torch.tensor([[1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 2.0, 2.0]])  # t = 1..4, at most len - 1
    torch.testing.assert_close(attention.position(query, mask, start=1), diagonal)
    torch.nn.init.constant_(attention.position_proj.weight, 100.0)  # tanh(W_p q) = 1
    torch.nn.init.constant_(attention.position_v.weight, -1.5)  # an offset of -1.5 pieces
    torch.testing.assert_close(attention.position(query, mask, start=1),
                               torch.tensor([[0.0, 0.5, 1.5, 2.5], [0.0, 0.5, 1.5, 2.0]]))
    with pytest.raises(ValueError, match="centre"):
        Attention(kind="dot", query_size=1, memory_size=1, window=1, center="middle")


def test_local_p_weights_stay_inside_the_window_and_the_sentence():
    torch.manual_seed(0)
    attention = Attention(kind="general", query_size=6, memory_size=6, window=2)
    memory, query = torch.randn(2, 9, 6), torch.randn(2, 4, 6)
    mask = torch.arange(9)[None, :] < torch.tensor([9, 4])[:, None]
    _, weights = attention(query, attention.keys(memory), memory, mask)
    centre = attention.position(query, mask)  # (B, T)
    distance = (torch.arange(9.0)[None, None, :] - centre[..., None]).abs()
    assert (weights[distance > 2] == 0).all() and (weights[~mask[:, None, :].expand_as(weights)] == 0).all()
    assert (weights.sum(-1) <= 1 + 1e-6).all() and (weights.sum(-1) > 0).all()
    assert (centre[1] <= 3).all() and (centre >= 0).all()


def test_coverage_enters_the_additive_scores_as_hand_computed():
    """scores_s = v . tanh(k_s + W_q q + b + cov_s * w_c): with k = 0, W_q = 0, b = 0, v = 1
    and w_c = 1, a position's score is sum(tanh(cov_s)) over the hidden units."""
    attention = Attention(kind="additive", query_size=2, memory_size=2, coverage=True)
    with torch.no_grad():
        attention.key_proj.weight.zero_()
        attention.query_proj.weight.zero_()
        attention.query_proj.bias.zero_()
        attention.v.weight.fill_(1.0)
        attention.coverage.fill_(1.0)
    memory, query = torch.randn(1, 3, 2), torch.randn(1, 1, 2)
    mask = torch.ones(1, 3, dtype=torch.bool)
    cov = torch.tensor([[0.0, 0.5, 2.0]])
    _, weights = attention(query, attention.keys(memory), memory, mask, cov)
    torch.testing.assert_close(weights[0, 0], torch.softmax(2 * torch.tanh(cov[0]), 0))
    _, none = attention(query, attention.keys(memory), memory, mask, torch.zeros(1, 3))
    torch.testing.assert_close(none[0, 0], torch.full((3,), 1 / 3))
