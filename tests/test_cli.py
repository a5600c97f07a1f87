"""The command line, end to end: train a tiny model, translate, score; and its errors."""

import json
import random
import subprocess
import sys

import pytest
from click.testing import CliRunner

from s2s import __version__
from s2s.cli import main
from s2s.configfile import dump_config
from tests.conftest import tiny_config


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


def test_translate_samples_any_number_per_line_and_repeats_them_from_the_seed(trained):
    data = "the dog sees a cat .\n\na bird\n"
    sampled = run("translate", "-m", trained, "--sample", "--nbest", 7, "--top-p", 0.95, input=data)
    assert sampled.exit_code == 0, sampled.output  # 7 samples though the beam is 5
    lines = sampled.stdout.splitlines()
    assert [line.split("\t")[:2] for line in lines] == [[str(n), str(r)] for n in (1, 2, 3) for r in range(1, 8)]
    assert run("translate", "-m", trained, "--sample", "--nbest", 7, "--top-p", 0.95, input=data).stdout == sampled.stdout
    other = run("translate", "-m", trained, "--sample", "--nbest", 7, "--top-p", 0.95, "--seed", 2, input=data)
    assert other.exit_code == 0 and other.stdout != sampled.stdout
    assert run("translate", "-m", trained, "--sample", "--top-p", 0, input=data).exit_code == 2


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


def test_a_paragraph_is_translated_as_its_sentences_in_every_output_form(trained, tmp_path):
    sentences = ["The dog sees a cat.", "Some kings follow the girls.", "A bird."]
    lines = run("translate", "-m", trained, "--scores", input="\n".join(sentences) + "\n")
    assert lines.exit_code == 0, lines.output
    scores, texts = zip(*(row.split("\t") for row in lines.stdout.splitlines()))
    paragraph = " ".join(sentences) + "\n"
    plain = run("translate", "-m", trained, input=paragraph)
    assert plain.stdout == " ".join(texts) + "\n"
    scored = run("translate", "-m", trained, "--scores", input=paragraph).stdout.rstrip("\n").split("\t")
    assert scored[1] == " ".join(texts) and float(scored[0]) == pytest.approx(sum(map(float, scores)), abs=2e-3)
    best = run("translate", "-m", trained, "--nbest", 2, input=paragraph).stdout.splitlines()
    assert len(best) == 2 and best[0].split("\t")[3] == " ".join(texts)
    (tmp_path / "para.src").write_text(paragraph)
    (tmp_path / "para.ref").write_text(" ".join(texts) + "\n")  # its own translation: BLEU 100
    result = run("eval", "-m", trained, "--src", tmp_path / "para.src", "--ref", tmp_path / "para.ref", "-b")
    assert result.exit_code == 0 and result.stdout.splitlines()[0] == "100.0"


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


def test_translate_keeps_every_line_of_messy_input(trained, tmp_path):
    data = b"one\r\ntwo\r\n\r\n  \t \nnul \x00 byte\nctrl \x01\x1b\n\xf0\x9f\x98\x80 emoji\nlast without newline"
    result = run("translate", "-m", trained, "--beam", 2, input=data)
    assert result.exit_code == 0, result.output
    out = result.stdout.split("\n")
    assert len(out) == 8 + 1 and out[-1] == "" and out[2] == out[3] == ""
    (tmp_path / "one.txt").write_bytes(b"just one line")
    result = run("translate", "-m", trained, "-i", tmp_path / "one.txt")
    assert result.exit_code == 0 and result.stdout.count("\n") == 1


