"""IBM Model 1 with a prior on positions that favours the diagonal, and both directions
trained by agreement: word alignments learned from sentence pairs alone.

Model 1 (`s2s.align`) ignores where the words are. `DiagonalModel` is the reparameterised
IBM Model 2 of Dyer et al. (2013), the model of their fast_align: target word j of m aligns
to NULL with probability p0, and to source word i of n with
(1 - p0) * exp(-lambda |j/m - i/n|) / Z, so links near the diagonal are favoured. The
tension lambda is refitted in each EM iteration (Newton steps that match the links'
expected distance from the diagonal), and t(f | e) is estimated by variational Bayes with a
small Dirichlet prior (alpha), which keeps a rare source word from explaining every target
word beside it (the "garbage collector" effect). The prior depends only on (m, n, j, i),
so it is computed once per such cell of the corpus, not per element.

`DiagonalModel.train_jointly` trains the two directions by agreement (Liang et al. 2006):
each link's expected count is the product of the two directions' posteriors, so a link
only one direction believes in loses its weight to NULL. The HMM aligner (s2s.hmm) starts
from these models.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from s2s.align import Model1, Pairs, best_positions, grid

TENSION_RANGE = (0.1, 14.0)  # the diagonal prior's tension is kept in this range (as fast_align does)


@dataclass
class DiagonalModel:
    """Model 1's t(f | e) with a prior on positions that favours the diagonal (Dyer et al. 2013)."""

    lexicon: Model1  # t(f | e), by variational Bayes
    tension: float  # lambda of the prior exp(-lambda |j/m - i/n|)
    null_prob: float  # p0, the prior probability of NULL

    @classmethod
    def train(cls, src: list[list[int]], tgt: list[list[int]], iterations: int = 5, null_prob: float = 0.08,
              tension: float = 4.0, alpha: float = 0.01) -> "DiagonalModel":
        """EM on piece-id sentence pairs (no EOS/BOS), as fast_align's `-d -o -v` trains:
        the tension starts at `tension` and is refitted in every iteration; t(f | e) takes a
        Dirichlet prior `alpha` (0: plain maximum likelihood)."""
        return train_alone(src, tgt, iterations, null_prob, tension, alpha).result()

    @classmethod
    def train_jointly(cls, src: list[list[int]], tgt: list[list[int]], iterations: int = 5, null_prob: float = 0.08,
                      tension: float = 4.0, alpha: float = 0.01) -> tuple["DiagonalModel", "DiagonalModel"]:
        """The source->target and target->source models trained by agreement (Liang et al.
        2006): each trained alone for `iterations` as `train` does, then `iterations` more in
        which both take the product of the two directions' posteriors of a link as its
        expected count, and what that takes away goes to NULL. (Agreement from the start,
        when t(f | e) is still uniform, sends most links far from the diagonal to NULL.)"""
        forward, backward, _ = train_both(src, tgt, iterations, null_prob, tension, alpha)
        return forward.result(), backward.result()

    def align(self, src: list[int], tgt: list[int]) -> list[int]:
        """For each target piece, the source position with the highest prior times t(f | e) (NULL: -1)."""
        if not tgt:
            return []
        m, n = len(tgt), len(src)
        h = _distance(torch.arange(1, m + 1, dtype=torch.float64).unsqueeze(1) / m,
                      torch.arange(1, n + 1, dtype=torch.float64).unsqueeze(0) / n)  # (T, S)
        weight = torch.exp(self.tension * h)
        prior = torch.cat([torch.full((m, 1), self.null_prob, dtype=torch.float64),
                           (1 - self.null_prob) * weight / weight.sum(dim=1, keepdim=True)], dim=1)  # (T, S+1)
        return best_positions(prior * self.lexicon.lexical(src, tgt))


class Training:
    """A diagonal model's state during EM: its pairs, t(f | e) and tension. s2s.hmm starts
    from it, and shares its pairs."""

    def __init__(self, src: list[list[int]], tgt: list[list[int]], tension: float, null_prob: float, alpha: float):
        self.vocab = 1 + max((max(t) for t in tgt if t), default=0)
        self.pairs = Pairs.of(src, tgt, self.vocab)
        self.cells = Cells.of(src, tgt)
        self.prob = torch.ones(len(self.pairs.unique), dtype=torch.float64)
        self.tension, self.null_prob, self.alpha = tension, null_prob, alpha
        self.is_null = self.pairs.unique[self.pairs.inverse] < self.vocab  # (N,)

    def posterior(self) -> torch.Tensor:
        """(N,) each element's posterior: its target piece's link to its source position."""
        p = self.cells.prior(self.tension, self.null_prob) * self.prob[self.pairs.inverse]
        return p / self.pairs.per_target(p)

    def update(self, posterior: torch.Tensor) -> None:
        """The M-step, and the tension refitted, from each element's posterior (N,)."""
        self.tension = self.cells.fit_tension(posterior, self.tension)
        self.prob = lexicon_step(self.pairs, posterior, self.alpha)

    def result(self) -> DiagonalModel:
        return DiagonalModel(Model1(self.pairs.unique, self.prob, self.vocab), self.tension, self.null_prob)


