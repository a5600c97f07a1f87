"""Training: tokenizer, data, model and optimiser wired into a loop that validates,
checkpoints, decays the learning rate, stops early and resumes exactly.

The run directory keeps `config.yaml`, `train.log`, `last.pt` (everything needed to
resume) and `best.pt` (the checkpoint with the best validation BLEU).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from s2s import checkpoint
from s2s.config import Config, dump_config, from_dict
from s2s.data import ParallelData, read_lines, split_path
from s2s.errors import UserError
from s2s.metrics import bleu
from s2s.model import Seq2Seq
from s2s.tokenizer import PAD, Tokenizer
from s2s.translate import Translator

log = logging.getLogger(__name__)


@dataclass
class Progress:
    """Where training is: saved in `last.pt` so that --resume continues from here."""

    step: int = 0
    epoch: int = 0
    batch_in_epoch: int = 0  # batches of `epoch` already trained on
    best_bleu: float = -1.0
    best_step: int = 0
    bad_validations: int = 0  # validations since the best one
    history: list[dict] = field(default_factory=list)


def token_loss(logits: torch.Tensor, tgt_out: torch.Tensor, smoothing: float) -> torch.Tensor:
    """Summed cross-entropy over non-padding targets: logits (B, T, V), tgt_out (B, T)."""
    return F.cross_entropy(logits.reshape(-1, logits.size(-1)).float(), tgt_out.reshape(-1),
                           ignore_index=PAD, label_smoothing=smoothing, reduction="sum")


@torch.no_grad()
def validation_loss(model: Seq2Seq, data: ParallelData, batch_tokens: int,
                    device: torch.device) -> float:
    """Mean per-token negative log-likelihood (no label smoothing) of a split."""
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    for indices in data.epoch_batches(batch_tokens, seed=0, epoch=0):
        batch = data.batch(indices).to(device)
        logits, _ = model(batch.src, batch.src_len, batch.tgt_in)
        total += float(token_loss(logits, batch.tgt_out, 0.0))
        count += int((batch.tgt_out != PAD).sum())
    model.train(was_training)
    return total / max(count, 1)


class Trainer:
    """One training run in one run directory."""

    def __init__(self, config: Config, run_dir: Path, device: torch.device, progress_bar: bool):
        self.config, self.run_dir, self.device = config, run_dir, device
        self.progress_bar = progress_bar
        self.progress = Progress()
        self.tokenizer: Tokenizer | None = None
        self.resumed: dict | None = None

    # -- set-up ---------------------------------------------------------------------------

    def prepare(self, resume: bool) -> None:
        """Creates or reopens the run directory and gets the tokenizer (trained or restored)."""
        last = self.run_dir / checkpoint.LAST
        if resume:
            if not last.is_file():
                raise UserError(f"--resume: {last} does not exist (nothing to resume)")
            self.resumed = checkpoint.load(last)
            self._check_compatible(from_dict(self.resumed["config"]))
            self.tokenizer = Tokenizer.from_state(self.resumed["tokenizer"])
            log.info("resuming %s from step %d", self.run_dir, self.resumed["progress"]["step"])
        else:
            if last.exists():
                raise UserError(f"{self.run_dir} already holds a run ({last}); pass --resume to "
                                "continue it, or -o to train into another directory")
            data = self.config.data
            src_path = split_path(data.train, data.src_lang)
            tgt_path = split_path(data.train, data.tgt_lang)
            log.info("training the sentencepiece tokenizer on %s and %s", src_path, tgt_path)
            self.tokenizer = Tokenizer.train(self.config.tokenizer, read_lines(src_path),
                                             read_lines(tgt_path))
        dump_config(self.config, self.run_dir / "config.yaml")

    def _check_compatible(self, saved: Config) -> None:
        for section in ("model", "tokenizer", "data"):
            if getattr(saved, section) != getattr(self.config, section):
                raise UserError(f"--resume: the '{section}' section differs from the one the run in "
                                f"{self.run_dir} was started with; only 'train' may change on resume")

    # -- the loop -------------------------------------------------------------------------

    def run(self) -> Progress:
        """Trains until max_steps, max_epochs or early stopping; returns the final progress."""
        cfg, data_cfg = self.config.train, self.config.data
        torch.manual_seed(cfg.seed)
        tok = self.tokenizer
        train = ParallelData.load(data_cfg.train, data_cfg.src_lang, data_cfg.tgt_lang, tok,
                                  max_len=data_cfg.max_len)
        valid = ParallelData.load(data_cfg.valid, data_cfg.src_lang, data_cfg.tgt_lang, tok)
        model = Seq2Seq.from_config(self.config.model, tok.src_vocab_size, tok.tgt_vocab_size)
        model.to(self.device)
        optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
        scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, mode="max", factor=cfg.lr_decay, patience=cfg.lr_patience, min_lr=cfg.min_lr)
        if self.resumed is not None:
            self._restore(model, optimizer, scheduler)
        n_params = sum(p.numel() for p in model.parameters())
        log.info("model: %s parameters; vocabulary %d source, %d target; %d training pairs",
                 f"{n_params:,}", tok.src_vocab_size, tok.tgt_vocab_size, len(train))
        translator = Translator(model, tok, self.device, batch_size=cfg.valid_batch_size)
        model.train()
        p = self.progress
        bar = tqdm(total=cfg.max_steps, initial=p.step, disable=not self.progress_bar, unit="step",
                   dynamic_ncols=True, leave=False)
        window_tokens, window_start, window_loss, window_steps = 0, time.perf_counter(), 0.0, 0
        stop = p.step >= cfg.max_steps
        with logging_redirect_tqdm(), bar:
            while not stop and p.epoch < cfg.max_epochs:
                batches = train.epoch_batches(cfg.batch_tokens, cfg.seed, p.epoch)
                if p.batch_in_epoch == 0:
                    log.info("epoch %d: %d batches, %.1f sentences per batch on average", p.epoch,
                             len(batches), len(train) / len(batches))
                while p.batch_in_epoch < len(batches) and not stop:
                    batch = train.batch(batches[p.batch_in_epoch]).to(self.device)
                    loss = self._update(model, optimizer, batch)
                    p.step += 1
                    p.batch_in_epoch += 1
                    window_tokens += batch.n_tokens
                    window_loss += loss
                    window_steps += 1
                    bar.update(1)
                    if p.step % cfg.log_every == 0 or p.step % cfg.valid_every == 0:
                        elapsed = time.perf_counter() - window_start
                        lr = optimizer.param_groups[0]["lr"]
                        stats = dict(loss=f"{window_loss / window_steps:.3f}",
                                     tok_s=f"{window_tokens / elapsed:.0f}", lr=f"{lr:.2g}")
                        bar.set_postfix(stats, refresh=False)
                        log.info("step %d | epoch %d | loss %s | %s tok/s | lr %s", p.step, p.epoch,
                                 stats["loss"], stats["tok_s"], stats["lr"])
                        window_tokens, window_start, window_loss, window_steps = 0, time.perf_counter(), 0.0, 0
                    if p.step % cfg.valid_every == 0:
                        stop = self._validate(model, optimizer, scheduler, valid, translator)
                        window_start = time.perf_counter()
                    stop = stop or p.step >= cfg.max_steps
                if p.batch_in_epoch >= len(batches):
                    p.epoch, p.batch_in_epoch = p.epoch + 1, 0
        if not p.history or p.history[-1]["step"] != p.step:
            self._validate(model, optimizer, scheduler, valid, translator)
        log.info("finished at step %d; best validation BLEU %.2f at step %d", p.step,
                 p.best_bleu, p.best_step)
        return p

    def _update(self, model: Seq2Seq, optimizer: torch.optim.Optimizer, batch) -> float:
        """One optimisation step; returns the mean per-token training loss."""
        cfg = self.config.train
        logits, _ = model(batch.src, batch.src_len, batch.tgt_in)
        n_tgt = int((batch.tgt_out != PAD).sum())
        loss = token_loss(logits, batch.tgt_out, cfg.label_smoothing) / n_tgt
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.clip_norm > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.clip_norm)
        optimizer.step()
        return loss.item()

    # -- validation and checkpoints -------------------------------------------------------

    def _validate(self, model, optimizer, scheduler, valid: ParallelData,
                  translator: Translator) -> bool:
        """Scores the validation set, saves checkpoints; returns True to stop early."""
        cfg, p = self.config.train, self.progress
        started = time.perf_counter()
        loss = validation_loss(model, valid, cfg.batch_tokens, self.device)
        hyps = translator.translate(valid.src_text)
        score = bleu(hyps, valid.tgt_text)
        improved = score.score > p.best_bleu
        if improved:
            p.best_bleu, p.best_step, p.bad_validations = score.score, p.step, 0
        else:
            p.bad_validations += 1
        scheduler.step(score.score)
        record = {"step": p.step, "valid_loss": loss, "valid_ppl": math.exp(min(loss, 50.0)),
                  "valid_bleu": score.score, "lr": optimizer.param_groups[0]["lr"],
                  "seconds": time.perf_counter() - started}
        p.history.append(record)
        log.info("validation at step %d | loss %.3f | ppl %.2f | BLEU %.2f%s | best %.2f at step %d "
                 "| %.1f s", p.step, loss, record["valid_ppl"], score.score,
                 " (new best)" if improved else "", p.best_bleu, p.best_step, record["seconds"])
        meta = {"step": p.step, "valid_bleu": score.score, "bleu_signature": score.signature,
                "valid_loss": loss}
        if improved:
            checkpoint.save(self.run_dir / checkpoint.BEST, self._content(model, meta))
        state = {"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                 "rng": self._rng_state()}
        checkpoint.save(self.run_dir / checkpoint.LAST,
                        {**self._content(model, meta), "progress": asdict(p), "train_state": state})
        if cfg.patience and p.bad_validations >= cfg.patience:
            log.info("stopping early: no better validation BLEU in %d validations", p.bad_validations)
            return True
        return False

    def _content(self, model: Seq2Seq, meta: dict) -> dict:
        best = {"best_bleu": self.progress.best_bleu, "best_step": self.progress.best_step}
        return {"config": self.config.to_dict(), "tokenizer": self.tokenizer.state(),
                "model": model.state_dict(), "meta": {**meta, **best}}

    def _rng_state(self) -> dict:
        state = {"torch": torch.get_rng_state()}
        if torch.cuda.is_available():
            state["cuda"] = torch.cuda.get_rng_state_all()
        return state

    def _restore(self, model, optimizer, scheduler) -> None:
        content = self.resumed
        model.load_state_dict(content["model"])
        optimizer.load_state_dict(content["train_state"]["optimizer"])
        scheduler.load_state_dict(content["train_state"]["scheduler"])
        self.progress = Progress(**content["progress"])
        rng = content["train_state"]["rng"]
        torch.set_rng_state(rng["torch"])
        if "cuda" in rng and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(rng["cuda"])


def train(config: Config, run_dir: str | Path, *, resume: bool = False,
          device: torch.device = torch.device("cpu"), progress_bar: bool = False) -> Progress:
    """Trains a model as `config` says into `run_dir` (or resumes the run there)."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(run_dir / "train.log", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    root = logging.getLogger("s2s")
    root.addHandler(handler)
    level = root.level
    root.setLevel(logging.INFO)  # the run's log file keeps progress even when stderr is quiet
    try:
        trainer = Trainer(config, run_dir, device, progress_bar)
        trainer.prepare(resume)
        return trainer.run()
    finally:
        root.setLevel(level)
        root.removeHandler(handler)
        handler.close()
