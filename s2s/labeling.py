"""The classify (N-to-1) and tag (N-to-N) tasks: labelled text, a labeler (s2s.labeler),
the label-smoothed cross-entropy of every label, and validation accuracy.

classify also records macro-F1 at each validation; accuracy picks best.pt for both.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from s2s.config import Config
from s2s.distributed import Group
from s2s.labeled import LabelBatch, LabeledData
from s2s.labeler import LABELERS
from s2s.labels import LabelSet, Labelled, read_split
from s2s.labelscores import score_labels
from s2s.subwords import SubwordSampler
from s2s.task import Validation
from s2s.text import fingerprint
from s2s.tokenizer import Tokenizer

log = logging.getLogger("s2s.trainer")


def label_loss(logits: torch.Tensor, labels: torch.Tensor, smoothing: float) -> torch.Tensor:
    """Summed label-smoothed cross-entropy of logits (N, L); labels -1 (unknown) are left out."""
    return F.cross_entropy(logits.float(), labels, label_smoothing=smoothing, reduction="sum", ignore_index=-1)


@torch.no_grad()
def predict_ids(model: nn.Module, data: LabeledData, batch_tokens: int,
                device: torch.device) -> tuple[list[list[int]], float, int]:
    """Every example's predicted label ids (in the data's order), and the summed NLL of the
    known reference labels with their count."""
    was_training = model.training
    model.eval()
    out: list[list[int]] = [[] for _ in range(len(data))]
    total, count = 0.0, 0
    for indices in data.epoch_batches(batch_tokens, seed=0, epoch=0):
        batch = data.batch(indices).to(device)
        logits = model(batch.src, batch.src_len, batch.first)  # (B, L) or (N, L)
        total += float(label_loss(logits, batch.labels, 0.0))
        count += int((batch.labels >= 0).sum())
        best = logits.argmax(-1).tolist()
        for i in indices:
            k = len(data.labels[i])
            out[i], best = best[:k], best[k:]
    model.train(was_training)
    return out, total, count


class LabelTask:
    """What `task: classify` and `task: tag` train."""

    metric = "accuracy"

    def __init__(self, config: Config, run_dir: Path = Path(".")):
        self.config, self.task = config, config.task
        self.train_examples: Labelled | None = None
        self.valid_examples: Labelled | None = None
        self.label_set: LabelSet | None = None

    def read_train(self) -> str:
        self.train_examples = read_split(self.task, self.config.data, self.config.data.train)
        self.label_set = LabelSet.of(self.train_examples)
        return fingerprint(*self.train_examples.fingerprint_lines())

    def tokenizer(self, seed: int) -> Tokenizer:
        """A source-only tokenizer learnt from the training text (held in memory: these
        corpora are small)."""
        log.info("training the sentencepiece tokenizer on %s", self.config.data.train)
        return Tokenizer.train(self.config.tokenizer, self.train_examples.text(), None, seed=seed)

    def datasets(self, tokenizer: Tokenizer, group: Group = Group()) -> tuple[LabeledData, LabeledData,
                                                                             tuple[list[str], list[str]]]:
        data = self.config.data
        train = LabeledData.encode(self.task, self.train_examples, tokenizer, self.label_set, max_len=data.max_len)
        if self.config.train.subword_alpha > 0:
            train.sampler = SubwordSampler(tokenizer.src, self.config.train.subword_alpha)
        self.valid_examples = read_split(self.task, data, data.valid)
        valid = LabeledData.encode(self.task, self.valid_examples, tokenizer, self.label_set)
        return train, valid, self.valid_examples.fingerprint_lines()

    def build(self, tokenizer: Tokenizer) -> nn.Module:
        return LABELERS[self.task](self.config.model, tokenizer.src_vocab_size, len(self.label_set))

    def loss(self, net: nn.Module, batch: LabelBatch) -> torch.Tensor:
        logits = net(batch.src, batch.src_len, batch.first)
        return label_loss(logits, batch.labels, self.config.train.label_smoothing)

    def validate(self, model: nn.Module, valid: LabeledData, tokenizer: Tokenizer,
                 device: torch.device) -> Validation:
        ids, total, count = predict_ids(model, valid, self.config.train.batch_tokens, device)
        names = self.label_set.labels
        hyps = [names[y] for ys in ids for y in ys]
        refs = [y for ys in valid.labels for y in ys]
        refs = [names[y] if y >= 0 else "<unknown>" for y in refs]
        scores = score_labels(hyps, refs)
        fields = {"macro_f1": scores.macro_f1} if self.task == "classify" else {}
        return Validation(total / max(count, 1), scores.accuracy, fields)

    def state(self) -> dict:
        return {"labels": list(self.label_set.labels)}
