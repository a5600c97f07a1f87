"""Training writes its run directory, validates, and resumes exactly where it stopped."""

import pytest
import torch

from s2s import checkpoint
from s2s.errors import UserError
from s2s.run import train
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
    assert [r["step"] for r in progress.train_log] == [5, 10, 15, 20]  # log_every 5


def test_a_run_draws_curves_and_writes_tensorboard_events(demo_corpus, tmp_path):
    from PIL import Image
    pytest.importorskip("tensorboard", reason="the tensorboard extra is not installed")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    train(tiny_config(demo_corpus, max_steps=20), tmp_path / "run")
    with Image.open(tmp_path / "run" / "curves.png") as image:
        assert image.format == "PNG"
    events = EventAccumulator(str(tmp_path / "run" / "tensorboard"))
    events.Reload()
    assert {"train/loss", "train/tokens_per_s", "train/lr", "valid/bleu", "valid/loss"} <= set(events.Tags()["scalars"])
    assert [e.step for e in events.Scalars("valid/bleu")] == [10, 20]


def test_only_the_newest_step_checkpoints_are_kept(small_corpus, tmp_path):
    train(tiny_config(small_corpus, max_steps=50, keep_checkpoints=3), tmp_path / "run")
    assert [p.name for p in checkpoint.kept(tmp_path / "run")] == [checkpoint.step_name(s) for s in (30, 40, 50)]
    train(tiny_config(small_corpus, max_steps=20, keep_checkpoints=0), tmp_path / "none")
    assert checkpoint.kept(tmp_path / "none") == []


@pytest.fixture(scope="module")
def small_corpus(demo_corpus, tmp_path_factory):
    """60 training pairs: a few batches per epoch, so short runs cross epoch boundaries."""
    root = tmp_path_factory.mktemp("small")
    for side in ("src", "tgt"):
        lines = (demo_corpus / f"train.{side}").read_text().splitlines()[:60]
        (root / f"train.{side}").write_text("\n".join(lines) + "\n")
        (root / f"valid.{side}").write_text((demo_corpus / f"valid.{side}").read_text())
    return root


def test_resume_continues_from_the_saved_step_and_matches_a_straight_run(small_corpus, tmp_path):
    straight = train(tiny_config(small_corpus, max_steps=20), tmp_path / "straight")
    assert straight.epoch >= 2  # the runs below cross epoch boundaries
    half = train(tiny_config(small_corpus, max_steps=15), tmp_path / "split")
    assert half.step == 15 and [h["final"] for h in half.history] == [False, True]
    resumed = train(tiny_config(small_corpus, max_steps=20), tmp_path / "split", resume=True)
    assert resumed.step == 20 and (resumed.epoch, resumed.batch_in_epoch) == (straight.epoch,
                                                                              straight.batch_in_epoch)
    assert [h["step"] for h in resumed.history] == [10, 15, 20]
    a, b = weights(tmp_path / "straight"), weights(tmp_path / "split")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert straight.history[-1]["valid_loss"] == resumed.history[-1]["valid_loss"]
    assert "resuming" in (tmp_path / "split" / "train.log").read_text()


def test_resume_refuses_train_changes_it_cannot_honour(small_corpus, tmp_path):
    train(tiny_config(small_corpus, max_steps=10), tmp_path / "run")
    with pytest.raises(UserError, match="train.lr cannot change on resume"):
        train(tiny_config(small_corpus, max_steps=20, lr=0.5), tmp_path / "run", resume=True)
    assert train(tiny_config(small_corpus, max_steps=20, patience=3), tmp_path / "run", resume=True).step == 20


def test_a_run_that_stopped_early_stays_stopped_on_resume(small_corpus, tmp_path):
    config = tiny_config(small_corpus, max_steps=200, patience=1, lr=1e-9, min_lr=0.0)
    stopped = train(config, tmp_path / "run")
    assert stopped.step < 200
    assert train(config, tmp_path / "run", resume=True).step == stopped.step
    assert "already finished" in (tmp_path / "run" / "train.log").read_text()


