"""Translation keeps one output line per input line, in order, whatever the lines hold."""

from dataclasses import dataclass

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from s2s.config import DecoderConfig, EncoderConfig, ModelConfig
from s2s.model import Seq2Seq
from s2s.config import SearchConfig
from s2s.lengths import Lengths
from s2s.tokenizer import EOS
from s2s.result import nbest_lines
from s2s.translator import Translator


def translator(tokenizer, batch_size=3, beam=5) -> Translator:
    torch.manual_seed(0)
    config = ModelConfig(embed_dim=16, dropout=0.0, encoder=EncoderConfig(hidden_size=8),
                         decoder=DecoderConfig(hidden_size=16))
    model = Seq2Seq.from_config(config, tokenizer.src_vocab_size, tokenizer.tgt_vocab_size)
    return Translator(model.eval(), tokenizer, torch.device("cpu"), batch_size=batch_size,
                      search=SearchConfig(beam=beam))


@dataclass(frozen=True)
class Copying:
    """Stub memory/state: each row's source ids and how many it has emitted."""

    src: torch.Tensor  # (B, S)
    pos: torch.Tensor  # (B,)

    def select(self, index):
        return Copying(self.src.index_select(0, index), self.pos.index_select(0, index))


class CopyModel(torch.nn.Module):
    """Emits its source ids one by one (the source EOS ends the output): translation = copy."""

    def __init__(self, vocab_size):
        super().__init__()
        self.vocab_size = vocab_size

    def encode(self, src, src_len):
        state = Copying(src, torch.zeros(src.size(0), dtype=torch.long))
        return state, state

    def decode_step(self, prev, memory, state):
        target = state.src.gather(1, state.pos.clamp(max=state.src.size(1) - 1)[:, None])  # (B, 1)
        log_probs = torch.full((prev.size(0), self.vocab_size), -20.0).scatter(1, target, 0.0)
        weights = torch.nn.functional.one_hot(state.pos.clamp(max=state.src.size(1) - 1),
                                              state.src.size(1)).float()
        return log_probs, weights, Copying(state.src, state.pos + 1)


def copier(tokenizer, batch_size) -> Translator:
    return Translator(CopyModel(tokenizer.tgt_vocab_size), tokenizer, torch.device("cpu"),
                      batch_size=batch_size)


LINES = ["The dog sees a cat.", "", "Some big kings follow the girls near a river.", "   ",
         "The dog sees a cat.", "A bird.", "", "The dog sees a cat."]


EXPECTED = [line if line.strip() else "" for line in LINES]


def test_each_output_line_belongs_to_its_input_line(tokenizer):
    for batch_size in (1, 3, 64):  # sorted by length inside, so batches reorder lines
        assert copier(tokenizer, batch_size).translate(LINES) == EXPECTED


def test_stream_keeps_order_across_chunks(tokenizer, monkeypatch):
    import s2s.translator
    monkeypatch.setattr(s2s.translator, "CHUNK_BATCHES", 1)  # chunks of 2 lines
    lines = LINES * 3
    assert list(copier(tokenizer, 2).translate_stream(iter(lines))) == EXPECTED * 3


def test_a_real_model_gives_duplicates_the_same_translation(tokenizer):
    t = translator(tokenizer)
    out = t.translate(LINES)
    assert len(out) == len(LINES) and out[1] == out[3] == out[6] == ""
    assert out[0] == out[4] == out[7]
    assert translator(tokenizer, batch_size=1).translate(LINES) == out


def test_only_blank_lines(tokenizer):
    assert translator(tokenizer).translate(["", " ", "\t"]) == ["", "", ""]


def test_copying_survives_beam_and_greedy_search(tokenizer):
    for beam in (1, 2, 5):
        t = copier(tokenizer, 3)
        t.search = SearchConfig(beam=beam)
        assert t.translate(LINES) == EXPECTED


