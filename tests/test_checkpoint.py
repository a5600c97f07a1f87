import os
import pickle

import pytest
import torch

from s2s import checkpoint
from s2s.errors import UserError


def test_save_load_round_trip_with_plain_data(tmp_path):
    content = {"model": {"w": torch.arange(4.0)}, "config": {"a": {"b": 1}}, "tokenizer": {"src": b"xy"},
               "rng": torch.get_rng_state()}
    checkpoint.save(tmp_path / "c.pt", content)
    loaded = checkpoint.load(tmp_path / "c.pt")
    assert torch.equal(loaded["model"]["w"], content["model"]["w"])
    assert loaded["config"] == {"a": {"b": 1}} and loaded["tokenizer"]["src"] == b"xy"
    assert [p.name for p in tmp_path.iterdir()] == ["c.pt"]  # no temp file left behind


def test_a_failed_save_keeps_the_previous_file(tmp_path, monkeypatch):
    checkpoint.save(tmp_path / "c.pt", {"step": 1})
    monkeypatch.setattr(torch, "save", lambda *a, **k: (_ for _ in ()).throw(OSError("disk full")))
    with pytest.raises(OSError):
        checkpoint.save(tmp_path / "c.pt", {"step": 2})
    assert checkpoint.load(tmp_path / "c.pt")["step"] == 1
    assert sorted(os.listdir(tmp_path)) == ["c.pt"]


class Exploit:
    def __reduce__(self):
        return (os.system, ("echo pwned > pwned.txt",))


def test_a_pickled_object_is_refused_not_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with open("evil.pt", "wb") as f:
        torch.save({"format": checkpoint.FORMAT, "x": Exploit()}, f, pickle_module=pickle)
    with pytest.raises(UserError, match="holds objects other than tensors and plain data") as refused:
        checkpoint.load("evil.pt")
    assert "weights_only" not in str(refused.value)
    assert not (tmp_path / "pwned.txt").exists()


def test_other_files_are_clear_errors(tmp_path):
    (tmp_path / "text.pt").write_text("hello")
    with pytest.raises(UserError, match="text.pt is truncated or not an s2s checkpoint: it does not start as"):
        checkpoint.load(tmp_path / "text.pt")
    torch.save({"weights": torch.zeros(1)}, tmp_path / "foreign.pt")
    with pytest.raises(UserError, match="not an s2s checkpoint"):
        checkpoint.load(tmp_path / "foreign.pt")


def test_resolve_prefers_best_then_last(tmp_path):
    with pytest.raises(UserError, match="without a checkpoint"):
        checkpoint.resolve(tmp_path)
    checkpoint.save(tmp_path / checkpoint.LAST, {})
    assert checkpoint.resolve(tmp_path).name == checkpoint.LAST
    checkpoint.save(tmp_path / checkpoint.BEST, {})
    assert checkpoint.resolve(tmp_path).name == checkpoint.BEST
    with pytest.raises(UserError, match="model not found"):
        checkpoint.resolve(tmp_path / "missing.pt")


def test_parameters_shared_by_two_names_are_counted_once():
    shared = torch.zeros(4, 3)
    assert checkpoint.parameter_count({"a": shared, "b": shared, "c": torch.zeros(5)}) == 17


def test_averaging_keeps_tied_weights_one_tensor(tmp_path):
    paths = []
    for step in (10, 20):
        shared = torch.full((4, 3), float(step))
        paths.append(tmp_path / checkpoint.step_name(step))
        checkpoint.save(paths[-1], {"config": {"model": {}}, "tokenizer": {}, "model": {"embed": shared, "out": shared}})
    weights = checkpoint.average(paths)["model"]
    assert weights["embed"] is weights["out"] and (weights["out"] == 15.0).all()
    assert checkpoint.parameter_count(weights) == 12


def test_averaging_takes_the_element_wise_mean(tmp_path):
    paths = []
    for i, step in enumerate((10, 20, 30)):
        weights = {"w": torch.full((2, 3), float(i)) + torch.arange(6.0).view(2, 3) * i, "b": torch.tensor([i * 3.0])}
        paths.append(tmp_path / checkpoint.step_name(step))
        checkpoint.save(paths[-1], {"config": {"model": {"x": 1}}, "tokenizer": {"src": b"t"}, "model": weights,
                                    "meta": {"step": step}})
    assert checkpoint.kept(tmp_path) == paths
    averaged = checkpoint.average(paths)
    torch.testing.assert_close(averaged["model"]["w"], torch.ones(2, 3) + torch.arange(6.0).view(2, 3))
    torch.testing.assert_close(averaged["model"]["b"], torch.tensor([3.0]))
    assert averaged["meta"]["averaged_steps"] == [10, 20, 30]
    checkpoint.save(tmp_path / "other.pt", {"config": {"model": {"x": 2}}, "tokenizer": {}, "model": {"w": torch.zeros(1)}})
    with pytest.raises(UserError, match="holds another model"):
        checkpoint.average([paths[0], tmp_path / "other.pt"])
