"""Scoring: a hypothesis file, or a model's translation of a source file, against references."""

from __future__ import annotations

from pathlib import Path

from tqdm import tqdm

from s2s.text import read_lines, read_parallel
from s2s.errors import UserError
from s2s.metrics import Score, score
from s2s.translator import Translator


def score_files(hyp_path: str | Path, ref_path: str | Path) -> list[Score]:
    """BLEU and chrF of a hypothesis file against a reference file."""
    hyps, refs = read_parallel(Path(hyp_path), Path(ref_path))
    return score(hyps, refs)


def score_lines(hyps: list[str], name: str, ref_path: str | Path) -> list[Score]:
    """BLEU and chrF of hypothesis lines (read from `name`) against a reference file."""
    refs = list(read_lines(ref_path))
    if len(hyps) != len(refs):
        raise UserError(f"{name} has {len(hyps)} lines but {ref_path} has {len(refs)}: "
                        "the files must be aligned line by line")
    return score(hyps, refs)


def translate_and_score(translator: Translator, src_path: str | Path, ref_path: str | Path,
                        progress: bool = False) -> tuple[list[str], list[Score]]:
    """Translates a source file and scores the output; returns (hypotheses, scores)."""
    srcs, refs = read_parallel(Path(src_path), Path(ref_path))
    found = tqdm(translator.stream(srcs), total=len(srcs), unit=" lines", disable=not progress,
                 leave=False, desc="translating")
    hyps = [best[0].text for best in found]
    return hyps, score(hyps, refs)


def reference_labels(task: str, path: str | Path, format: str) -> list[str]:
    """Reference labels as lines (tag: a sentence's labels joined by spaces), read from a
    plain label file (`text`) or from a data file of the task's format."""
    from s2s.labels import read_data_file

    if format == "text":
        return list(read_lines(path))
    return read_data_file(task, format, Path(path), "--ref-format").label_lines()


def predict_and_score(predictor, inputs: list, refs: list[str], ref_name: str):
    """Labels inputs with a Predictor and scores them; returns (predictions, LabelScores)."""
    from s2s.labelscores import score_lines as score_label_lines

    hyps = predictor.predict(inputs)
    return hyps, score_label_lines(predictor.task, hyps, refs, "the predictions", ref_name)