def train_alone(src: list[list[int]], tgt: list[list[int]], iterations: int = 5, null_prob: float = 0.08,
                tension: float = 4.0, alpha: float = 0.01) -> Training:
    """A diagonal model trained by `iterations` of EM, as its state (DiagonalModel.train)."""
    model = Training(src, tgt, tension, null_prob, alpha)
    for _ in range(iterations):
        model.update(model.posterior())
    return model


def train_both(src: list[list[int]], tgt: list[list[int]], iterations: int = 5, null_prob: float = 0.08,
               tension: float = 4.0, alpha: float = 0.01
               ) -> tuple[Training, Training, tuple[torch.Tensor, torch.Tensor]]:
    """Both directions trained alone, then by agreement (DiagonalModel.train_jointly), as their
    states, and where each link of one is among the other's elements (_partners)."""
    forward = train_alone(src, tgt, iterations, null_prob, tension, alpha)
    backward = train_alone(tgt, src, iterations, null_prob, tension, alpha)
    partners = _partners(src, tgt)
    by_agreement(forward, backward, partners, iterations)
    return forward, backward, partners


def lexicon_step(pairs: Pairs, posterior: torch.Tensor, alpha: float) -> torch.Tensor:
    """(U,) t(f | e) from each element's posterior (N,): by variational Bayes with a Dirichlet
    prior alpha, exp(digamma(c + alpha) - digamma(the source's sum of c + alpha)), or (alpha
    0) by maximum likelihood."""
    counts = pairs.counts(posterior, normalised=True)
    if alpha > 0:
        digamma = torch.special.digamma
        return torch.exp(digamma(counts + alpha) - digamma(pairs.per_source(counts + alpha)))
    return counts / pairs.per_source(counts)


def by_agreement(forward, backward, partners: tuple[torch.Tensor, torch.Tensor], iterations: int) -> None:
    """`iterations` of EM for two directions' models in training (a Training of this module
    or of s2s.hmm, for src->tgt and tgt->src; partners from _partners), each E-step's
    posterior of a link replaced by the product of both directions' posteriors (Liang et al.
    2006)."""
    to_backward, to_forward = partners
    for _ in range(iterations):
        p_forward, p_backward = forward.posterior(), backward.posterior()
        forward.update(agreeing(forward, p_forward, p_backward, to_backward))
        backward.update(agreeing(backward, p_backward, p_forward, to_forward))


def agreeing(training, mine: torch.Tensor, theirs: torch.Tensor, partner: torch.Tensor) -> torch.Tensor:
    """(N,) the product of one direction's posterior and the other's for each link (partner:
    the index of the same link among theirs), the rest of each target piece's mass on NULL;
    `training` has the direction's pairs and is_null."""
    linked = torch.where(training.is_null, torch.zeros((), dtype=torch.float64), mine * theirs[partner.clamp(min=0)])
    return torch.where(training.is_null, 1 - training.pairs.per_target(linked), linked)


