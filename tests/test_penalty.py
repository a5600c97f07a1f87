"""Length penalties: the formulas, and the monotonicity beam search's stopping rule needs."""

import pytest
import torch

from s2s.penalty import PENALTIES, length_penalty


def test_formulas_on_hand_computed_values():
    lengths = torch.tensor([1, 4, 10])
    assert length_penalty("none", 1.0, lengths).tolist() == [1.0, 1.0, 1.0]
    assert length_penalty("length", 1.0, lengths).tolist() == [1.0, 4.0, 10.0]
    torch.testing.assert_close(length_penalty("length", 0.5, lengths), torch.tensor([1.0, 2.0, 10 ** 0.5]))
    torch.testing.assert_close(length_penalty("gnmt", 1.0, lengths), torch.tensor([1.0, 1.5, 2.5]))
    torch.testing.assert_close(length_penalty("gnmt", 2.0, torch.tensor([7])), torch.tensor([4.0]))


@pytest.mark.parametrize("kind", PENALTIES)
@pytest.mark.parametrize("alpha", [0.0, 0.6, 1.0, 2.0])
def test_every_penalty_is_at_least_one_and_never_falls_with_length(kind, alpha):
    lp = length_penalty(kind, alpha, torch.arange(1, 300))
    assert bool((lp >= 1).all())
    assert bool((lp[1:] >= lp[:-1]).all())


def test_an_unknown_penalty_is_refused():
    with pytest.raises(ValueError, match="unknown length penalty"):
        length_penalty("avg", 1.0, torch.tensor([3]))
