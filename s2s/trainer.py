"""Training: tokenizer, data, model and optimiser wired into a loop that validates,
checkpoints, decays the learning rate, stops early and resumes exactly, for every task
(`s2s.task`: translate, classify, tag).

The run directory keeps `config.yaml`, `train.log`, `last.pt` (everything needed to
resume) and `best.pt` (the checkpoint with the best validation score: BLEU, accuracy).
With `train.ema_decay`, validation and the checkpoints read a moving average of the weights
(`s2s.ema`), and last.pt keeps the weights being trained beside it.
SIGINT (Ctrl-C) or SIGTERM writes `last.pt` after the current step and stops
(`Interrupted`); a step whose loss or gradient is not finite is skipped, and too many in a
row stop training (`s2s.bookkeeping.Diverged`) with the checkpoints as they were.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from pathlib import Path

import torch
from tqdm.contrib.logging import logging_redirect_tqdm

from s2s import checkpoint
from s2s.bookkeeping import Bookkeeping, Progress
from s2s.config import Config
from s2s.configfile import dump_config, from_dict
from s2s.text import fingerprint
from s2s.distributed import Group
from s2s.ema import MovingAverage
from s2s.errors import UserError
from s2s.labeling import LabelTask
from s2s.monitor import Monitor, Window
from s2s.precision import has_bf16
from s2s.resume import check_compatible, check_same_text
from s2s.schedule import budget_spent, scheduled_lr
from s2s.signals import StopSignals
from s2s.stopping import Stopping
from s2s.task import Dataset, Task
from s2s.tokenizer import Tokenizer
from s2s.translation import TranslateTask

log = logging.getLogger(__name__)

TASKS = {"translate": TranslateTask, "classify": LabelTask, "tag": LabelTask}


class Trainer(Bookkeeping, Stopping):
    """One training run in one run directory: set-up, the loop and its updates.

    What the task changes (data, model, loss, metric) comes from `self.task`; validation,
    checkpoints and early stopping from `Bookkeeping`; the time budget and signals, agreed
    among processes, from `Stopping`.
    """

    def __init__(self, config: Config, run_dir: Path, device: torch.device, progress_bar: bool,
                 group: Group = Group()):
        self.config, self.run_dir, self.device, self.group = config, run_dir, device, group
        self.progress_bar = progress_bar and group.main
        self.bf16 = (config.train.bf16 and device.type == "cuda" and torch.cuda.is_available()
                     and torch.cuda.is_bf16_supported())
        self.output_bf16 = config.train.bf16 and config.task == "translate" and has_bf16(device)  # on a CPU
        self.progress = Progress()
        self.task: Task = TASKS[config.task](config, run_dir)
        self.tokenizer: Tokenizer | None = None
        self.resumed: dict | None = None
        self.fingerprints: dict[str, str] = {}
        self.signals = StopSignals()
        self.nonfinite_in_row = 0
        self.clock = time.monotonic()  # train.max_minutes counts from here (plus earlier resumes)
        self.seconds_before = 0.0  # the run's time before this process (from last.pt)
        self.out_of_time = False  # stopped by train.max_minutes
        self.average: MovingAverage | None = None  # train.ema_decay's average of the weights

    # -- set-up ---------------------------------------------------------------------------

    def prepare(self, resume: bool) -> None:
        """Reads the training text and gets the tokenizer (trained, or restored on resume)."""
        last = self.run_dir / checkpoint.LAST
        if resume and not last.is_file():
            raise UserError(f"--resume: {last} does not exist (nothing to resume)")
        if not resume and last.exists():
            raise UserError(f"{self.run_dir} already holds a run ({last}); pass --resume to "
                            "continue it, or -o to train into another directory")
        world, accumulate = self.group.world_size, self.config.train.accumulate
        if accumulate % world:
            raise UserError(f"train.accumulate ({accumulate}) must be a multiple of the number of processes "
                            f"({world}): each update's batches are shared out among them; e.g. "
                            f"--set train.accumulate={world * max(1, accumulate // world)}")
        self.group.barrier()  # every process has checked the run directory before rank 0 writes to it
        if self.group.main:
            for stale in self.run_dir.glob(".*.tmp"):  # atomic writes cut short by a crash or SIGKILL
                stale.unlink(missing_ok=True)
        if resume:
            self.resumed = checkpoint.load(last, require=("config", "tokenizer", "model", "progress",
                                                          "train_state", "fingerprints"))
            check_compatible(from_dict(self.resumed["config"]), self.config, self.run_dir)
        self.fingerprints = {"train": self.task.read_train()}
        check_same_text(self.resumed, self.fingerprints, "train", self.run_dir)
        if resume:
            self.tokenizer = Tokenizer.from_state(self.resumed["tokenizer"])
            log.info("resuming %s from step %d", self.run_dir, self.resumed["progress"]["step"])
        else:
            state = None
            if self.group.main:
                state = self.task.tokenizer(self.config.train.seed).state()
            self.tokenizer = Tokenizer.from_state(self.group.share(state))  # rank 0's, everywhere
        if self.group.main:
            dump_config(self.config, self.run_dir / "config.yaml")

    def _build(self) -> tuple[torch.nn.Module, torch.optim.Optimizer, object]:
        """The model, optimiser and scheduler, restored from last.pt on resume."""
        cfg, tok = self.config.train, self.tokenizer
        torch.manual_seed(cfg.seed)
        model = self.task.build(tok)
        model.to(self.device)
        if self.group.rank > 0:  # the same initial weights everywhere, other dropout masks
            torch.manual_seed(cfg.seed + 1_000_003 * self.group.rank)
        if cfg.weight_decay > 0:
            optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay, fused=True)
        else:
            optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr, fused=True)  # one kernel for all parameters
        scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, mode="max", factor=cfg.lr_decay, patience=cfg.lr_patience, min_lr=cfg.min_lr)
        if self.resumed is not None:
            self._restore(model, optimizer, scheduler)
        if cfg.ema_decay > 0 and self.group.main:  # only rank 0 validates and saves
            self.average = MovingAverage(model, cfg.ema_decay)
            if self.resumed is not None:
                self.average.load(self.resumed["model"])  # last.pt's model is the average
        return model, optimizer, scheduler

    # -- the loop -------------------------------------------------------------------------

    def run(self) -> Progress:
        """Trains until max_steps, max_epochs or early stopping; returns the final progress."""
        cfg, tok = self.config.train, self.tokenizer
        train, valid, valid_text = self.task.datasets(tok, self.group)
        self.fingerprints["valid"] = fingerprint(*valid_text)
        check_same_text(self.resumed, self.fingerprints, "valid", self.run_dir)
        model, optimizer, scheduler = self._build()
        outputs = f"{tok.tgt_vocab_size} target pieces" if self.config.task == "translate" else \
            f"{len(self.task.label_set)} labels"
        log.info("%s model: %s parameters; %d source pieces, %s; %d training examples", self.config.task,
                 f"{sum(p.numel() for p in model.parameters()):,}", tok.src_vocab_size, outputs, len(train))
        if self.output_bf16:
            model.output_bf16 = True
            log.info("train.bf16: the output layer computes in bf16 (this CPU multiplies bf16 in hardware)")
        self.net = model  # what the training steps run: the model, or its DDP wrapper
        if self.group.distributed:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.net = torch.nn.parallel.DistributedDataParallel(model, device_ids=ids)
            log.info("distributed training: %d processes, %d batch(es) each per update of %d",
                     self.group.world_size, cfg.accumulate // self.group.world_size, cfg.accumulate)
        validate = lambda: self._validate(model, optimizer, scheduler, valid)  # noqa: E731
        p = self.progress
        self.monitor = Monitor(self.run_dir, total_steps=cfg.max_steps, step=p.step,
                               valid_every=cfg.valid_every, progress_bar=self.progress_bar,
                               enabled=self.group.main)
        stop = p.step >= cfg.max_steps or self._patience_spent() or self._out_of_time(self._agreed_elapsed())
        if stop:
            log.info("the run has already finished (step %d); raise train.max_steps, train.max_minutes "
                     "or train.patience to train further", p.step)
        model.train()
        try:
            with logging_redirect_tqdm(loggers=[logging.getLogger("s2s")]), self.signals:
                self._loop(model, optimizer, scheduler, train, validate, stop)
            if not p.history or p.history[-1]["step"] != p.step:
                # off the regular schedule (unless it is the run's only one, or the time budget
                # ended the run: then no later step can follow it)
                self._validate(model, optimizer, scheduler, valid,
                               final=bool(p.history) and not self.out_of_time)
        finally:
            self.monitor.close()
        log.info("finished at step %d; best validation %s %.2f at step %d", p.step, self.task.metric,
                 p.best_score, p.best_step)
        return p

    def _loop(self, model, optimizer, scheduler, train: Dataset, validate, stop: bool) -> None:
        """Epochs until a limit is reached, or a signal saves last.pt and raises Interrupted."""
        cfg, p = self.config.train, self.progress
        while not stop and p.epoch < cfg.max_epochs:
            stop = self._train_epoch(model, optimizer, train, validate)
            signum = self._agreed_signal()
            if signum is not None:
                self._save_last(model, optimizer, scheduler, self._meta(interrupted=True))
                self._interrupt(signum)

    def _train_epoch(self, model, optimizer, train: Dataset, validate) -> bool:
        """Trains on the rest of the current epoch; returns True when training should stop.

        An update takes the next train.accumulate batches; under torchrun each process
        computes the gradient of its share and DDP sums them. Batches left at the end of an
        epoch that do not fill an update are skipped (the next epoch reshuffles).
        """
        cfg, p, group = self.config.train, self.progress, self.group
        batches = train.epoch_batches(cfg.batch_tokens, cfg.seed, p.epoch)
        k = cfg.accumulate
        if len(batches) < k:
            raise UserError(f"the training data makes {len(batches)} batches of train.batch_tokens="
                            f"{cfg.batch_tokens}, fewer than train.accumulate={k} per update")
        if p.batch_in_epoch == 0:
            log.info("epoch %d: %d batches, %.1f sentences per batch on average, %d updates", p.epoch,
                     len(batches), len(train) / len(batches), len(batches) // k)
        window = Window()
        while p.batch_in_epoch + k <= len(batches):
            if self._agreed_signal() is not None:
                return True
            seconds = self._agreed_elapsed()
            if self._out_of_time(seconds):
                log.info("train.max_minutes (%g) reached at step %d", cfg.max_minutes, p.step)
                self.out_of_time = True
                return True
            if cfg.lr_schedule != "plateau" or p.step < cfg.warmup_steps:
                spent = budget_spent(p.step, cfg.max_steps, seconds, cfg.max_minutes)
                lr = scheduled_lr(cfg.lr_schedule, cfg.lr, cfg.min_lr, cfg.warmup_steps, p.step + 1, spent)
                for param_group in optimizer.param_groups:
                    param_group["lr"] = lr
            update = batches[p.batch_in_epoch:p.batch_in_epoch + k]
            tokens, targets = map(sum, zip(*(train.counts(b) for b in update)))
            mine = [train.batch(b) for b in update[group.rank::group.world_size]]
            loss = self._update(optimizer, mine, targets)
            p.step, p.batch_in_epoch = p.step + 1, p.batch_in_epoch + k
            if loss is None:
                self._skipped()
            else:
                self.nonfinite_in_row = 0
                if self.average is not None:
                    self.average.update(model, p.step)
                window.loss, window.steps = window.loss + loss, window.steps + 1
            window.tokens, window.taken = window.tokens + tokens, window.taken + 1
            self.monitor.step()
            due = p.step % cfg.log_every == 0 or p.step % cfg.valid_every == 0
            if due and window.steps:
                window.loss = group.total(window.loss, self.device)  # each process holds its share
                record = self.monitor.window(window, p.step, p.epoch, optimizer.param_groups[0]["lr"])
                p.train_log.append(record)
            if p.step % cfg.valid_every == 0 and validate():
                return True
            if due:
                window = Window()  # after validating, so that tokens/s counts training only
            if p.step >= cfg.max_steps:
                return True
        p.epoch, p.batch_in_epoch = p.epoch + 1, 0
        return False

    def _update(self, optimizer: torch.optim.Optimizer, batches: list, targets: int) -> float | None:
        """One optimisation step on this process's batches of an update with `targets` target
        tokens in all; returns this process's share of the mean per-token loss, or None when
        the gradient is not finite (no update is made then; a NaN loss makes a NaN gradient).
        """
        cfg, world = self.config.train, self.group.world_size
        optimizer.zero_grad(set_to_none=True)
        total = 0.0
        for i, batch in enumerate(batches):
            batch = batch.to(self.device)
            last = i == len(batches) - 1
            no_sync = self.net.no_sync() if self.group.distributed and not last else contextlib.nullcontext()
            with no_sync:
                with torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.bf16):
                    loss = self.task.loss(self.net, batch)  # summed over the batch's targets, in fp32
                # DDP averages gradients over processes: scaling by their number makes it a sum
                loss = loss * (world / targets)
                loss.backward()
            total += loss.item() / world
        norm = torch.stack([torch.nn.utils.clip_grad_norm_(group, cfg.clip_norm or math.inf)
                            for group in _clip_groups(getattr(self.net, "module", self.net))]).norm()
        if not torch.isfinite(norm):
            optimizer.zero_grad(set_to_none=True)
            return None
        optimizer.step()
        return total


def _clip_groups(model: torch.nn.Module) -> list[list[torch.nn.Parameter]]:
    """The parameters whose gradient norm is clipped together: all of them, or an alignment
    head's apart from the rest, so that its loss (which reaches only its own weights,
    `s2s.aligner`) leaves translation's updates exactly as they would be without it."""
    head = getattr(model, "aligner", None)
    if head is None:
        return [list(model.parameters())]
    own = {id(p) for p in head.parameters()}
    return [[p for p in model.parameters() if id(p) not in own], list(head.parameters())]
