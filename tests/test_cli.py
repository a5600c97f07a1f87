"""The command line as a whole: a tiny model trained through `s2s train`, help for every
command, and user mistakes as one-line errors."""

import json
import random
import subprocess
import sys

import pytest

from s2s import __version__
from s2s.configfile import dump_config
from tests.conftest import cli, tiny_config


def test_train_writes_a_run_directory(trained):
    assert (trained / "best.pt").is_file() and (trained / "config.yaml").is_file()
    assert "max_steps: 20" in (trained / "config.yaml").read_text()


def test_damaged_checkpoints_are_one_line_errors(trained, tmp_path):
    import torch
    from s2s import checkpoint
    data = (trained / "best.pt").read_bytes()
    (tmp_path / "cut.pt").write_bytes(data[: len(data) // 2])
    (tmp_path / "random.pt").write_bytes(bytes(random.Random(1).randrange(256) for _ in range(5000)))
    (tmp_path / "empty.pt").write_bytes(b"")
    (tmp_path / "zipped.pt").write_bytes(data[:4] + bytes(5000))  # starts as an archive, then nothing
    why = {"cut": "the archive stops before its end", "random": "it does not start as the zip archive",
           "empty": "the file is empty", "zipped": "the archive stops before its end"}
    for name, reason in why.items():
        for command in (["translate", "-m"], ["info"], ["eval", "--src", trained / "config.yaml", "--ref",
                                                       trained / "config.yaml", "-m"]):
            result = cli(*command, tmp_path / f"{name}.pt", input=b"hello\n")
            assert result.exit_code == 1, result.output
            assert result.output.splitlines() == [f"Error: {tmp_path / name}.pt is truncated or not an s2s "
                                                  f"checkpoint: {reason}" + result.output.split(reason, 1)[1].rstrip()]
            for advice in ("weights_only", "Errno", "EOFError", "Traceback", "torch.load"):
                assert advice not in result.output
    content = checkpoint.load(trained / "best.pt")
    torch.save({**content, "format": "s2s-checkpoint-9"}, tmp_path / "future.pt")
    result = cli("translate", "-m", tmp_path / "future.pt", input=b"hello\n")
    assert result.exit_code == 1 and "format s2s-checkpoint-9, which this version of s2s cannot read" in result.output
    model = dict(content["model"])
    model.pop(next(iter(model)))
    checkpoint.save(tmp_path / "mixed.pt", {**content, "model": model})
    result = cli("translate", "-m", tmp_path / "mixed.pt", input=b"hello\n")
    assert result.exit_code == 1 and "the checkpoint's parts do not fit together" in result.output
    assert "Traceback" not in result.output


def test_a_reader_that_stops_early_is_not_an_error(trained):
    shell = f"{sys.executable} -m s2s info {trained} | true"  # gone before s2s writes a line
    result = subprocess.run(["bash", "-o", "pipefail", "-c", shell], capture_output=True, text=True)
    assert result.returncode == 0 and result.stderr == ""


def test_the_quick_exit_loses_no_output_and_keeps_exit_statuses(trained, demo_corpus, tmp_path):
    lines = (demo_corpus / "valid.src").read_text().splitlines()[:40] * 8  # 320 lines
    (tmp_path / "in.txt").write_text("\n".join(lines) + "\n")
    expected = cli("translate", "-m", trained, "-i", tmp_path / "in.txt").stdout  # in-process, no quick exit
    s2s = [sys.executable, "-m", "s2s"]
    piped = subprocess.run(s2s + ["translate", "-m", trained, "-i", tmp_path / "in.txt"], capture_output=True,
                           text=True)
    assert piped.returncode == 0 and piped.stdout == expected and len(piped.stdout.splitlines()) == 320
    written = subprocess.run(s2s + ["translate", "-m", trained, "-i", tmp_path / "in.txt", "-o", tmp_path / "out"])
    assert written.returncode == 0 and (tmp_path / "out").read_text() == expected
    mistake = subprocess.run(s2s + ["translate", "-m", tmp_path / "in.txt"], capture_output=True, text=True)
    assert mistake.returncode == 1 and "in.txt" in mistake.stderr
    usage = subprocess.run(s2s + ["translate", "--no-such-option"], capture_output=True, text=True)
    assert usage.returncode == 2 and "--no-such-option" in usage.stderr


def test_the_quick_exit_runs_exit_handlers_and_waits_for_threads():
    script = ("import atexit, sys, threading, time; from s2s.cli import run\n"
              "atexit.register(lambda: print('handler ran', flush=True))\n"
              "threading.Thread(target=lambda: (time.sleep(0.5), print('thread done', flush=True))).start()\n"
              "sys.argv = ['s2s', '--version']; run()")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.splitlines()[1:] == ["thread done", "handler ran"]
    script = ("import atexit, sys; from s2s.cli import run\n"
              "atexit.register(lambda: print('handler ran', flush=True))\n"
              "sys.argv = ['s2s', 'info', '/no/such/run']; run()")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == 2 and result.stdout == "handler ran\n"


def test_every_command_has_a_summary_and_an_example():
    from s2s.cli import main
    for name, command in main.commands.items():
        assert command.get_short_help_str(), name
        result = cli(name, "--help")
        assert result.exit_code == 0 and "Example" in result.output, name
    assert "Exit status" in cli("--help").output


def test_user_mistakes_are_one_line_errors(demo_corpus, tmp_path):
    (tmp_path / "bad.yaml").write_text("data:\n  train: x\n  valid: y\nmodel:\n  hiden: 3\n")
    result = cli("train", "-c", tmp_path / "bad.yaml", "-o", tmp_path / "run")
    assert result.exit_code == 1 and "unknown config key 'model.hiden'" in result.output
    assert "Traceback" not in result.output
    (tmp_path / "h").write_text("a\nb\n")
    (tmp_path / "r").write_text("a\n")
    result = cli("eval", "--hyp", tmp_path / "h", "--ref", tmp_path / "r")
    assert result.exit_code == 1 and "has 2 lines but" in result.output
    assert cli("eval", "--ref", tmp_path / "r").exit_code == 2
    assert cli("eval", "--hyp", tmp_path / "h", "--ref", tmp_path / "r", "--src", tmp_path / "r").exit_code == 2
    assert cli("translate", "-m", tmp_path / "missing").exit_code == 2
    (tmp_path / "fake.pt").write_text("not a checkpoint")
    result = cli("translate", "-m", tmp_path / "fake.pt", input=b"hello\n")
    assert result.exit_code == 1 and "fake.pt is truncated or not an s2s checkpoint" in result.output


def test_a_yaml_syntax_error_is_one_line_naming_the_file_line_and_column(tmp_path):
    (tmp_path / "broken.yaml").write_text("data:\n  train: x\n  valid: [a, b\nmodel:\n  embed_dim: 3\n")
    (tmp_path / "tab.yaml").write_text("data:\n  train: x\n\tvalid: y\n")
    expected = {"broken.yaml": "line 4, column 6: not valid YAML: while parsing a flow sequence that starts at "
                               "line 3, column 10, expected ',' or ']', but got ':'",
                "tab.yaml": "line 3, column 1: not valid YAML: while scanning for the next token found "
                            "character '\\t' that cannot start any token"}
    for name, message in expected.items():
        result = cli("train", "-c", tmp_path / name, "-o", tmp_path / "run")
        assert result.exit_code == 1
        assert result.output.splitlines() == [f"Error: config {tmp_path / name}, {message}"]
        assert "<unicode string>" not in result.output


def test_paths_the_file_system_refuses_are_one_line_errors(trained, demo_corpus, tmp_path):
    import torch
    from s2s import checkpoint
    (tmp_path / "afile").write_text("not a directory")
    result = cli("translate", "-m", trained, "--plot-attention", tmp_path / "afile" / "plots", input=b"A dog.\n")
    assert result.exit_code == 1 and "afile/plots" in result.output and "Traceback" not in result.output
    dump_config(tiny_config(demo_corpus), tmp_path / "tiny.yaml")
    result = cli("train", "-c", tmp_path / "tiny.yaml", "-o", tmp_path / "afile" / "run")
    assert result.exit_code == 1 and "Not a directory" in result.output
    content = checkpoint.load(trained / "best.pt")
    torch.save({**content, "tokenizer": {"src": b"garbage"}}, tmp_path / "badtok.pt")
    result = cli("info", tmp_path / "badtok.pt")
    assert result.exit_code == 1 and "tokenizer cannot be read" in result.output


def test_version():
    result = cli("--version")
    assert result.exit_code == 0 and __version__ in result.output


@pytest.mark.slow
def test_demo_config_learns_the_demo_corpus(demo_run):
    """The README's demo, through the installed `s2s` script, with a shorter schedule."""
    s2s = [sys.executable, "-m", "s2s"]
    prefix = demo_run / "demo"
    with open(prefix / "test.src", "rb") as src, open(demo_run / "hyp", "wb") as hyp:
        subprocess.run(s2s + ["translate", "-m", demo_run / "run"], stdin=src, stdout=hyp, check=True)
    scores = subprocess.run(s2s + ["eval", "--hyp", demo_run / "hyp", "--ref", prefix / "test.tgt", "--json"],
                            check=True, capture_output=True, text=True)
    bleu = json.loads(scores.stdout)[0]["score"]
    assert bleu >= 90, f"demo BLEU {bleu}"
