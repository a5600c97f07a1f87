"""Corpus scores through sacrebleu: BLEU and chrF, each with its signature.

Scores are formatted by sacrebleu itself, as its command line does (one decimal), so
`s2s eval` prints the same figures as `sacrebleu REF -i HYP -m bleu chrf`. sacrebleu is
imported when a score is first computed: it takes a tenth of a second, which every other
command would otherwise pay at start-up.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from s2s.errors import UserError

if TYPE_CHECKING:
    from sacrebleu.metrics import BLEU, CHRF

WIDTH = 1  # decimals, sacrebleu's command-line default


@dataclass(frozen=True)
class Score:
    """One corpus-level score as sacrebleu reports it."""

    name: str  # "BLEU" or "chrF2"
    score: float  # full precision
    signature: str
    text: str  # sacrebleu's text line: "BLEU|nrefs:1|...|version:2.6.0 = 34.3 66.1/41.8/..."
    fields: dict  # sacrebleu's JSON record: name, score (rounded), signature, ...


def _score(metric: BLEU | CHRF, hyps: list[str], refs: list[str]) -> Score:
    result = metric.corpus_score(hyps, [refs])
    signature = str(metric.get_signature())
    text = result.format(width=WIDTH, signature=signature)
    fields = json.loads(result.format(width=WIDTH, signature=signature, is_json=True))
    return Score(result.name, result.score, signature, text, fields)


def bleu(hyps: list[str], refs: list[str]) -> Score:
    """Cased corpus BLEU with sacrebleu's defaults (13a tokenization, exp smoothing)."""
    from sacrebleu.metrics import BLEU

    return _score(BLEU(), hyps, refs)


def chrf(hyps: list[str], refs: list[str]) -> Score:
    """chrF2 with sacrebleu's defaults."""
    from sacrebleu.metrics import CHRF

    return _score(CHRF(), hyps, refs)


def score(hyps: list[str], refs: list[str]) -> list[Score]:
    """BLEU and chrF2 of hypotheses against one reference each (same number of lines)."""
    if len(hyps) != len(refs):
        raise UserError(f"{len(hyps)} hypotheses but {len(refs)} references: they must pair up line by line")
    return [bleu(hyps, refs), chrf(hyps, refs)]
