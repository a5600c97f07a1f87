"""What a training run shows while it runs: log lines, a progress bar, curves, TensorBoard.

Every `train.log_every` steps a log line (loss, tokens/s, learning rate); on a terminal a
tqdm bar on stderr with the same figures and the time to the next validation; at each
validation `curves.png` in the run directory is redrawn, and when the `tensorboard`
package is installed the same scalars go to event files in `RUN_DIR/tensorboard/`.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

log = logging.getLogger(__name__)

CURVES = "curves.png"


@dataclass
class Window:
    """Training statistics since the last log line."""

    tokens: int = 0
    loss: float = 0.0
    steps: int = 0  # steps with a finite loss
    taken: int = 0  # all steps
    start: float = field(default_factory=time.perf_counter)


def _tensorboard(run_dir: Path):
    """A SummaryWriter into RUN_DIR/tensorboard, or None when tensorboard is not installed."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        return None
    return SummaryWriter(str(run_dir / "tensorboard"))


class Monitor:
    """Reports one run's progress; `close` it when training ends."""

    def __init__(self, run_dir: Path, *, total_steps: int, step: int, valid_every: int, progress_bar: bool,
                 enabled: bool = True):
        """With enabled=False (every process but rank 0 under torchrun) it writes nothing."""
        self.run_dir, self.valid_every, self.enabled = run_dir, valid_every, enabled
        self.bar = tqdm(total=total_steps, initial=step, disable=not (progress_bar and enabled), unit="step",
                        dynamic_ncols=True, leave=False)
        self.writer = _tensorboard(run_dir) if enabled else None

    def step(self) -> None:
        self.bar.update(1)

    def window(self, window: Window, step: int, epoch: int, lr: float) -> dict:
        """Reports the steps since the last report; returns its record for the training log."""
        elapsed = time.perf_counter() - window.start
        record = {"step": step, "loss": window.loss / window.steps, "tokens_per_s": window.tokens / elapsed,
                  "lr": lr}
        to_valid = self.valid_every - step % self.valid_every
        seconds = to_valid * elapsed / max(window.taken, 1)
        self.bar.set_postfix({"loss": f"{record['loss']:.3f}", "tok/s": f"{record['tokens_per_s']:.0f}",
                              "lr": f"{lr:.3g}", "valid in": _duration(seconds)}, refresh=False)
        log.info("step %d | epoch %d | loss %.3f | %.0f tok/s | lr %.3g", step, epoch, record["loss"],
                 record["tokens_per_s"], lr)
        if self.writer is not None:
            self.writer.add_scalar("train/loss", record["loss"], step)
            self.writer.add_scalar("train/tokens_per_s", record["tokens_per_s"], step)
            self.writer.add_scalar("train/lr", lr, step)
        return record

    def validation(self, record: dict, train_log: list[dict], valid_log: list[dict]) -> None:
        """Reports a validation and redraws the curves."""
        from s2s.plot import training_curves

        if not self.enabled:
            return
        if self.writer is not None:
            metric = record.get("metric", "BLEU").lower()
            for key in ("valid_loss", "valid_ppl", f"valid_{metric}", "macro_f1"):
                if key in record:
                    self.writer.add_scalar(f"valid/{key.removeprefix('valid_')}", record[key], record["step"])
            self.writer.flush()
        training_curves(train_log, valid_log, self.run_dir / CURVES)

    def close(self) -> None:
        self.bar.close()
        if self.writer is not None:
            self.writer.close()


def _duration(seconds: float) -> str:
    minutes, seconds = divmod(int(seconds), 60)
    return f"{minutes}m{seconds:02d}s" if minutes else f"{seconds}s"
