"""The training objective (label-smoothed cross-entropy per target piece) and the validation loss."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from s2s.data import ParallelData
from s2s.model import Seq2Seq
from s2s.tokenizer import PAD


def token_loss(logits: torch.Tensor, tgt_out: torch.Tensor, smoothing: float) -> torch.Tensor:
    """Summed cross-entropy over non-padding targets: logits (B, T, V) and tgt_out (B, T), or
    logits (N, V) and targets (N,)."""
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
        logits, _ = model(batch.src, batch.src_len, batch.tgt_in, batch.tgt_out)  # (N, V)
        targets = batch.tgt_out[batch.tgt_out != PAD]  # (N,)
        total += float(token_loss(logits, targets, 0.0))
        count += targets.numel()
    model.train(was_training)
    return total / max(count, 1)
