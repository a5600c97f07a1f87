"""Prediction with a classify or tag model: one label per line, or one label per word.

Inputs are raw lines: classify reads a line of text, tag a line of whitespace-separated
words and gives exactly one label per word (a word the tokenizer has never seen included).
An empty line gives an empty line. `Predictor.load` reads a checkpoint written by
`s2s train` with `task: classify` or `task: tag`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
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
    """A labeler, its tokenizer and its label set, ready to label text; or an ensemble of
    labelers, each with its own tokenizer, whose label probabilities are averaged."""

    def __init__(self, model: nn.Module, tokenizer: Tokenizer, labels: LabelSet, config: Config,
                 device: torch.device, batch_size: int = 64,
                 more: Sequence[tuple[nn.Module, Tokenizer, LabelSet]] = ()):
        """`more`: further members of an ensemble, of the same task and with the same labels
        (in any order); the first member's config gives the task and data."""
        self.model, self.tokenizer = model.to(device).eval(), tokenizer
        self.labels, self.config, self.device = labels, config, device
        self.task, self.batch_size = config.task, batch_size
        self.members = [(self.model, tokenizer, None)]  # (model, tokenizer, index of each of our labels)
        for other_model, other_tokenizer, other_labels in more:
            index = torch.tensor([other_labels.index[label] for label in labels.labels], device=device)
            self.members.append((other_model.to(device).eval(), other_tokenizer, index))

    @classmethod
    def load(cls, model_path: str | Path | Sequence[str | Path], device: str | torch.device = "auto",
             batch_size: int = 64) -> "Predictor":
        """Loads a classify or tag checkpoint (or a run directory's best.pt) onto `device`
        ("auto": a CUDA GPU when there is one); several paths load an ensemble."""
        paths = [model_path] if isinstance(model_path, (str, Path)) else list(model_path)
        members = [_load_member(path) for path in paths]  # (model, tokenizer, labels, config)
        model, tokenizer, labels, config = members[0]
        for path, (_, _, other_labels, other_config) in zip(paths[1:], members[1:]):
            if other_config.task != config.task:
                raise UserError(f"{path} is a {other_config.task} model and {paths[0]} a {config.task} model: "
                                "an ensemble's members share their task")
            if set(other_labels.labels) != set(labels.labels):
                raise UserError(f"{path} has other labels than {paths[0]}: an ensemble's members share their "
                                f"label set ({' '.join(sorted(set(other_labels.labels) ^ set(labels.labels)))} "
                                "in only one of them)")
        return cls(model, tokenizer, labels, config, resolve_device(device), batch_size,
                   more=[member[:3] for member in members[1:]])

    def inputs(self, lines: list[str]) -> list:
        """What the model reads from raw lines: the text, or a tag line's words."""
        return [line.split() for line in lines] if self.task == "tag" else [line.strip() for line in lines]

    @torch.no_grad()
    def predict(self, inputs: list) -> list[str]:
        """One output line per input (a text, or a list of words): its label, or its words'
        labels joined by spaces; an empty input gives an empty line."""
        out = [""] * len(inputs)
        todo = [i for i, x in enumerate(inputs) if x]
        total = None  # per input of todo: (words or 1, labels) summed probabilities
        for model, tokenizer, index in self.members:
            probs = self._probabilities(model, tokenizer, [inputs[i] for i in todo])
            probs = probs if index is None else [p[:, index] for p in probs]
            total = probs if total is None else [a + b for a, b in zip(total, probs)]
        names = self.labels.labels
        for i, p in zip(todo, total or []):
            out[i] = " ".join(names[y] for y in p.argmax(-1).tolist())
        return out

    def _probabilities(self, model: nn.Module, tokenizer: Tokenizer, inputs: list) -> list[torch.Tensor]:
        """One member's label probabilities for each input: (words, labels) for tag, (1, labels) for classify."""
        src, first = encode_inputs(self.task, tokenizer, inputs)
        order = sorted(range(len(inputs)), key=lambda k: len(src[k]))  # similar lengths, little padding
        out: list[torch.Tensor] = [torch.empty(0)] * len(inputs)
        for start in range(0, len(order), self.batch_size):
            batch_k = order[start:start + self.batch_size]
            counts = [len(first[k]) if first else 1 for k in batch_k]
            words = [[0] * n for n in counts]  # only counts matter here
            batch = collate([src[k] for k in batch_k], words,
                            None if first is None else [first[k] for k in batch_k]).to(self.device)
            probs = torch.softmax(model(batch.src, batch.src_len, batch.first).float(), dim=-1)  # (rows, labels)
            for k, rows in zip(batch_k, probs.split(counts)):
                out[k] = rows
        return out

    def stream(self, lines: Iterable[str]) -> Iterator[str]:
        """Output lines for a stream of raw lines, chunk by chunk (memory stays flat)."""
        for chunk in chunks(lines, self.batch_size * CHUNK_BATCHES):
            yield from self.predict(self.inputs(chunk))


def _load_member(model_path: str | Path) -> tuple[nn.Module, Tokenizer, LabelSet, Config]:
    """One classify or tag checkpoint's model (on the CPU), tokenizer, labels and config."""
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
    return model, tokenizer, labels, config
