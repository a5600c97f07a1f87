"""What translating a line gives (`Translation`), how the translations of a line's parts
join into its n-best list, how translations are written out, and the attention gap that
tells a translation which left part of its source alone.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from s2s.hypothesis import Hypothesis

# A translation that leaves this many source pieces in a row with less attention than this
# (summed over its steps) looks incomplete: on Multi30k validation (de-en) no line did,
# while 4% of pairs of captions run together without a full stop did.
UNATTENDED_RUN, UNATTENDED_WEIGHT = 6, 0.1


@dataclass(frozen=True)
class Attention:
    """Where a translation looked: the weights of its output pieces over its source pieces.

    A line translated in parts has each part's weights as one block of a block-diagonal
    matrix, the parts in order.
    """

    weights: torch.Tensor  # (T, S) each output step's weights over the source pieces; a row sums to 1
    source: list[str]  # the S source pieces, each part's EOS ("</s>") included
    target: list[str]  # the T output pieces, "</s>" for a step that produced EOS


@dataclass(frozen=True)
class Translation:
    """One translation of a line: detokenized text, its search score and hypothesis."""

    text: str
    score: float  # log-probability / length penalty (summed over parts); 0 for a blank line
    hypothesis: Hypothesis | None  # None for a blank line or one translated in parts
    src_ids: list[int] | None = None  # the source pieces translated (EOS last), with a hypothesis
    length: int = 0  # target pieces, over all parts (EOS not counted)
    src_length: int = 0  # source pieces translated, over all parts (EOS not counted)
    parts: tuple["Translation", ...] = ()  # of a line translated in parts: each part's, in order
    source: str = ""  # the text translated: the line, or of a part its own piece of the line
    forced: bool = False  # text is a given translation (forced decoding), not what search found


def gap(translation: Translation) -> int:
    """The longest run of source pieces (EOS not counted) that a translation's attention left
    almost alone: each under UNATTENDED_WEIGHT, summed over the output steps. 0 for a model
    without attention; for a line translated in parts, the longest in any part."""
    if translation.parts:
        return max(gap(part) for part in translation.parts)
    if translation.hypothesis is None or not bool(translation.hypothesis.attention.any()):
        return 0
    longest = run = 0
    for low in (translation.hypothesis.attention.sum(0)[:-1] < UNATTENDED_WEIGHT).tolist():  # (S - 1,)
        run = run + 1 if low else 0
        longest = max(longest, run)
    return longest


def join_nbest(parts: list[list[Translation]], n: int) -> list[Translation]:
    """The n best translations of a line from its units' n-best lists: the combinations of
    one translation per unit with the highest summed scores, texts joined by spaces."""
    best = [Translation("", 0.0, None)]
    for options in parts:
        pairs = sorted(((a, b) for a in best for b in options), key=lambda ab: -(ab[0].score + ab[1].score))
        best = [Translation(" ".join(t for t in (a.text, b.text) if t), a.score + b.score, None, None,
                            a.length + b.length, a.src_length + b.src_length, a.parts + (b.parts or (b,)))
                for a, b in pairs[:n]]
    return best


def text_line(translation: Translation, extra: Callable[[Translation], str] | None = None) -> str:
    """The text, and `extra(translation)` (a field such as the word alignment) after a tab where given."""
    return translation.text + (f"\t{extra(translation)}" if extra else "")


def scored_line(translation: Translation, extra: Callable[[Translation], str] | None = None) -> str:
    """`score<TAB>text`, the 1-best format of `s2s translate --scores` (with `extra` as in `text_line`)."""
    return f"{translation.score:.4f}\t{text_line(translation, extra)}"


def nbest_lines(line_number: int, translations: list[Translation], n: int,
                extra: Callable[[Translation], str] | None = None) -> list[str]:
    """Exactly n lines `line<TAB>rank<TAB>score<TAB>text` for one input line (1-based numbers),
    with `extra(translation)` after another tab where given.

    Ranks that have no hypothesis (a blank line has only the empty one; a tiny vocabulary
    may allow fewer than n) are printed with score -inf and empty text (and extra field).
    """
    out = [f"{line_number}\t{rank}\t{scored_line(t, extra)}" for rank, t in enumerate(translations[:n], 1)]
    empty = "\t" if extra else ""
    out += [f"{line_number}\t{rank}\t{-math.inf}\t{empty}" for rank in range(len(out) + 1, n + 1)]
    return out
