"""Training writes its run directory, validates, and resumes exactly where it stopped."""

import pytest
import torch

from s2s import checkpoint
from s2s.errors import UserError
from s2s.train import train
from tests.conftest import tiny_config


def weights(run_dir, name=checkpoint.LAST):
    return checkpoint.load(run_dir / name)["model"]


def test_a_run_writes_config_log_and_checkpoints(demo_corpus, tmp_path):
    progress = train(tiny_config(demo_corpus, max_steps=20), tmp_path / "run")
    run = tmp_path / "run"
    assert progress.step == 20 and [h["step"] for h in progress.history] == [10, 20]
    assert {"config.yaml", "train.log", "last.pt", "best.pt"} <= {p.name for p in run.iterdir()}
    log = (run / "train.log").read_text()
    assert "validation at step 10" in log and "BLEU" in log
    best = checkpoint.load(run / "best.pt")
    assert best["meta"]["step"] == progress.best_step
    assert "train_state" not in best and "train_state" in checkpoint.load(run / "last.pt")


def test_resume_continues_from_the_saved_step_and_matches_a_straight_run(demo_corpus, tmp_path):
    straight = train(tiny_config(demo_corpus, max_steps=20), tmp_path / "straight")
    half = train(tiny_config(demo_corpus, max_steps=10), tmp_path / "split")
    assert half.step == 10
    resumed = train(tiny_config(demo_corpus, max_steps=20), tmp_path / "split", resume=True)
    assert resumed.step == 20
    assert [h["step"] for h in resumed.history] == [10, 20]
    a, b = weights(tmp_path / "straight"), weights(tmp_path / "split")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert straight.history[-1]["valid_loss"] == resumed.history[-1]["valid_loss"]


def test_an_existing_run_is_not_overwritten_and_resume_needs_one(demo_corpus, tmp_path):
    train(tiny_config(demo_corpus, max_steps=10), tmp_path / "run")
    with pytest.raises(UserError, match="already holds a run"):
        train(tiny_config(demo_corpus, max_steps=10), tmp_path / "run")
    with pytest.raises(UserError, match="nothing to resume"):
        train(tiny_config(demo_corpus, max_steps=10), tmp_path / "other", resume=True)


def test_resume_refuses_a_different_model(demo_corpus, tmp_path):
    from dataclasses import replace
    train(tiny_config(demo_corpus, max_steps=10), tmp_path / "run")
    config = tiny_config(demo_corpus, max_steps=20)
    config = replace(config, model=replace(config.model, embed_dim=32))
    with pytest.raises(UserError, match="'model' section differs"):
        train(config, tmp_path / "run", resume=True)


def test_early_stopping_after_patience(demo_corpus, tmp_path):
    progress = train(tiny_config(demo_corpus, max_steps=200, patience=1, lr=1e-9), tmp_path / "run")
    assert progress.step < 200
    assert progress.bad_validations == 1