def test_nbest_lists_keep_their_input_line(tokenizer):
    t = translator(tokenizer, beam=4)
    found = t.nbest(LINES, 3)
    assert len(found) == len(LINES)
    assert [best[0].text for best in found] == t.translate(LINES)
    for line, translations in zip(LINES, found):
        if not line.strip():
            assert [(x.text, x.score, x.hypothesis) for x in translations] == [("", 0.0, None)]
        else:
            assert len(translations) == 3
            scores = [x.score for x in translations]
            assert scores == sorted(scores, reverse=True)
    rows = [row for i, f in enumerate(found, 1) for row in nbest_lines(i, f, 3)]
    assert len(rows) == 3 * len(LINES)
    assert rows[3:6] == ["2\t1\t0.0000\t", "2\t2\t-inf\t", "2\t3\t-inf\t"]
    streamed = list(t.stream(iter(LINES), 3))
    assert [[(x.text, x.score) for x in f] for f in streamed] == [[(x.text, x.score) for x in f] for f in found]


AWKWARD = ["", "   ", "\t", "a\ttab", "ctrl \x01\x02\x1b chars", "nul \x00 byte", "\x00",
           "emoji \U0001F600\U0001F680", "\u0395\u03bb\u03bb\u03b7\u03bd\u03b9\u03ba\u03ac \u4e2d\u6587 "
           "\u05e2\u05d1\u05e8\u05d9\u05ea", "line\u2028separator and\x85next", "carriage\rreturn"]


def test_awkward_lines_each_get_exactly_one_output_line(tokenizer):
    from s2s.translator import LINE_BREAKS
    t = translator(tokenizer, beam=1)
    lines = AWKWARD + ["The dog sees a cat."] + AWKWARD
    out = t.translate(lines)
    assert len(out) == len(lines)
    assert not any(LINE_BREAKS.search(text) for text in out)
    assert [out[i] for i, line in enumerate(lines) if not line.strip()] == [""] * 6
    assert out == [t.translate([line])[0] for line in lines]  # each output is its own line's


def test_a_paragraph_is_translated_sentence_by_sentence_and_joined(tokenizer, caplog):
    paragraph = " ".join(["The dog sees a cat near the river."] * 625)  # 625 sentences, 5,000 words
    t = copier(tokenizer, 16)
    t.max_src_len = 30
    searched, search = [], t._search
    t._search = lambda units, n: searched.extend(units) or search(units, n)  # what search is handed
    with caplog.at_level("WARNING", logger="s2s"):
        out = t.translate(["A bird.", paragraph, ""])
    assert out == ["A bird.", paragraph, ""]  # the copy model gives the whole line back
    sentence = tokenizer.encode_src(["The dog sees a cat near the river."])[0] + [EOS]
    assert searched.count(sentence) == 625 and len(searched) == 626  # each sentence alone, and "A bird."
    assert caplog.text == ""  # cutting at sentence ends is the normal way, not worth a warning
    t.max_src_len = 0
    assert t.translate([paragraph[:200]]) == [paragraph[:200]]


def test_a_sentence_longer_than_the_limit_is_cut_with_a_warning(tokenizer, caplog):
    sentence = " ".join(["the dog sees a cat near the river and"] * 10) + " a bird."
    t = copier(tokenizer, 16)
    t.max_src_len = 30
    with caplog.at_level("WARNING", logger="s2s"):
        assert t.translate(["A bird.", sentence]) == ["A bird.", sentence]
    assert "line 2: a sentence of 268 source pieces is longer than the limit of 30" in caplog.text


class FirstPieces(CopyModel):
    """Copies at most `limit` source pieces, then ends: a model that under-translates."""

    def __init__(self, vocab_size, limit):
        super().__init__(vocab_size)
        self.limit = limit

    def decode_step(self, prev, memory, state):
        from s2s.tokenizer import EOS
        log_probs, weights, after = super().decode_step(prev, memory, state)
        stop = state.pos >= self.limit
        log_probs[stop] = -20.0
        log_probs[stop, EOS] = 0.0
        return log_probs, weights, after


def under_translator(tokenizer, limit, ratio_low=1.0) -> Translator:  # copies: as long as the source
    lengths = Lengths(pairs=100, src_median=10, part_limit=100, src_max=100, ratio_median=1.0,
                      ratio_low=ratio_low)
    return Translator(FirstPieces(tokenizer.tgt_vocab_size, limit), tokenizer, torch.device("cpu"),
                      batch_size=4, search=SearchConfig(beam=2), max_src_len=100, lengths=lengths)


