"""The command line, end to end: train a tiny model, translate, score; and its errors."""

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from s2s import __version__
from s2s.cli import main
from s2s.config import dump_config
from tests.conftest import ROOT, load_demo_module, tiny_config, write_split


def run(*args, input=None):
    return CliRunner().invoke(main, [str(a) for a in args], input=input)


@pytest.fixture(scope="module")
def trained(demo_corpus, tmp_path_factory):
    """A run directory trained for a few steps through `s2s train`."""
    root = tmp_path_factory.mktemp("cli")
    dump_config(tiny_config(demo_corpus), root / "tiny.yaml")
    result = run("train", "-c", root / "tiny.yaml", "-o", root / "run", "--set", "train.max_steps=20",
                 "--set", "train.valid_every=10", "--set", f"data.test={demo_corpus / 'valid'}")
    assert result.exit_code == 0, result.output
    return root / "run"


def test_train_writes_a_run_directory(trained):
    assert (trained / "best.pt").is_file() and (trained / "config.yaml").is_file()
    assert "max_steps: 20" in (trained / "config.yaml").read_text()


def test_translate_keeps_lines_through_stdin_and_files(trained, tmp_path):
    lines = ["The dog sees a cat.", "", "The dog sees a cat.", "Some kings follow the girls."]
    data = ("\n".join(lines) + "\n").encode()
    result = run("translate", "-m", trained, input=data)
    assert result.exit_code == 0, result.output
    out = result.stdout.split("\n")
    assert len(out) == len(lines) + 1 and out[-1] == ""
    assert out[1] == "" and out[0] == out[2]
    (tmp_path / "in.txt").write_bytes(data.replace(b"\n", b"\r\n"))
    result = run("translate", "-m", trained / "best.pt", "-i", tmp_path / "in.txt", "-o", tmp_path / "out.txt")
    assert result.exit_code == 0 and result.stdout == ""
    assert (tmp_path / "out.txt").read_text().split("\n") == out
    import gzip
    (tmp_path / "in.txt.gz").write_bytes(gzip.compress(data))
    result = run("translate", "-m", trained, "-i", tmp_path / "in.txt.gz")
    assert result.exit_code == 0 and result.stdout.split("\n") == out
    result = run("translate", "-m", trained, "-i", tmp_path / "in.txt", "-o", tmp_path / "no" / "out.txt")
    assert result.exit_code == 1 and "does not exist" in result.output


def test_translate_nbest_prints_exactly_n_lines_per_input_line(trained):
    lines = ["The dog sees a cat.", "", "Some kings follow the girls."]
    data = ("\n".join(lines) + "\n").encode()
    result = run("translate", "-m", trained, "--beam", 4, "--nbest", 3, input=data)
    assert result.exit_code == 0, result.output
    rows = [row.split("\t") for row in result.stdout.splitlines()]
    assert len(rows) == 3 * len(lines) and all(len(row) == 4 for row in rows)
    assert [(int(r[0]), int(r[1])) for r in rows] == [(i, k) for i in (1, 2, 3) for k in (1, 2, 3)]
    for i in (0, 2):  # real lines: sorted scores, distinct texts
        scores = [float(r[2]) for r in rows[3 * i:3 * i + 3]]
        assert scores == sorted(scores, reverse=True) and len({r[3] for r in rows[3 * i:3 * i + 3]}) == 3
    assert [r[2:] for r in rows[3:6]] == [["0.0000", ""], ["-inf", ""], ["-inf", ""]]  # the blank line
    best = run("translate", "-m", trained, "--beam", 4, "--scores", input=data)
    assert best.exit_code == 0, best.output
    assert [row.split("\t") for row in best.stdout.splitlines()] == [r[2:] for r in rows if r[1] == "1"]
    plain = run("translate", "-m", trained, "--beam", 4, input=data)
    assert plain.stdout.splitlines() == [r[3] for r in rows if r[1] == "1"]


def test_search_options_change_the_output_and_are_checked(trained):
    data = b"The dog sees a cat.\nSome kings follow the girls.\n"
    greedy = run("translate", "-m", trained, "--beam", 1, "--scores", input=data)
    assert greedy.exit_code == 0, greedy.output
    short = run("translate", "-m", trained, "--beam", 1, "--max-len-a", 0, "--max-len-b", 2, input=data)
    assert all(len(line.split()) <= 2 for line in short.stdout.splitlines())
    result = run("translate", "-m", trained, "--beam", 2, "--nbest", 3, input=data)
    assert result.exit_code == 1 and "--nbest 3 is larger than the beam (2)" in result.output
    assert run("translate", "-m", trained, "--nbest", 2, "--scores", input=data).exit_code == 2
    assert run("translate", "-m", trained, "--beam", 0, input=data).exit_code == 2
    assert run("translate", "-m", trained, "--length-penalty", "avg", input=data).exit_code == 2
    result = run("translate", "-m", trained, "--max-len-a", 0, "--max-len-b", 0, input=data)
    assert result.exit_code == 1 and "cannot both be 0" in result.output


