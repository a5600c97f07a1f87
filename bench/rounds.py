"""Translators side by side, for the bench scripts: one per number format, and timed on the
same lines in alternating rounds."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import replace

import torch

from s2s.translator import Translator

FORMATS = ("fp32", "bf16", "int8")  # int8: int8 weights (--quantize int8), the rest fp32


def load_format(model: str, number: str, **settings) -> Translator:
    """A CPU translator of `model` computing in the number format `number` (FORMATS)."""
    if number not in FORMATS:
        raise SystemExit(f"unknown number format {number!r} (known: {', '.join(FORMATS)})")
    return Translator.load(model, torch.device("cpu"), quantize="int8" if number == "int8" else None,
                           precision="fp32" if number == "int8" else number, **settings)


def format_options(number: str) -> list[str]:
    """The `s2s translate` options that compute in the number format `number`."""
    return ["--quantize", "int8", "--precision", "fp32"] if number == "int8" else ["--precision", number]


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