def test_resume_accepts_a_moved_corpus_but_not_a_changed_one(small_corpus, tmp_path):
    import shutil
    moved = tmp_path / "moved"
    shutil.copytree(small_corpus, moved)
    train(tiny_config(small_corpus, max_steps=10), tmp_path / "run")
    assert train(tiny_config(moved, max_steps=20), tmp_path / "run", resume=True).step == 20
    lines = (moved / "train.tgt").read_text().splitlines()
    (moved / "train.tgt").write_text("\n".join(lines[1:] + lines[:1]) + "\n")
    with pytest.raises(UserError, match="training text differs"):
        train(tiny_config(moved, max_steps=30), tmp_path / "run", resume=True)


def test_training_file_errors_name_the_file_and_line(small_corpus, tmp_path):
    from dataclasses import replace
    (tmp_path / "bad.src").write_bytes(b"A dog.\nThe \xff cat.\n")
    (tmp_path / "bad.tgt").write_text("Ma vorn.\nKi miset.\n")
    config = tiny_config(small_corpus, max_steps=10)
    config = replace(config, data=replace(config.data, train=str(tmp_path / "bad")))
    with pytest.raises(UserError, match=r"bad\.src:2: invalid UTF-8"):
        train(config, tmp_path / "run")
    (tmp_path / "bad.src").write_text("A dog.\n")
    with pytest.raises(UserError, match=r"bad\.src has 1 lines but .*bad\.tgt has 2"):
        train(config, tmp_path / "run")


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
    progress = train(tiny_config(demo_corpus, max_steps=200, patience=1, lr=1e-9, min_lr=0.0), tmp_path / "run")
    assert progress.step < 200
    assert progress.bad_validations == 1


def test_sigterm_saves_last_pt_and_resume_matches_a_straight_run(small_corpus, tmp_path, monkeypatch):
    import os
    import signal

    from s2s.errors import Interrupted
    from s2s.trainer import Trainer

    straight = train(tiny_config(small_corpus, max_steps=20), tmp_path / "straight")
    before = signal.getsignal(signal.SIGTERM)
    update = Trainer._update

    def signalled(self, optimizer, batches, targets):
        if self.progress.step == 6:  # during step 7, between two validations
            os.kill(os.getpid(), signal.SIGTERM)
        return update(self, optimizer, batches, targets)

    monkeypatch.setattr(Trainer, "_update", signalled)
    with pytest.raises(Interrupted, match=r"SIGTERM received: stopped at step 7 .*--resume") as caught:
        train(tiny_config(small_corpus, max_steps=20), tmp_path / "split")
    assert caught.value.signum == signal.SIGTERM
    assert signal.getsignal(signal.SIGTERM) == before  # the handler is put back
    saved = checkpoint.load(tmp_path / "split" / checkpoint.LAST)
    assert saved["progress"]["step"] == 7 and saved["meta"]["interrupted"]
    monkeypatch.setattr(Trainer, "_update", update)
    resumed = train(tiny_config(small_corpus, max_steps=20), tmp_path / "split", resume=True)
    assert resumed.step == straight.step == 20
    a, b = weights(tmp_path / "straight"), weights(tmp_path / "split")
    assert all(torch.equal(a[k], b[k]) for k in a)


def poison(monkeypatch, bad_steps):
    """Makes the training loss NaN on the given (1-based) training steps."""
    import s2s.loss

    original, calls = s2s.loss.token_loss, []

    def loss(logits, tgt_out, smoothing):
        value = original(logits, tgt_out, smoothing)
        if logits.requires_grad:  # a training step, not validation
            calls.append(1)
            if len(calls) in bad_steps:
                return value * float("nan")
        return value

    monkeypatch.setattr(s2s.loss, "token_loss", loss)