def test_eval_scores_a_model_and_a_file(trained, demo_corpus, tmp_path):
    result = run("eval", "-m", trained, "--src", demo_corpus / "valid.src", "--ref", demo_corpus / "valid.tgt",
                 "--json")
    assert result.exit_code == 0, result.output
    bleu, chrf = json.loads(result.stdout)
    assert bleu["name"] == "BLEU" and chrf["name"] == "chrF2" and "version:" in bleu["signature"]
    result = run("eval", "--hyp", demo_corpus / "valid.tgt", "--ref", demo_corpus / "valid.tgt")
    assert result.exit_code == 0
    assert result.stdout.splitlines()[0].startswith("BLEU|nrefs:1|") and "= 100.0 " in result.stdout


def test_eval_prints_what_the_sacrebleu_command_prints(demo_corpus, tmp_path):
    hyp = tmp_path / "hyp"
    lines = (demo_corpus / "valid.tgt").read_text().splitlines()
    hyp.write_text("\n".join(line.replace("a", "o") for line in lines) + "\n")
    ref = demo_corpus / "valid.tgt"
    for ours, theirs in ((["--json"], []), ([], ["-f", "text"]), (["-b"], ["-b", "-f", "text"])):
        result = run("eval", "--hyp", hyp, "--ref", ref, *ours)
        assert result.exit_code == 0, result.output
        command = subprocess.run([sys.executable, "-m", "sacrebleu", str(ref), "-i", str(hyp), "-m", "bleu",
                                  "chrf", *theirs], capture_output=True, text=True, check=True).stdout
        if ours == ["--json"]:
            assert json.loads(result.stdout) == json.loads(command)
        else:
            assert result.stdout.split() == command.split()


def test_eval_of_a_model_defaults_to_the_runs_test_split(trained, demo_corpus):
    default = run("eval", "-m", trained, "--json")
    explicit = run("eval", "-m", trained, "--src", demo_corpus / "valid.src", "--ref",
                   demo_corpus / "valid.tgt", "--json")
    assert default.exit_code == 0 and explicit.exit_code == 0, default.output
    assert json.loads(default.stdout) == json.loads(explicit.stdout)
    assert run("eval", "-m", trained, "--src", demo_corpus / "valid.src").exit_code == 2


def test_user_mistakes_are_one_line_errors(demo_corpus, tmp_path):
    (tmp_path / "bad.yaml").write_text("data:\n  train: x\n  valid: y\nmodel:\n  hiden: 3\n")
    result = run("train", "-c", tmp_path / "bad.yaml", "-o", tmp_path / "run")
    assert result.exit_code == 1 and "unknown config key 'model.hiden'" in result.output
    assert "Traceback" not in result.output
    (tmp_path / "h").write_text("a\nb\n")
    (tmp_path / "r").write_text("a\n")
    result = run("eval", "--hyp", tmp_path / "h", "--ref", tmp_path / "r")
    assert result.exit_code == 1 and "has 2 lines but" in result.output
    assert run("eval", "--ref", tmp_path / "r").exit_code == 2
    assert run("eval", "--hyp", tmp_path / "h", "--ref", tmp_path / "r", "--src", tmp_path / "r").exit_code == 2
    assert run("translate", "-m", tmp_path / "missing").exit_code == 2
    (tmp_path / "fake.pt").write_text("not a checkpoint")
    result = run("translate", "-m", tmp_path / "fake.pt", input=b"hello\n")
    assert result.exit_code == 1 and "not a readable s2s checkpoint" in result.output


def test_version():
    result = run("--version")
    assert result.exit_code == 0 and __version__ in result.output


@pytest.mark.slow
def test_demo_config_learns_the_demo_corpus(tmp_path):
    """The README's demo, through the installed `s2s` script, with a shorter schedule."""
    demo = load_demo_module()
    splits = demo.make_splits(seed=1, train=20000, valid=200, test=200)
    for name in ("train", "valid", "test"):
        write_split(tmp_path / "demo" / name, splits[name])
    s2s = [sys.executable, "-m", "s2s"]
    prefix = tmp_path / "demo"
    subprocess.run(s2s + ["train", "-c", ROOT / "configs" / "demo.yaml", "-o", tmp_path / "run", "--quiet",
                          "--set", f"data.train={prefix}/train", "--set", f"data.valid={prefix}/valid",
                          "--set", "train.max_steps=600"], check=True, cwd=tmp_path)
    with open(prefix / "test.src", "rb") as src, open(tmp_path / "hyp", "wb") as hyp:
        subprocess.run(s2s + ["translate", "-m", tmp_path / "run"], stdin=src, stdout=hyp, check=True)
    scores = subprocess.run(s2s + ["eval", "--hyp", tmp_path / "hyp", "--ref", prefix / "test.tgt", "--json"],
                            check=True, capture_output=True, text=True)
    bleu = json.loads(scores.stdout)[0]["score"]
    assert bleu >= 90, f"demo BLEU {bleu}"
