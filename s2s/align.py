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
"""

from __future__ import annotations

from dataclasses import dataclass

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
        keys, groups = _pair_keys(src, tgt, vocab)
        unique, inverse = torch.unique(keys, return_inverse=True)
        source_of = unique // vocab  # (U,) e' of each pair
        prob = torch.ones(len(unique), dtype=torch.float64)
        for _ in range(iterations):
            p = prob[inverse]  # (N,) t(f_j | e_i) for every (i, j) of every pair
            total = torch.zeros(int(groups[-1]) + 1 if len(groups) else 0, dtype=torch.float64)
            total.index_add_(0, groups, p)  # per target piece: sum over source positions
            counts = torch.zeros(len(unique), dtype=torch.float64).index_add_(0, inverse, p / total[groups])
            per_source = torch.zeros(int(source_of.max()) + 1 if len(unique) else 0, dtype=torch.float64)
            per_source.index_add_(0, source_of, counts)
            prob = counts / per_source[source_of]
        return cls(unique, prob, vocab)

    def align(self, src: list[int], tgt: list[int]) -> list[int]:
        """For each target piece, the source position that explains it best (NULL: -1)."""
        if not tgt:
            return []
        f = torch.tensor(tgt, dtype=torch.int64)  # (T,)
        e = torch.tensor([NULL] + list(src), dtype=torch.int64) + 1  # (S+1,) 0 = NULL
        keys = e.unsqueeze(0) * self.vocab + f.clamp(max=self.vocab - 1).unsqueeze(1)  # (T, S+1)
        where = torch.searchsorted(self.keys, keys).clamp(max=len(self.keys) - 1)
        found = (self.keys[where] == keys) & (f.unsqueeze(1) < self.vocab)
        prob = torch.where(found, self.prob[where], torch.zeros((), dtype=self.prob.dtype))
        best = prob.argmax(dim=1)  # (T,) 0 = NULL
        return [int(i) - 1 if prob[j, i] > 0 else NULL for j, i in enumerate(best.tolist())]


def _pair_keys(src: list[list[int]], tgt: list[list[int]], vocab: int) -> tuple[torch.Tensor, torch.Tensor]:
    """For every sentence pair and every (source position incl. NULL, target position):
    the key (e + 1) * vocab + f, and the index of the target piece it belongs to."""
    keys, groups, group = [], [], 0
    for s, t in zip(src, tgt):
        if not t:
            continue
        e = torch.tensor([NULL] + list(s), dtype=torch.int64) + 1  # (S+1,)
        f = torch.tensor(t, dtype=torch.int64)  # (T,)
        keys.append((e.unsqueeze(0) * vocab + f.unsqueeze(1)).flatten())  # (T * (S+1),)
        groups.append((torch.arange(len(t)) + group).repeat_interleave(len(e)))
        group += len(t)
    if not keys:
        return torch.zeros(0, dtype=torch.int64), torch.zeros(0, dtype=torch.int64)
    return torch.cat(keys), torch.cat(groups)


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
