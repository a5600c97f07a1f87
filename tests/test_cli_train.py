"""`s2s train` stopped by Ctrl-C or killed at any moment, then resumed."""

import subprocess
import sys

import pytest

from s2s.configfile import dump_config
from tests.conftest import tiny_config


def start_training(config, run_dir, *extra):
    return subprocess.Popen([sys.executable, "-m", "s2s", "train", "-c", str(config), "-o", str(run_dir),
                             "--quiet", *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for(path, process, seconds=120):
    import time
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


@pytest.fixture
def endless_config(demo_corpus, tmp_path):
    """A tiny run that would go on for a long time, checkpointing every 5 steps."""
    from dataclasses import replace
    config = tiny_config(demo_corpus)
    config = replace(config, train=replace(config.train, max_steps=100_000, valid_every=5,
                                           valid_batch_size=64))
    dump_config(config, tmp_path / "endless.yaml")
    return tmp_path / "endless.yaml"


@pytest.mark.slow
def test_ctrl_c_saves_a_checkpoint_and_says_how_to_resume(endless_config, tmp_path):
    import signal
    from s2s import checkpoint
    process = start_training(endless_config, tmp_path / "run")
    wait_for(tmp_path / "run" / "last.pt", process)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    assert "SIGINT received: stopped at step" in err and "--resume" in err and "Traceback" not in err
    step = checkpoint.load(tmp_path / "run" / "last.pt")["progress"]["step"]
    resumed = subprocess.run([sys.executable, "-m", "s2s", "train", "-o", str(tmp_path / "run"), "--resume",
                              "--quiet", "--set", f"train.max_steps={step + 3}"], capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    assert checkpoint.load(tmp_path / "run" / "last.pt")["progress"]["step"] == step + 3


@pytest.mark.slow
def test_after_sigkill_at_any_moment_resume_goes_on_from_the_last_checkpoint(endless_config, tmp_path):
    import random
    import signal
    import time
    from s2s import checkpoint
    rng, run, steps = random.Random(0), tmp_path / "run", []
    process = start_training(endless_config, run)
    for _ in range(4):
        wait_for(run / "last.pt", process)
        time.sleep(rng.uniform(0.0, 1.5))  # anywhere: mid-step, mid-validation, mid-write
        process.send_signal(signal.SIGKILL)
        process.wait()
        content = checkpoint.load(run / "last.pt")  # never half-written
        assert not steps or content["progress"]["step"] >= steps[-1]
        steps.append(content["progress"]["step"])
        process = start_training(endless_config, run, "--resume")
    process.send_signal(signal.SIGKILL)
    process.wait()
    step = checkpoint.load(run / "last.pt")["progress"]["step"]
    assert step >= max(steps)
    done = subprocess.run([sys.executable, "-m", "s2s", "train", "-o", str(run), "--resume", "--quiet",
                           "--set", f"train.max_steps={step + 20}"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert checkpoint.load(run / "last.pt")["progress"]["step"] == step + 20
    assert not list(run.glob(".*.tmp"))
