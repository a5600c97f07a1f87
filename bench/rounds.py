"""Timing several translators on the same lines, side by side, for the bench scripts."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import replace

from s2s.translator import Translator


def alternating(settings: dict[str, Translator], lines: list[str], repeats: int,
                before: Callable[[str], None] | None = None, **search) -> tuple[dict[str, list[str]], dict[str, float]]:
    """Each setting's translations of `lines` and its median seconds over `repeats` rounds,
    the settings alternating within each round (so that a slower spell of the machine
    falls on all of them); `search` overrides their search settings, and `before(name)` runs
    before each translation (untimed)."""
    seconds: dict[str, list[float]] = {name: [] for name in settings}
    hyps: dict[str, list[str]] = {}
    for _ in range(repeats):
        for name, translator in settings.items():
            if before is not None:
                before(name)
            searching = replace(translator, search=replace(translator.search, **search))
            start = time.perf_counter()
            hyps[name] = searching.translate(lines)
            seconds[name].append(time.perf_counter() - start)
    return hyps, {name: statistics.median(times) for name, times in seconds.items()}
