"""Whether a translation looks as if it dropped part of its source: much shorter than the
training pairs' length ratio predicts (`s2s.lengths`), or leaving a run of source pieces
almost unattended (`s2s.result.gap`); never when search's own length cap ended it. The
translator translates such a unit again in halves, and warns about a line where that did
not help.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import torch

from s2s.config import SearchConfig
from s2s.lengths import Lengths
from s2s.result import UNATTENDED_RUN, UNATTENDED_WEIGHT, Translation, gap
from s2s.search import max_lengths

log = logging.getLogger("s2s.translator")  # warnings about a line come from the translator, as before


@dataclass(frozen=True)
class Completeness:
    """The checks for one model's training lengths and search settings."""

    lengths: Lengths | None  # of the training pairs; None: no length check
    search: SearchConfig

    def too_short(self, translation: Translation) -> bool:
        """Whether a translation is much shorter than the training data's ratio predicts."""
        return self.lengths is not None and self.lengths.too_short(translation.src_length, translation.length)

    def capped(self, translation: Translation) -> bool:
        """Whether search's length limit ended the translation (--max-len-a/-b may ask for
        short output): then its length and attention say nothing about the model."""
        cap = max_lengths(torch.tensor(translation.src_length + 1), self.search.max_len_a, self.search.max_len_b)
        return translation.length + 1 >= int(cap)  # the cap counts EOS

    def incomplete(self, translation: Translation) -> bool:
        """Whether a translation looks as if it dropped part of its source: too short, or
        leaving a run of source pieces unattended."""
        return not self.capped(translation) and (self.too_short(translation) or gap(translation) >= UNATTENDED_RUN)

    def warn(self, number: int, units: list[str], found: list[list[Translation]]) -> None:
        """A warning naming line `number` for each of its units whose best translation looks incomplete."""
        for unit, best in zip(units, (f[0] for f in found)):
            if not self.incomplete(best):
                continue
            words = unit.split()
            quoted = " ".join(words[:8]) + (" ..." if len(words) > 8 else "")
            if self.too_short(best):
                log.warning("line %d: the translation of \"%s\" may be incomplete: %d target pieces for "
                            "%d source pieces, where 99.9%% of the training pairs would have at least %d",
                            number, quoted, best.length, best.src_length,
                            self.lengths.shortest_usual(best.src_length))
            else:
                log.warning("line %d: the translation of \"%s\" may be incomplete: %d source pieces in a row "
                            "got almost no attention (under %g each, summed over the output)", number, quoted,
                            gap(best), UNATTENDED_WEIGHT)
