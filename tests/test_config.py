from pathlib import Path

import pytest

from s2s.configfile import from_dict
from s2s.configfile import load_config
from s2s.errors import UserError
from s2s.model import Seq2Seq

ROOT = Path(__file__).resolve().parents[1]


def write(tmp_path, text):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    return path


BASE = "data:\n  train: a/train\n  valid: a/valid\n"


def test_shipped_configs_load():
    for path in sorted((ROOT / "configs").glob("*.yaml")):
        config = load_config(path)
        assert config.data.train


def test_unknown_key_is_named(tmp_path):
    with pytest.raises(UserError, match=r"unknown config key 'model.encoder.hiden_size'"):
        load_config(write(tmp_path, BASE + "model:\n  encoder:\n    hiden_size: 3\n"))


def test_wrong_type_is_named(tmp_path):
    with pytest.raises(UserError, match=r"'train.max_steps': expected int, got 'many'"):
        load_config(write(tmp_path, BASE + "train:\n  max_steps: many\n"))


def test_bool_is_not_an_int(tmp_path):
    with pytest.raises(UserError, match="train.max_steps"):
        load_config(write(tmp_path, BASE + "train:\n  max_steps: true\n"))


def test_overrides_are_typed_and_applied(tmp_path):
    config = load_config(write(tmp_path, BASE), ["train.lr=1e-3", "model.encoder.cell=lstm",
                                                 "model.decoder.input_feeding=false"])
    assert config.train.lr == 0.001
    assert config.model.encoder.cell == "lstm"
    assert config.model.decoder.input_feeding is False


def test_bad_value_and_bad_override(tmp_path):
    with pytest.raises(UserError, match="model.encoder.cell"):
        load_config(write(tmp_path, BASE), ["model.encoder.cell=transformer"])
    with pytest.raises(UserError, match="expected section.key=value"):
        load_config(write(tmp_path, BASE), ["train.lr"])


def test_dot_attention_needs_equal_sizes(tmp_path):
    with pytest.raises(UserError, match="'dot' needs"):
        load_config(write(tmp_path, BASE), ["model.decoder.attention=dot",
                                            "model.encoder.hidden_size=100",
                                            "model.decoder.hidden_size=128"])


def test_tying_needs_no_equal_sizes_but_sharing_needs_a_joint_vocabulary(tmp_path):
    config = load_config(write(tmp_path, BASE), ["model.tie_embeddings=true", "model.embed_dim=64",
                                                 "model.decoder.hidden_size=128"])
    assert Seq2Seq.from_config(config.model, 50, 50).bottleneck.weight.shape == (64, 128)
    with pytest.raises(UserError, match="model.share_embeddings.*tokenizer.joint: true"):
        load_config(write(tmp_path, BASE), ["model.share_embeddings=true", "tokenizer.joint=false"])


def test_missing_required_section_is_named(tmp_path):
    with pytest.raises(UserError, match="data"):
        load_config(write(tmp_path, "train:\n  lr: 0.1\n"))


def test_s2s_data_variable_expands(tmp_path, monkeypatch):
    monkeypatch.setenv("S2S_DATA", "/corpora")
    config = load_config(write(tmp_path, "data:\n  train: $S2S_DATA/m/train\n  valid: ${S2S_DATA}/m/val\n"))
    assert config.data.train == "/corpora/m/train" and config.data.valid == "/corpora/m/val"
    monkeypatch.delenv("S2S_DATA")
    assert load_config(write(tmp_path, "data:\n  train: $S2S_DATA/t\n  valid: v\n")).data.train == "data/t"


def test_round_trip_through_dict(tmp_path):
    config = load_config(write(tmp_path, BASE), ["model.decoder.cell=lstm"])
    assert from_dict(config.to_dict()) == config


def test_a_checkpoints_config_is_taken_as_written(tmp_path, monkeypatch):
    monkeypatch.setenv("S2S_DATA", "/elsewhere")
    config = from_dict({"data": {"train": "/data/$weird/train", "valid": "/corpora/val"}})
    assert config.data.train == "/data/$weird/train"


@pytest.mark.parametrize("override,key", [("search.beam=0", "search.beam"),
                                          ("search.length_penalty=avg", "search.length_penalty"),
                                          ("search.alpha=-1", "search.alpha"),
                                          ("search.min_len=-2", "search.min_len")])
def test_search_settings_are_checked(tmp_path, override, key):
    with pytest.raises(UserError, match=f"'{key}'"):
        load_config(write(tmp_path, BASE), [override])


def test_a_config_without_a_search_section_gets_beam_5(tmp_path):
    config = from_dict({"data": {"train": "a", "valid": "b"}})
    assert config.search.beam == 5 and config.search.length_penalty == "length"


NONE = ["model.decoder.attention=none", "model.decoder.input_feeding=false"]


@pytest.mark.parametrize("overrides,key", [
    (["model.decoder.attention=none"], "model.decoder.input_feeding"),
    (["model.decoder.coverage=true", "model.decoder.attention=general"], "model.decoder.coverage"),
    (NONE + ["model.decoder.local_window=3"], "model.decoder.local_window"),
    (NONE + ["model.decoder.context=first"], "model.decoder.context"),
    (NONE + ["model.decoder.context_use=output"], "model.decoder.context_use"),
    (NONE + ["model.decoder.context=last", "model.decoder.context_use=init", "model.decoder.hidden_size=128"],
     "model.decoder.context"),
    (NONE + ["train.guided_alignment=1.0"], "train.guided_alignment"),
    (["model.decoder.local_window=-1"], "model.decoder.local_window"),
    (["train.guided_alignment=-1"], "train.guided_alignment"),
    (["data.train_alignments=train.align"], "data.train_alignments"),
    (["model.decoder.cell=cgru"], "model.decoder.input_feeding"),  # cgru reads the context itself
    (NONE + ["model.decoder.cell=cgru"], "model.decoder.cell"),  # cgru attends between its GRUs
    (["model.encoder.cell=cgru"], "model.encoder.cell"),  # a decoder cell only
])
def test_invalid_architecture_combinations_name_the_key(tmp_path, overrides, key):
    with pytest.raises(UserError, match=key.replace(".", r"\.")):
        load_config(write(tmp_path, BASE), overrides)


def test_every_architecture_choice_is_one_config_line(tmp_path):
    config = load_config(write(tmp_path, BASE), NONE + ["model.decoder.context=transformed_mean",
                                                        "model.decoder.context_use=init"])
    assert config.model.decoder.context == "transformed_mean" and config.model.decoder.context_use == "init"
    config = load_config(write(tmp_path, BASE), ["model.decoder.local_window=5", "model.decoder.coverage=true",
                                                 "train.guided_alignment=0.5"])
    assert config.model.decoder.local_window == 5 and config.model.decoder.coverage
    config = load_config(write(tmp_path, BASE), ["model.decoder.cell=cgru", "model.decoder.input_feeding=false"])
    assert config.model.decoder.cell == "cgru"
    # 'last' used only as an input has no size constraint
    load_config(write(tmp_path, BASE), NONE + ["model.decoder.context=last", "model.decoder.context_use=input",
                                               "model.decoder.hidden_size=128"])
