"""`s2s info` and `s2s average`: what a checkpoint says of itself, and averaged weights."""

import json

from tests.conftest import cli


def test_info_describes_a_checkpoint(trained):
    from s2s import checkpoint
    result = cli("info", trained, "--json")
    assert result.exit_code == 0, result.output
    facts = json.loads(result.stdout)
    best = checkpoint.load(trained / "best.pt")
    assert facts["parameters"] == checkpoint.parameter_count(best["model"]) > 0
    assert facts["best_valid_bleu"] == round(best["meta"]["best_bleu"], 1) and facts["step"] == best["meta"]["step"]
    assert facts["bleu_signature"].startswith("nrefs:1|") and facts["config"]["model"]["embed_dim"] == 16
    text = cli("info", trained / "last.pt")
    assert text.exit_code == 0 and "parameters: " in text.stdout and "config:" in text.stdout
    assert "skipped_steps" in text.stdout


def test_info_rounds_bleu_as_sacrebleu_does_and_says_an_average_was_not_validated(trained, tmp_path):
    from s2s import checkpoint
    content = checkpoint.load(trained / "best.pt")
    meta = {**content["meta"], "best_bleu": 100.00000000000004, "valid_bleu": 41.26}
    checkpoint.save(tmp_path / "b.pt", {**content, "meta": meta})
    result = cli("info", tmp_path / "b.pt")
    assert "best_valid_bleu: 100.0\n" in result.stdout and "valid_bleu_at_step: 41.3\n" in result.stdout
    assert "validated" not in result.stdout
    assert cli("average", trained, "--last", 2, "-o", tmp_path / "avg.pt").exit_code == 0
    facts = json.loads(cli("info", tmp_path / "avg.pt", "--json").stdout)
    assert facts["valid_bleu_at_step"] is None and facts["averaged_steps"] == [10, 20]
    assert facts["validated"].startswith("no: this is the average of steps 10, 20, never validated itself")


def test_average_writes_the_mean_of_the_last_checkpoints(trained, tmp_path):
    import torch
    from s2s import checkpoint
    kept = checkpoint.kept(trained)
    assert len(kept) == 2  # validations at steps 10 and 20
    result = cli("average", trained, "--last", 2, "-o", tmp_path / "avg.pt")
    assert result.exit_code == 0, result.output
    content = checkpoint.load(tmp_path / "avg.pt")
    averaged = content["model"]
    assert content["lengths"] == checkpoint.load(kept[-1])["lengths"]  # translation still knows its limits
    a, b = (checkpoint.load(p)["model"] for p in kept)
    for name in averaged:
        torch.testing.assert_close(averaged[name], (a[name] + b[name]) / 2)
    assert cli("translate", "-m", tmp_path / "avg.pt", input=b"The dog.\n").exit_code == 0
    result = cli("average", trained, "--last", 3, "-o", tmp_path / "avg3.pt")
    assert result.exit_code == 1 and "has 2 step checkpoints" in result.output
