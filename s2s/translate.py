"""Translating text with a trained checkpoint: raw lines in, detokenized lines out.

Exactly one output line per input line, in order; an empty or blank line gives an empty
line. Lines are encoded and translated a chunk at a time, sorted by length inside the
chunk so that batches hold similar lengths, and put back in input order.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import torch

from s2s import checkpoint
from s2s.config import Config, from_dict
from s2s.data import source_batch
from s2s.model import Seq2Seq
from s2s.search import greedy
from s2s.tokenizer import EOS, Tokenizer, chunks

CHUNK_BATCHES = 50  # batches' worth of lines read, sorted and translated at a time


@dataclass
class Translator:
    """A model and tokenizer ready to translate, with search settings."""

    model: Seq2Seq
    tokenizer: Tokenizer
    device: torch.device
    batch_size: int = 64
    max_len_a: float = 2.0
    max_len_b: int = 10
    config: Config | None = None  # the run's config, when loaded from a checkpoint

    @classmethod
    def load(cls, model_path: str | Path, device: torch.device, **settings) -> "Translator":
        """Loads a checkpoint file or a run directory's best checkpoint."""
        content = checkpoint.load(checkpoint.resolve(model_path), map_location="cpu")
        config = from_dict(content["config"])
        tokenizer = Tokenizer.from_state(content["tokenizer"])
        model = Seq2Seq.from_config(config.model, tokenizer.src_vocab_size, tokenizer.tgt_vocab_size)
        model.load_state_dict(content["model"])
        return cls(model.to(device).eval(), tokenizer, device, config=config, **settings)

    def translate(self, lines: list[str]) -> list[str]:
        """Translates a list of raw lines; blank lines come back empty."""
        out = [""] * len(lines)
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
                hyps = greedy(self.model, src.to(self.device), src_len, max_len_a=self.max_len_a,
                              max_len_b=self.max_len_b)
                texts = self.tokenizer.decode_tgt([h.tokens for h in hyps])
                for k, text in zip(group, texts):
                    out[todo[k]] = text
        finally:
            self.model.train(was_training)
        return out

    def translate_stream(self, lines: Iterable[str]) -> Iterator[str]:
        """Translates a stream chunk by chunk, so memory stays flat on large files."""
        for chunk in chunks(lines, self.batch_size * CHUNK_BATCHES):
            yield from self.translate(chunk)
