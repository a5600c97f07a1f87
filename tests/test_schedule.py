"""The learning-rate schedule and the wall-clock budget."""

import math

import pytest
import torch

from s2s.schedule import budget_spent, scheduled_lr
from s2s.run import train
from tests.conftest import tiny_config


def test_budget_is_whichever_of_steps_and_minutes_is_spent_first():
    assert budget_spent(50, 100, 0.0, 0.0) == 0.5
    assert budget_spent(10, 100, 30.0, 1.0) == 0.5  # half a minute of one
    assert budget_spent(90, 100, 30.0, 1.0) == 0.9
    assert budget_spent(200, 100, 0.0, 0.0) == 1.0


@pytest.mark.parametrize("schedule", ["cosine", "linear"])
def test_decay_runs_from_lr_to_min_lr_after_the_warmup(schedule):
    lr = lambda step, spent: scheduled_lr(schedule, 1e-3, 1e-5, 10, step, spent)  # noqa: E731
    assert lr(1, 0.0) == pytest.approx(1e-4)  # warm-up: step / warmup_steps
    assert lr(10, 0.0) == pytest.approx(1e-3)
    assert lr(50, 1.0) == pytest.approx(1e-5)
    middle = 1e-5 + (1e-3 - 1e-5) * (0.5 if schedule == "linear" else 0.5 * (1 + math.cos(math.pi * 0.5)))
    assert lr(50, 0.5) == pytest.approx(middle)
    values = [lr(20, s / 10) for s in range(11)]
    assert values == sorted(values, reverse=True)


def test_plateau_is_constant_after_the_warmup():
    assert scheduled_lr("plateau", 1e-3, 1e-5, 4, 2, 0.9) == pytest.approx(5e-4)
    assert scheduled_lr("plateau", 1e-3, 1e-5, 0, 7, 0.9) == 1e-3


def test_a_time_budget_stops_the_run_and_its_last_validation_counts(demo_corpus, tmp_path):
    run = tmp_path / "run"
    progress = train(tiny_config(demo_corpus, max_minutes=0.05, valid_every=100_000, lr_schedule="cosine",
                                 warmup_steps=5), run)
    assert 0 < progress.step < 100_000
    assert 3.0 <= progress.seconds < 30.0
    assert progress.history[-1]["step"] == progress.step and not progress.history[-1]["final"]
    assert progress.best_step == progress.step and (run / "best.pt").is_file()
    # resuming a spent budget trains no further; a larger one goes on from the time already used
    again = train(tiny_config(demo_corpus, max_minutes=0.05, valid_every=100_000, lr_schedule="cosine",
                              warmup_steps=5), run, resume=True)
    assert again.step == progress.step
    more = train(tiny_config(demo_corpus, max_minutes=0.1, valid_every=100_000, lr_schedule="cosine",
                             warmup_steps=5), run, resume=True)
    assert more.step > progress.step and more.seconds >= progress.seconds


def test_training_follows_the_schedule_step_by_step(demo_corpus, tmp_path):
    run = tmp_path / "run"
    train(tiny_config(demo_corpus, max_steps=12, valid_every=6, log_every=3, lr_schedule="cosine",
                      warmup_steps=4), run)
    last = torch.load(run / "last.pt", weights_only=True)
    # the last update (step 12) used the rate for 11 of 12 steps of the budget spent
    assert last["train_state"]["optimizer"]["param_groups"][0]["lr"] == pytest.approx(
        scheduled_lr("cosine", 1e-3, 1e-5, 4, 12, 11 / 12))
    logged = [w["lr"] for w in last["progress"]["train_log"]]  # steps 3, 6, 9, 12
    assert logged[0] == pytest.approx(scheduled_lr("cosine", 1e-3, 1e-5, 4, 3, 2 / 12))  # warming up
    assert logged[1:] == sorted(logged[1:], reverse=True)


def test_schedule_and_budget_options_are_checked():
    from s2s.config import TrainConfig
    from s2s.errors import UserError

    for bad in (dict(lr_schedule="step"), dict(warmup_steps=-1), dict(max_minutes=-1.0)):
        with pytest.raises(UserError, match="train."):
            TrainConfig(**bad)
