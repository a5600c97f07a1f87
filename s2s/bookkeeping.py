"""A training run's bookkeeping: where it is, validation, checkpoints and early stopping.

`Progress` is what `last.pt` records so that --resume continues exactly. `Bookkeeping`
is the part of `s2s.trainer.Trainer` that scores the validation set, keeps best.pt,
last.pt and the step checkpoints, counts patience and skipped (non-finite) steps, and
restores a run from last.pt; it reads the trainer's config, task, run directory, process
group, progress, tokenizer, fingerprints and moving average of the weights (`s2s.ema`,
which validation scores and the checkpoints hold where there is one). The validation
score is the task's metric (BLEU, accuracy), higher better.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from dataclasses import asdict, dataclass, field

import torch

from s2s import checkpoint
from s2s.errors import UserError
from s2s.resume import own_rng, rng_state

log = logging.getLogger("s2s.trainer")


@dataclass
class Progress:
    """Where training is: saved in `last.pt` so that --resume continues from here."""

    step: int = 0
    epoch: int = 0
    batch_in_epoch: int = 0  # batches of `epoch` already trained on
    best_score: float = -1.0  # the best validation score (the task's metric)
    best_step: int = 0
    bad_validations: int = 0  # validations since the best one
    skipped_steps: int = 0  # steps whose loss or gradient was not finite (no update made)
    seconds: float = 0.0  # wall-clock time of the run so far, over all its resumes
    history: list[dict] = field(default_factory=list)  # one record per validation
    train_log: list[dict] = field(default_factory=list)  # one record per log window


class Diverged(UserError):
    """Too many steps in a row had a non-finite loss or gradient."""


class Bookkeeping:
    """Validation, checkpoints and early stopping, mixed into the Trainer."""

    def _patience_spent(self) -> bool:
        patience = self.config.train.patience
        return bool(patience) and self.progress.bad_validations >= patience

    def _validate(self, model, optimizer, scheduler, valid, final: bool = False) -> bool:
        """Scores the validation set, saves checkpoints; returns True to stop early.

        A `final` validation (training ended between two regular ones) is logged and saved
        in last.pt but leaves best.pt, the schedule and the patience count alone, so that a
        run extended later with --resume trains exactly as one that never stopped.
        """
        cfg, p = self.config.train, self.progress
        started = time.perf_counter()
        scored = None
        if self.group.main:  # the others wait; the result is shared so that all keep the same schedule
            with self.average.swapped_in(model) if self.average is not None else contextlib.nullcontext():
                scored = self.task.validate(model, valid, self.tokenizer, self.device)
        scored = self.group.share(scored)
        loss, score, metric = scored.loss, scored.score, self.task.metric
        improved = not final and score > p.best_score
        if improved:
            p.best_score, p.best_step, p.bad_validations = score, p.step, 0
        elif not final:
            p.bad_validations += 1
        if not final and cfg.lr_schedule == "plateau":
            scheduler.step(score)
        record = {"step": p.step, "valid_loss": loss, "valid_ppl": math.exp(min(loss, 50.0)),
                  "metric": metric, "valid_score": score, f"valid_{metric.lower()}": score, **scored.fields,
                  "lr": optimizer.param_groups[0]["lr"], "seconds": time.perf_counter() - started, "final": final}
        p.history.append(record)
        self.monitor.validation(record, p.train_log, p.history)
        extra = "".join(f" | {key} {value:.2f}" for key, value in scored.fields.items() if isinstance(value, float))
        log.info("validation at step %d | loss %.3f | ppl %.2f | %s %.2f%s%s | best %.2f at step %d "
                 "| %.1f s", p.step, loss, record["valid_ppl"], metric, score, extra,
                 " (new best)" if improved else "", p.best_score, p.best_step, record["seconds"])
        meta = self._meta()
        if improved and self.group.main:
            checkpoint.save(self.run_dir / checkpoint.BEST, self._content(model, meta))
        self._save_last(model, optimizer, scheduler, meta)
        self._keep(model, meta)
        if self._patience_spent():
            log.info("stopping early: no better validation %s in %d validations", self.task.metric,
                     p.bad_validations)
            return True
        return False

    def _keep(self, model, meta: dict) -> None:
        """Saves step-STEP.pt for `s2s average`, keeping the newest train.keep_checkpoints."""
        keep = self.config.train.keep_checkpoints
        if keep == 0 or not self.group.main:
            return
        checkpoint.save(self.run_dir / checkpoint.step_name(self.progress.step), self._content(model, meta))
        for old in checkpoint.kept(self.run_dir)[:-keep]:
            old.unlink()

    def _meta(self, interrupted: bool = False) -> dict:
        """What a checkpoint says about itself: its step and the latest validation scores."""
        p = self.progress
        p.seconds = self._elapsed()
        last = p.history[-1] if p.history else {}
        meta = {"step": p.step, "metric": self.task.metric, "valid_step": last.get("step"),
                "valid_score": last.get("valid_score"), "valid_loss": last.get("valid_loss"),
                "best_score": p.best_score, "best_step": p.best_step, "interrupted": interrupted}
        if self.task.metric == "BLEU":  # the names s2s info and older tools read
            meta.update(valid_bleu=last.get("valid_bleu"), bleu_signature=last.get("bleu_signature"),
                        best_bleu=p.best_score)
        return meta

    def _save_last(self, model, optimizer, scheduler, meta: dict) -> None:
        """Writes last.pt: the model and everything --resume needs to continue exactly."""
        state = {"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                 "rng": rng_state(self.group)}  # (collective under torchrun: every process gives its own)
        if self.average is not None:  # "model" is the average; these are the weights being trained
            state["weights"] = model.state_dict()
        if not self.group.main:
            return
        checkpoint.save(self.run_dir / checkpoint.LAST,
                        {**self._content(model, meta), "progress": asdict(self.progress),
                         "train_state": state, "fingerprints": self.fingerprints})

    def _content(self, model, meta: dict) -> dict:
        weights = model.state_dict() if self.average is None else self.average.state_dict(model)
        return {"config": self.config.to_dict(), "tokenizer": self.tokenizer.state(),
                "model": weights, "meta": meta, **self.task.state()}

    def _restore(self, model, optimizer, scheduler) -> None:
        content = self.resumed
        try:
            model.load_state_dict(content["train_state"].get("weights", content["model"]))  # train.ema_decay
            optimizer.load_state_dict(content["train_state"]["optimizer"])
            scheduler.load_state_dict(content["train_state"]["scheduler"])
            saved = dict(content["progress"])
            if "best_bleu" in saved:  # written before tasks other than translation
                saved["best_score"] = saved.pop("best_bleu")
            self.progress = Progress(**saved)
            self.seconds_before = self.progress.seconds
            rng = own_rng(content["train_state"]["rng"], self.group, self.config.train.seed, self.progress.step)
            torch.set_rng_state(rng["torch"])
            if "cuda" in rng and self.device.type == "cuda":
                torch.cuda.set_rng_state(rng["cuda"])
        except (RuntimeError, ValueError, TypeError, KeyError) as e:
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise UserError(f"--resume: {self.run_dir / checkpoint.LAST} does not fit this version of "
                            f"s2s or its own config: {first}") from None

    def _skipped(self) -> None:
        """Counts a step without an update; too many in a row stop training."""
        p, limit = self.progress, self.config.train.max_nonfinite
        p.skipped_steps += 1
        self.nonfinite_in_row += 1
        log.warning("step %d: the loss or gradient is not finite; update skipped (%d in a row, %d "
                    "in all)", p.step, self.nonfinite_in_row, p.skipped_steps)
        if self.nonfinite_in_row >= limit:
            kept = [name for name in (checkpoint.LAST, checkpoint.BEST) if (self.run_dir / name).is_file()]
            raise Diverged(f"training stopped at step {p.step}: the loss or gradient was not finite in "
                           f"{limit} steps in a row (train.max_nonfinite). The checkpoints were left as "
                           f"they were ({', '.join(kept) or 'none written yet'} in {self.run_dir}); "
                           "try a lower train.lr or check the training data")
