"""`s2s translate` and `s2s plot-attention` end to end: lines kept through every input and output
form, n-best lists, samples, paragraphs, attention plots, terminals and ensembles."""

import json
import subprocess
import sys

import pytest

from s2s.configfile import dump_config
from tests.conftest import cli, tiny_config


def test_translate_keeps_lines_through_stdin_and_files(trained, tmp_path):
    lines = ["The dog sees a cat.", "", "The dog sees a cat.", "Some kings follow the girls."]
    data = ("\n".join(lines) + "\n").encode()
    result = cli("translate", "-m", trained, input=data)
    assert result.exit_code == 0, result.output
    out = result.stdout.split("\n")
    assert len(out) == len(lines) + 1 and out[-1] == ""
    assert out[1] == "" and out[0] == out[2]
    (tmp_path / "in.txt").write_bytes(data.replace(b"\n", b"\r\n"))
    result = cli("translate", "-m", trained / "best.pt", "-i", tmp_path / "in.txt", "-o", tmp_path / "out.txt")
    assert result.exit_code == 0 and result.stdout == ""
    assert (tmp_path / "out.txt").read_text().split("\n") == out
    import gzip
    (tmp_path / "in.txt.gz").write_bytes(gzip.compress(data))
    result = cli("translate", "-m", trained, "-i", tmp_path / "in.txt.gz")
    assert result.exit_code == 0 and result.stdout.split("\n") == out
    result = cli("translate", "-m", trained, "-i", tmp_path / "in.txt", "-o", tmp_path / "no" / "out.txt")
    assert result.exit_code == 1 and "does not exist" in result.output


def test_translate_samples_any_number_per_line_and_repeats_them_from_the_seed(trained):
    data = "the dog sees a cat .\n\na bird\n"
    sampled = cli("translate", "-m", trained, "--sample", "--nbest", 7, "--top-p", 0.95, input=data)
    assert sampled.exit_code == 0, sampled.output  # 7 samples though the beam is 5
    lines = sampled.stdout.splitlines()
    assert [line.split("\t")[:2] for line in lines] == [[str(n), str(r)] for n in (1, 2, 3) for r in range(1, 8)]
    assert cli("translate", "-m", trained, "--sample", "--nbest", 7, "--top-p", 0.95, input=data).stdout == sampled.stdout
    other = cli("translate", "-m", trained, "--sample", "--nbest", 7, "--top-p", 0.95, "--seed", 2, input=data)
    assert other.exit_code == 0 and other.stdout != sampled.stdout
    assert cli("translate", "-m", trained, "--sample", "--top-p", 0, input=data).exit_code == 2


def test_translate_nbest_prints_exactly_n_lines_per_input_line(trained):
    lines = ["The dog sees a cat.", "", "Some kings follow the girls."]
    data = ("\n".join(lines) + "\n").encode()
    result = cli("translate", "-m", trained, "--beam", 4, "--nbest", 3, input=data)
    assert result.exit_code == 0, result.output
    rows = [row.split("\t") for row in result.stdout.splitlines()]
    assert len(rows) == 3 * len(lines) and all(len(row) == 4 for row in rows)
    assert [(int(r[0]), int(r[1])) for r in rows] == [(i, k) for i in (1, 2, 3) for k in (1, 2, 3)]
    for i in (0, 2):  # real lines: sorted scores, distinct texts
        scores = [float(r[2]) for r in rows[3 * i:3 * i + 3]]
        assert scores == sorted(scores, reverse=True) and len({r[3] for r in rows[3 * i:3 * i + 3]}) == 3
    assert [r[2:] for r in rows[3:6]] == [["0.0000", ""], ["-inf", ""], ["-inf", ""]]  # the blank line
    best = cli("translate", "-m", trained, "--beam", 4, "--scores", input=data)
    assert best.exit_code == 0, best.output
    assert [row.split("\t") for row in best.stdout.splitlines()] == [r[2:] for r in rows if r[1] == "1"]
    plain = cli("translate", "-m", trained, "--beam", 4, input=data)
    assert plain.stdout.splitlines() == [r[3] for r in rows if r[1] == "1"]


