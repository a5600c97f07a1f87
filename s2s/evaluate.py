"""Scoring: a hypothesis file, or a model's translation of a source file, against references."""

from __future__ import annotations

from pathlib import Path

from s2s.data import read_parallel
from s2s.metrics import Score, score_all
from s2s.translate import Translator


def score_files(hyp_path: str | Path, ref_path: str | Path) -> list[Score]:
    """BLEU and chrF of a hypothesis file against a reference file."""
    hyps, refs = read_parallel(Path(hyp_path), Path(ref_path))
    return score_all(hyps, refs)


def translate_and_score(translator: Translator, src_path: str | Path,
                        ref_path: str | Path) -> tuple[list[str], list[Score]]:
    """Translates a source file and scores the output; returns (hypotheses, scores)."""
    srcs, refs = read_parallel(Path(src_path), Path(ref_path))
    hyps = translator.translate(srcs)
    return hyps, score_all(hyps, refs)