def test_invalid_utf8_is_named_or_replaced_never_half_written(trained, tmp_path):
    data = b"fine\nbad \xff here\nfine\n"
    result = run("translate", "-m", trained, input=data)
    assert result.exit_code == 1 and "<stdin>:2: invalid UTF-8 at byte 4" in result.output
    assert "Traceback" not in result.output
    (tmp_path / "in.txt").write_bytes(data)
    result = run("translate", "-m", trained, "-i", tmp_path / "in.txt", "-o", tmp_path / "out.txt")
    assert result.exit_code == 1 and "in.txt:2: invalid UTF-8" in result.output and "was not written" in result.output
    assert not (tmp_path / "out.txt").exists() and list(tmp_path.iterdir()) == [tmp_path / "in.txt"]
    result = run("translate", "-m", trained, "-i", tmp_path / "in.txt", "--utf8-errors", "replace")
    assert result.exit_code == 0 and result.stdout.count("\n") == 3


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
            result = run(*command, tmp_path / f"{name}.pt", input=b"hello\n")
            assert result.exit_code == 1, result.output
            assert result.output.splitlines() == [f"Error: {tmp_path / name}.pt is truncated or not an s2s "
                                                  f"checkpoint: {reason}" + result.output.split(reason, 1)[1].rstrip()]
            for advice in ("weights_only", "Errno", "EOFError", "Traceback", "torch.load"):
                assert advice not in result.output
    content = checkpoint.load(trained / "best.pt")
    torch.save({**content, "format": "s2s-checkpoint-9"}, tmp_path / "future.pt")
    result = run("translate", "-m", tmp_path / "future.pt", input=b"hello\n")
    assert result.exit_code == 1 and "format s2s-checkpoint-9, which this version of s2s cannot read" in result.output
    model = dict(content["model"])
    model.pop(next(iter(model)))
    checkpoint.save(tmp_path / "mixed.pt", {**content, "model": model})
    result = run("translate", "-m", tmp_path / "mixed.pt", input=b"hello\n")
    assert result.exit_code == 1 and "the checkpoint's parts do not fit together" in result.output
    assert "Traceback" not in result.output


def test_plot_attention_writes_one_png_per_translated_line(trained, tmp_path):
    from PIL import Image
    data = b"The dog sees a cat.\n\nSome kings follow the girls.\nThe dog sees a cat. A bird.\n"
    result = run("translate", "-m", trained, "--plot-attention", tmp_path / "plots", input=data)
    assert result.exit_code == 0, result.output
    assert result.stdout.count("\n") == 4
    assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == ["000001.png", "000003.png", "000004.png"]
    with Image.open(tmp_path / "plots" / "000001.png") as one, Image.open(tmp_path / "plots" / "000004.png") as two:
        assert two.size[0] > one.size[0]  # both sentences' source pieces across
    with Image.open(tmp_path / "plots" / "000001.png") as image:
        assert image.format == "PNG"
    result = run("plot-attention", "-m", trained, "--src", "The dog sees a cat.", "-o", tmp_path / "one.png")
    assert result.exit_code == 0, result.output
    score, text = result.stdout.splitlines()[0].split("\t")
    assert float(score) <= 0 and (tmp_path / "one.png").stat().st_size > 1000
    forced = run("plot-attention", "-m", trained, "--src", "The dog sees a cat.", "--ref", "Ka vorn kin miset.",
                 "-o", tmp_path / "ref.png")
    assert forced.exit_code == 0 and forced.stdout.split("\t")[1].strip() == "Ka vorn kin miset."
    assert run("plot-attention", "-m", trained, "--src", " ").exit_code == 1


def test_info_describes_a_checkpoint(trained):
    from s2s import checkpoint
    result = run("info", trained, "--json")
    assert result.exit_code == 0, result.output
    facts = json.loads(result.stdout)
    best = checkpoint.load(trained / "best.pt")
    assert facts["parameters"] == checkpoint.parameter_count(best["model"]) > 0
    assert facts["best_valid_bleu"] == round(best["meta"]["best_bleu"], 1) and facts["step"] == best["meta"]["step"]
    assert facts["bleu_signature"].startswith("nrefs:1|") and facts["config"]["model"]["embed_dim"] == 16
    text = run("info", trained / "last.pt")
    assert text.exit_code == 0 and "parameters: " in text.stdout and "config:" in text.stdout
    assert "skipped_steps" in text.stdout


def test_a_reader_that_stops_early_is_not_an_error(trained):
    shell = f"{sys.executable} -m s2s info {trained} | true"  # gone before s2s writes a line
    result = subprocess.run(["bash", "-o", "pipefail", "-c", shell], capture_output=True, text=True)
    assert result.returncode == 0 and result.stderr == ""


