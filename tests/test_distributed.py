"""Training under torchrun (DDP, gloo on CPU) matches one process with the same global batch."""

import os
import subprocess
import sys
from dataclasses import replace

import pytest
import torch

from s2s import checkpoint
from s2s.configfile import dump_config
from s2s.data import ParallelData, collate
from s2s.distributed import Group
from s2s.errors import UserError
from s2s.model import Seq2Seq
from s2s.tokenizer import PAD
from s2s.trainer import Trainer
from tests.conftest import tiny_config


def test_a_group_of_one_does_nothing_collective():
    group = Group.start(torch.device("cpu"))
    assert group.main and not group.distributed and group.world_size == 1
    assert group.any(True, torch.device("cpu")) and not group.any(False, torch.device("cpu"))
    assert group.total(2.5, torch.device("cpu")) == 2.5 and group.share({"a": 1}) == {"a": 1}
    assert group.gather(3) == [3]


def test_accumulated_batches_give_the_gradient_of_their_union(demo_corpus, tokenizer, tmp_path):
    """The loss is normalised by the update's target tokens, however the batches are split."""
    config = tiny_config(demo_corpus)
    config = replace(config, model=replace(config.model, dropout=0.0))
    data = ParallelData.load(str(demo_corpus / "valid"), "src", "tgt", tokenizer)
    torch.manual_seed(0)
    model = Seq2Seq.from_config(config.model, tokenizer.src_vocab_size, tokenizer.tgt_vocab_size)
    trainer = Trainer(config, tmp_path, torch.device("cpu"), progress_bar=False)
    trainer.net = model
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)
    first, second = list(range(0, 7)), list(range(7, 20))
    targets = data.counts(first)[1] + data.counts(second)[1]
    split_loss = trainer._update(optimizer, [data.batch(first), data.batch(second)], targets)
    split = [p.grad.clone() for p in model.parameters()]
    whole_loss = trainer._update(optimizer, [data.batch(first + second)], targets)
    assert abs(split_loss - whole_loss) < 1e-5
    for a, b in zip(split, (p.grad for p in model.parameters())):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-4)
    batch = collate(*zip(*data.pairs(first)), src_eos=True)
    real_targets = int((batch.tgt_out != PAD).sum())
    assert data.counts(first) == (int(batch.src_len.sum()) - len(first) + real_targets - len(first), real_targets)


def test_accumulate_must_be_a_multiple_of_the_process_count(demo_corpus, tmp_path):
    trainer = Trainer(tiny_config(demo_corpus, accumulate=3), tmp_path, torch.device("cpu"), False,
                      Group(rank=0, world_size=2))
    with pytest.raises(UserError, match=r"train.accumulate \(3\) must be a multiple of the number of processes \(2\)"):
        trainer.prepare(resume=False)


@pytest.mark.slow
def test_two_processes_under_torchrun_match_one_process(demo_corpus, tmp_path):
    config = tiny_config(demo_corpus, max_steps=12, valid_every=6, accumulate=2, keep_checkpoints=1)
    config = replace(config, model=replace(config.model, dropout=0.0))  # dropout masks differ by process
    dump_config(config, tmp_path / "c.yaml")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    one = subprocess.run([sys.executable, "-m", "s2s", "train", "-c", "c.yaml", "-o", "one", "--quiet"],
                         cwd=tmp_path, env=env, capture_output=True, text=True)
    assert one.returncode == 0, one.stderr
    two = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                          "-m", "s2s", "train", "-c", "c.yaml", "-o", "two", "--quiet"],
                         cwd=tmp_path, env=env, capture_output=True, text=True)
    assert two.returncode == 0, two.stderr
    assert "distributed training: 2 processes, 1 batch(es) each per update of 2" in (tmp_path / "two" / "train.log").read_text()
    a, b = (checkpoint.load(tmp_path / run / "last.pt") for run in ("one", "two"))
    assert a["progress"]["step"] == b["progress"]["step"] == 12
    for name in a["model"]:
        torch.testing.assert_close(a["model"][name], b["model"][name], atol=1e-5, rtol=1e-4)
    assert len(b["train_state"]["rng"]["ranks"]) == 2
    for x, y in zip(a["progress"]["train_log"], b["progress"]["train_log"], strict=True):
        assert x["step"] == y["step"] and abs(x["loss"] - y["loss"]) < 1e-4  # the global mean, not a share
    assert [h["valid_bleu"] for h in a["progress"]["history"]] == [h["valid_bleu"] for h in b["progress"]["history"]]
    # one run directory, written once: the same files as the single process wrote
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.yaml", "one", "two"]
    assert sorted(p.name for p in (tmp_path / "two").iterdir()) == sorted(p.name for p in (tmp_path / "one").iterdir())
    assert two.stderr.count("checkpoints in two") == 1  # rank 0 speaks for both


@pytest.mark.slow
def test_a_torchrun_run_resumes_exactly(demo_corpus, tmp_path):
    """With a moving average of the weights (train.ema_decay): it and the trained weights both."""
    config = tiny_config(demo_corpus, max_steps=12, valid_every=6, accumulate=2, keep_checkpoints=0, ema_decay=0.9)
    dump_config(config, tmp_path / "c.yaml")  # dropout on: each process's random state is saved and restored
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "s2s",
                "train", "--quiet"]
    for args in (["-c", "c.yaml", "-o", "straight"], ["-c", "c.yaml", "-o", "split", "--set", "train.max_steps=6"],
                 ["-o", "split", "--resume", "--set", "train.max_steps=12"]):
        done = subprocess.run(torchrun + args, cwd=tmp_path, env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
    a, b = (checkpoint.load(tmp_path / run / "last.pt") for run in ("straight", "split"))
    assert a["progress"]["step"] == b["progress"]["step"] == 12
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
    trained = a["train_state"]["weights"]
    assert all(torch.equal(trained[k], b["train_state"]["weights"][k]) for k in trained)
    assert any(not torch.equal(trained[k], a["model"][k]) for k in trained)
