"""classify and tag end to end through the command line: train, predict (one output line
per input line, one label per word), score, inspect, resume; and their errors."""

import random

import pytest
import torch

from s2s import checkpoint
from s2s.configfile import dump_config, from_dict
from s2s.run import train
from tests.conftest import cli

POSITIVE, NEGATIVE = ["good", "great", "fine", "lovely"], ["bad", "awful", "dull", "boring"]
FILLER = ["the", "film", "was", "a", "plot", "very", "and", "actors", "it", "story"]
TAGS = {"the": "DET", "a": "DET", "cat": "NOUN", "dog": "NOUN", "bird": "NOUN", "child": "NOUN",
        "sees": "VERB", "likes": "VERB", "chases": "VERB", "big": "ADJ", "small": "ADJ", "red": "ADJ", ".": "PUNCT"}


def review(rng):
    while True:
        words = [rng.choice(FILLER) for _ in range(rng.randint(2, 6))]
        pos, neg = rng.randint(0, 2), rng.randint(0, 2)
        if pos != neg:
            break
    words += rng.sample(POSITIVE, pos) + rng.sample(NEGATIVE, neg)
    rng.shuffle(words)
    return ("1" if pos > neg else "0"), " ".join(words)


def clause(rng):
    def phrase():
        return [rng.choice(["the", "a"])] + ([rng.choice(["big", "small", "red"])] if rng.random() < 0.5 else []) + \
            [rng.choice(["cat", "dog", "bird", "child"])]
    return phrase() + [rng.choice(["sees", "likes", "chases"])] + phrase() + ["."]


def tiny(task, root, vocab_size, **data):
    raw = {"task": task, "data": {"max_len": 40, **data}, "tokenizer": {"vocab_size": vocab_size},
           "model": {"embed_dim": 24, "dropout": 0.1, "pooling": "mean", "encoder": {"hidden_size": 24}},
           "train": {"batch_tokens": 400, "lr": 0.01, "max_steps": 120, "valid_every": 40, "log_every": 20}}
    config = from_dict(raw)
    dump_config(config, root / f"{task}.yaml")
    return config


@pytest.fixture(scope="module")
def classify_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("classify")
    rng = random.Random(3)
    for split, n in (("train", 600), ("valid", 80), ("test", 80)):
        (root / f"{split}.sst").write_text("".join(" ".join(review(rng)) + "\n" for _ in range(n)))
    config = tiny("classify", root, 40, train=str(root / "train.sst"), valid=str(root / "valid.sst"),
                  test=str(root / "test.sst"), format="label_first")
    result = cli("train", "-c", root / "classify.yaml", "-o", root / "run")
    assert result.exit_code == 0, result.output
    return root, config


@pytest.fixture(scope="module")
def tag_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("tag")
    rng = random.Random(4)
    for split, n in (("train", 400), ("valid", 40)):
        sentences = [clause(rng) for _ in range(n)]
        (root / f"{split}.words").write_text("".join(" ".join(s) + "\n" for s in sentences))
        (root / f"{split}.tags").write_text("".join(" ".join(TAGS[w] for w in s) + "\n" for s in sentences))
    config = tiny("tag", root, 24, train=str(root / "train"), valid=str(root / "valid"), test=str(root / "valid"),
                  src_lang="words", tgt_lang="tags")
    result = cli("train", "-c", root / "tag.yaml", "-o", root / "run")
    assert result.exit_code == 0, result.output
    return root, config


@pytest.mark.slow
def test_a_classifier_learns_its_task_and_reports_accuracy(classify_run):
    root, _ = classify_run
    best = checkpoint.load(root / "run" / "best.pt")
    assert best["labels"] == ["0", "1"] and best["meta"]["metric"] == "accuracy"
    assert best["meta"]["best_score"] >= 90, best["meta"]
    assert "accuracy" in (root / "run" / "train.log").read_text()
    result = cli("eval", "-m", root / "run", "--json")
    assert result.exit_code == 0, result.output
    import json
    scores = json.loads(result.stdout)
    assert scores["accuracy"] >= 90 and scores["count"] == 80 and set(scores["per_label"]) == {"0", "1"}


