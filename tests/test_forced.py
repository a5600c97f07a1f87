"""Forced decoding: batched pairs give what each pair gives alone, and what search gave."""

import pytest
import torch

from s2s import Translator
from tests.test_translate import translator

SOURCES = ["The dog sees a cat.", "", "Some big kings follow the girls near a river.", "A bird.", "x"]
TARGETS = ["Ka vorn mi miset vidit.", "Ka vorn.", "", "Mi tiral.", "Ki  ✈ vorn"]


def test_batched_pairs_equal_pairs_alone_and_blank_sides_give_empty_results(tokenizer):
    t = translator(tokenizer, batch_size=2)
    together = t.force_all(SOURCES, TARGETS)
    assert len(together) == len(SOURCES)
    for source, target, found in zip(SOURCES, TARGETS, together):
        if not (source.strip() and target.strip()):
            assert (found.text, found.score, found.hypothesis, found.source) == ("", 0.0, None, source)
            continue
        alone = t.force(source, target)
        assert found.text == target and found.forced and found.source == source
        assert found.score == pytest.approx(alone.score, abs=1e-5)
        assert torch.allclose(found.hypothesis.attention, alone.hypothesis.attention, atol=1e-6)
        steps, positions = found.hypothesis.attention.shape  # the pieces and EOS, over the source and EOS
        assert (steps, positions) == (found.length + 1, found.src_length + 1)
        assert torch.allclose(found.hypothesis.attention.sum(-1), torch.ones(steps), atol=1e-5)


def test_forcing_what_search_found_gives_its_score(demo_run):
    t = Translator.load(demo_run / "run", "cpu").with_search(beam=1)
    lines = ["The dog sees a cat.", "Some big kings follow the girls near a river.", "A bird holds a book."]
    checked = 0
    for line, found in zip(lines, t.nbest(lines, 1)):
        best = found[0]
        forced = t.force_all([line], [t.tokenizer.decode_tgt([best.hypothesis.tokens])[0]])[0]
        ended = len(best.hypothesis.attention) == best.length + 1  # search scored an EOS, as forcing does
        if forced.hypothesis.tokens == best.hypothesis.tokens and ended:  # the text encodes to the same pieces
            assert forced.hypothesis.log_prob == pytest.approx(best.hypothesis.log_prob, abs=1e-4)
            assert torch.allclose(forced.hypothesis.attention, best.hypothesis.attention, atol=1e-5)
            checked += 1
    assert checked
