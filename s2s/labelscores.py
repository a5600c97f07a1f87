"""Scores of predicted labels against references: accuracy, macro-F1 and each label's
precision, recall and F1 (scikit-learn's, which the literature's figures are computed with).

Scores are percentages. A tag example is a line of labels, scored word by word; lines of
different lengths are an error naming the line, never a silent shift.
"""

from __future__ import annotations

from dataclasses import dataclass

from sklearn.metrics import accuracy_score, precision_recall_fscore_support

from s2s.errors import UserError

WIDTH = 2  # decimals printed


@dataclass(frozen=True)
class LabelScores:
    """The scores of one set of predictions."""

    accuracy: float
    macro_f1: float  # unweighted mean of the F1 of every label in the references or predictions
    count: int  # labels scored
    per_label: dict[str, dict[str, float]]  # label -> precision, recall, f1 (%), support

    def lines(self) -> list[str]:
        out = [f"accuracy = {self.accuracy:.{WIDTH}f} ({self.count} labels)", f"macro-F1 = {self.macro_f1:.{WIDTH}f}"]
        for label, s in self.per_label.items():
            out.append(f"  {label}: P {s['precision']:.{WIDTH}f} R {s['recall']:.{WIDTH}f} "
                       f"F1 {s['f1']:.{WIDTH}f} ({s['support']})")
        return out

    def fields(self) -> dict:
        return {"accuracy": round(self.accuracy, WIDTH), "macro_f1": round(self.macro_f1, WIDTH),
                "count": self.count, "per_label": self.per_label}


def score_labels(hyps: list[str], refs: list[str]) -> LabelScores:
    """Scores one label per item (a classification)."""
    if not refs:
        raise UserError("nothing to score: the references are empty")
    labels = sorted(set(refs) | set(hyps))
    precision, recall, f1, support = precision_recall_fscore_support(
        refs, hyps, labels=labels, zero_division=0.0)
    per_label = {label: {"precision": round(100 * p, WIDTH), "recall": round(100 * r, WIDTH),
                         "f1": round(100 * f, WIDTH), "support": int(n)}
                 for label, p, r, f, n in zip(labels, precision, recall, f1, support)}
    macro = 100 * float(f1.mean())
    return LabelScores(100 * accuracy_score(refs, hyps), macro, len(refs), per_label)


def score_lines(task: str, hyps: list[str], refs: list[str], hyp_name: str, ref_name: str) -> LabelScores:
    """Scores prediction lines against reference lines (classify: a label per line; tag:
    whitespace-separated labels, as many per line as the reference has)."""
    if len(hyps) != len(refs):
        raise UserError(f"{hyp_name} has {len(hyps)} lines but {ref_name} has {len(refs)}: "
                        "the files must be aligned line by line")
    if task == "classify":
        return score_labels([h.strip() for h in hyps], [r.strip() for r in refs])
    flat_h, flat_r = [], []
    for number, (h, r) in enumerate(zip(hyps, refs), start=1):
        h, r = h.split(), r.split()
        if len(h) != len(r):
            raise UserError(f"{hyp_name}:{number} has {len(h)} labels but {ref_name}:{number} has {len(r)}")
        flat_h += h
        flat_r += r
    return score_labels(flat_h, flat_r)
