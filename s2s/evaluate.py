"""Scoring: a hypothesis file, or a model's translation of a source file, against references."""

from __future__ import annotations

from pathlib import Path

from s2s.data import read_lines
from s2s.errors import UserError
from s2s.metrics import Score, score_all
from s2s.translate import Translator


def _check_aligned(lines: list[str], refs: list[str], name: str, ref_name: str) -> None:
    if len(lines) != len(refs):
        raise UserError(f"{name} has {len(lines)} lines but {ref_name} has {len(refs)}: "
                        "files must be aligned line by line")
    if not refs:
        raise UserError(f"{ref_name} is empty: there is nothing to score")


def score_files(hyp_path: str | Path, ref_path: str | Path) -> list[Score]:
    """BLEU and chrF of a hypothesis file against a reference file."""
    hyps, refs = list(read_lines(hyp_path)), list(read_lines(ref_path))
    _check_aligned(hyps, refs, str(hyp_path), str(ref_path))
    return score_all(hyps, refs)


def translate_and_score(translator: Translator, src_path: str | Path,
                        ref_path: str | Path) -> tuple[list[str], list[Score]]:
    """Translates a source file and scores the output; returns (hypotheses, scores)."""
    srcs, refs = list(read_lines(src_path)), list(read_lines(ref_path))
    _check_aligned(srcs, refs, str(src_path), str(ref_path))
    hyps = translator.translate(srcs)
    return hyps, score_all(hyps, refs)