@pytest.mark.slow
def test_predict_gives_one_line_per_input_line_and_empty_for_empty(classify_run, tmp_path, monkeypatch):
    root, _ = classify_run
    lines = ["good good film", "", "awful boring plot", "   ", "the film was lovely and fine"]
    result = cli("predict", "-m", root / "run", input="\n".join(lines) + "\n")
    assert result.exit_code == 0, result.output
    assert result.stdout.split("\n") == ["1", "", "0", "", "1", ""]
    (tmp_path / "in.txt").write_text("\n".join(lines * 50) + "\n")
    result = cli("predict", "-m", root / "run", "-i", tmp_path / "in.txt", "-o", tmp_path / "out.txt",
                 "--batch-size", 7)
    assert result.exit_code == 0 and (tmp_path / "out.txt").read_text().split("\n") == ["1", "", "0", "", "1"] * 50 + [""]
    result = cli("predict", "-m", root / "run", "-i", root / "test.sst", "--format", "label_first")
    assert result.exit_code == 0 and len(result.stdout.splitlines()) == 80
    gold = [line.split()[0] for line in (root / "test.sst").read_text().splitlines()]
    (tmp_path / "hyp").write_text(result.stdout)
    (tmp_path / "ref").write_text("\n".join(gold) + "\n")
    by_file = cli("eval", "--task", "classify", "--hyp", tmp_path / "hyp", "--ref", tmp_path / "ref", "-b")
    by_model = cli("eval", "-m", root / "run", "-b")
    assert by_file.exit_code == 0 and by_file.stdout == by_model.stdout
    by_format = cli("eval", "--task", "classify", "--hyp", tmp_path / "hyp", "--ref", root / "test.sst",
                    "--ref-format", "label_first", "-b")
    assert by_format.stdout == by_model.stdout
    # a labelled data file scored with a model: the model reads its texts, never a line whose
    # first word is the label
    from s2s.predictor import Predictor
    seen, predict = [], Predictor.predict
    monkeypatch.setattr(Predictor, "predict", lambda self, inputs: seen.append(inputs) or predict(self, inputs))
    texts = [line.split(" ", 1)[1] for line in (root / "test.sst").read_text().splitlines()]
    for extra in ((), ("--src", root / "test.sst")):
        seen.clear()
        by_data_file = cli("eval", "-m", root / "run", *extra, "--ref", root / "test.sst", "--ref-format",
                           "label_first", "-b")
        assert by_data_file.exit_code == 0 and by_data_file.stdout == by_model.stdout, by_data_file.output
        assert seen == [texts]


@pytest.mark.slow
def test_a_tagger_gives_every_word_one_label_even_unseen_ones(tag_run):
    root, _ = tag_run
    best = checkpoint.load(root / "run" / "best.pt")
    assert best["meta"]["best_score"] >= 95, best["meta"]
    lines = ["the big dog sees a cat .", "", "a zqxjvw chases the Ünïcødé-bird .", "dog"]
    result = cli("predict", "-m", root / "run", input="\n".join(lines) + "\n")
    assert result.exit_code == 0, result.output
    out = result.stdout.split("\n")[:-1]
    assert [len(o.split()) for o in out] == [len(line.split()) for line in lines]
    assert out[0] == "DET ADJ NOUN VERB DET NOUN PUNCT" and out[1] == ""
    assert out[2].split()[0] == "DET" and out[2].split()[-1] == "PUNCT"
    result = cli("eval", "-m", root / "run")
    assert result.exit_code == 0 and result.stdout.startswith("accuracy = ") and "NOUN: P" in result.stdout
    # the same sentences as a CoNLL-U file, scored with --ref-format conllu
    sentences = zip((root / "valid.words").read_text().splitlines(), (root / "valid.tags").read_text().splitlines())
    (root / "valid.conllu").write_text("".join(
        "".join(f"{i}\t{w}\t_\t{t}\t_\t_\t_\t_\t_\t_\n" for i, (w, t) in enumerate(zip(ws.split(), ts.split()), 1))
        + "\n" for ws, ts in sentences))
    by_file = cli("eval", "-m", root / "run", "--ref", root / "valid.conllu", "--ref-format", "conllu")
    assert by_file.exit_code == 0 and by_file.stdout == result.stdout, by_file.output


@pytest.mark.slow
def test_info_and_translate_know_a_labelers_task(classify_run):
    root, _ = classify_run
    result = cli("info", root / "run")
    assert result.exit_code == 0 and "task: classify" in result.stdout and "best_valid_accuracy" in result.stdout
    result = cli("translate", "-m", root / "run", input="good\n")
    assert result.exit_code == 1 and "is a classify model, not a translator: use s2s predict" in result.output
    result = cli("predict", "-m", root / "run", "-i", root / "test.sst", "--format", "conllu")
    assert result.exit_code == 1 and "--format conllu is not a format of task classify" in result.output
    result = cli("eval", "-m", root / "run", "--ref", root / "test.sst", "--ref-format", "conllu")
    assert result.exit_code == 1 and "--ref-format conllu is not a format of task classify" in result.output
    result = cli("eval", "--task", "classify", "--hyp", root / "test.sst", "--ref", root / "test.sst",
                 "--ref-format", "conllu")
    assert result.exit_code == 1 and "--ref-format conllu is not a format of task classify" in result.output
    result = cli("eval", "-m", root / "run", "--ref", root / "test.sst")
    assert result.exit_code == 2 and "--ref DATA_FILE with its --ref-format" in result.output
    alone, twice = cli("eval", "-m", root / "run", "-b"), cli("eval", "-m", root / "run", "-m", root / "run", "-b")
    assert twice.exit_code == 0 and twice.stdout == alone.stdout  # an ensemble of one model twice is that model
    result = cli("predict", "-m", root / "run", "-m", root / "run" / "best.pt",
                 input="good good film\n\nawful boring plot\n")
    assert result.exit_code == 0 and result.stdout.split("\n") == ["1", "", "0", ""]
    result = cli("translate", "-m", root / "run", "-m", root / "run", input="good\n")
    assert result.exit_code == 1 and "is a classify model, not a translator" in result.output