def test_a_paragraph_is_translated_as_its_sentences_in_every_output_form(trained, tmp_path):
    sentences = ["The dog sees a cat.", "Some kings follow the girls.", "A bird."]
    lines = cli("translate", "-m", trained, "--scores", input="\n".join(sentences) + "\n")
    assert lines.exit_code == 0, lines.output
    scores, texts = zip(*(row.split("\t") for row in lines.stdout.splitlines()))
    paragraph = " ".join(sentences) + "\n"
    plain = cli("translate", "-m", trained, input=paragraph)
    assert plain.stdout == " ".join(texts) + "\n"
    scored = cli("translate", "-m", trained, "--scores", input=paragraph).stdout.rstrip("\n").split("\t")
    assert scored[1] == " ".join(texts) and float(scored[0]) == pytest.approx(sum(map(float, scores)), abs=2e-3)
    best = cli("translate", "-m", trained, "--nbest", 2, input=paragraph).stdout.splitlines()
    assert len(best) == 2 and best[0].split("\t")[3] == " ".join(texts)
    (tmp_path / "para.src").write_text(paragraph)
    (tmp_path / "para.ref").write_text(" ".join(texts) + "\n")  # its own translation: BLEU 100
    result = cli("eval", "-m", trained, "--src", tmp_path / "para.src", "--ref", tmp_path / "para.ref", "-b")
    assert result.exit_code == 0 and result.stdout.splitlines()[0] == "100.0"


def test_search_options_change_the_output_and_are_checked(trained):
    data = b"The dog sees a cat.\nSome kings follow the girls.\n"
    greedy = cli("translate", "-m", trained, "--beam", 1, "--scores", input=data)
    assert greedy.exit_code == 0, greedy.output
    short = cli("translate", "-m", trained, "--beam", 1, "--max-len-a", 0, "--max-len-b", 2, input=data)
    assert all(len(line.split()) <= 2 for line in short.stdout.splitlines())
    result = cli("translate", "-m", trained, "--beam", 2, "--nbest", 3, input=data)
    assert result.exit_code == 1 and "--nbest 3 is larger than the beam (2)" in result.output
    assert cli("translate", "-m", trained, "--nbest", 2, "--scores", input=data).exit_code == 2
    assert cli("translate", "-m", trained, "--beam", 0, input=data).exit_code == 2
    assert cli("translate", "-m", trained, "--length-penalty", "avg", input=data).exit_code == 2
    result = cli("translate", "-m", trained, "--max-len-a", 0, "--max-len-b", 0, input=data)
    assert result.exit_code == 1 and "cannot both be 0" in result.output


def test_translate_keeps_every_line_of_messy_input(trained, tmp_path):
    data = b"one\r\ntwo\r\n\r\n  \t \nnul \x00 byte\nctrl \x01\x1b\n\xf0\x9f\x98\x80 emoji\nlast without newline"
    result = cli("translate", "-m", trained, "--beam", 2, input=data)
    assert result.exit_code == 0, result.output
    out = result.stdout.split("\n")
    assert len(out) == 8 + 1 and out[-1] == "" and out[2] == out[3] == ""
    (tmp_path / "one.txt").write_bytes(b"just one line")
    result = cli("translate", "-m", trained, "-i", tmp_path / "one.txt")
    assert result.exit_code == 0 and result.stdout.count("\n") == 1


def test_invalid_utf8_is_named_or_replaced_never_half_written(trained, tmp_path):
    data = b"fine\nbad \xff here\nfine\n"
    result = cli("translate", "-m", trained, input=data)
    assert result.exit_code == 1 and "<stdin>:2: invalid UTF-8 at byte 4" in result.output
    assert "Traceback" not in result.output
    (tmp_path / "in.txt").write_bytes(data)
    result = cli("translate", "-m", trained, "-i", tmp_path / "in.txt", "-o", tmp_path / "out.txt")
    assert result.exit_code == 1 and "in.txt:2: invalid UTF-8" in result.output and "was not written" in result.output
    assert not (tmp_path / "out.txt").exists() and list(tmp_path.iterdir()) == [tmp_path / "in.txt"]
    result = cli("translate", "-m", trained, "-i", tmp_path / "in.txt", "--utf8-errors", "replace")
    assert result.exit_code == 0 and result.stdout.count("\n") == 3


