"""The training objective (label-smoothed cross-entropy per target piece) and the validation loss."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from s2s.data import Batch, ParallelData
from s2s.model import Seq2Seq
from s2s.tokenizer import PAD


def token_loss(logits: torch.Tensor, targets: torch.Tensor, smoothing: float) -> torch.Tensor:
    """Summed label-smoothed cross-entropy of logits (N, V) for targets (N,)."""
    return F.cross_entropy(logits.float(), targets, label_smoothing=smoothing, reduction="sum")


def batch_loss(net: nn.Module, batch: Batch, smoothing: float) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Teacher forcing on a batch: the summed loss of its real target pieces, the attention
    weights (B, T, S) and the number of those pieces. net is a Seq2Seq, or one wrapped for
    distributed training; its output layer runs on the real target positions only."""
    targets = batch.tgt_out[batch.tgt_out != PAD]  # (N,)
    logits, attention = net(batch.src, batch.src_len, batch.tgt_in, batch.tgt_out)  # (N, V)
    return token_loss(logits, targets, smoothing), attention, targets.numel()


@torch.no_grad()
def validation_loss(model: Seq2Seq, data: ParallelData, batch_tokens: int,
                    device: torch.device) -> float:
    """Mean per-token negative log-likelihood (no label smoothing) of a split."""
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    for indices in data.epoch_batches(batch_tokens, seed=0, epoch=0):
        loss, _, pieces = batch_loss(model, data.batch(indices).to(device), 0.0)
        total += float(loss)
        count += pieces
    model.train(was_training)
    return total / max(count, 1)
