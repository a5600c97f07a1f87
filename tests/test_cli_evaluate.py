"""`s2s eval` of translations: from files, stdin or a model, as the sacrebleu command prints them."""

import json
import subprocess
import sys

from tests.conftest import cli


def test_eval_reads_hypotheses_from_stdin(demo_corpus):
    ref = demo_corpus / "valid.tgt"
    result = cli("eval", "--hyp", "-", "--ref", ref, "-b", input=ref.read_bytes())
    assert result.exit_code == 0 and result.stdout.splitlines()[0] == "100.0"
    result = cli("eval", "--hyp", "-", "--ref", ref, input=b"one line\n")
    assert result.exit_code == 1 and "<stdin> has 1 lines but" in result.output


def test_eval_scores_a_model_and_a_file(trained, demo_corpus, tmp_path):
    result = cli("eval", "-m", trained, "--src", demo_corpus / "valid.src", "--ref", demo_corpus / "valid.tgt",
                 "--json")
    assert result.exit_code == 0, result.output
    bleu, chrf = json.loads(result.stdout)
    assert bleu["name"] == "BLEU" and chrf["name"] == "chrF2" and "version:" in bleu["signature"]
    result = cli("eval", "--hyp", demo_corpus / "valid.tgt", "--ref", demo_corpus / "valid.tgt")
    assert result.exit_code == 0
    assert result.stdout.splitlines()[0].startswith("BLEU|nrefs:1|") and "= 100.0 " in result.stdout


def test_eval_prints_what_the_sacrebleu_command_prints(demo_corpus, tmp_path):
    hyp = tmp_path / "hyp"
    lines = (demo_corpus / "valid.tgt").read_text().splitlines()
    hyp.write_text("\n".join(line.replace("a", "o") for line in lines) + "\n")
    ref = demo_corpus / "valid.tgt"
    for ours, theirs in ((["--json"], []), ([], ["-f", "text"]), (["-b"], ["-b", "-f", "text"])):
        result = cli("eval", "--hyp", hyp, "--ref", ref, *ours)
        assert result.exit_code == 0, result.output
        command = subprocess.run([sys.executable, "-m", "sacrebleu", str(ref), "-i", str(hyp), "-m", "bleu",
                                  "chrf", *theirs], capture_output=True, text=True, check=True).stdout
        if ours == ["--json"]:
            assert json.loads(result.stdout) == json.loads(command)
        else:
            assert result.stdout.split() == command.split()


def test_eval_of_a_model_defaults_to_the_runs_test_split(trained, demo_corpus):
    default = cli("eval", "-m", trained, "--json")
    explicit = cli("eval", "-m", trained, "--src", demo_corpus / "valid.src", "--ref",
                   demo_corpus / "valid.tgt", "--json")
    assert default.exit_code == 0 and explicit.exit_code == 0, default.output
    assert json.loads(default.stdout) == json.loads(explicit.stdout)
    assert cli("eval", "-m", trained, "--src", demo_corpus / "valid.src").exit_code == 2
