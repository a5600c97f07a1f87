"""Training speed of a config on this machine: pieces/s of a short run, the model FLOPs
per piece on real batches, and where a training step's time goes."""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from s2s import checkpoint
from s2s.data import ParallelData
from s2s.loss import batch_loss
from s2s.text import read_parallel, split_path
from s2s.translator import Translator

from timing import run_timed


def train_speed(args, out: Path, overrides: list[str], program: list[str] | None = None) -> dict:
    """Trains for --steps steps; returns median pieces/s over the steady windows and peak memory.
    `program` runs s2s's command line (default: python -m s2s)."""
    cmd = [*(program or [sys.executable, "-m", "s2s"]), "train", "-c", args.config, "-o", str(out), "--quiet",
           "--set", f"train.max_steps={args.steps}", "--set", f"train.valid_every={args.steps}",
           "--set", f"train.log_every={args.window}", "--set", "train.keep_checkpoints=0", *overrides]
    seconds, rss = run_timed(cmd)
    steady = [window["tokens_per_s"] for window in checkpoint.train_log(out) if window["step"] > args.skip]
    return {"pieces_s": statistics.median(steady), "windows": len(steady), "max_rss_mb": rss / 1024,
            "seconds": seconds}


def _training_batches(run_dir: Path, batches: int) -> tuple[torch.nn.Module, ParallelData, list[list[int]]]:
    """A run's model (in training mode), its encoded training data and the first `batches` batches."""
    translator = Translator.load(run_dir / "last.pt", torch.device("cpu"), precision="fp32")
    config = translator.config
    src, tgt = read_parallel(split_path(config.data.train, config.data.src_lang),
                             split_path(config.data.train, config.data.tgt_lang))
    train = ParallelData.from_text(src[:20000], tgt[:20000], translator.tokenizer, max_len=config.data.max_len)
    return translator.model.train(), train, train.epoch_batches(config.train.batch_tokens, 1, 0)[:batches]


def train_flops(run_dir: Path, batches: int = 20) -> float:
    """Model FLOPs (forward + backward) per source+target piece, on the run's first real batches."""
    model, train, batch_list = _training_batches(run_dir, batches)
    flops = pieces = 0
    for indices in batch_list:
        batch = train.batch(indices)
        with FlopCounterMode(display=False) as counter:
            batch_loss(model, batch, 0.1)[0].backward()  # as s2s.trainer computes it
        flops += counter.get_total_flops()
        pieces += train.counts(indices)[0]
    return flops / pieces


def profile_training(run_dir: Path, batches: int = 10) -> None:
    """The operators that take the most CPU time in a few training steps (forward, backward, Adam)."""
    model, train, batch_list = _training_batches(run_dir, batches)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, fused=True)  # as s2s.trainer has it
    with torch.profiler.profile() as prof:
        for indices in batch_list:
            batch_loss(model, train.batch(indices), 0.1)[0].backward()
            optimizer.step()
            optimizer.zero_grad()
    print(f"training, {batches} steps:")
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=12))
