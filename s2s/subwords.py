"""Subword regularisation (Kudo 2018): training sees a word cut into pieces in more than one way.

The unigram tokenizer gives every segmentation x of a word a log-probability log P(x). With
`train.subword_alpha: a`, each epoch draws each training word's pieces afresh from its NBEST
best segmentations with probability proportional to P(x) ** a (a = 1: the tokenizer's own
distribution; smaller a: flatter, more often cut into short pieces), as sentencepiece's own
sampling does over the whole lattice. Validation, prediction and translation keep the single
best segmentation.

Pieces never cross a space, so a sentence's segmentations are those of its words, drawn
independently: a word is a run of pieces that starts with a piece beginning "▁", or for
tagging one word as s2s.labeled encodes it. Each word's choices are computed once (from the
decoded word) and cached. A word whose pieces hold the unknown piece, or whose best
segmentation is not the pieces it came with, is left as it is. Draws come from a numpy
generator that the caller seeds (s2s.labeled: train.seed and the epoch), so a resumed run draws
what the uninterrupted one did.

sentencepiece's own sampler (`enable_sampling`) is not used: its generator is seeded once
per thread and cannot be reseeded, so a resumed run could not draw the same pieces, and it
would search each sentence's lattice at every epoch where a word's choices can be kept.
"""

from __future__ import annotations

import bisect

import numpy as np
import sentencepiece as spm

from s2s.tokenizer import UNK

NBEST = 64  # segmentations considered per word
MIN_PROBABILITY = 1e-6  # rarer segmentations are dropped (under one draw in a million)


class SubwordSampler:
    """Draws segmentations of words given as their best pieces."""

    def __init__(self, processor: spm.SentencePieceProcessor, alpha: float):
        if alpha <= 0:
            raise ValueError("alpha must be positive")
        self.processor, self.alpha = processor, alpha
        self.starts_word = [processor.id_to_piece(i).startswith("▁") for i in range(processor.get_piece_size())]
        self._choices: dict[tuple[int, ...], tuple[list[tuple[int, ...]], list[float]] | None] = {}

    def _segmentations(self, word: tuple[int, ...]) -> tuple[list[tuple[int, ...]], list[float]] | None:
        """The segmentations of a word and their cumulative probabilities (None: kept as is)."""
        if UNK in word:
            return None
        text = self.processor.decode(list(word))
        nbests = self.processor.nbest_encode(text, nbest_size=NBEST, return_type="proto").nbests
        if not nbests or tuple(p.id for p in nbests[0].pieces) != word:
            return None
        scores = self.alpha * np.array([n.score for n in nbests], dtype=np.float64)
        probs = np.exp(scores - scores.max())
        probs /= probs.sum()
        keep = probs >= MIN_PROBABILITY
        segmentations = [tuple(p.id for p in n.pieces) for n, k in zip(nbests, keep) if k]
        if len(segmentations) == 1:
            return None
        cumulative = np.cumsum(probs[keep])
        return segmentations, (cumulative / cumulative[-1]).tolist()

    def draw(self, word: tuple[int, ...], u: float) -> tuple[int, ...]:
        """The segmentation of one word that u, uniform in [0, 1), picks (the word as given, if
        it has no other)."""
        if word not in self._choices:
            self._choices[word] = self._segmentations(word)
        found = self._choices[word]
        if found is None:
            return word
        segmentations, cumulative = found
        return segmentations[bisect.bisect_right(cumulative, u)]

    def draw_all(self, words: list[tuple[int, ...]], rng: np.random.Generator) -> list[tuple[int, ...]]:
        """A segmentation of each word, drawn independently."""
        return [self.draw(word, u) for word, u in zip(words, rng.random(len(words)).tolist())]

    def words(self, ids: list[int]) -> list[tuple[int, ...]]:
        """A sentence's pieces (no EOS) cut into words: each starts at a piece beginning "▁"."""
        cuts = [i for i in range(1, len(ids)) if self.starts_word[ids[i]]]
        return [tuple(ids[a:b]) for a, b in zip([0] + cuts, cuts + [len(ids)])] if ids else []
