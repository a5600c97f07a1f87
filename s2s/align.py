"""Word alignments learned from the training data (IBM Model 1, and Model 1 with a
diagonal prior), and how attention agrees.

Attention weighs every source piece; nothing makes the piece a target piece translates
weigh most. Guided alignment (train.guided_alignment) adds a loss that pulls each target
piece's attention to the source piece it aligns to; the alignments come from here.

IBM Model 1 (Brown et al. 1993) explains each target piece f_j by one source piece e_i
(or NULL) with probability t(f | e), trained by expectation-maximisation on the sentence
pairs. Only the (e, f) pairs that co-occur in a sentence pair are stored, so memory grows
with the corpus, not with the square of the vocabulary; each EM iteration is a few
vectorised gathers and scatters over all of them. The alignment of f_j is the source
position with the largest t(f_j | e_i); a piece whose best explanation is NULL stays
unaligned (-1).

Model 1 ignores where the words are. `DiagonalModel` is the reparameterised IBM Model 2 of
Dyer et al. (2013), the model of their fast_align: target word j of m aligns to NULL with
probability p0, and to source word i of n with (1 - p0) * exp(-lambda |j/m - i/n|) / Z, so
links near the diagonal are favoured; the tension lambda is fitted in each EM iteration
(Newton steps matching the links' expected distance from the diagonal), and t(f | e) is
estimated by variational Bayes with a small Dirichlet prior (alpha), which keeps a rare
source word from explaining every target word beside it (the "garbage collector" effect).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

NULL = -1  # the NULL word's id, and "unaligned" in alignments
TENSION_RANGE = (0.1, 14.0)  # the diagonal prior's tension is kept in this range (as fast_align does)


@dataclass
class Model1:
    """t(f | e) over the co-occurring (source e, target f) pairs of a corpus."""

    keys: torch.Tensor  # (U,) sorted int64 keys e' * vocab + f, e' = e + 1 (0 is NULL)
    prob: torch.Tensor  # (U,) t(f | e)
    vocab: int  # target id bound used in the keys

    @classmethod
    def train(cls, src: list[list[int]], tgt: list[list[int]], iterations: int = 5) -> "Model1":
        """EM on piece-id sentence pairs (no EOS/BOS); source position 0 is NULL."""
        vocab = 1 + max((max(t) for t in tgt if t), default=0)
        pairs = _Pairs.of(src, tgt, vocab)
        prob = torch.ones(len(pairs.unique), dtype=torch.float64)
        for _ in range(iterations):
            counts = pairs.counts(prob[pairs.inverse])
            prob = counts / pairs.per_source(counts)
        return cls(pairs.unique, prob, vocab)

    def lexical(self, src: list[int], tgt: list[int]) -> torch.Tensor:
        """(T, S + 1) t(f_j | e_i) for every target piece and source position, column 0 NULL;
        0 for a pair never seen together."""
        f = torch.tensor(tgt, dtype=torch.int64)  # (T,)
        e = torch.tensor([NULL] + list(src), dtype=torch.int64) + 1  # (S+1,) 0 = NULL
        keys = e.unsqueeze(0) * self.vocab + f.clamp(max=self.vocab - 1).unsqueeze(1)  # (T, S+1)
        where = torch.searchsorted(self.keys, keys).clamp(max=len(self.keys) - 1)
        found = (self.keys[where] == keys) & (f.unsqueeze(1) < self.vocab)
        return torch.where(found, self.prob[where], torch.zeros((), dtype=self.prob.dtype))

    def align(self, src: list[int], tgt: list[int]) -> list[int]:
        """For each target piece, the source position that explains it best (NULL: -1)."""
        return _best(self.lexical(src, tgt)) if tgt else []


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
        vocab = 1 + max((max(t) for t in tgt if t), default=0)
        pairs = _Pairs.of(src, tgt, vocab, positions=True)
        prob = torch.ones(len(pairs.unique), dtype=torch.float64)
        for _ in range(iterations):
            posterior = pairs.cells.prior(tension, null_prob) * prob[pairs.inverse]  # (N,)
            posterior = posterior / pairs.per_target(posterior)
            tension = pairs.cells.fit_tension(posterior, tension)
            counts = pairs.counts(posterior, normalised=True)
            if alpha > 0:  # exp(digamma(c + alpha) - digamma(sum over the source's row of (c + alpha)))
                prob = torch.exp(torch.special.digamma(counts + alpha) -
                                 torch.special.digamma(pairs.per_source(counts + alpha)))
            else:
                prob = counts / pairs.per_source(counts)
        return cls(Model1(pairs.unique, prob, vocab), tension, null_prob)

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
        return _best(prior * self.lexicon.lexical(src, tgt))


def _best(prob: torch.Tensor) -> list[int]:
    """The best column of each row of (T, S + 1) scores, column 0 NULL, as a source
    position (-1 where NULL is best or nothing scores)."""
    best = prob.argmax(dim=1)  # (T,) 0 = NULL
    return [int(i) - 1 if prob[j, i] > 0 else NULL for j, i in enumerate(best.tolist())]


def _distance(target: torch.Tensor, source: torch.Tensor) -> torch.Tensor:
    """fast_align's feature h = -|j/m - i/n| of relative target and source positions."""
    return -(target - source).abs()