def test_nonfinite_steps_are_skipped_and_counted(small_corpus, tmp_path, monkeypatch):
    poison(monkeypatch, {3, 5, 6})
    progress = train(tiny_config(small_corpus, max_steps=10), tmp_path / "run")
    assert progress.step == 10 and progress.skipped_steps == 3
    assert all(bool(torch.isfinite(w).all()) for w in weights(tmp_path / "run").values())
    assert "step 6: the loss or gradient is not finite; update skipped (2 in a row, 3 in all)" in \
        (tmp_path / "run" / "train.log").read_text()


def test_too_many_nonfinite_steps_stop_training_and_keep_the_checkpoints(small_corpus, tmp_path, monkeypatch):
    train(tiny_config(small_corpus, max_steps=10), tmp_path / "run")
    good = weights(tmp_path / "run")
    poison(monkeypatch, set(range(1, 100)))
    config = tiny_config(small_corpus, max_steps=30, max_nonfinite=3)
    with pytest.raises(UserError, match=r"stopped at step 13: .* not finite in 3 steps in a row .*last\.pt"):
        train(config, tmp_path / "run", resume=True)
    after = checkpoint.load(tmp_path / "run" / checkpoint.LAST)
    assert after["progress"]["step"] == 10
    assert all(torch.equal(good[k], after["model"][k]) for k in good)


def test_resume_from_a_damaged_last_pt_is_a_clear_error(small_corpus, tmp_path):
    train(tiny_config(small_corpus, max_steps=10), tmp_path / "run")
    last = tmp_path / "run" / checkpoint.LAST
    last.write_bytes(last.read_bytes()[: last.stat().st_size // 2])
    with pytest.raises(UserError, match="last.pt is truncated or not an s2s checkpoint"):
        train(tiny_config(small_corpus, max_steps=20), tmp_path / "run", resume=True)
    content = {"format": checkpoint.FORMAT, "config": {}, "model": {}}
    checkpoint.save(last, content)
    with pytest.raises(UserError, match="incomplete s2s checkpoint: it has no tokenizer, progress"):
        train(tiny_config(small_corpus, max_steps=20), tmp_path / "run", resume=True)


def test_files_half_written_before_a_crash_are_cleared_on_resume(small_corpus, tmp_path):
    train(tiny_config(small_corpus, max_steps=10), tmp_path / "run")
    stale = [tmp_path / "run" / name for name in (".last.pt.x1y2.tmp", ".curves.png.a9b8.tmp")]
    for path in stale:
        path.write_bytes(b"half")
    train(tiny_config(small_corpus, max_steps=12), tmp_path / "run", resume=True)
    assert not any(path.exists() for path in stale)


def test_runs_share_a_named_cache_and_changed_text_is_encoded_again(small_corpus, tmp_path):
    from dataclasses import replace
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name in ("train.src", "train.tgt", "valid.src", "valid.tgt"):
        (corpus / name).write_bytes((small_corpus / name).read_bytes())
    config = tiny_config(corpus, max_steps=2, valid_every=2)
    config = replace(config, data=replace(config.data, cache_dir=str(tmp_path / "cache")))
    log = lambda run: (tmp_path / run / "train.log").read_text()  # noqa: E731
    train(config, tmp_path / "a")
    assert "encoding 60 pairs" in log("a") and not (tmp_path / "a" / "cache").exists()
    train(config, tmp_path / "b")  # the same text: tokenizer and pieces found
    assert "tokenizer from the cache" in log("b") and "encoding 60 pairs" not in log("b")
    lines = (corpus / "train.src").read_text().splitlines()
    (corpus / "train.src").write_text("\n".join(["a new first line"] + lines[1:]) + "\n")
    train(config, tmp_path / "c")
    assert "tokenizer from the cache" not in log("c") and "encoding 60 pairs" in log("c")
    assert len(list((tmp_path / "cache").glob("pieces-*"))) == 2
