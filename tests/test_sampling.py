"""Sampling: reproducible from the seed, inside the top-k or nucleus cut, greedy at the limits,
and drawing pieces as often as the model's distribution says."""

from collections import Counter
from dataclasses import dataclass, replace

import pytest
import torch

from s2s.config import SearchConfig
from s2s.data import source_batch
from s2s.sampling import Sampler
from s2s.search import greedy, search
from s2s.tokenizer import EOS

V = 12
PROBS = torch.tensor([0.0, 0.0, 0.0, 0.05, 0.30, 0.20, 0.15, 0.12, 0.08, 0.06, 0.03, 0.01])  # id 3 is EOS


@dataclass(frozen=True)
class Rows:
    step: torch.Tensor

    def select(self, index):
        return Rows(self.step.index_select(0, index))


class FixedModel:
    """Every step, every row: the distribution PROBS over V pieces (EOS 5%)."""

    def encode(self, src, src_len):
        self.width = src.size(1)
        rows = Rows(torch.zeros(src.size(0), dtype=torch.long))
        return rows, rows

    def decode_step(self, prev, memory, state):
        log_probs = PROBS.log().expand(prev.size(0), V).clone()
        return log_probs, torch.full((prev.size(0), self.width), 1 / self.width), Rows(state.step + 1)


SAMPLE = SearchConfig(sample=True, max_len_a=0.0, max_len_b=12)


def draw(sources, config=SAMPLE, nbest=1):
    src, src_len = source_batch(sources)
    return [[h.tokens for h in hyps] for hyps in search(FixedModel(), src, src_len, config, nbest=nbest)]


SOURCES = [[5, 6, 7, EOS], [8, EOS], [5, 6, 7, EOS], [9, 9, 9, 9, 9, EOS]]


def test_the_same_seed_gives_the_same_samples_and_another_seed_others():
    first = draw(SOURCES)
    assert draw(SOURCES) == first
    assert draw(SOURCES, replace(SAMPLE, seed=2)) != first
    assert first[0] == first[2] and first[0] != first[1]  # a line's samples depend on the line, not its row


def test_a_lines_samples_do_not_depend_on_its_batch():
    together = draw(SOURCES, nbest=3)
    alone = [draw([s], nbest=3)[0] for s in SOURCES]
    assert together == alone


def test_nbest_samples_are_distinct_draws_best_first():
    src, src_len = source_batch(SOURCES[:2])
    for hyps in search(FixedModel(), src, src_len, SAMPLE, nbest=5):
        assert len(hyps) == 5 and len({tuple(h.tokens) for h in hyps}) > 1
        assert [h.score for h in hyps] == sorted((h.score for h in hyps), reverse=True)
        for h in hyps:  # the model's own log-probability, whatever reshaped the draw
            expected = PROBS[h.tokens].log().sum() + (PROBS[EOS].log() if len(h.tokens) < 12 else 0)
            assert h.log_prob == pytest.approx(float(expected), abs=1e-4)


def test_top_k_never_picks_outside_the_k_best():
    tokens = [t for hyps in draw(SOURCES * 10, replace(SAMPLE, top_k=3), nbest=4) for h in hyps for t in h]
    assert set(tokens) <= {4, 5, 6} and len(set(tokens)) == 3  # EOS (5%) is not among the 3 best either


def test_top_p_keeps_the_smallest_set_holding_p():
    tokens = [t for hyps in draw(SOURCES * 10, replace(SAMPLE, top_p=0.6), nbest=4) for h in hyps for t in h]
    assert set(tokens) == {4, 5, 6}  # 0.30 + 0.20 < 0.6 <= 0.30 + 0.20 + 0.15


def test_temperature_zero_and_top_k_one_are_greedy():
    src, src_len = source_batch(SOURCES)
    greedy_tokens = [h.tokens for h in greedy(FixedModel(), src, src_len, max_len_a=0.0, max_len_b=12)]
    assert greedy_tokens[0] == [4] * 12
    assert [h[0] for h in draw(SOURCES, replace(SAMPLE, temperature=0.0))] == greedy_tokens
    assert [h[0] for h in draw(SOURCES, replace(SAMPLE, top_k=1))] == greedy_tokens


def test_pieces_are_drawn_as_often_as_their_probability():
    sampler = Sampler(seed=5)
    keys = sampler.keys(torch.tensor([[5, EOS]]), torch.tensor([2]), 20_000)
    drawn = Counter(torch.cat([sampler.draw(PROBS.log().expand(len(keys), V), keys, step) for step in range(5)]).tolist())
    total = sum(drawn.values())
    for piece in range(V):
        expected = float(PROBS[piece])
        assert abs(drawn[piece] / total - expected) < 4 * (expected * (1 - expected) / total) ** 0.5 + 1e-9


def test_a_low_temperature_sharpens_and_a_high_one_flattens():
    keys = Sampler().keys(torch.tensor([[5, EOS]]), torch.tensor([2]), 20_000)
    share = lambda t: float((Sampler(temperature=t).draw(PROBS.log().expand(len(keys), V), keys, 0) == 4)  # noqa: E731
                            .float().mean())
    assert share(0.5) > 0.4 > 0.3 > share(2.0) > 0.15