def test_plot_attention_writes_one_png_per_translated_line(trained, tmp_path):
    from PIL import Image
    data = b"The dog sees a cat.\n\nSome kings follow the girls.\nThe dog sees a cat. A bird.\n"
    result = cli("translate", "-m", trained, "--plot-attention", tmp_path / "plots", input=data)
    assert result.exit_code == 0, result.output
    assert result.stdout.count("\n") == 4
    assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == ["000001.png", "000003.png", "000004.png"]
    with Image.open(tmp_path / "plots" / "000001.png") as one, Image.open(tmp_path / "plots" / "000004.png") as two:
        assert two.size[0] > one.size[0]  # both sentences' source pieces across
    with Image.open(tmp_path / "plots" / "000001.png") as image:
        assert image.format == "PNG"
    result = cli("plot-attention", "-m", trained, "--src", "The dog sees a cat.", "-o", tmp_path / "one.png")
    assert result.exit_code == 0, result.output
    score, text = result.stdout.splitlines()[0].split("\t")
    assert float(score) <= 0 and (tmp_path / "one.png").stat().st_size > 1000
    forced = cli("plot-attention", "-m", trained, "--src", "The dog sees a cat.", "--ref", "Ka vorn kin miset.",
                 "-o", tmp_path / "ref.png")
    assert forced.exit_code == 0 and forced.stdout.split("\t")[1].strip() == "Ka vorn kin miset."
    assert cli("plot-attention", "-m", trained, "--src", " ").exit_code == 1


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
    result = cli("train", "-c", tmp_path / "tiny.yaml", "-o", tmp_path / "run", "--set", "train.max_steps=10",
                 "--set", "model.decoder.attention=none", "--set", "model.decoder.input_feeding=false",
                 "--set", "model.decoder.context=transformed_mean")
    assert result.exit_code == 0, result.output
    src = demo_corpus / "valid.src"
    result = cli("translate", "-m", tmp_path / "run", "-i", src, "-o", tmp_path / "hyp.txt", "--beam", "3")
    assert result.exit_code == 0, result.output
    assert len((tmp_path / "hyp.txt").read_text().splitlines()) == len(src.read_text().splitlines())
    result = cli("plot-attention", "-m", tmp_path / "run", "--src", "The dog sees a cat.", "-o", tmp_path / "a.png")
    assert result.exit_code == 1 and "has no attention to plot" in result.output


@pytest.fixture(scope="module")
def second(demo_corpus, tmp_path_factory):
    """Another run on the same text and tokenizer settings: another seed and the cgru decoder."""
    root = tmp_path_factory.mktemp("second")
    dump_config(tiny_config(demo_corpus), root / "tiny.yaml")
    result = cli("train", "-c", root / "tiny.yaml", "-o", root / "run", "--set", "train.max_steps=20",
                 "--set", "train.seed=2", "--set", "model.decoder.cell=cgru",
                 "--set", "model.decoder.input_feeding=false")
    assert result.exit_code == 0, result.output
    return root / "run"


def test_several_models_translate_and_score_as_an_ensemble(trained, second, demo_corpus, tmp_path):
    src, ref = demo_corpus / "valid.src", demo_corpus / "valid.tgt"
    outputs = {}
    for name, models in (("a", [trained]), ("b", [second]), ("ab", [trained, second])):
        args = [x for m in models for x in ("-m", m)]
        result = cli("translate", *args, "-i", src, "-o", tmp_path / name, "--nbest", "2", "--alignments")
        assert result.exit_code == 0, result.output
        outputs[name] = (tmp_path / name).read_text().splitlines()
        assert len(outputs[name]) == 2 * len(src.read_text().splitlines())
    assert outputs["ab"] != outputs["a"] and outputs["ab"] != outputs["b"]
    result = cli("eval", "-m", trained, "-m", second, "--src", src, "--ref", ref, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)[0]["name"] == "BLEU"


def test_an_ensemble_of_models_with_different_tokenizers_is_refused_naming_both(trained, demo_corpus, tmp_path):
    dump_config(tiny_config(demo_corpus), tmp_path / "tiny.yaml")
    result = cli("train", "-c", tmp_path / "tiny.yaml", "-o", tmp_path / "other", "--set", "train.max_steps=2",
                 "--set", "tokenizer.vocab_size=100")
    assert result.exit_code == 0, result.output
    result = cli("translate", "-m", trained, "-m", tmp_path / "other", "-i", demo_corpus / "valid.src")
    assert result.exit_code == 1
    assert f"{trained}" in result.output and f"{tmp_path / 'other'}" in result.output
    assert "different target tokenizers" in result.output and "Traceback" not in result.output
