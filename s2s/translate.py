"""Translating text with a trained checkpoint: raw lines in, detokenized lines out.

Exactly one translation (or n-best list) per input line, in order; an empty or blank line
gives an empty translation. Lines are encoded and translated a chunk at a time, sorted by
length inside the chunk so that batches hold similar lengths, and put back in input order.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
import math
from dataclasses import dataclass, field
from pathlib import Path

import torch

from s2s import checkpoint
from s2s.config import Config, SearchConfig, from_dict
from s2s.data import source_batch
from s2s.model import Seq2Seq
from s2s.search import Hypothesis, search
from s2s.tokenizer import EOS, Tokenizer, chunks

CHUNK_BATCHES = 50  # batches' worth of lines read, sorted and translated at a time


@dataclass(frozen=True)
class Translation:
    """One translation of a line: detokenized text, its search score and hypothesis."""

    text: str
    score: float  # log-probability / length penalty; 0 for a blank line's empty translation
    hypothesis: Hypothesis | None  # None for a blank line (the model is not run)


@dataclass
class Translator:
    """A model and tokenizer ready to translate, with search settings."""

    model: Seq2Seq
    tokenizer: Tokenizer
    device: torch.device
    batch_size: int = 64
    search: SearchConfig = field(default_factory=SearchConfig)
    config: Config | None = None  # the run's config, when loaded from a checkpoint

    @classmethod
    def load(cls, model_path: str | Path, device: torch.device, **settings) -> "Translator":
        """Loads a checkpoint file or a run directory's best checkpoint.

        Search settings default to the run's `search` section; `settings` override them.
        """
        content = checkpoint.load(checkpoint.resolve(model_path), map_location="cpu")
        config = from_dict(content["config"])
        tokenizer = Tokenizer.from_state(content["tokenizer"])
        model = Seq2Seq.from_config(config.model, tokenizer.src_vocab_size, tokenizer.tgt_vocab_size)
        model.load_state_dict(content["model"])
        settings.setdefault("search", config.search)
        return cls(model.to(device).eval(), tokenizer, device, config=config, **settings)

    def translate(self, lines: list[str]) -> list[str]:
        """Translates a list of raw lines (1-best); blank lines come back empty."""
        return [best[0].text for best in self.nbest(lines, 1)]

    def nbest(self, lines: list[str], n: int) -> list[list[Translation]]:
        """The n best translations of each line, best first (fewer where fewer exist)."""
        out: list[list[Translation]] = [[Translation("", 0.0, None)] for _ in lines]
        todo = [i for i, line in enumerate(lines) if line.strip()]
        if not todo:
            return out
        ids = [s + [EOS] for s in self.tokenizer.encode_src([lines[i] for i in todo])]
        order = sorted(range(len(todo)), key=lambda k: -len(ids[k]))
        was_training = self.model.training
        self.model.eval()
        try:
            for start in range(0, len(order), self.batch_size):
                group = order[start:start + self.batch_size]
                src, src_len = source_batch([ids[k] for k in group])
                found = search(self.model, src.to(self.device), src_len, self.search, nbest=n)
                for k, hyps in zip(group, found):
                    texts = self.tokenizer.decode_tgt([h.tokens for h in hyps])
                    out[todo[k]] = [Translation(t, h.score, h) for t, h in zip(texts, hyps)]
        finally:
            self.model.train(was_training)
        return out

    def stream(self, lines: Iterable[str], n: int = 1) -> Iterator[list[Translation]]:
        """n-best lists for a stream, chunk by chunk, so memory stays flat on large files."""
        for chunk in chunks(lines, self.batch_size * CHUNK_BATCHES):
            yield from self.nbest(chunk, n)

    def translate_stream(self, lines: Iterable[str]) -> Iterator[str]:
        """1-best texts for a stream."""
        for best in self.stream(lines):
            yield best[0].text


def scored_line(translation: Translation) -> str:
    """`score<TAB>text`, the 1-best format of `s2s translate --scores`."""
    return f"{translation.score:.4f}\t{translation.text}"


def nbest_lines(line_number: int, translations: list[Translation], n: int) -> list[str]:
    """Exactly n lines `line<TAB>rank<TAB>score<TAB>text` for one input line (1-based numbers).

    Ranks that have no hypothesis (a blank line has only the empty one; a tiny vocabulary
    may allow fewer than n) are printed with score -inf and empty text.
    """
    out = [f"{line_number}\t{rank}\t{t.score:.4f}\t{t.text}" for rank, t in enumerate(translations[:n], 1)]
    out += [f"{line_number}\t{rank}\t{-math.inf}\t" for rank in range(len(out) + 1, n + 1)]
    return out