def test_info_rounds_bleu_as_sacrebleu_does_and_says_an_average_was_not_validated(trained, tmp_path):
    from s2s import checkpoint
    content = checkpoint.load(trained / "best.pt")
    meta = {**content["meta"], "best_bleu": 100.00000000000004, "valid_bleu": 41.26}
    checkpoint.save(tmp_path / "b.pt", {**content, "meta": meta})
    result = run("info", tmp_path / "b.pt")
    assert "best_valid_bleu: 100.0\n" in result.stdout and "valid_bleu_at_step: 41.3\n" in result.stdout
    assert "validated" not in result.stdout
    assert run("average", trained, "--last", 2, "-o", tmp_path / "avg.pt").exit_code == 0
    facts = json.loads(run("info", tmp_path / "avg.pt", "--json").stdout)
    assert facts["valid_bleu_at_step"] is None and facts["averaged_steps"] == [10, 20]
    assert facts["validated"].startswith("no: this is the average of steps 10, 20, never validated itself")


def test_average_writes_the_mean_of_the_last_checkpoints(trained, tmp_path):
    import torch
    from s2s import checkpoint
    kept = checkpoint.kept(trained)
    assert len(kept) == 2  # validations at steps 10 and 20
    result = run("average", trained, "--last", 2, "-o", tmp_path / "avg.pt")
    assert result.exit_code == 0, result.output
    content = checkpoint.load(tmp_path / "avg.pt")
    averaged = content["model"]
    assert content["lengths"] == checkpoint.load(kept[-1])["lengths"]  # translation still knows its limits
    a, b = (checkpoint.load(p)["model"] for p in kept)
    for name in averaged:
        torch.testing.assert_close(averaged[name], (a[name] + b[name]) / 2)
    assert run("translate", "-m", tmp_path / "avg.pt", input=b"The dog.\n").exit_code == 0
    result = run("average", trained, "--last", 3, "-o", tmp_path / "avg3.pt")
    assert result.exit_code == 1 and "has 2 step checkpoints" in result.output


def test_eval_reads_hypotheses_from_stdin(demo_corpus):
    ref = demo_corpus / "valid.tgt"
    result = run("eval", "--hyp", "-", "--ref", ref, "-b", input=ref.read_bytes())
    assert result.exit_code == 0 and result.stdout.splitlines()[0] == "100.0"
    result = run("eval", "--hyp", "-", "--ref", ref, input=b"one line\n")
    assert result.exit_code == 1 and "<stdin> has 1 lines but" in result.output


def test_every_command_has_a_summary_and_an_example():
    from s2s.cli import main
    for name, command in main.commands.items():
        assert command.get_short_help_str(), name
        result = run(name, "--help")
        assert result.exit_code == 0 and "Example" in result.output, name
    assert "Exit status" in run("--help").output


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
    assert result.exit_code == 1 and "fake.pt is truncated or not an s2s checkpoint" in result.output


def test_a_yaml_syntax_error_is_one_line_naming_the_file_line_and_column(tmp_path):
    (tmp_path / "broken.yaml").write_text("data:\n  train: x\n  valid: [a, b\nmodel:\n  embed_dim: 3\n")
    (tmp_path / "tab.yaml").write_text("data:\n  train: x\n\tvalid: y\n")
    expected = {"broken.yaml": "line 4, column 6: not valid YAML: while parsing a flow sequence that starts at "
                               "line 3, column 10, expected ',' or ']', but got ':'",
                "tab.yaml": "line 3, column 1: not valid YAML: while scanning for the next token found "
                            "character '\\t' that cannot start any token"}
    for name, message in expected.items():
        result = run("train", "-c", tmp_path / name, "-o", tmp_path / "run")
        assert result.exit_code == 1
        assert result.output.splitlines() == [f"Error: config {tmp_path / name}, {message}"]
        assert "<unicode string>" not in result.output


