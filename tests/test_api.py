"""The public Python API, used only through the names `s2s` exports, does what docs/python.md says."""

import subprocess
import sys

import pytest

import s2s

from tests.conftest import ROOT


def test_the_public_names_are_exported_and_import_s2s_stays_light():
    for name in ("Translator", "Translation", "Attention", "Predictor", "train", "Progress", "Config",
                 "SearchConfig", "load_config", "Score", "score", "describe", "UserError", "__version__"):
        assert name in s2s.__all__ and getattr(s2s, name) is not None
    with pytest.raises(AttributeError):
        s2s.no_such_name
    loaded = subprocess.run([sys.executable, "-c", "import s2s, sys; print('torch' in sys.modules)"],
                            capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == "False"  # the CLI's --help and scripts that only need a name do not pay for torch


@pytest.fixture(scope="module")
def api_run(demo_corpus, tmp_path_factory):
    """s2s.train on a config file with overrides, as docs/python.md shows."""
    run = tmp_path_factory.mktemp("api") / "run"
    progress = s2s.train(ROOT / "configs" / "demo.yaml", run, device="cpu", overrides=[
        f"data.train={demo_corpus / 'train'}", f"data.valid={demo_corpus / 'valid'}",
        "tokenizer.vocab_size=120", "model.embed_dim=16", "model.encoder.hidden_size=16",
        "model.decoder.hidden_size=24", "train.max_steps=20", "train.valid_every=10", "train.log_every=10"])
    return run, progress


def test_train_writes_a_run_the_translator_loads(api_run, demo_corpus):
    run, progress = api_run
    assert isinstance(progress, s2s.Progress) and progress.step == 20
    assert (run / "best.pt").is_file() and (run / "config.yaml").is_file()
    config = s2s.load_config(run / "config.yaml")
    assert isinstance(config, s2s.Config) and config.train.max_steps == 20


def test_train_resumes_from_the_run_directory_alone(api_run):
    run, _ = api_run
    progress = s2s.train(None, run, resume=True, device="cpu", overrides=["train.max_steps=30"])
    assert progress.step == 30


def test_translator_translates_nbest_attention_and_other_search(api_run):
    run, _ = api_run
    translator = s2s.Translator.load(run, device="cpu")
    lines = ["the dog sees a cat .", "", "the cat runs . the dog sleeps ."]
    texts = translator.translate(lines)
    assert len(texts) == 3 and texts[1] == ""
    found = translator.nbest(lines, 3)
    assert [f[0].text for f in found] == texts
    assert all(isinstance(t, s2s.Translation) for t in found[0])
    assert [t.score for t in found[0]] == sorted((t.score for t in found[0]), reverse=True)
    attention = translator.attention(found[2][0])
    assert isinstance(attention, s2s.Attention)
    assert tuple(attention.weights.shape) == (len(attention.target), len(attention.source))
    assert attention.source.count("</s>") == len(found[2][0].parts) == 2  # one block per sentence
    assert translator.attention(found[1][0]) is None
    links = translator.alignment(found[2][0])  # one link per output word, to a word of the line
    assert sorted(j for _, j in links) == list(range(len(texts[2].split())))
    assert all(0 <= i < len(lines[2].split()) for i, _ in links) and translator.alignment(found[1][0]) == []
    forced = translator.force_all(["the dog sees a cat .", ""], ["ka vorn .", "ka"])
    assert forced[0].text == "ka vorn ." and forced[1].hypothesis is None
    assert forced[0].score == pytest.approx(translator.force("the dog sees a cat .", "ka vorn .").score, abs=1e-5)
    greedy = translator.with_search(beam=1)
    assert greedy.search.beam == 1 and translator.search.beam == 5 and greedy.model is translator.model
    with pytest.raises(s2s.UserError):
        translator.with_search(beam_size=3)


def test_score_describe_and_user_errors(api_run, tmp_path):
    run, _ = api_run
    bleu, chrf = s2s.score(["a black cat sits on the mat ."], ["a black cat sits on the mat ."])
    assert isinstance(bleu, s2s.Score) and bleu.score == pytest.approx(100.0) and chrf.name == "chrF2"
    with pytest.raises(s2s.UserError):
        s2s.score(["one", "two"], ["one"])
    facts = s2s.describe(run)
    assert facts["checkpoint"].endswith("best.pt") and facts["config"]["data"]["train"]
    hidden = s2s.describe(run, paths=False)
    assert "checkpoint" not in hidden and not {"train", "valid", "test"} & set(hidden["config"]["data"])
    with pytest.raises(s2s.UserError):
        s2s.Translator.load(tmp_path / "missing.pt")
    with pytest.raises(s2s.UserError):
        s2s.train(None, tmp_path / "nothing", resume=True)
