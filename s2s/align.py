"""Word alignments learned from the training data (IBM Model 1), and how attention agrees.

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

IBM Model 1 with a prior on positions, and both directions trained by agreement, are in
`s2s.diagonal`.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import torch

NULL = -1  # the NULL word's id, and "unaligned" in alignments


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
        pairs = Pairs.of(src, tgt, vocab)
        prob = torch.ones(len(pairs.unique), dtype=torch.float64)
        for _ in range(iterations):
            counts = pairs.counts(prob[pairs.inverse])
            prob = counts / pairs.per_source(counts)
        return cls(pairs.unique, prob, vocab)

    def prob_of(self, keys: torch.Tensor) -> torch.Tensor:
        """t(f | e) of (e + 1) * vocab + f keys of any shape; 0 for a pair never seen together."""
        if not len(self.keys):
            return torch.zeros(keys.shape, dtype=self.prob.dtype)
        where = torch.searchsorted(self.keys, keys).clamp(max=len(self.keys) - 1)
        return torch.where(self.keys[where] == keys, self.prob[where], torch.zeros((), dtype=self.prob.dtype))

    def lexical(self, src: list[int], tgt: list[int]) -> torch.Tensor:
        """(T, S + 1) t(f_j | e_i) for every target piece and source position, column 0 NULL;
        0 for a pair never seen together, or a target id past the vocabulary."""
        f = torch.tensor(tgt, dtype=torch.int64)  # (T,)
        e = torch.tensor([NULL] + list(src), dtype=torch.int64) + 1  # (S+1,) 0 = NULL
        keys = e.unsqueeze(0) * self.vocab + f.clamp(max=self.vocab - 1).unsqueeze(1)  # (T, S+1)
        return torch.where(f.unsqueeze(1) < self.vocab, self.prob_of(keys), torch.zeros((), dtype=self.prob.dtype))

    def align(self, src: list[int], tgt: list[int]) -> list[int]:
        """For each target piece, the source position that explains it best (NULL: -1)."""
        return best_positions(self.lexical(src, tgt)) if tgt else []


def best_positions(prob: torch.Tensor) -> list[int]:
    """The best column of each row of (T, S + 1) scores, column 0 NULL, as a source
    position (-1 where NULL is best or nothing scores)."""
    best = prob.argmax(dim=1)  # (T,) 0 = NULL
    return [int(i) - 1 if prob[j, i] > 0 else NULL for j, i in enumerate(best.tolist())]


@dataclass
class Pairs:
    """Every (target position, source position incl. NULL) of every sentence pair, laid out
    pair by pair as a (T, S + 1) grid (column 0: NULL; pairs with no target piece left out),
    as the index of its (e, f) pair among the corpus's unique ones and of its target piece."""

    unique: torch.Tensor  # (U,) sorted keys (e + 1) * vocab + f
    inverse: torch.Tensor  # (N,) each element's index into unique
    groups: torch.Tensor  # (N,) each element's target piece, numbered over the corpus
    vocab: int

    @classmethod
    def of(cls, src: list[list[int]], tgt: list[list[int]], vocab: int) -> "Pairs":
        pair, j, i = grid([len(s) for s in src], [len(t) for t in tgt])  # (N,) each
        if not len(pair):
            empty = torch.zeros(0, dtype=torch.int64)
            return cls(empty, empty, empty, vocab)
        src_flat, src_start = _flat(src)
        tgt_flat, tgt_start = _flat(tgt)
        word = tgt_start[pair] + j  # (N,) the target piece, numbered over the corpus
        source = np.where(i > 0, src_flat[np.maximum(src_start[pair] + i - 1, 0)] + 1, 0) if len(src_flat) else 0 * i
        unique, inverse = torch.unique(torch.from_numpy(source * vocab + tgt_flat[word]), return_inverse=True)
        return cls(unique, inverse, torch.from_numpy(word), vocab)

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


def grid(src_lengths: list[int], tgt_lengths: list[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The elements of sentence pairs of these lengths, pair by pair, each pair's as a (T, S + 1)
    grid in row-major order (pairs with T = 0 have none): each element's pair, target
    position j and source position i (0 = NULL), as int64 arrays."""
    n, m = np.asarray(src_lengths, dtype=np.int64), np.asarray(tgt_lengths, dtype=np.int64)
    size = m * (n + 1)
    pair = np.repeat(np.arange(len(size), dtype=np.int64), size)
    within = np.arange(int(size.sum()), dtype=np.int64) - (np.cumsum(size) - size)[pair]
    width = n[pair] + 1
    return pair, within // width, within % width


def _flat(sentences: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    """All ids of the sentences in one array, and where each sentence starts in it."""
    lengths = np.fromiter((len(x) for x in sentences), dtype=np.int64, count=len(sentences))
    flat = np.fromiter(itertools.chain.from_iterable(sentences), dtype=np.int64, count=int(lengths.sum()))
    return flat, np.cumsum(lengths) - lengths


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
