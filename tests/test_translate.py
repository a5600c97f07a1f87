"""Translation keeps one output line per input line, in order, whatever the lines hold."""

import torch

from s2s.config import DecoderConfig, EncoderConfig, ModelConfig
from s2s.model import Seq2Seq
from s2s.translate import Translator


def translator(tokenizer, batch_size=3) -> Translator:
    torch.manual_seed(0)
    config = ModelConfig(embed_dim=16, dropout=0.0, encoder=EncoderConfig(hidden_size=8),
                         decoder=DecoderConfig(hidden_size=16))
    model = Seq2Seq.from_config(config, tokenizer.src_vocab_size, tokenizer.tgt_vocab_size)
    return Translator(model.eval(), tokenizer, torch.device("cpu"), batch_size=batch_size)


LINES = ["The dog sees a cat.", "", "Some big kings follow the girls near a river.", "   ",
         "The dog sees a cat.", "A bird.", "", "The dog sees a cat."]


def test_line_count_and_order_with_empty_and_duplicate_lines(tokenizer):
    t = translator(tokenizer)
    out = t.translate(LINES)
    assert len(out) == len(LINES)
    assert out[1] == out[3] == out[6] == ""
    assert out[0] == out[4] == out[7]  # duplicates translate the same wherever they fall
    for line, hyp in zip(LINES, out):
        if line.strip():
            assert t.translate([line]) == [hyp]  # each line's output is its own, not a neighbour's


def test_batch_size_does_not_change_the_output(tokenizer):
    assert translator(tokenizer, batch_size=1).translate(LINES) == translator(tokenizer, 64).translate(LINES)


def test_stream_matches_list_across_chunks(tokenizer, monkeypatch):
    import s2s.translate
    monkeypatch.setattr(s2s.translate, "CHUNK_BATCHES", 1)  # chunks of 2 lines
    t = translator(tokenizer, batch_size=2)
    assert list(t.translate_stream(iter(LINES))) == t.translate(LINES)


def test_only_blank_lines(tokenizer):
    assert translator(tokenizer).translate(["", " ", "\t"]) == ["", "", ""]