def test_a_translation_too_short_for_its_source_is_redone_in_halves(tokenizer, caplog):
    sentence = "Some big kings follow the girls near a river and the dog sees a cat"  # no period
    assert len(tokenizer.encode_src([sentence])[0]) > 20
    t = under_translator(tokenizer, limit=10)
    with caplog.at_level("WARNING", logger="s2s"):
        assert t.translate([sentence, "A bird."]) == [sentence, "A bird."]  # halves of halves fit in 10
    assert caplog.text == ""
    t.max_src_len = 0  # never cut: the short translation stays, and is named
    with caplog.at_level("WARNING", logger="s2s"):
        out = t.translate(["A bird.", sentence])
    assert len(tokenizer.encode_tgt(out[1:])[0]) == 10
    assert 'line 2: the translation of "Some big kings follow the girls near a ..." may be incomplete' \
        in caplog.text


def test_what_halving_cannot_fix_is_named_with_its_line(tokenizer, caplog):
    sentence = "Some big kings follow the girls near a river and the dog sees a cat"
    t = under_translator(tokenizer, limit=1)  # one piece, whatever the source
    with caplog.at_level("WARNING", logger="s2s"):
        out = t.translate(["", sentence])
    assert out[0] == "" and out[1]
    assert "line 2: the translation of" in caplog.text and "may be incomplete" in caplog.text


def test_split_lines_get_the_n_best_combinations_of_their_parts(tokenizer):
    t = translator(tokenizer, beam=3)
    t.max_src_len = 20
    parts = ["The dog sees a cat.", "Some big kings follow the girls near a river.", "A bird."]
    found = t.nbest(["A bird.", " ".join(parts), "The dog sees a cat."], 3)
    assert [len(f) for f in found] == [3, 3, 3]
    each = t.nbest(parts, 3)
    combos = sorted(((a.score + b.score + c.score, " ".join(x.text for x in (a, b, c) if x.text))
                     for a in each[0] for b in each[1] for c in each[2]), reverse=True)[:3]
    assert [(round(x.score, 4), x.text) for x in found[1]] == [(round(s, 4), text) for s, text in combos]
    assert found[1][0].hypothesis is None and found[0][0].hypothesis is not None
    assert [row.split("\t")[:2] for row in nbest_lines(2, found[1], 3)] == [["2", "1"], ["2", "2"], ["2", "3"]]


@pytest.mark.slow
def test_a_file_of_32000_lines_is_streamed(tokenizer):
    """Input is read a chunk ahead of the output at most, so memory does not grow with the file."""
    t = copier(tokenizer, 64)
    t.search = SearchConfig(beam=1)
    chunk, pulled = 64 * 50, [0]
    total = 10 * chunk  # 32,000 lines

    def lines():
        for i in range(total):
            pulled[0] += 1
            yield "A bird." if i % 3 else "The dog sees a cat."

    count = 0
    for count, text in enumerate(t.translate_stream(lines()), 1):
        assert pulled[0] - count < chunk
        assert text == ("A bird." if (count - 1) % 3 else "The dog sees a cat.")
    assert count == total


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40), max_size=8))
def test_any_unicode_lines_get_one_output_line_each_in_order(tokenizer, lines):
    from s2s.translator import LINE_BREAKS
    t = translator(tokenizer, batch_size=3, beam=1)
    t.max_src_len = 12
    t.search = SearchConfig(beam=1, max_len_a=0.5, max_len_b=5)
    out = t.translate(lines)
    assert len(out) == len(lines)
    assert not any(LINE_BREAKS.search(text) for text in out)
    assert all(text == "" for text, line in zip(out, lines) if not line.strip())
    assert out == [t.translate([line])[0] for line in lines]


def test_gap_is_the_longest_run_of_source_pieces_left_unattended():
    from s2s.hypothesis import Hypothesis
    from s2s.result import UNATTENDED_RUN, Translation, gap
    attention = torch.zeros(4, 10)  # 9 source pieces and EOS
    attention[:, :3] = 0.3
    attention[:, 9] = 0.1
    seen = Translation("x", -1.0, Hypothesis([5, 6, 7], -1.0, -3.0, attention), list(range(10)), 3, 9)
    assert gap(seen) == 6 >= UNATTENDED_RUN  # pieces 3..8; EOS is not counted
    attention[1, 5] = 0.2
    assert gap(seen) == 3
    none = Translation("x", -1.0, Hypothesis([5], -1.0, -1.0, torch.zeros(2, 10)), list(range(10)), 1, 9)
    assert gap(none) == 0  # a model without attention says nothing
    assert gap(Translation("x y", -2.0, None, None, 4, 18, (seen, none))) == 3
