"""Prediction with a classify or tag model: one label per line, or one label per word.

Inputs are raw lines: classify reads a line of text, tag a line of whitespace-separated
words and gives exactly one label per word (a word the tokenizer has never seen included).
An empty line gives an empty line. `Predictor.load` reads a checkpoint written by
`s2s train` with `task: classify` or `task: tag`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import torch
from torch import nn

from s2s import checkpoint
from s2s.config import Config
from s2s.configfile import from_dict
from s2s.devices import resolve_device
from s2s.errors import UserError
from s2s.labeled import collate, encode_inputs
from s2s.labeler import LABELERS
from s2s.labels import LabelSet
from s2s.tokenizer import Tokenizer, chunks

CHUNK_BATCHES = 16  # batches of input read at a time when streaming


class Predictor:
    """A labeler, its tokenizer and its label set, ready to label text."""

    def __init__(self, model: nn.Module, tokenizer: Tokenizer, labels: LabelSet, config: Config,
                 device: torch.device, batch_size: int = 64):
        self.model = model.to(device).eval()
        self.tokenizer, self.labels, self.config, self.device = tokenizer, labels, config, device
        self.task, self.batch_size = config.task, batch_size

    @classmethod
    def load(cls, model_path: str | Path, device: str | torch.device = "auto", batch_size: int = 64) -> "Predictor":
        """Loads a classify or tag checkpoint (or a run directory's best.pt) onto `device`
        ("auto": a CUDA GPU when there is one)."""
        path = checkpoint.resolve(model_path)
        content = checkpoint.load(path, map_location="cpu", require=("config", "tokenizer", "model"))
        task = checkpoint.task_of(content)
        if task not in LABELERS:
            raise UserError(f"{path} is a translation model: use s2s translate -m {model_path}")
        if not isinstance(content.get("labels"), list):
            raise UserError(f"{path} is an incomplete s2s checkpoint: it has no labels")
        try:
            config = from_dict(content["config"])
            tokenizer = Tokenizer.from_state(content["tokenizer"])
            labels = LabelSet(content["labels"])
            model = LABELERS[task](config.model, tokenizer.src_vocab_size, len(labels))
            model.load_state_dict(content["model"])
        except (UserError, RuntimeError, ValueError, TypeError, KeyError) as e:
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise UserError(f"{path}: the checkpoint's parts do not fit together: {first}") from None
        return cls(model, tokenizer, labels, config, resolve_device(device), batch_size)

    def inputs(self, lines: list[str]) -> list:
        """What the model reads from raw lines: the text, or a tag line's words."""
        return [line.split() for line in lines] if self.task == "tag" else [line.strip() for line in lines]

    @torch.no_grad()
    def predict(self, inputs: list) -> list[str]:
        """One output line per input (a text, or a list of words): its label, or its words'
        labels joined by spaces; an empty input gives an empty line."""
        out = [""] * len(inputs)
        todo = [i for i, x in enumerate(inputs) if x]
        src, first = encode_inputs(self.task, self.tokenizer, [inputs[i] for i in todo])
        order = sorted(range(len(todo)), key=lambda k: len(src[k]))  # similar lengths, little padding
        names = self.labels.labels
        for start in range(0, len(order), self.batch_size):
            batch_k = order[start:start + self.batch_size]
            words = [[0] * (len(first[k]) if first else 1) for k in batch_k]  # only counts matter here
            batch = collate([src[k] for k in batch_k], words,
                            None if first is None else [first[k] for k in batch_k]).to(self.device)
            best = self.model(batch.src, batch.src_len, batch.first).argmax(-1).tolist()
            for k, ys in zip(batch_k, words):
                out[todo[k]] = " ".join(names[y] for y in best[:len(ys)])
                best = best[len(ys):]
        return out

    def stream(self, lines: Iterable[str]) -> Iterator[str]:
        """Output lines for a stream of raw lines, chunk by chunk (memory stays flat)."""
        for chunk in chunks(lines, self.batch_size * CHUNK_BATCHES):
            yield from self.predict(self.inputs(chunk))
