"""A lexical shortlist: the target pieces that a batch's source pieces may translate to, so
that decoding scores only those instead of the whole target vocabulary (as Marian does on
CPUs). The output layer over 8,000 pieces is the largest product of a decoding step.

`s2s shortlist` learns it once from the run's training text: IBM Model 1 (s2s.align) gives
t(f | e), and for each source piece e the `top` target pieces f with the largest t(f | e)
are kept. The NULL word's `top` pieces (those a sentence needs whatever it says) and the
`frequent` most frequent target pieces are always in, and so are the special ids. A batch's
shortlist is the union over the pieces of its source sentences, sorted, so that the
special ids (0-3, the smallest) keep their own columns.

`ShortlistModel` decodes with it: the output layer's rows for the shortlist are taken once
per batch, and every step's scores and softmax cover those rows only. The log-probabilities
are normalised over the shortlist, or, when the file holds an estimate fitted to the
checkpoint (s2s.normaliser), over the estimated full vocabulary; search maps their columns
back to piece ids through the memory's `vocabulary`. The file lives beside the checkpoints
(`RUN/shortlist.pt`) and names the tokenizer it was learnt with.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from s2s import checkpoint, loader
from s2s.align import Model1
from s2s.errors import UserError
from s2s.normaliser import Normaliser, fingerprint, fit, positions
from s2s.padded import round_up
from s2s.quantize import QuantizedRows
from s2s.text import line_chunks, split_path
from s2s.tokenizer import PAD, Tokenizer

FILE = "shortlist.pt"
ESTIMATE_PAIRS = 10_000  # training pairs the estimate of the left-out mass is fitted to and measured on
SPECIALS = 4  # PAD, UNK, BOS, EOS: always in, in columns 0-3


def path_for(model_path: str | Path) -> Path:
    """Where the shortlist of a checkpoint (or run directory) lives: RUN/shortlist.pt."""
    return checkpoint.resolve(model_path).parent / FILE


def tokenizer_fingerprint(tokenizer: Tokenizer) -> str:
    """What identifies a tokenizer: a hash of its serialized models."""
    digest = hashlib.sha256()
    for part in (tokenizer.state()["src"], tokenizer.state()["tgt"] or b""):
        digest.update(len(part).to_bytes(8, "little") + part)
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class Shortlist:
    """For each source piece, the target pieces it translates to most often."""

    table: torch.Tensor  # (Vs + 1, top) int64 target ids, best first; row e + 1 for piece e, row 0 NULL; -1 pads
    always: torch.Tensor  # (A,) int64 target ids in every batch's shortlist: specials, NULL's, most frequent
    tokenizer: str  # tokenizer_fingerprint of the tokenizer it was learnt with
    normaliser: dict[str, Any] | None = None  # Normaliser.state of the estimate fitted to one checkpoint

    @classmethod
    def learn(cls, src: list[list[int]], tgt: list[list[int]], src_vocab: int, tgt_vocab: int, *,
              top: int, frequent: int, tokenizer: str, iterations: int = 5) -> "Shortlist":
        """From piece-id sentence pairs (no BOS/EOS): IBM Model 1's `top` best target pieces of
        each source piece and NULL, and the `frequent` most frequent target pieces."""
        model1 = Model1.train(src, tgt, iterations)
        source = model1.keys // model1.vocab  # (U,) e + 1, 0 = NULL
        target = model1.keys % model1.vocab  # (U,) f
        order = torch.argsort(source.double() * 2 - model1.prob)  # by source, then t(f | e) best first
        source, target = source[order], target[order]
        first = torch.searchsorted(source, torch.arange(src_vocab + 1))  # (Vs + 1,) where each row starts
        rank = torch.arange(len(source)) - first[source]  # (U,) place among its source's targets
        kept = rank < top
        table = torch.full((src_vocab + 1, top), -1, dtype=torch.int64)
        table[source[kept], rank[kept]] = target[kept]
        counts = torch.zeros(tgt_vocab, dtype=torch.int64)
        for sentence in tgt:
            counts.index_add_(0, torch.tensor(sentence, dtype=torch.int64), torch.ones(len(sentence), dtype=torch.int64))
        common = counts.argsort(descending=True, stable=True)[:frequent]
        common = common[counts[common] > 0]
        always = torch.cat([torch.arange(SPECIALS), table[0][table[0] >= 0], common]).unique()
        return cls(table, always, tokenizer)

    @property
    def top(self) -> int:
        return self.table.size(1)

    def columns(self, src: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """For a batch of source ids src (B, S): the sorted target ids (V',) that its sentences
        may translate to, the special ids first (in columns 0-3), and which of them each
        sentence may (B, V'), so that a sentence's scores do not depend on its batch."""
        cpu = src.cpu()
        found = self.table[cpu + 1].flatten(1)  # (B, S * top) each sentence's pieces' targets
        found = found.masked_fill((cpu == PAD).repeat_interleave(self.top, dim=1), -1)
        always = torch.cat([torch.arange(SPECIALS), self.always]).unique()  # (A',)
        ids = torch.cat([found.flatten(), always]).unique()  # sorted
        ids = ids[ids >= 0]  # (V',)
        allowed = torch.zeros(src.size(0), len(ids), dtype=torch.bool)
        allowed.scatter_(1, torch.searchsorted(ids, found.clamp(min=0)), found >= 0)
        allowed[:, torch.searchsorted(ids, always)] = True
        return ids.to(src.device), allowed.to(src.device)

    def state(self) -> dict[str, Any]:
        return {"table": self.table, "always": self.always, "tokenizer": self.tokenizer,
                **({} if self.normaliser is None else {"normaliser": self.normaliser})}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> "Shortlist":
        return cls(state["table"], state["always"], state["tokenizer"], state.get("normaliser"))

    def fits(self, output_layer: str | None) -> bool:
        """Whether it holds an estimate of the left-out mass fitted to the output layer with
        this fingerprint (s2s.normaliser.fingerprint)."""
        return self.normaliser is not None and self.normaliser["fitted_to"] == output_layer

    def estimate_for(self, output_layer: str | None) -> Normaliser | None:
        """The estimate of the left-out mass if it `fits` the output layer, else None."""
        return Normaliser.from_state(self.normaliser) if self.fits(output_layer) else None

    def save(self, path: str | Path, settings: dict[str, Any]) -> None:
        checkpoint.save(path, {"shortlist": self.state(), "settings": settings})

    @classmethod
    def load(cls, path: str | Path, tokenizer: Tokenizer) -> "Shortlist":
        """The shortlist at `path`, which must have been learnt with `tokenizer`."""
        path = Path(path)
        if not path.is_file():
            raise UserError(f"no shortlist at {path}: make one with `s2s shortlist -m {path.parent}`")
        content = checkpoint.load(path, require=("shortlist",))
        found = cls.from_state(content["shortlist"])
        if found.tokenizer != tokenizer_fingerprint(tokenizer):
            raise UserError(f"{path} was learnt with another tokenizer than the model's: make it again with "
                            f"`s2s shortlist -m {path.parent}`")
        return found


@dataclass(frozen=True)
class ShortMemory:
    """A model's memory of a batch, with the output layer's rows for the union of its
    sentences' shortlists, and each sentence's own."""

    memory: Any  # the model's own memory (s2s.decoder.Memory)
    vocabulary: torch.Tensor  # (V',) the target ids that the log-probabilities' columns stand for
    output: nn.Module  # the output layer over those V' rows
    outside: torch.Tensor  # (B, V') fp32, 0 where a sentence's shortlist holds the column's id, else -inf

    def select(self, index: torch.Tensor) -> "ShortMemory":
        """Rows `index` (B',) of the batch; the columns stay the batch's."""
        return ShortMemory(self.memory.select(index), self.vocabulary, self.output, self.outside.index_select(0, index))


class ShortlistModel:
    """A translation model (s2s.model.Seq2Seq, fp32 or int8) that decodes over a shortlist:
    the search protocol of the model, with log-probabilities (B, V') over memory.vocabulary,
    normalised over the shortlist or, given `normaliser`, over the estimated full vocabulary."""

    def __init__(self, model: nn.Module, shortlist: Shortlist, normaliser: Normaliser | None = None,
                 columns: int = 1):
        self.model, self.shortlist, self.normaliser = model, shortlist, normaliser
        self.columns = columns  # V' padded to a multiple of it (s2s.padded.COLUMNS in bf16, which says why)
        self.rows = Rows(model.output)  # the output layer, to cut to each batch's rows

    @property
    def has_attention(self) -> bool:
        return self.model.has_attention

    def encode(self, src: torch.Tensor, src_len: torch.Tensor) -> tuple[ShortMemory, Any]:
        """src (B, S), src_len (B,) -> the model's memory with the batch's shortlist, first state."""
        memory, state = self.model.encode(src, src_len)
        ids, allowed = self.shortlist.columns(src)  # (V',), (B, V')
        extra = round_up(ids.numel(), self.columns) - ids.numel()
        if extra:  # columns that no sentence may choose, of the PAD row
            ids, allowed = torch.cat([ids, ids.new_full((extra,), PAD)]), F.pad(allowed, (0, extra))
        # Added to each step's scores, which is cheaper than masking them with `allowed`: 0.02 ms
        # against 0.5 ms for 320 x 1,100 scores on 2 cores.
        outside = torch.zeros(allowed.shape, device=src.device).masked_fill_(~allowed, float("-inf"))
        return ShortMemory(memory, ids, self.rows.cut(ids), outside), state

    def decode_step(self, prev: torch.Tensor, memory: ShortMemory,
                    state: Any) -> tuple[torch.Tensor, torch.Tensor, Any]:
        """prev (B,) -> log-probabilities (B, V') over each sentence's shortlist (-inf outside
        it), attention (B, S), next state."""
        attentional, weights, state = self.model.decoder.step(prev, memory.memory, state)
        features = self.model.features(attentional)  # (B, E)
        logits = memory.output(features).float().add_(memory.outside)  # (B, V')
        if self.normaliser is None:
            return torch.log_softmax(logits, dim=-1), weights, state
        return self.normaliser.correct(features, logits), weights, state


class Rows:
    """An output layer (fp32 nn.Linear, or int8 from s2s.quantize) to cut to some of its rows."""

    def __init__(self, output: nn.Module):
        self.output = output
        self.quantized = None if isinstance(output, nn.Linear) else QuantizedRows(output)

    def cut(self, ids: torch.Tensor) -> nn.Module:
        """The layer over the rows `ids` (V',), of the same kind."""
        if self.quantized is not None:
            return self.quantized.cut(ids)
        bias = None if self.output.bias is None else self.output.bias[ids]
        return _Rows(self.output.weight.index_select(0, ids), bias)


class _Rows(nn.Module):
    def __init__(self, weight: torch.Tensor, bias: torch.Tensor | None):
        super().__init__()
        self.weight, self.bias = weight, bias  # (V', E), (V',)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight, self.bias)


def learn_for(model_path: str | Path, *, top: int, frequent: int, max_pairs: int,
              estimate: bool = False) -> tuple[Shortlist, int]:
    """The shortlist of a translation checkpoint, learnt from its run's training text (at
    most `max_pairs` pairs, spread evenly over the corpus; pairs longer than data.max_len
    left out, as training leaves them), and the number of pairs it was learnt from. With
    `estimate`, it holds an estimate of the mass it leaves out, fitted to the checkpoint."""
    config, tokenizer, model, _, _ = loader.load(model_path)
    data = config.data
    try:
        paths = [split_path(data.train, lang) for lang in (data.src_lang, data.tgt_lang)]
    except UserError as e:
        raise UserError(f"the run's training text: {e} (data.train of its config; a relative path is read "
                        "from the directory training ran in)") from None
    total, other = (sum(len(chunk) for chunk in line_chunks(path)) for path in paths)
    if total != other:
        raise UserError(f"the run's training text is not line-aligned: {paths[0]} has {total} lines, "
                        f"{paths[1]} {other}")
    every = max(1, -(-total // max_pairs))  # ceil: take every n-th pair
    src: list[list[int]] = []
    tgt: list[list[int]] = []
    done = 0
    for src_lines, tgt_lines in zip(line_chunks(paths[0]), line_chunks(paths[1])):
        take = [k for k in range(len(src_lines)) if (done + k) % every == 0]
        done += len(src_lines)
        pairs = zip(tokenizer.encode_src([src_lines[k] for k in take]),
                    tokenizer.encode_tgt([tgt_lines[k] for k in take]))
        for s, t in pairs:
            if s and t and len(s) <= data.max_len and len(t) <= data.max_len:
                src.append(s)
                tgt.append(t)
    if not src:
        raise UserError(f"no training pairs to learn a shortlist from in {paths[0]} and {paths[1]}")
    found = Shortlist.learn(src, tgt, tokenizer.src_vocab_size, tokenizer.tgt_vocab_size, top=top,
                            frequent=frequent, tokenizer=tokenizer_fingerprint(tokenizer))
    if estimate:
        found = replace(found, normaliser=estimate_for(model.eval(), found, list(zip(src, tgt))))
    return found, len(src)


def estimate_for(model: nn.Module, shortlist: Shortlist, pairs: list[tuple[list[int], list[int]]],
                 count: int = ESTIMATE_PAIRS) -> dict[str, Any]:
    """Normaliser.state of the estimate of what `shortlist` leaves out, fitted to `model`
    (fp32, eval mode) on `count` of the training `pairs` spread evenly, a fifth of them held
    out to measure it."""
    every = max(1, len(pairs) // count)
    chosen = pairs[::every][:count]
    by_length = lambda part: sorted(part, key=lambda pair: (len(pair[1]), len(pair[0])))  # noqa: E731  less padding
    held_out = [pair for k, pair in enumerate(chosen) if k % 5 == 4]
    train = [pair for k, pair in enumerate(chosen) if k % 5 != 4]
    held_out = held_out or train  # fewer than five pairs: measured on those it was fitted to
    net, error = fit(positions(model, shortlist.columns, by_length(train)),
                     positions(model, shortlist.columns, by_length(held_out)))
    return net.state(fingerprint(model.output), error)
