"""Encoded examples of the classify and tag tasks, and their token-bucketed batches.

A sentence is encoded into sentencepiece pieces with EOS appended, as a translation
source is. For tagging, each word is encoded on its own (so that no piece spans two words)
and its label is predicted from the encoder state at the word's first piece: `first[i]`
holds those positions, one per word, in order. A word the tokenizer cannot split into any
piece (none does in practice) still gets one, UNK, so that every word has its label.

With a SubwordSampler (`train.subword_alpha`), the training split's words are cut afresh at
the start of every epoch, from the epoch and train.seed (s2s.subwords): epoch_batches draws
the cut, and batch() and counts() then read it. A tag word stays one word, with its first
piece moved to where its new pieces start. data.max_len filtered the best cut; a drawn cut
may be longer.
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass

import numpy as np
import torch

from s2s.data import pad, source_batch, token_batches
from s2s.errors import UserError
from s2s.labels import LabelSet, Labelled
from s2s.subwords import SubwordSampler
from s2s.tokenizer import EOS, UNK, Tokenizer

log = logging.getLogger(__name__)


@dataclass
class LabelBatch:
    """Padded tensors for one batch of labelled sentences."""

    src: torch.Tensor  # (B, S) piece ids + EOS, PAD after
    src_len: torch.Tensor  # (B,) on CPU
    labels: torch.Tensor  # classify (B,); tag (N,): every word's label, sentence by sentence
    first: torch.Tensor | None = None  # tag: (B, W) each word's first piece position, -1 after

    def to(self, device: torch.device) -> "LabelBatch":
        first = None if self.first is None else self.first.to(device)
        return LabelBatch(self.src.to(device), self.src_len, self.labels.to(device), first)


def encode_words(tokenizer: Tokenizer, words: list[str]) -> tuple[list[int], list[int]]:
    """A sentence's pieces (EOS appended) and the position of each word's first piece."""
    pieces, first = [], []
    for ids in tokenizer.encode_src(words) if words else []:
        first.append(len(pieces))
        pieces.extend(ids or [UNK])
    return pieces + [EOS], first


def encode_inputs(task: str, tokenizer: Tokenizer, inputs: list) -> tuple[list[list[int]], list[list[int]] | None]:
    """Pieces (with EOS) of every input, and for tag each word's first-piece position."""
    if task == "classify":
        return [ids + [EOS] for ids in tokenizer.encode_src(inputs)], None
    encoded = [encode_words(tokenizer, words) for words in inputs]
    return [pieces for pieces, _ in encoded], [first for _, first in encoded]


def collate(src: list[list[int]], labels: list[list[int]], first: list[list[int]] | None) -> LabelBatch:
    src_ids, src_len = source_batch(src)
    flat = torch.tensor([y for ys in labels for y in ys], dtype=torch.long)
    return LabelBatch(src_ids, src_len, flat, None if first is None else pad(first, value=-1))


class LabeledData:
    """A split's encoded sentences with their label ids (one per sentence, or per word)."""

    def __init__(self, task: str, src: list[list[int]], labels: list[list[int]],
                 first: list[list[int]] | None):
        self.task, self.src, self.labels, self.first = task, src, labels, first
        self.best_src, self.best_first = src, first  # the tokenizer's best cut, which a sampler redraws
        self.sampler: SubwordSampler | None = None
        self._words: list[list[tuple[int, ...]]] | None = None  # what the sampler cuts afresh

    @classmethod
    def encode(cls, task: str, examples: Labelled, tokenizer: Tokenizer, label_set: LabelSet,
               max_len: int | None = None) -> "LabeledData":
        """Encodes a split; with max_len, drops (and logs) empty sentences and longer ones."""
        src, first = encode_inputs(task, tokenizer, examples.inputs)
        labels = [label_set.ids([y] if task == "classify" else y) for y in examples.labels]
        unknown = sum(y < 0 for ys in labels for y in ys)
        if unknown:
            log.warning("%s: %d label(s) the training data does not have; they count as errors",
                        examples.name, unknown)
        data = cls(task, src, labels, first)
        if max_len is None:
            return data
        keep = [i for i in range(len(src)) if 0 < len(src[i]) - 1 <= max_len]
        log.info("%s: %d examples, %d dropped (empty or over %d pieces)", examples.name, len(src),
                 len(src) - len(keep), max_len)
        if not keep:
            raise UserError(f"{examples.name}: no example is within data.max_len={max_len} pieces")
        return data.subset(keep)

    def subset(self, keep: list[int]) -> "LabeledData":
        first = None if self.first is None else [self.first[i] for i in keep]
        return LabeledData(self.task, [self.src[i] for i in keep], [self.labels[i] for i in keep], first)

    def __len__(self) -> int:
        return len(self.src)

    def batch(self, indices: list[int]) -> LabelBatch:
        first = None if self.first is None else [self.first[i] for i in indices]
        return collate([self.src[i] for i in indices], [self.labels[i] for i in indices], first)

    def counts(self, indices: list[int]) -> tuple[int, int]:
        """(tokens, targets) of a batch: source pieces (EOS not counted) and labels."""
        return sum(len(self.src[i]) - 1 for i in indices), sum(len(self.labels[i]) for i in indices)

    def epoch_batches(self, batch_tokens: int, seed: int, epoch: int) -> list[np.ndarray]:
        """One epoch's batches, the same for the same (seed, epoch); with a sampler, of the
        epoch's own segmentations, which batch() then reads."""
        if self.sampler is not None:
            self._resegment(np.random.default_rng([seed % 2**64, epoch]))
        lengths = [len(s) for s in self.src]
        return token_batches(lengths, lengths, batch_tokens, seed, epoch)

    def _resegment(self, rng: np.random.Generator) -> None:
        if self._words is None:  # each sentence's words, as the tokenizer's best pieces
            if self.best_first is None:
                self._words = [self.sampler.words(ids[:-1]) for ids in self.best_src]
            else:
                self._words = [[tuple(ids[a:b]) for a, b in zip(starts, starts[1:] + [len(ids) - 1])]
                               for ids, starts in zip(self.best_src, self.best_first)]
        drawn = [self.sampler.draw_all(words, rng) for words in self._words]
        self.src = [[piece for word in words for piece in word] + [EOS] for words in drawn]
        if self.best_first is not None:
            self.first = [_word_starts(words) for words in drawn]


def _word_starts(words: list[tuple[int, ...]]) -> list[int]:
    """The position of each word's first piece in the words' pieces, concatenated."""
    return list(itertools.accumulate((len(word) for word in words[:-1]), initial=0)) if words else []
