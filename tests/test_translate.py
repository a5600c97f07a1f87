"""Translation keeps one output line per input line, in order, whatever the lines hold."""

from dataclasses import dataclass

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from s2s.config import DecoderConfig, EncoderConfig, ModelConfig
from s2s.model import Seq2Seq
from s2s.config import SearchConfig
from s2s.translate import Translator, nbest_lines


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
    import s2s.translate
    monkeypatch.setattr(s2s.translate, "CHUNK_BATCHES", 1)  # chunks of 2 lines
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
    from s2s.translate import LINE_BREAKS
    t = translator(tokenizer, beam=1)
    lines = AWKWARD + ["The dog sees a cat."] + AWKWARD
    out = t.translate(lines)
    assert len(out) == len(lines)
    assert not any(LINE_BREAKS.search(text) for text in out)
    assert [out[i] for i, line in enumerate(lines) if not line.strip()] == [""] * 6
    assert out == [t.translate([line])[0] for line in lines]  # each output is its own line's


def test_a_line_over_the_limit_is_translated_in_full_in_parts(tokenizer, caplog):
    long_line = " ".join(["The dog sees a cat near the river."] * 625)  # 5,000 words
    t = copier(tokenizer, 16)
    t.max_src_len = 30
    with caplog.at_level("WARNING", logger="s2s"):
        out = t.translate(["A bird.", long_line, ""])
    assert out == ["A bird.", long_line, ""]  # the copy model gives the whole line back
    assert "line 2: " in caplog.text and "more than the model's limit of 30; translated in" in caplog.text
    t.max_src_len = 0
    assert t.translate([long_line[:200]]) == [long_line[:200]]


def test_split_lines_give_one_nbest_entry_and_keep_their_place(tokenizer):
    t = copier(tokenizer, 4)
    t.search, t.max_src_len = SearchConfig(beam=3), 20  # the last line has 16 pieces
    long_line = "The dog sees a cat. Some big kings follow the girls near a river. A bird."
    found = t.nbest(["A bird.", long_line, "The dog sees a cat."], 2)
    assert [len(f) for f in found] == [2, 1, 2]
    assert found[1][0].text == long_line and found[1][0].hypothesis is None
    assert nbest_lines(2, found[1], 2)[1] == "2\t2\t-inf\t"


@pytest.mark.slow
def test_a_file_of_200000_lines_is_streamed(tokenizer):
    """Input is read a chunk ahead of the output at most, so memory does not grow with the file."""
    t = copier(tokenizer, 64)
    t.search = SearchConfig(beam=1)
    chunk, total, pulled = 64 * 50, 200_000, [0]

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
    from s2s.translate import LINE_BREAKS
    t = translator(tokenizer, batch_size=3, beam=1)
    t.max_src_len = 12
    t.search = SearchConfig(beam=1, max_len_a=0.5, max_len_b=5)
    out = t.translate(lines)
    assert len(out) == len(lines)
    assert not any(LINE_BREAKS.search(text) for text in out)
    assert all(text == "" for text, line in zip(out, lines) if not line.strip())
    assert out == [t.translate([line])[0] for line in lines]
