"""The moving average of the weights: its arithmetic, swapping it in, and a run that trains
with it (validation and checkpoints read the average; resume continues exactly)."""

import pytest
import torch
from torch import nn

from s2s import checkpoint
from s2s.config import TrainConfig
from s2s.ema import MovingAverage, decay_at
from s2s.errors import UserError
from s2s.run import train
from s2s.translation import TranslateTask
from tests.conftest import tiny_config


def test_the_decay_warms_up_then_holds():
    assert decay_at(0.999, 1) == pytest.approx(2 / 11)
    assert decay_at(0.999, 90) == pytest.approx(0.91)
    assert decay_at(0.9, 1000) == 0.9
    assert all(decay_at(0.99, n) <= decay_at(0.99, n + 1) for n in range(1, 2000))


def test_the_average_moves_towards_the_weights_and_leaves_integer_buffers_alone():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    first = {k: v.clone() for k, v in model.state_dict().items()}
    average = MovingAverage(model, 0.9)
    assert "1.num_batches_tracked" not in average.names and "1.running_mean" in average.names
    with torch.no_grad():
        model[0].weight.add_(1.0)
    model[1].num_batches_tracked.fill_(7)
    average.update(model, 1)
    d = decay_at(0.9, 1)
    torch.testing.assert_close(average.average["0.weight"], d * first["0.weight"] + (1 - d) * model[0].weight)
    torch.testing.assert_close(average.average["0.bias"], first["0.bias"])  # unchanged weights stay put
    saved = average.state_dict(model)
    assert saved["1.num_batches_tracked"].item() == 7 and saved.keys() == model.state_dict().keys()
    for n in range(2, 400):
        average.update(model, n)
    torch.testing.assert_close(average.average["0.weight"], model[0].weight.detach())  # constant weights: reached


def test_swapped_in_computes_with_the_average_and_gives_the_weights_back_even_after_an_error():
    torch.manual_seed(0)
    model, twin = nn.Linear(4, 3), nn.Linear(4, 3)
    average = MovingAverage(model, 0.5)
    with torch.no_grad():
        model.weight.mul_(3.0)
    average.update(model, 100)
    own = {k: v.clone() for k, v in model.state_dict().items()}
    twin.load_state_dict(average.state_dict(model))
    x = torch.randn(5, 4)
    with average.swapped_in(model):
        torch.testing.assert_close(model(x), twin(x))
    assert all(torch.equal(model.state_dict()[k], own[k]) for k in own)
    with pytest.raises(RuntimeError, match="inside"):
        with average.swapped_in(model):
            raise RuntimeError("inside")
    assert all(torch.equal(model.state_dict()[k], own[k]) for k in own)


def test_a_tensor_under_two_names_is_averaged_once_and_saved_as_one():
    torch.manual_seed(0)
    model = nn.ModuleDict({"embed": nn.Embedding(5, 3), "out": nn.Linear(3, 5)})
    model["out"].weight = model["embed"].weight  # tied, as model.tie_embeddings ties them
    average = MovingAverage(model, 0.5)
    assert average.names == ["embed.weight", "out.bias"]
    with torch.no_grad():
        model["embed"].weight.add_(1.0)
    average.update(model, 100)
    saved = average.state_dict(model)
    assert saved["out.weight"] is saved["embed.weight"]  # one tensor, saved once
    twin = nn.ModuleDict({"embed": nn.Embedding(5, 3), "out": nn.Linear(3, 5)})
    twin["out"].weight = twin["embed"].weight
    twin.load_state_dict(saved)
    with average.swapped_in(model):
        assert torch.equal(model["out"].weight, twin["embed"].weight)
        assert model["out"].weight is model["embed"].weight


def test_a_run_validates_and_saves_the_average_and_resumes_exactly(demo_corpus, tmp_path, monkeypatch):
    validated = []
    validate = TranslateTask.validate

    def recording(self, model, *args):
        validated.append({k: v.clone() for k, v in model.state_dict().items()})
        return validate(self, model, *args)

    monkeypatch.setattr(TranslateTask, "validate", recording)
    config = tiny_config(demo_corpus, max_steps=20, ema_decay=0.9, keep_checkpoints=2)
    straight = train(config, tmp_path / "straight")
    assert [h["step"] for h in straight.history] == [10, 20] and len(validated) == 2
    last = checkpoint.load(tmp_path / "straight" / checkpoint.LAST)
    trained, averaged = last["train_state"]["weights"], last["model"]
    assert any(not torch.equal(trained[k], averaged[k]) for k in trained)  # two sets of weights
    for step, seen in zip((10, 20), validated):  # what validation scored is what was saved
        kept = checkpoint.load(tmp_path / "straight" / checkpoint.step_name(step))["model"]
        assert all(torch.equal(seen[k], kept[k]) for k in kept)
    assert all(torch.equal(validated[1][k], averaged[k]) for k in averaged)
    best = checkpoint.load(tmp_path / "straight" / checkpoint.BEST)["model"]
    best_step = straight.best_step
    assert all(torch.equal(best[k], validated[best_step // 10 - 1][k]) for k in best)

    train(tiny_config(demo_corpus, max_steps=13, ema_decay=0.9), tmp_path / "split")
    train(tiny_config(demo_corpus, max_steps=20, ema_decay=0.9), tmp_path / "split", resume=True)
    split = checkpoint.load(tmp_path / "split" / checkpoint.LAST)
    assert all(torch.equal(split["model"][k], averaged[k]) for k in averaged)
    assert all(torch.equal(split["train_state"]["weights"][k], trained[k]) for k in trained)
    with pytest.raises(UserError, match="train.ema_decay cannot change on resume"):
        train(tiny_config(demo_corpus, max_steps=30, ema_decay=0.99), tmp_path / "split", resume=True)


def test_the_decay_must_be_below_one():
    with pytest.raises(UserError, match=r"train.ema_decay.*\[0, 1\)"):
        TrainConfig(ema_decay=1.0)