def test_predict_refuses_a_translator(demo_run):
    result = cli("predict", "-m", demo_run / "run", input="x\n")
    assert result.exit_code == 1 and "is a translation model: use s2s translate" in result.output


@pytest.mark.slow
@pytest.mark.parametrize("subword_alpha", [0.0, 0.1])
def test_a_classify_run_resumes_exactly(classify_run, tmp_path, subword_alpha):
    _, config = classify_run
    from dataclasses import replace
    config = replace(config, train=replace(config.train, subword_alpha=subword_alpha))
    short = replace(config, train=replace(config.train, max_steps=47))  # mid-epoch
    train(short, tmp_path / "a")
    assert checkpoint.load(tmp_path / "a" / "last.pt")["progress"]["batch_in_epoch"] > 0
    train(config, tmp_path / "a", resume=True)
    train(config, tmp_path / "b")
    a, b = (checkpoint.load(tmp_path / r / "last.pt") for r in "ab")
    for name in a["model"]:
        torch.testing.assert_close(a["model"][name], b["model"][name])
    regular = lambda run: [h["valid_score"] for h in run["progress"]["history"] if not h["final"]]  # noqa: E731
    assert regular(a) == regular(b)  # (the resumed run also validated where its first part ended, at step 47)


def test_config_refuses_formats_and_options_of_another_task():
    from s2s.errors import UserError
    with pytest.raises(UserError, match="data.format.*'conllu' is not a format of task classify"):
        from_dict({"task": "classify", "data": {"train": "a", "valid": "b", "format": "conllu"}})
    with pytest.raises(UserError, match="task.*must be one of"):
        from_dict({"task": "parse", "data": {"train": "a", "valid": "b"}})
    with pytest.raises(UserError, match="train.guided_alignment.*translate only"):
        from_dict({"task": "tag", "data": {"train": "a", "valid": "b"}, "train": {"guided_alignment": 0.5}})
    with pytest.raises(UserError, match="model.pooling"):
        from_dict({"task": "classify", "data": {"train": "a", "valid": "b"}, "model": {"pooling": "sum"}})


@pytest.mark.slow
def test_a_tagger_trains_the_same_under_torchrun_with_two_processes(tag_run, tmp_path):
    import os
    import subprocess
    import sys
    from dataclasses import replace
    _, config = tag_run
    config = replace(config, model=replace(config.model, dropout=0.0),
                     train=replace(config.train, max_steps=8, valid_every=4, accumulate=2, keep_checkpoints=0))
    dump_config(config, tmp_path / "c.yaml")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    train_args = ["-m", "s2s", "train", "-c", "c.yaml", "--quiet", "-o"]
    one = subprocess.run([sys.executable, *train_args, "one"], cwd=tmp_path, env=env, capture_output=True, text=True)
    two = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                          *train_args, "two"], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert one.returncode == 0 and two.returncode == 0, one.stderr + two.stderr
    a, b = (checkpoint.load(tmp_path / run / "last.pt") for run in ("one", "two"))
    for name in a["model"]:
        torch.testing.assert_close(a["model"][name], b["model"][name], atol=1e-5, rtol=1e-4)
    assert [h["valid_score"] for h in a["progress"]["history"]] == [h["valid_score"] for h in b["progress"]["history"]]


def test_resume_refuses_another_task_or_format(tmp_path):
    from s2s.errors import UserError
    from s2s.resume import check_compatible
    base = {"data": {"train": "a", "valid": "b"}}
    classify = from_dict({**base, "task": "classify"})
    with pytest.raises(UserError, match="started with task: classify, not tag"):
        check_compatible(classify, from_dict({**base, "task": "tag"}), tmp_path)
    with pytest.raises(UserError, match="data.format differs"):
        check_compatible(classify, from_dict({"task": "classify", "data": {**base["data"], "format": "tsv"}}), tmp_path)
