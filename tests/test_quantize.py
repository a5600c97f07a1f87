"""Int8 dynamic quantization for CPU translation."""

import pytest
import torch
from torch import nn

from s2s.errors import UserError
from s2s.quantize import quantize


@pytest.fixture(scope="module")
def trained_demo(fitted):
    return fitted  # read, never written


def test_int8_replaces_rnn_and_linear_layers_and_keeps_the_original(trained_demo):
    from s2s.translator import Translator

    translator = Translator.load(trained_demo, torch.device("cpu"))
    model = translator.model
    quantized = quantize(model, "int8", torch.device("cpu"))
    kinds = {m._get_name() for m in quantized.modules()}
    assert {"DynamicQuantizedLinear", "DynamicQuantizedGRU"} <= kinds
    assert not any(type(m) is nn.Linear for m in quantized.modules())
    assert any(type(m) is nn.Linear for m in model.modules())  # a copy: the fp32 model is untouched


def test_int8_reaches_the_cgru_cell_and_every_member_of_an_ensemble():
    from s2s.config import DecoderConfig, EncoderConfig, ModelConfig
    from s2s.ensemble import Ensemble
    from s2s.model import Seq2Seq

    config = ModelConfig(embed_dim=8, encoder=EncoderConfig(hidden_size=4),
                         decoder=DecoderConfig(cell="cgru", hidden_size=8, input_feeding=False))
    ensemble = Ensemble([Seq2Seq.from_config(config, 20, 20), Seq2Seq.from_config(config, 20, 20)])
    quantized = quantize(ensemble, "int8", torch.device("cpu"))
    assert all(member.decoder.conditional._get_name() == "DynamicQuantizedGRUCell" for member in quantized.members)
    assert not any(type(m) in (nn.Linear, nn.GRU, nn.GRUCell) for m in quantized.modules())


def test_int8_predictions_stay_close_to_fp32(trained_demo, demo_corpus):
    from s2s.data import ParallelData
    from s2s.text import read_parallel
    from s2s.translator import Translator

    fp32 = Translator.load(trained_demo, torch.device("cpu"), precision="fp32")
    int8 = Translator.load(trained_demo, torch.device("cpu"), quantize="int8")
    src, tgt = read_parallel(demo_corpus / "valid.src", demo_corpus / "valid.tgt")
    batch = ParallelData.from_text(src, tgt, fp32.tokenizer).batch(list(range(len(src))))
    with torch.no_grad():
        p32 = torch.softmax(fp32.model(batch.src, batch.src_len, batch.tgt_in)[0], -1)
        p8 = torch.softmax(int8.model(batch.src, batch.src_len, batch.tgt_in)[0], -1)
    real = batch.tgt_out != 0
    assert (p8 - p32).abs().max() < 0.05
    assert (p8.argmax(-1) == p32.argmax(-1))[real].float().mean() > 0.95
    same = sum(a == b for a, b in zip(int8.translate(src[:20]), fp32.translate(src[:20])))
    assert same >= 18  # int8 search finds (nearly) the fp32 translations


def test_quantize_refuses_other_kinds_and_devices():
    model = nn.Sequential(nn.Linear(2, 2))
    with pytest.raises(UserError, match="unknown kind"):
        quantize(model, "int4", torch.device("cpu"))
    with pytest.raises(UserError, match="CPU only"):
        quantize(model, "int8", torch.device("cuda"))


def test_translate_quantize_option(trained_demo, demo_corpus, tmp_path):
    from click.testing import CliRunner

    from s2s.cli import main

    src = demo_corpus / "valid.src"
    out = tmp_path / "hyp.txt"
    result = CliRunner().invoke(main, ["translate", "-m", str(trained_demo), "-i", str(src), "-o", str(out),
                                       "--quantize", "int8"])
    assert result.exit_code == 0, result.output
    assert len(out.read_text().splitlines()) == len(src.read_text().splitlines())
