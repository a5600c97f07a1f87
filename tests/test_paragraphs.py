"""Nothing lost inside a line: paragraphs translate as their sentences do one per line.

End to end, with models that really learned (the demo config trained for 600 steps; a
Multi30k run where one has been trained), since a model trained on single sentences is
what stops after the first sentence of several.
"""

import importlib.util
import os
import sys
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from s2s.text import read_lines, read_parallel, split_path
from s2s.translator import Translator
from tests.conftest import ROOT

pytestmark = pytest.mark.slow


def bench():
    """bench/paragraphs.py, imported by path (registered first: its dataclass needs that)."""
    spec = importlib.util.spec_from_file_location("bench_paragraphs", ROOT / "bench" / "paragraphs.py")
    module = sys.modules.setdefault("bench_paragraphs", importlib.util.module_from_spec(spec))
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def demo(demo_run):
    translator = Translator.load(demo_run / "run", torch.device("cpu"))
    srcs = list(read_lines(demo_run / "demo" / "test.src"))
    refs = list(read_lines(demo_run / "demo" / "test.tgt"))
    return translator, srcs, refs, translator.translate(srcs)


def test_paragraphs_of_1_to_50_demo_sentences_keep_their_words_and_bleu(demo):
    translator, srcs, refs, lines = demo
    paragraphs = bench()
    chosen = [g for size in range(1, 51) for g in paragraphs.groups(len(srcs), size, True, size * (size - 1) // 2)]
    row = paragraphs.score_paragraphs(translator, srcs, refs, lines, chosen)
    assert row.paragraphs == 50 and row.size == 50
    assert row.worst_words >= 0.9, f"a paragraph kept {100 * row.worst_words:.1f}% of the words"
    assert row.bleu >= row.bleu_lines - 2, f"BLEU {row.bleu:.1f} in paragraphs, {row.bleu_lines:.1f} one per line"


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_a_random_concatenation_of_demo_sentences_never_loses_one(demo, data):
    translator, srcs, _, lines = demo
    chosen = data.draw(st.lists(st.integers(0, len(srcs) - 1), min_size=1, max_size=40))
    separator = data.draw(st.sampled_from([" ", "  ", "\t", " \u00a0"]))
    out = translator.translate([separator.join(srcs[i] for i in chosen)])[0]
    assert out == " ".join(lines[i] for i in chosen)


MULTI30K_RUN = Path(os.environ.get("S2S_MULTI30K_RUN", ROOT / "runs" / "multi30k_de_en"))


@pytest.mark.skipif(not (MULTI30K_RUN / "best.pt").is_file(),
                    reason=f"no trained Multi30k de-en model at {MULTI30K_RUN} (train one with `make multi30k`, "
                           "or point S2S_MULTI30K_RUN at a run directory)")
def test_paragraphs_of_5_multi30k_test_sentences_score_within_2_bleu_of_lines():
    translator = Translator.load(MULTI30K_RUN, torch.device("cpu"))
    data = translator.config.data
    srcs, refs = read_parallel(split_path(data.test, data.src_lang), split_path(data.test, data.tgt_lang))
    row = bench().compare(translator, srcs, refs, [5])[0]
    assert row.bleu >= row.bleu_lines - 2, f"BLEU {row.bleu:.1f} in paragraphs, {row.bleu_lines:.1f} one per line"
    assert row.words >= 0.95
