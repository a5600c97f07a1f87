"""Labelled text for the classify and tag tasks: the file formats it is read from, and the
label set a model predicts.

classify reads one (text, label) per line: two line-aligned files (`parallel`:
PREFIX.SRC_LANG holds the text, PREFIX.TGT_LANG the labels), "LABEL TEXT" lines
(`label_first`, the SST files) or "TEXT<TAB>LABEL" lines (`tsv`). tag reads one sentence of
(word, label) pairs per example: CoNLL-U (`conllu`: the word forms and their UPOS, multiword
tokens and empty nodes left out, as UPOS is scored) or two line-aligned files of
whitespace-split words and labels (`parallel`). Every error names the file and line.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import conllu

from s2s.config import FORMATS, DataConfig
from s2s.text import read_lines, read_parallel, split_path
from s2s.errors import UserError


@dataclass(frozen=True)
class Labelled:
    """A split of labelled examples: the inputs a model reads and the labels it should give.

    classify: inputs[i] is a line of text, labels[i] one label. tag: inputs[i] is a list of
    words and labels[i] a list of as many labels.
    """

    inputs: list
    labels: list
    name: str  # what the examples were read from, for messages

    def text(self) -> list[str]:
        """The inputs as lines of text (a tag example's words joined by spaces)."""
        return [x if isinstance(x, str) else " ".join(x) for x in self.inputs]

    def label_lines(self) -> list[str]:
        """The labels as lines (a tag example's labels joined by spaces), as predictions are written."""
        return [y if isinstance(y, str) else " ".join(y) for y in self.labels]

    def fingerprint_lines(self) -> tuple[list[str], list[str]]:
        """(inputs, labels) as lines, for s2s.text.fingerprint."""
        return self.text(), self.label_lines()


def split_files(data: DataConfig, split: str) -> list[Path]:
    """The file(s) one split (a prefix or a path from the config) is read from."""
    if data.format == "parallel":
        return [split_path(split, data.src_lang), split_path(split, data.tgt_lang)]
    path = Path(split)
    if not path.is_file():
        raise UserError(f"file not found: {path}")
    return [path]


def read_split(task: str, data: DataConfig, split: str) -> Labelled:
    """Reads one split of a classify or tag task in the config's data.format."""
    return _read(task, split_files(data, split), data.format)


def _read(task: str, files: list[Path], format: str) -> Labelled:
    """The examples of a split's files (one, or two for `parallel`) in the given format."""
    return read_classify(files, format) if task == "classify" else read_tagged(files, format)


def read_classify(files: list[Path], format: str) -> Labelled:
    if format == "parallel":
        texts, labels = read_parallel(*files)
        for number, label in enumerate(labels, start=1):
            if not label.strip() or len(label.split()) > 1:
                raise UserError(f"{files[1]}:{number}: expected one label, got {label!r}")
        return Labelled(texts, [label.strip() for label in labels], str(files[0]))
    texts, labels = [], []
    for number, line in enumerate(read_lines(files[0]), start=1):
        if format == "label_first":
            label, _, text = line.strip().partition(" ")
            if not label:
                raise UserError(f"{files[0]}:{number}: expected 'LABEL TEXT', got an empty line")
        else:
            text, tab, label = line.rpartition("\t")
            label = label.strip()
            if not tab or not label:
                raise UserError(f"{files[0]}:{number}: expected 'TEXT<TAB>LABEL', got {line[:60]!r}")
        texts.append(text.strip())
        labels.append(label)
    if not texts:
        raise UserError(f"{files[0]} is empty")
    return Labelled(texts, labels, str(files[0]))


def read_tagged(files: list[Path], format: str) -> Labelled:
    if format == "conllu":
        return read_conllu(files[0])
    lines, tag_lines = read_parallel(*files)
    words, tags = [], []
    for number, (line, tag_line) in enumerate(zip(lines, tag_lines), start=1):
        w, t = line.split(), tag_line.split()
        if len(w) != len(t):
            raise UserError(f"{files[1]}:{number}: {len(t)} labels for the {len(w)} words of "
                            f"{files[0]}:{number}")
        words.append(w)
        tags.append(t)
    return Labelled(words, tags, str(files[0]))


def read_conllu(path: Path) -> Labelled:
    """Word forms and UPOS of every sentence of a CoNLL-U file (syntactic words only)."""
    words, tags = [], []
    text = "\n".join(read_lines(path)) + "\n"
    try:
        sentences = conllu.parse(text)
    except conllu.exceptions.ParseException as e:
        raise UserError(f"{path}: not valid CoNLL-U: {e}") from None
    for sentence in sentences:
        tokens = [t for t in sentence if isinstance(t["id"], int)]
        if not tokens:
            continue
        for t in tokens:
            if not t["form"] or any(c.isspace() for c in t["form"]):
                line = sentence.metadata.get("sent_id", "?")
                raise UserError(f"{path}: sentence {line}: word {t['id']} is {t['form']!r}; s2s tags "
                                "words without spaces in them")
        words.append([t["form"] for t in tokens])
        tags.append([t["upos"] or "_" for t in tokens])
    if not words:
        raise UserError(f"{path} holds no CoNLL-U sentence")
    return Labelled(words, tags, str(path))


def read_data_file(task: str, format: str, path: Path, option: str) -> Labelled:
    """The examples of one data file in one of the task's one-file formats (config.FORMATS
    less `parallel`); a format of another task is an error that names the option it came from."""
    one_file = [f for f in FORMATS[task] if f != "parallel"]
    if format not in one_file:
        raise UserError(f"{option} {format} is not a format of task {task} "
                        f"(it reads text, {', '.join(one_file)})")
    return _read(task, [path], format)


class LabelSet:
    """The labels of the training data, sorted, each with its index in the model's output."""

    def __init__(self, labels: list[str]):
        self.labels = list(labels)
        self.index = {label: i for i, label in enumerate(self.labels)}

    @classmethod
    def of(cls, examples: Labelled) -> "LabelSet":
        flat = examples.labels if examples.labels and isinstance(examples.labels[0], str) else \
            [y for ys in examples.labels for y in ys]
        counts = Counter(flat)
        if len(counts) < 2:
            raise UserError(f"{examples.name}: the training data has {len(counts)} label(s) "
                            f"({', '.join(counts)}); a model needs at least 2 to choose from")
        return cls(sorted(counts))

    def __len__(self) -> int:
        return len(self.labels)

    def ids(self, labels: list[str]) -> list[int]:
        """Indices of labels; one the training data never had is -1 (always counted wrong)."""
        return [self.index.get(label, -1) for label in labels]