@dataclass
class _Pairs:
    """Every (target position, source position incl. NULL) of every sentence pair, as the
    index of its (e, f) pair among the corpus's unique ones, and of its target piece; with
    positions, also as its cell: (m, n, j, i) of target length m, source length n, target
    position j and source position i (0 = NULL), on which the diagonal prior depends."""

    unique: torch.Tensor  # (U,) sorted keys (e + 1) * vocab + f
    inverse: torch.Tensor  # (N,) each element's index into unique
    groups: torch.Tensor  # (N,) each element's target piece, numbered over the corpus
    vocab: int
    cells: "_Cells | None" = None

    @classmethod
    def of(cls, src: list[list[int]], tgt: list[list[int]], vocab: int, positions: bool = False) -> "_Pairs":
        keys, groups, cells, group = [], [], _Cells(), 0
        for s, t in zip(src, tgt):
            if not t:
                continue
            e = torch.tensor([NULL] + list(s), dtype=torch.int64) + 1  # (S+1,)
            f = torch.tensor(t, dtype=torch.int64)  # (T,)
            keys.append((e.unsqueeze(0) * vocab + f.unsqueeze(1)).flatten())  # (T * (S+1),)
            groups.append((torch.arange(len(t)) + group).repeat_interleave(len(e)))
            group += len(t)
            if positions:
                cells.add(len(t), len(s))
        if not keys:
            empty = torch.zeros(0, dtype=torch.int64)
            return cls(empty, empty, empty, vocab, cells.done() if positions else None)
        unique, inverse = torch.unique(torch.cat(keys), return_inverse=True)
        return cls(unique, inverse, torch.cat(groups), vocab, cells.done() if positions else None)

    def per_target(self, values: torch.Tensor) -> torch.Tensor:
        """(N,) the sum of values over each element's target piece."""
        total = torch.zeros(int(self.groups[-1]) + 1 if len(self.groups) else 0, dtype=torch.float64)
        return total.index_add_(0, self.groups, values)[self.groups]

    def counts(self, p: torch.Tensor, normalised: bool = False) -> torch.Tensor:
        """(U,) expected link counts of each (e, f) pair from the elements' scores p (N,),
        normalised per target piece unless they already are."""
        posterior = p if normalised else p / self.per_target(p)
        return torch.zeros(len(self.unique), dtype=torch.float64).index_add_(0, self.inverse, posterior)

    def per_source(self, values: torch.Tensor) -> torch.Tensor:
        """(U,) the sum of values (U,) over each pair's source piece."""
        source_of = self.unique // self.vocab
        total = torch.zeros(int(source_of.max()) + 1 if len(self.unique) else 0, dtype=torch.float64)
        return total.index_add_(0, source_of, values)[source_of]