def _partners(src: list[list[int]], tgt: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    """Where each link (j, i) of the source->target elements is among the target->source ones,
    and the other way round (-1 for NULL elements); the elements as Pairs.of lays them out."""
    n = np.array([len(s) for s in src], dtype=np.int64)
    m = np.array([len(t) for t in tgt], dtype=np.int64)
    forward_start, backward_start = np.cumsum(m * (n + 1)) - m * (n + 1), np.cumsum(n * (m + 1)) - n * (m + 1)
    pair, j, i = grid(n, m)  # forward element (j, i) is link (i - 1, j), in backward's grid at (i - 1, j + 1)
    to_backward = np.where(i > 0, backward_start[pair] + (i - 1) * (m[pair] + 1) + j + 1, -1)
    pair, i, j = grid(m, n)  # backward element (i, j) is link (i, j - 1), in forward's grid at (j - 1, i + 1)
    to_forward = np.where(j > 0, forward_start[pair] + (j - 1) * (n[pair] + 1) + i + 1, -1)
    return torch.from_numpy(to_backward), torch.from_numpy(to_forward)


def _distance(target: torch.Tensor, source: torch.Tensor) -> torch.Tensor:
    """fast_align's feature h = -|j/m - i/n| of relative target and source positions."""
    return -(target - source).abs()


@dataclass
class Cells:
    """The distinct (m, n, j, i) cells of a corpus (target length m, source length n, target
    position j, source position i, 0 = NULL), on which the prior depends, and each element's
    cell. Each (m, n) is laid out as one sentence pair's (m, n + 1) grid of elements."""

    of_element: torch.Tensor  # (N,) each element's cell, elements as Pairs.of lays them out
    distance: torch.Tensor  # (C,) h of each cell; 0 for NULL
    is_null: torch.Tensor  # (C,) bool
    row: torch.Tensor  # (C,) each cell's (m, n, j), numbered

    @classmethod
    def of(cls, src: list[list[int]], tgt: list[list[int]]) -> "Cells":
        offset: dict[tuple[int, int], int] = {}  # (m, n) -> where its grid starts
        parts, size = [], 0
        for s, t in zip(src, tgt):
            if not t:
                continue
            if (len(t), len(s)) not in offset:
                offset[(len(t), len(s))] = size
                size += len(t) * (len(s) + 1)
            start = offset[(len(t), len(s))]
            parts.append(torch.arange(start, start + len(t) * (len(s) + 1)))
        distance, is_null, row, rows = [], [], [], 0
        for m, n in offset:  # in the order of their offsets
            h = _distance(torch.arange(1, m + 1, dtype=torch.float64).unsqueeze(1) / m,
                          torch.arange(1, n + 1, dtype=torch.float64).unsqueeze(0) / n)  # (m, n)
            distance.append(torch.cat([torch.zeros(m, 1, dtype=torch.float64), h], dim=1).flatten())
            is_null.append((torch.arange(n + 1) == 0).repeat(m))
            row.append(torch.arange(rows, rows + m).repeat_interleave(n + 1))
            rows += m
        if not parts:
            return cls(torch.zeros(0, dtype=torch.int64), torch.zeros(0, dtype=torch.float64),
                       torch.zeros(0, dtype=torch.bool), torch.zeros(0, dtype=torch.int64))
        return cls(torch.cat(parts), torch.cat(distance), torch.cat(is_null), torch.cat(row))

    def per_row(self, values: torch.Tensor) -> torch.Tensor:
        """(C,) the sum of values (C,) over each cell's (m, n, j)."""
        total = torch.zeros(int(self.row[-1]) + 1 if len(self.row) else 0, dtype=torch.float64)
        return total.index_add_(0, self.row, values)[self.row]

    def shares(self, tension: float) -> torch.Tensor:
        """(C,) exp(lambda h) / Z over each (m, n, j)'s source positions; 0 for NULL."""
        weight = torch.where(self.is_null, torch.zeros((), dtype=torch.float64), torch.exp(tension * self.distance))
        return weight / self.per_row(weight).clamp(min=1e-300)

    def prior(self, tension: float, null_prob: float) -> torch.Tensor:
        """(N,) the diagonal prior of each element: p0 for NULL, else (1 - p0) exp(lambda h) / Z."""
        cell = torch.where(self.is_null, torch.full((), null_prob, dtype=torch.float64),
                           (1 - null_prob) * self.shares(tension))
        return cell[self.of_element]

    def fit_tension(self, posterior: torch.Tensor, tension: float, steps: int = 8) -> float:
        """The tension whose prior expects the target pieces' non-NULL links as far from the
        diagonal as the posterior (N,) puts them, in Newton steps from `tension`."""
        per_cell = torch.zeros(len(self.distance), dtype=torch.float64).index_add_(0, self.of_element, posterior)
        per_cell = torch.where(self.is_null, torch.zeros((), dtype=torch.float64), per_cell)
        mass = self.per_row(per_cell)  # (C,) the non-NULL posterior mass of each cell's (m, n, j)
        wanted = float((per_cell * self.distance).sum())
        for _ in range(steps):
            share = mass * self.shares(tension)  # (C,)
            mean = self.per_row(share * self.distance) / mass.clamp(min=1e-300)  # (C,) per (m, n, j)
            expected = float((share * self.distance).sum())
            variance = float((share * self.distance * (self.distance - mean)).sum())  # d expected / d tension
            if variance <= 0:
                break
            tension = min(max(tension + (wanted - expected) / variance, TENSION_RANGE[0]), TENSION_RANGE[1])
        return tension
