"""When a training run stops: its wall-clock budget and the signals it received, agreed
among all processes under torchrun so that every one stops at the same step.

`Stopping` is mixed into `s2s.trainer.Trainer`; it reads the trainer's config, process
group, device, signals and clock.
"""

from __future__ import annotations

import logging
import signal
import time

from s2s import checkpoint
from s2s.errors import Interrupted

log = logging.getLogger("s2s.trainer")


class Stopping:
    """The run's time and signals, agreed among processes."""

    def _elapsed(self) -> float:
        """Wall-clock seconds of this run, earlier resumes included."""
        return self.seconds_before + time.monotonic() - self.clock

    def _agreed_elapsed(self) -> float:
        """_elapsed(), the largest over all processes under a time budget, so that all of them
        stop at the same step (without a budget, no collective call is made)."""
        if self.config.train.max_minutes <= 0:
            return self._elapsed()
        return self.group.maximum(self._elapsed(), self.device)

    def _out_of_time(self, seconds: float) -> bool:
        """Whether `seconds` of the run have used up train.max_minutes (never without one)."""
        minutes = self.config.train.max_minutes
        return minutes > 0 and seconds >= 60.0 * minutes

    def _agreed_signal(self) -> int | None:
        """The signal that stops training, once every process knows of it (else None).

        Under torchrun this is a collective: every process calls it at the same points.
        """
        received = self.signals.received
        if not self.group.any(received is not None, self.device):
            return None
        return received or signal.SIGTERM  # a process that got none stops with the others

    def _interrupt(self, signum: int) -> None:
        """Raises Interrupted for an agreed signal, after last.pt has been saved."""
        name = signal.Signals(signum).name
        log.info("stopped by %s at step %d; last.pt saved", name, self.progress.step)
        how = ("the same torchrun command with" if self.group.distributed else "s2s train") + \
            f" -o {self.run_dir} --resume"
        message = (f"{name} received: stopped at step {self.progress.step} and saved "
                   f"{self.run_dir / checkpoint.LAST}; continue with: {how}")
        raise Interrupted(signum, message if self.group.main else "")
