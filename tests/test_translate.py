"""Translation keeps one output line per input line, in order, whatever the lines hold."""

from dataclasses import dataclass

import torch

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