class _Cells:
    """The distinct (m, n, j, i) cells of a corpus, each (m, n) laid out as the (m, n + 1)
    grid of one sentence pair's elements, and each element's cell."""

    def __init__(self):
        self.offset: dict[tuple[int, int], int] = {}  # (m, n) -> where its grid starts
        self.parts: list[torch.Tensor] = []  # each pair's elements' cells

    def add(self, m: int, n: int) -> None:
        if (m, n) not in self.offset:
            self.offset[(m, n)] = sum(a * (b + 1) for a, b in self.offset)
        start = self.offset[(m, n)]
        self.parts.append(torch.arange(start, start + m * (n + 1)))

    def done(self) -> "_Cells":
        self.of = torch.cat(self.parts) if self.parts else torch.zeros(0, dtype=torch.int64)  # (N,)
        del self.parts
        distance, is_null, row = [], [], []
        rows = 0
        for m, n in self.offset:  # in the order of their offsets
            h = _distance(torch.arange(1, m + 1, dtype=torch.float64).unsqueeze(1) / m,
                          torch.arange(1, n + 1, dtype=torch.float64).unsqueeze(0) / n)  # (m, n)
            distance.append(torch.cat([torch.zeros(m, 1, dtype=torch.float64), h], dim=1).flatten())
            is_null.append((torch.arange(n + 1) == 0).repeat(m))
            row.append(torch.arange(rows, rows + m).repeat_interleave(n + 1))
            rows += m
        self.distance = torch.cat(distance) if distance else torch.zeros(0, dtype=torch.float64)  # (C,) h
        self.is_null = torch.cat(is_null) if is_null else torch.zeros(0, dtype=torch.bool)  # (C,)
        self.row = torch.cat(row) if row else torch.zeros(0, dtype=torch.int64)  # (C,) its (m, n, j)
        return self

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
        return cell[self.of]

    def fit_tension(self, posterior: torch.Tensor, tension: float, steps: int = 8) -> float:
        """The tension whose prior expects the target pieces' non-NULL links as far from the
        diagonal as the posterior (N,) puts them, in Newton steps from `tension`."""
        per_cell = torch.zeros(len(self.distance), dtype=torch.float64).index_add_(0, self.of, posterior)
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


def learn_links(src: list[str], tgt: list[str], aligner: type = DiagonalModel,
                which: slice = slice(None)) -> tuple[list[set[tuple[int, int]]], list[set[tuple[int, int]]]]:
    """Word links of sentence pairs from an aligner (Model1 or DiagonalModel) trained both ways on
    the pairs themselves, words split at whitespace: the source->target links and the
    target->source ones, both as (source word, target word), of the pairs `which` picks."""
    vocab: dict[str, int] = {}
    src_ids = [[vocab.setdefault(w, len(vocab)) for w in line.split()] for line in src]
    tgt_ids = [[vocab.setdefault(w, len(vocab)) for w in line.split()] for line in tgt]
    forward, backward = aligner.train(src_ids, tgt_ids), aligner.train(tgt_ids, src_ids)
    pairs = list(zip(src_ids[which], tgt_ids[which]))
    return ([{(i, j) for j, i in enumerate(forward.align(s, t)) if i >= 0} for s, t in pairs],
            [{(i, j) for i, j in enumerate(backward.align(t, s)) if j >= 0} for s, t in pairs])


def agreement(attention: torch.Tensor, alignment: torch.Tensor) -> tuple[int, int]:
    """How many aligned target positions have their attention's argmax on the aligned
    source position: (agreeing, aligned) for attention (B, T, S) and alignment (B, T)
    (source positions, -1 where unaligned or padding)."""
    aligned = alignment >= 0
    return int((attention.argmax(dim=-1)[aligned] == alignment[aligned]).sum()), int(aligned.sum())


def guided_loss(attention: torch.Tensor, alignment: torch.Tensor) -> torch.Tensor:
    """The summed negative log attention weight on the aligned source position, over the
    aligned target positions: attention (B, T, S), alignment (B, T), -1 = none."""
    aligned = alignment >= 0
    picked = attention.gather(-1, alignment.clamp(min=0).unsqueeze(-1)).squeeze(-1)  # (B, T)
    return -(torch.log(picked.clamp(min=1e-9)) * aligned).sum()
