"""Translating text with a trained checkpoint: raw lines in, detokenized lines out.

Exactly one translation (or n-best list) per input line, in order; an empty or blank line
gives an empty translation, and no translation contains a line break. Lines are encoded
and translated a chunk at a time, sorted by length inside the chunk so that batches hold
similar lengths, and put back in input order. A line longer than the model's limit is
split into parts (`s2s.segment`) whose translations are joined.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
import logging
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import torch

from s2s import checkpoint
from s2s.config import Config, SearchConfig, from_dict
from s2s.data import collate, source_batch
from s2s.model import Seq2Seq
from s2s.errors import UserError
from s2s.penalty import length_penalty
from s2s.quantize import quantize as quantize_model
from s2s.search import Hypothesis, search
from s2s.segment import split_line
from s2s.tokenizer import EOS, Tokenizer, chunks

log = logging.getLogger(__name__)

CHUNK_BATCHES = 50  # batches' worth of lines read, sorted and translated at a time
LINE_BREAKS = re.compile(r"[\n\r\v\f\x1c-\x1e\x85\u2028\u2029]")  # what str.splitlines splits on


@dataclass(frozen=True)
class Translation:
    """One translation of a line: detokenized text, its search score and hypothesis."""

    text: str
    score: float  # log-probability / length penalty (summed over parts); 0 for a blank line
    hypothesis: Hypothesis | None  # None for a blank line or one translated in parts
    src_ids: list[int] | None = None  # the source pieces translated (EOS last), with a hypothesis


@dataclass
class Translator:
    """A model and tokenizer ready to translate, with search settings."""

    model: Seq2Seq
    tokenizer: Tokenizer
    device: torch.device
    batch_size: int = 64
    search: SearchConfig = field(default_factory=SearchConfig)
    max_src_len: int = 0  # source pieces per part: longer lines are split (0 = never split)
    config: Config | None = None  # the run's config, when loaded from a checkpoint

    @classmethod
    def load(cls, model_path: str | Path, device: torch.device, quantize: str | None = None,
             **settings) -> "Translator":
        """Loads a checkpoint file or a run directory's best checkpoint (`quantize`="int8":
        with int8 weights, for the CPU).

        Search settings default to the run's `search` section and the split limit to its
        `data.max_len` (the longest sentences it was trained on); `settings` override them.
        """
        path = checkpoint.resolve(model_path)
        content = checkpoint.load(path, map_location="cpu", require=("config", "tokenizer", "model"))
        try:
            config = from_dict(content["config"])
            tokenizer = Tokenizer.from_state(content["tokenizer"])
            model = Seq2Seq.from_config(config.model, tokenizer.src_vocab_size, tokenizer.tgt_vocab_size)
            model.load_state_dict(content["model"])
        except (UserError, RuntimeError, ValueError, TypeError, KeyError) as e:
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise UserError(f"{path}: the checkpoint's parts do not fit together: {first}") from None
        settings.setdefault("search", config.search)
        settings.setdefault("max_src_len", config.data.max_len)
        model = model.to(device).eval()
        if quantize is not None:
            model = quantize_model(model, quantize, device)
        return cls(model, tokenizer, device, config=config, **settings)

    def translate(self, lines: list[str]) -> list[str]:
        """Translates a list of raw lines (1-best); blank lines come back empty."""
        return [best[0].text for best in self.nbest(lines, 1)]

    def nbest(self, lines: list[str], n: int, first_line: int = 1) -> list[list[Translation]]:
        """The n best translations of each line, best first (fewer where fewer exist).

        A line split into parts gets one translation: its parts' best ones joined. Lines
        are numbered from `first_line` in what is logged about them.
        """
        out: list[list[Translation]] = [[Translation("", 0.0, None)] for _ in lines]
        todo = [i for i, line in enumerate(lines) if line.strip()]
        if not todo:
            return out
        ids = [s + [EOS] for s in self.tokenizer.encode_src([lines[i] for i in todo])]
        units: list[list[int]] = []  # what search translates: whole lines, or parts of long ones
        spans: list[range] = []  # the units of each line in `todo`
        for i, seq in zip(todo, ids):
            if self.max_src_len and len(seq) - 1 > self.max_src_len:
                parts = self._split(lines[i], len(seq) - 1, first_line + i)
                seqs = [p + [EOS] for p in self.tokenizer.encode_src(parts)]
            else:
                seqs = [seq]
            spans.append(range(len(units), len(units) + len(seqs)))
            units += seqs
        found = self._search(units, n)
        for i, span in zip(todo, spans):
            if len(span) == 1:
                out[i] = found[span[0]]
            else:  # one translation: the parts' best ones, joined
                parts = [found[u][0] for u in span]
                out[i] = [Translation(" ".join(p.text for p in parts if p.text), sum(p.score for p in parts), None)]
        return out

    def _split(self, line: str, length: int, number: int) -> list[str]:
        count = lambda text: len(self.tokenizer.encode_src([text])[0])  # noqa: E731
        parts = split_line(line, count, self.max_src_len)
        log.warning("line %d: %d source pieces is more than the model's limit of %d; translated "
                    "in %d parts, joined", number, length, self.max_src_len, len(parts))
        return parts

    def _search(self, units: list[list[int]], n: int) -> list[list[Translation]]:
        """n-best lists for encoded sources (EOS included), batched by similar length."""
        order = sorted(range(len(units)), key=lambda u: -len(units[u]))
        found: list[list[Translation]] = [[] for _ in units]
        was_training = self.model.training
        self.model.eval()
        try:
            for start in range(0, len(order), self.batch_size):
                group = order[start:start + self.batch_size]
                src, src_len = source_batch([units[u] for u in group])
                results = search(self.model, src.to(self.device), src_len, self.search, nbest=n)
                texts = iter(self.tokenizer.decode_tgt([h.tokens for hyps in results for h in hyps]))
                for u, hyps in zip(group, results):  # one decode call per batch: it has a fixed cost
                    found[u] = [Translation(LINE_BREAKS.sub(" ", next(texts)), h.score, h, units[u])
                                for h in hyps]
        finally:
            self.model.train(was_training)
        return found

    @torch.no_grad()
    def force(self, line: str, reference: str) -> Translation:
        """The model's score and attention for a given translation of a line (forced decoding)."""
        src = self.tokenizer.encode_src([line])[0] + [EOS]
        tgt = self.tokenizer.encode_tgt([reference])[0]
        batch = collate([src], [tgt]).to(self.device)
        was_training = self.model.training
        self.model.eval()
        try:
            logits, weights = self.model(batch.src, batch.src_len, batch.tgt_in)  # (1, T, V), (1, T, S)
        finally:
            self.model.train(was_training)
        log_probs = torch.log_softmax(logits[0].float(), dim=-1)
        log_prob = float(log_probs.gather(1, batch.tgt_out[0].unsqueeze(1)).sum())
        steps = len(tgt) + 1
        lp = float(length_penalty(self.search.length_penalty, self.search.alpha, torch.tensor(steps)))
        hyp = Hypothesis(tgt, log_prob / lp, log_prob, weights[0].float().cpu())
        return Translation(reference, hyp.score, hyp, src)

    def stream(self, lines: Iterable[str], n: int = 1) -> Iterator[list[Translation]]:
        """n-best lists for a stream, chunk by chunk, so memory stays flat on large files."""
        done = 0
        for chunk in chunks(lines, self.batch_size * CHUNK_BATCHES):
            yield from self.nbest(chunk, n, first_line=done + 1)
            done += len(chunk)

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