def test_paths_the_file_system_refuses_are_one_line_errors(trained, demo_corpus, tmp_path):
    import torch
    from s2s import checkpoint
    (tmp_path / "afile").write_text("not a directory")
    result = run("translate", "-m", trained, "--plot-attention", tmp_path / "afile" / "plots", input=b"A dog.\n")
    assert result.exit_code == 1 and "afile/plots" in result.output and "Traceback" not in result.output
    dump_config(tiny_config(demo_corpus), tmp_path / "tiny.yaml")
    result = run("train", "-c", tmp_path / "tiny.yaml", "-o", tmp_path / "afile" / "run")
    assert result.exit_code == 1 and "Not a directory" in result.output
    content = checkpoint.load(trained / "best.pt")
    torch.save({**content, "tokenizer": {"src": b"garbage"}}, tmp_path / "badtok.pt")
    result = run("info", tmp_path / "badtok.pt")
    assert result.exit_code == 1 and "tokenizer cannot be read" in result.output


def test_version():
    result = run("--version")
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


def start_training(config, run_dir, *extra):
    return subprocess.Popen([sys.executable, "-m", "s2s", "train", "-c", str(config), "-o", str(run_dir),
                             "--quiet", *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for(path, process, seconds=120):
    import time
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


@pytest.fixture
def endless_config(demo_corpus, tmp_path):
    """A tiny run that would go on for a long time, checkpointing every 5 steps."""
    from dataclasses import replace
    config = tiny_config(demo_corpus)
    config = replace(config, train=replace(config.train, max_steps=100_000, valid_every=5,
                                           valid_batch_size=64))
    dump_config(config, tmp_path / "endless.yaml")
    return tmp_path / "endless.yaml"


@pytest.mark.slow
def test_ctrl_c_saves_a_checkpoint_and_says_how_to_resume(endless_config, tmp_path):
    import signal
    from s2s import checkpoint
    process = start_training(endless_config, tmp_path / "run")
    wait_for(tmp_path / "run" / "last.pt", process)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    assert "SIGINT received: stopped at step" in err and "--resume" in err and "Traceback" not in err
    step = checkpoint.load(tmp_path / "run" / "last.pt")["progress"]["step"]
    resumed = subprocess.run([sys.executable, "-m", "s2s", "train", "-o", str(tmp_path / "run"), "--resume",
                              "--quiet", "--set", f"train.max_steps={step + 3}"], capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    assert checkpoint.load(tmp_path / "run" / "last.pt")["progress"]["step"] == step + 3


@pytest.mark.slow
def test_after_sigkill_at_any_moment_resume_goes_on_from_the_last_checkpoint(endless_config, tmp_path):
    import random
    import signal
    import time
    from s2s import checkpoint
    rng, run, steps = random.Random(0), tmp_path / "run", []
    process = start_training(endless_config, run)
    for _ in range(4):
        wait_for(run / "last.pt", process)
        time.sleep(rng.uniform(0.0, 1.5))  # anywhere: mid-step, mid-validation, mid-write
        process.send_signal(signal.SIGKILL)
        process.wait()
        content = checkpoint.load(run / "last.pt")  # never half-written
        assert not steps or content["progress"]["step"] >= steps[-1]
        steps.append(content["progress"]["step"])
        process = start_training(endless_config, run, "--resume")
    process.send_signal(signal.SIGKILL)
    process.wait()
    step = checkpoint.load(run / "last.pt")["progress"]["step"]
    assert step >= max(steps)
    done = subprocess.run([sys.executable, "-m", "s2s", "train", "-o", str(run), "--resume", "--quiet",
                           "--set", f"train.max_steps={step + 20}"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert checkpoint.load(run / "last.pt")["progress"]["step"] == step + 20
    assert not list(run.glob(".*.tmp"))


def test_a_terminal_on_stdin_gets_each_translation_as_soon_as_its_line_is_typed(trained):
    """Like fairseq-interactive: line-buffered and flushed, not batched until end of input."""
    import os
    import pty
    import select
    master, slave = pty.openpty()
    process = subprocess.Popen([sys.executable, "-m", "s2s", "translate", "-m", str(trained), "--beam", "1"],
                               stdin=slave, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    os.close(slave)
    try:
        for sentence in (b"The dog sees a cat.\n", b"A bird.\n"):
            os.write(master, sentence)
            ready, _, _ = select.select([process.stdout], [], [], 60)
            assert ready, "no translation came back before the input ended"
            assert process.stdout.readline().endswith(b"\n")
        os.write(master, b"\x04")  # Ctrl-D: end of input
        assert process.wait(timeout=60) == 0
    finally:
        process.kill()
        os.close(master)


def test_progress_goes_to_a_terminal_on_stderr_and_never_to_stdout(trained, demo_corpus):
    import os
    import pty
    import fcntl
    import struct
    import termios
    for quiet in ([], ["--quiet"]):
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # a terminal has a width
        process = subprocess.run([sys.executable, "-m", "s2s", "translate", "-m", str(trained), "--beam", "1",
                                  "-i", str(demo_corpus / "valid.src"), *quiet],
                                 stdout=subprocess.PIPE, stderr=slave, timeout=120)
        os.close(slave)
        err = b""
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            err += chunk
        os.close(master)
        assert process.returncode == 0
        assert process.stdout.count(b"\n") == len((demo_corpus / "valid.src").read_text().splitlines())
        assert b"translating" not in process.stdout
        assert (b"translating" in err) == (not quiet)


def test_a_model_without_attention_translates_but_has_nothing_to_plot(demo_corpus, tmp_path):
    dump_config(tiny_config(demo_corpus), tmp_path / "tiny.yaml")
    result = run("train", "-c", tmp_path / "tiny.yaml", "-o", tmp_path / "run", "--set", "train.max_steps=10",
                 "--set", "model.decoder.attention=none", "--set", "model.decoder.input_feeding=false",
                 "--set", "model.decoder.context=transformed_mean")
    assert result.exit_code == 0, result.output
    src = demo_corpus / "valid.src"
    result = run("translate", "-m", tmp_path / "run", "-i", src, "-o", tmp_path / "hyp.txt", "--beam", "3")
    assert result.exit_code == 0, result.output
    assert len((tmp_path / "hyp.txt").read_text().splitlines()) == len(src.read_text().splitlines())
    result = run("plot-attention", "-m", tmp_path / "run", "--src", "The dog sees a cat.", "-o", tmp_path / "a.png")
    assert result.exit_code == 1 and "has no attention to plot" in result.output


@pytest.fixture(scope="module")
def second(demo_corpus, tmp_path_factory):
    """Another run on the same text and tokenizer settings: another seed and the cgru decoder."""
    root = tmp_path_factory.mktemp("second")
    dump_config(tiny_config(demo_corpus), root / "tiny.yaml")
    result = run("train", "-c", root / "tiny.yaml", "-o", root / "run", "--set", "train.max_steps=20",
                 "--set", "train.seed=2", "--set", "model.decoder.cell=cgru",
                 "--set", "model.decoder.input_feeding=false")
    assert result.exit_code == 0, result.output
    return root / "run"


def test_several_models_translate_and_score_as_an_ensemble(trained, second, demo_corpus, tmp_path):
    src, ref = demo_corpus / "valid.src", demo_corpus / "valid.tgt"
    outputs = {}
    for name, models in (("a", [trained]), ("b", [second]), ("ab", [trained, second])):
        args = [x for m in models for x in ("-m", m)]
        result = run("translate", *args, "-i", src, "-o", tmp_path / name, "--nbest", "2", "--alignments")
        assert result.exit_code == 0, result.output
        outputs[name] = (tmp_path / name).read_text().splitlines()
        assert len(outputs[name]) == 2 * len(src.read_text().splitlines())
    assert outputs["ab"] != outputs["a"] and outputs["ab"] != outputs["b"]
    result = run("eval", "-m", trained, "-m", second, "--src", src, "--ref", ref, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)[0]["name"] == "BLEU"


def test_an_ensemble_of_models_with_different_tokenizers_is_refused_naming_both(trained, demo_corpus, tmp_path):
    dump_config(tiny_config(demo_corpus), tmp_path / "tiny.yaml")
    result = run("train", "-c", tmp_path / "tiny.yaml", "-o", tmp_path / "other", "--set", "train.max_steps=2",
                 "--set", "tokenizer.vocab_size=100")
    assert result.exit_code == 0, result.output
    result = run("translate", "-m", trained, "-m", tmp_path / "other", "-i", demo_corpus / "valid.src")
    assert result.exit_code == 1
    assert f"{trained}" in result.output and f"{tmp_path / 'other'}" in result.output
    assert "different target tokenizers" in result.output and "Traceback" not in result.output
