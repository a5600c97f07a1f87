"""Shared fixtures: a small demo corpus, a tokenizer trained on it, tiny configs, and a tiny run
trained through the command line (with `cli`, which runs s2s in this process).

`make test` runs the suite in a process per core (pytest-xdist), each with one thread: the
tiny models here gain little from a second thread, and a process per core keeps every core
busy. Each process builds the session fixtures its tests use."""

from __future__ import annotations

import importlib.util
import os
import random
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from s2s.cli import main
from s2s.config import Config, DataConfig, DecoderConfig, EncoderConfig, ModelConfig, TokenizerConfig, TrainConfig
from s2s.configfile import dump_config
from s2s.tokenizer import Tokenizer

ROOT = Path(__file__).resolve().parents[1]

if os.environ.get("PYTEST_XDIST_WORKER"):  # one of make test's processes: one thread, its own and its children's
    os.environ["OMP_NUM_THREADS"] = "1"
    torch.set_num_threads(1)

# Real corpora: ../shared/data where it exists (as the Makefile does), unless S2S_DATA is set.
if not os.environ.get("S2S_DATA") and (ROOT.parent / "shared" / "data" / "multi30k").is_dir():
    os.environ["S2S_DATA"] = str(ROOT.parent / "shared" / "data")


def load_demo_module():
    """The demo corpus generator (data/make_demo.py), imported by path."""
    spec = importlib.util.spec_from_file_location("make_demo", ROOT / "data" / "make_demo.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_page_driver():
    """The server launcher and page driver (docs/screenshot.py), imported by path."""
    spec = importlib.util.spec_from_file_location("screenshot", ROOT / "docs" / "screenshot.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_split(prefix: Path, pairs: list[tuple[str, str]]) -> None:
    prefix.parent.mkdir(parents=True, exist_ok=True)
    Path(f"{prefix}.src").write_text("".join(s + "\n" for s, _ in pairs), encoding="utf-8")
    Path(f"{prefix}.tgt").write_text("".join(t + "\n" for _, t in pairs), encoding="utf-8")


def aligned_demo(root: Path, pairs: int = 2000) -> list[tuple[str, str, list[tuple[int, int]]]]:
    """Demo pairs with their true word links: root/train (all), root/valid (the first 40)
    and root/train.align (the links, Pharaoh); returns (source, target, links) triples."""
    demo, rng = load_demo_module(), random.Random(7)
    triples = [demo.aligned_pair(rng) for _ in range(pairs)]
    write_split(root / "train", [(s, t) for s, t, _ in triples])
    write_split(root / "valid", [(s, t) for s, t, _ in triples[:40]])
    (root / "train.align").write_text("".join(" ".join(f"{i}-{j}" for i, j in links) + "\n"
                                              for _, _, links in triples), encoding="utf-8")
    return triples


@pytest.fixture(scope="session")
def demo_corpus(tmp_path_factory) -> Path:
    """A small demo corpus: DIR/{train,valid}.{src,tgt}; returns DIR."""
    demo = load_demo_module()
    rng = random.Random(7)
    seen: set = set()
    root = tmp_path_factory.mktemp("corpus")
    write_split(root / "train", demo.generate(2000, rng, seen))
    write_split(root / "valid", demo.generate(40, rng, seen))
    return root


def tiny_config(corpus: Path, **train) -> Config:
    """A model small enough to train for a few steps in a test."""
    return Config(
        data=DataConfig(train=str(corpus / "train"), valid=str(corpus / "valid"), max_len=40),
        tokenizer=TokenizerConfig(vocab_size=120),
        model=ModelConfig(embed_dim=16, dropout=0.1,
                          encoder=EncoderConfig(hidden_size=16),
                          decoder=DecoderConfig(hidden_size=24)),
        train=replace(TrainConfig(), **{"batch_tokens": 300, "valid_every": 10, "log_every": 5, **train}),
    )


@pytest.fixture(scope="session")
def tokenizer(demo_corpus) -> Tokenizer:
    from s2s.text import read_lines
    return Tokenizer.train(TokenizerConfig(vocab_size=120), read_lines(demo_corpus / "train.src"),
                           read_lines(demo_corpus / "train.tgt"))


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory) -> Path:
    """The README's demo trained through the installed `s2s` script, with a shorter schedule
    (600 steps, about a minute and a half on 2 cores): DIR/run, and DIR/demo/{train,valid,test}."""
    demo = load_demo_module()
    root = tmp_path_factory.mktemp("demo")
    splits = demo.make_splits(seed=1, train=20000, valid=200, test=600)
    for name in ("train", "valid", "test"):
        write_split(root / "demo" / name, splits[name])
    prefix = root / "demo"
    subprocess.run([sys.executable, "-m", "s2s", "train", "-c", str(ROOT / "configs" / "demo.yaml"),
                    "-o", str(root / "run"), "--quiet", "--set", f"data.train={prefix}/train",
                    "--set", f"data.valid={prefix}/valid", "--set", "train.max_steps=600"], check=True, cwd=root)
    return root


@pytest.fixture(scope="session")
def fitted(demo_corpus, tmp_path_factory) -> Path:
    """A tiny run trained for 300 steps, enough to translate the demo corpus in part. Tests
    that write into a run (a shortlist, say) copy it first."""
    from s2s.run import train
    run = tmp_path_factory.mktemp("fitted") / "run"
    train(tiny_config(demo_corpus, max_steps=300, valid_every=300, lr=0.005), run)
    return run


def cli(*args, input=None):
    """Runs `s2s ARGS` in this process; the result has exit_code, stdout and output."""
    return CliRunner().invoke(main, [str(a) for a in args], input=input)


@pytest.fixture(scope="session")
def trained(demo_corpus, tmp_path_factory) -> Path:
    """A run directory trained for 20 steps through `s2s train`, validated at steps 10 and 20,
    with the demo's validation split as its test split. Tests read it and never write into it."""
    root = tmp_path_factory.mktemp("cli")
    dump_config(tiny_config(demo_corpus), root / "tiny.yaml")
    result = cli("train", "-c", root / "tiny.yaml", "-o", root / "run", "--set", "train.max_steps=20",
                 "--set", "train.valid_every=10", "--set", f"data.test={demo_corpus / 'valid'}")
    assert result.exit_code == 0, result.output
    return root / "run"
