"""Translating text with a trained checkpoint: raw lines in, detokenized lines out.

Exactly one translation (or n-best list) per input line, in order; an empty or blank line
gives an empty translation, and no translation contains a line break. Lines are encoded
and translated a chunk at a time, sorted by length inside the chunk so that batches hold
similar lengths, and put back in input order.

A model learns from sentences, so each sentence of a line is translated on its own, and
a sentence longer than what the model was trained on is cut at clauses or words
(`s2s.segment`); the units' translations are joined. A unit whose translation is much
shorter than the training data's length ratio predicts (`s2s.lengths`) is translated
again in two halves; where that does not help, a warning names the line.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
import logging
import re
import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import torch

from s2s import alignment, forced, loader
from s2s.completeness import Completeness
from s2s.config import Config, SearchConfig
from s2s.devices import resolve_device
from s2s.ensemble import Ensemble
from s2s.model import Seq2Seq
from s2s.errors import UserError
from s2s import precision as precisions
from s2s.quantize import quantize as quantize_model
from s2s.result import Attention, Translation, join_nbest
from s2s.lengths import Lengths
from s2s.segment import halves, plan_lines
from s2s.normaliser import fingerprint
from s2s.padded import COLUMNS
from s2s.pool import SearchPool, check_workers, search_batch
from s2s.shortlist import Shortlist, ShortlistModel, path_for
from s2s.tokenizer import EOS, Tokenizer, chunks

log = logging.getLogger(__name__)

CHUNK_BATCHES = 50  # batches' worth of lines read, sorted and translated at a time
RETRIES = 3  # how many times a unit translated too short is cut in two again (into up to 8 parts)
LINE_BREAKS = re.compile(r"[\n\r\v\f\x1c-\x1e\x85\u2028\u2029]")  # what str.splitlines splits on


class Stopped(Exception):
    """Translation stopped because `Translator.stop` said so (its caller has gone)."""


@dataclass
class Translator:
    """A model and tokenizer ready to translate, with search settings."""

    model: Seq2Seq | Ensemble
    tokenizer: Tokenizer
    device: torch.device
    batch_size: int = 64
    search: SearchConfig = field(default_factory=SearchConfig)
    max_src_len: int = 0  # longer sentences are cut into parts; 0 translates lines whole
    config: Config | None = None  # the run's config, when loaded from a checkpoint
    lengths: Lengths | None = None  # of the training pairs: finds translations too short for their source
    src_lang: str = "en"  # the source language, for the sentence splitter
    stop: Callable[[], bool] | None = None  # asked before each batch: True stops translating (Stopped)
    shortlist_path: Path | None = None  # where the model's shortlist is (None for an ensemble)
    shortlist: Shortlist | None = None  # loaded once search.shortlist asks for it
    shortlisted: ShortlistModel | None = field(default=None, repr=False)  # the model over it, made once
    output_layer: str | None = None  # s2s.normaliser.fingerprint of the fp32 output layer (None for an ensemble)
    precision: str = "fp32"  # what the model computes in: fp32 or bf16 (s2s.precision)
    workers: int = 1  # processes searching batches side by side, on a CPU (s2s.pool)
    pool: SearchPool | None = field(default=None, repr=False)  # those processes, forked at first use

    @classmethod
    def load(cls, model_path: str | Path | list[str | Path], device: str | torch.device = "auto",
             quantize: str | None = None, precision: str = "auto", **settings) -> "Translator":
        """Loads a checkpoint file or a run directory's best checkpoint onto `device` ("auto":
        a CUDA GPU when there is one; `quantize`="int8": with int8 weights, for the CPU;
        `precision`: "fp32", "bf16", or "auto", bf16 on a CPU that multiplies it in hardware).
        A list of several loads them as an ensemble (s2s.ensemble), which needs models that
        share the tokenizer; the first one's config gives the settings.

        Search settings default to the run's `search` section and the longest sentence
        translated whole to the longest training sentence (`s2s.lengths`; `data.max_len` for
        checkpoints older than that record; for an ensemble the shortest of its members');
        `settings` override them.
        """
        config, tokenizer, model, lengths, src_max = loader.load(model_path)
        settings.setdefault("search", config.search)
        settings.setdefault("max_src_len", src_max)
        settings.setdefault("lengths", lengths)
        settings.setdefault("src_lang", config.data.src_lang)
        device = resolve_device(device)
        check_workers(settings.get("workers", 1), device)
        model = model.to(device).eval()
        precision = precisions.resolve(precision, device, quantize)
        output_layer = fingerprint(model.output) if isinstance(model, Seq2Seq) else None  # before int8
        if quantize is not None:
            model = quantize_model(model, quantize, device)
        model = precisions.apply(model, precision)
        paths = list(model_path) if isinstance(model_path, (list, tuple)) else [model_path]
        return cls(model, tokenizer, device, config=config, precision=precision, output_layer=output_layer,
                   shortlist_path=path_for(paths[0]) if len(paths) == 1 else None, **settings)

    def with_search(self, **options) -> "Translator":
        """A translator that shares this one's model and searches with `options` (beam,
        length_penalty, alpha, min_len, max_len_a, max_len_b, stop_margin, shortlist, and the
        sampling settings) over this one's; None keeps a setting as it is."""
        given = {key: value for key, value in options.items() if value is not None}
        unknown = sorted(set(given) - {f.name for f in dataclasses.fields(SearchConfig)})
        if unknown:
            raise UserError(f"unknown search option {unknown[0]!r}; expected one of "
                            f"{[f.name for f in dataclasses.fields(SearchConfig)]}")
        return dataclasses.replace(self, search=dataclasses.replace(self.search, **given))

    def load_shortlist(self) -> None:
        """Loads the run's shortlist if search.shortlist asks for it and it is not loaded yet
        (translating does that itself; this names a missing file before any work)."""
        if not self.search.shortlist or self.shortlist is not None:
            return
        if self.shortlist_path is None:
            raise UserError("search.shortlist needs a translator loaded from one run's checkpoint (not an "
                            "ensemble); or set its shortlist to Shortlist.load(path, tokenizer)")
        self.shortlist = Shortlist.load(self.shortlist_path, self.tokenizer)
        if self.shortlist.normaliser is not None and not self.shortlist.fits(self.output_layer):
            log.warning("%s holds an estimate of the left-out mass fitted to another checkpoint: decoding "
                        "normalises over the shortlist alone (`s2s shortlist -m` this checkpoint fits one to it)",
                        self.shortlist_path)

    def translate(self, lines: list[str]) -> list[str]:
        """Translates a list of raw lines (1-best); blank lines come back empty."""
        return [best[0].text for best in self.nbest(lines, 1)]

    def nbest(self, lines: list[str], n: int, first_line: int = 1) -> list[list[Translation]]:
        """The n best translations of each line, best first (fewer where fewer exist).

        Each sentence of a line is translated on its own (`s2s.segment`) and a line's
        n-best list holds the n best combinations of its units' translations. Lines are
        numbered from `first_line` in what is logged about them.
        """
        out: list[list[Translation]] = [[Translation("", 0.0, None)] for _ in lines]
        todo = [i for i, line in enumerate(lines) if line.strip()]
        pack = min(self.max_src_len, self.lengths.part_limit) if self.lengths else self.max_src_len
        plans, encoded = plan_lines([lines[i] for i in todo], [first_line + i for i in todo], self.tokenizer.encode_src,
                                    self.max_src_len, pack, self.src_lang)
        found = self._translate_units([unit for plan in plans for unit in plan], n, RETRIES, encoded)
        start = 0
        for i, plan in zip(todo, plans):
            parts, start = found[start:start + len(plan)], start + len(plan)
            out[i] = parts[0] if len(parts) == 1 else [dataclasses.replace(t, source=lines[i])
                                                       for t in join_nbest(parts, n)]
            self._checks().warn(first_line + i, plan, parts)
        return out

    def attention(self, translation: Translation) -> Attention | None:
        """The attention of a translation from `nbest` or `force` over its pieces (None for a
        blank line); a line translated in parts shows each part's in turn, as the blocks of
        a block-diagonal matrix."""
        parts = self.attention_parts(translation)
        if not parts:
            return None
        return Attention(torch.block_diag(*(part.weights for part in parts)),  # (T, S)
                         [piece for part in parts for piece in part.source],
                         [piece for part in parts for piece in part.target])

    def attention_parts(self, translation: Translation) -> list[Attention]:
        """The attention of each part a line was translated in (one for a line translated
        whole, none for a blank line), in order."""
        parts = translation.parts or ((translation,) if translation.hypothesis is not None else ())
        found = []
        for part in parts:
            pieces = self.tokenizer.tgt_pieces(part.hypothesis.tokens)
            target = pieces + ["</s>"] * (len(part.hypothesis.attention) - len(pieces))  # the EOS step, if any
            found.append(Attention(part.hypothesis.attention, self.tokenizer.src_pieces(part.src_ids), target))
        return found

    def _translate_units(self, texts: list[str], n: int, retries: int,
                         encoded: dict[str, list[int]] | None = None) -> list[list[Translation]]:
        """n-best lists for units of text (`encoded`: the pieces of those already encoded); a
        unit whose best translation looks incomplete (`s2s.completeness`) is translated again in
        two halves (up to `retries` times deep), and the halves joined are kept where they
        give more of the source."""
        if not texts:
            return []
        encoded = encoded or {}
        missing = [text for text in texts if text not in encoded]
        encoded = {**encoded, **dict(zip(missing, self.tokenizer.encode_src(missing)))}
        found = [[dataclasses.replace(t, source=text) for t in options]
                 for text, options in zip(texts, self._search([encoded[text] + [EOS] for text in texts], n))]
        if not retries or not self.max_src_len or self.lengths is None:
            return found
        checks = self._checks()
        cuts = {u: halves(texts[u]) for u, f in enumerate(found) if checks.incomplete(f[0])}
        cuts = {u: cut for u, cut in cuts.items() if cut}
        again = self._translate_units([half for cut in cuts.values() for half in cut], n, retries - 1)
        for u, first in zip(cuts, range(0, len(again), 2)):
            joined = [dataclasses.replace(t, source=texts[u]) for t in join_nbest(again[first:first + 2], n)]
            if joined[0].length > found[u][0].length:
                found[u] = joined
        return found

    def _checks(self) -> Completeness:
        return Completeness(self.lengths, self.search)

    def _search(self, units: list[list[int]], n: int) -> list[list[Translation]]:
        """n-best lists for encoded sources (EOS included), batched by similar length."""
        order = sorted(range(len(units)), key=lambda u: -len(units[u]))
        groups = [order[start:start + self.batch_size] for start in range(0, len(order), self.batch_size)]
        found: list[list[Translation]] = [[] for _ in units]
        self.load_shortlist()
        was_training = self.model.training
        self.model.eval()
        try:
            model = self._shortlisted() if self.search.shortlist else self.model
            padded = self.precision == "bf16"  # fewer shapes for the bf16 kernels to compile (s2s.padded)
            sources = ([units[u] for u in group] for group in groups)
            if self.workers > 1 and len(groups) > 1:
                batches = self._pool(model, padded).search(sources, self.search, n)
            else:
                batches = (search_batch(model, padded, batch, self.search, n, self.device) for batch in sources)
            for group in groups:
                if self.stop is not None and self.stop():
                    raise Stopped("translation stopped: nobody waits for it any more")
                results = next(batches)
                texts = iter(self.tokenizer.decode_tgt([h.tokens for hyps in results for h in hyps]))
                for u, hyps in zip(group, results):  # one decode call per batch: it has a fixed cost
                    found[u] = [Translation(LINE_BREAKS.sub(" ", next(texts)), h.score, h, units[u],
                                            len(h.tokens), len(units[u]) - 1) for h in hyps]
        finally:
            self.model.train(was_training)
        return found

    def _pool(self, model: Seq2Seq | Ensemble | ShortlistModel, padded: bool) -> SearchPool:
        """The worker processes searching with `model`, forked at first use and kept while the
        model is the same (s2s.pool)."""
        check_workers(self.workers, self.device)
        if self.pool is None or not self.pool.serves(model, padded):
            if self.pool is not None:
                self.pool.close()
            self.pool = SearchPool(model, self.workers, padded)
        return self.pool

    def _shortlisted(self) -> ShortlistModel:
        """The model decoding over the shortlist, made once for this model and shortlist (an
        int8 output layer is unpacked then, not for every call)."""
        made = self.shortlisted
        if made is None or made.model is not self.model or made.shortlist is not self.shortlist:
            estimate = self.shortlist.estimate_for(self.output_layer)
            made = self.shortlisted = ShortlistModel(self.model, self.shortlist,
                                                     None if estimate is None else estimate.to(self.device),
                                                     columns=COLUMNS if self.precision == "bf16" else 1)
        return made

    def force(self, line: str, reference: str) -> Translation:
        """The model's score and attention for a given translation of a line (forced decoding)."""
        return self.force_all([line], [reference])[0]

    def force_all(self, lines: list[str], references: list[str]) -> list[Translation]:
        """`force` for many pairs, in batches of similar length; a pair with a blank side
        gives an empty Translation."""
        return forced.force(self.model, self.tokenizer, self.device, self.search, lines, references,
                            self.batch_size)

    def alignment(self, translation: Translation) -> list[tuple[int, int]]:
        """The word alignment of a translation from `nbest` or `force`: sorted (i, j) links
        from source word i to word j of its text (0-based, whitespace words), each output
        word linked to the source word its attention (or alignment head, `s2s.aligner`, which
        forces a translation of its own once more) weighs most (`s2s.alignment`)."""
        head = getattr(self.model, "aligner", None) is not None
        if head and translation.hypothesis is not None and not translation.forced:
            translation = self.force(translation.source, translation.text)
        return alignment.word_links(translation, self.tokenizer, null=head)

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
