import json
import subprocess
import sys

import pytest

from s2s.evaluate import score_files
from s2s.errors import UserError
from s2s.metrics import score

HYPS = ["The cat sat on the mat.", "A dog runs in the park!", "", "Zwei Männer stehen draußen."]
REFS = ["The cat is sitting on the mat.", "A dog is running in a park!", "Empty line.",
        "Zwei junge Männer sind im Freien."]


def test_scores_equal_the_sacrebleu_command(tmp_path):
    hyp, ref = tmp_path / "hyp.txt", tmp_path / "ref.txt"
    hyp.write_text("\n".join(HYPS) + "\n", encoding="utf-8")
    ref.write_text("\n".join(REFS) + "\n", encoding="utf-8")
    cli = subprocess.run([sys.executable, "-m", "sacrebleu", str(ref), "-i", str(hyp), "-m", "bleu", "chrf"],
                         capture_output=True, text=True, check=True)
    expected = json.loads(cli.stdout)
    ours = score_files(hyp, ref)
    assert [s.fields for s in ours] == expected
    text = subprocess.run([sys.executable, "-m", "sacrebleu", str(ref), "-i", str(hyp), "-m", "bleu",
                           "chrf", "-f", "text"], capture_output=True, text=True, check=True)
    assert [s.text for s in ours] == [line.strip() for line in text.stdout.splitlines()]


def test_signature_and_full_precision_score():
    bleu, chrf = score(HYPS, REFS)
    assert bleu.name == "BLEU" and "tok:13a" in bleu.signature and "case:mixed" in bleu.signature
    assert chrf.name == "chrF2" and "nc:6" in chrf.signature
    assert round(bleu.score, 1) == bleu.fields["score"]
    assert score(REFS, REFS)[0].score == pytest.approx(100.0)


def test_unequal_files_name_both_counts(tmp_path):
    (tmp_path / "h").write_text("a\nb\n")
    (tmp_path / "r").write_text("a\n")
    with pytest.raises(UserError, match=r"h has 2 lines but .*r has 1"):
        score_files(tmp_path / "h", tmp_path / "r")
