"""The number format a model translates in: fp32, or bf16 where the hardware has it."""

import pytest
import torch

from s2s import precision
from s2s.errors import UserError

CPU = torch.device("cpu")


@pytest.fixture
def cpu_flags(monkeypatch):
    """Pretends the CPU has (True) or lacks (False) bf16 products."""
    def set_flags(bf16: bool, amx: bool = False):
        monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: bf16)
        monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: amx)
    return set_flags


def test_auto_is_bf16_only_where_the_cpu_multiplies_it(cpu_flags):
    cpu_flags(bf16=False)
    assert precision.resolve("auto", CPU) == "fp32"
    cpu_flags(bf16=True)
    assert precision.resolve("auto", CPU) == "bf16"
    cpu_flags(bf16=False, amx=True)
    assert precision.resolve("auto", CPU) == "bf16"
    assert precision.resolve("auto", CPU, quantize="int8") == "fp32"  # int8 weights stay as they are
    assert precision.resolve("auto", torch.device("cuda")) == "fp32"  # bf16 on a GPU only when asked for


def test_what_the_user_names_is_kept_and_bf16_with_int8_is_refused(cpu_flags):
    cpu_flags(bf16=False)
    assert precision.resolve("bf16", CPU) == "bf16"  # slower here, but asked for
    cpu_flags(bf16=True)
    assert precision.resolve("fp32", CPU) == "fp32"
    with pytest.raises(UserError, match="--precision bf16 and --quantize int8"):
        precision.resolve("bf16", CPU, quantize="int8")
    with pytest.raises(UserError, match="unknown 'fp16'"):
        precision.resolve("fp16", CPU)


def test_only_a_cpu_counts_as_having_bf16(cpu_flags):
    cpu_flags(bf16=True, amx=True)
    assert precision.has_bf16(CPU)
    assert not precision.has_bf16(torch.device("cuda")) and not precision.has_bf16(torch.device("meta"))


def _translators(trained):
    from s2s.translator import Translator

    return (Translator.load(trained, CPU, precision="fp32", batch_size=4),
            Translator.load(trained, CPU, precision="bf16", batch_size=4))


def test_bf16_weights_but_fp32_attention_score_close_to_fp32_and_search_sums_in_fp32(trained):
    from s2s.tokenizer import BOS

    fp32, bf16 = _translators(trained)
    attention = {id(p) for p in bf16.model.decoder.attention.parameters()}
    assert attention and {p.dtype for p in bf16.model.decoder.attention.parameters()} == {torch.float32}
    assert {p.dtype for p in bf16.model.parameters() if id(p) not in attention} == {torch.bfloat16}
    assert {p.dtype for p in fp32.model.parameters()} == {torch.float32}
    ids = torch.tensor(fp32.tokenizer.encode_src(["the cat sees a dog"]))  # (1, S)
    lengths = torch.tensor([ids.size(1)])
    with torch.no_grad():
        steps = []
        for translator in (fp32, bf16):
            memory, state = translator.model.encode(ids, lengths)
            log_probs, _, _ = translator.model.decode_step(torch.tensor([BOS]), memory, state)  # (1, V)
            steps.append(log_probs)
    assert steps[1].dtype == torch.float32
    assert (steps[1].exp() - steps[0].exp()).abs().max() < 0.05


def test_bf16_translates_every_line_and_mostly_as_it_does_alone(trained, demo_corpus):
    """One output per line, empty for empty; each line mostly as it translates alone (not
    always: a matrix kernel rounds a row differently with the number of rows, and bf16's
    coarser rounding turns more of those into another choice; docs/translating.md)."""
    from s2s.text import read_lines

    _, bf16 = _translators(trained)
    lines = list(read_lines(demo_corpus / "valid.src"))[:20]
    lines.insert(1, "")
    batched = bf16.translate(lines)
    assert len(batched) == len(lines) and batched[1] == ""
    assert sum(bf16.translate([line])[0] == out for line, out in zip(lines, batched)) >= 18


def test_the_output_layer_in_bf16_keeps_its_rows_and_fp32_gradients():
    from s2s.config import DecoderConfig, EncoderConfig, ModelConfig
    from s2s.model import BF16_ROWS, Seq2Seq

    config = ModelConfig(embed_dim=8, encoder=EncoderConfig(hidden_size=4), decoder=DecoderConfig(hidden_size=8))
    model = Seq2Seq.from_config(config, 20, 30).eval()
    vectors = torch.randn(3, BF16_ROWS // 2 + 1, 8)  # (B, T, H): 3 T rows, not a multiple of BF16_ROWS
    exact = model.logits(vectors)
    model.output_bf16 = True
    fast = model.logits(vectors)
    assert fast.shape == exact.shape == (3, BF16_ROWS // 2 + 1, 30) and fast.dtype == torch.bfloat16
    assert (fast.float() - exact).abs().max() < 0.05
    fast.float().sum().backward()
    assert model.output.weight.grad.dtype == torch.float32
    assert model.output.weight.grad.abs().sum() > 0


def test_train_bf16_puts_the_output_layer_in_bf16_only_on_a_cpu_that_has_it(demo_corpus, tmp_path, monkeypatch,
                                                                          caplog):
    from s2s.run import train
    from tests.conftest import tiny_config

    for has in (False, True):
        monkeypatch.setattr("s2s.trainer.has_bf16", lambda device: has)
        caplog.clear()
        with caplog.at_level("INFO", logger="s2s"):
            train(tiny_config(demo_corpus, max_steps=4, valid_every=4, bf16=True), tmp_path / f"run{has}")
        assert ("the output layer computes in bf16" in caplog.text) == has
        assert (tmp_path / f"run{has}" / "last.pt").is_file()


def test_translate_precision_option(trained, demo_corpus, tmp_path):
    from tests.conftest import cli

    src = demo_corpus / "valid.src"
    lines = src.read_text().splitlines()
    for chosen in ("fp32", "bf16"):
        result = cli("translate", "-m", trained, "-i", src, "-o", tmp_path / f"{chosen}.txt", "--precision", chosen)
        assert result.exit_code == 0, result.output
        assert len((tmp_path / f"{chosen}.txt").read_text().splitlines()) == len(lines)
    refused = cli("translate", "-m", trained, "-i", src, "--precision", "bf16", "--quantize", "int8")
    assert refused.exit_code != 0 and "--precision bf16 and --quantize int8 exclude each other" in refused.output
    assert "Traceback" not in refused.output
