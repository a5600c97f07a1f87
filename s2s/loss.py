"""The training objective (label-smoothed cross-entropy per target piece) and the validation loss.

With `train.output_sample` S > 0, each batch's softmax runs over a sample of the target
vocabulary instead of all of it (Jean et al. 2015, "On Using Very Large Target Vocabulary
for Neural Machine Translation"): every piece that is a target in the batch, and others
drawn uniformly at random, S or a few more so that the count is a multiple of COLUMNS (the
CPU's bf16 kernels are compiled for each shape). The output layer, half of a training
step's products, then computes V' columns instead of V. Pieces left out of a batch get no
gradient from it. A drawn piece's logit gets log(1/q) added, q the chance that the draw took
it, so that the drawn pieces stand for all the pieces left out (the importance-sampling
correction of sampled softmax); without it, the 25-minute recipe trailed
full-softmax training by 1.8 validation BLEU at step 2,000. Validation and translation use
the whole vocabulary.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from s2s.data import Batch, ParallelData
from s2s.model import Seq2Seq
from s2s.padded import COLUMNS, round_up
from s2s.tokenizer import PAD


def token_loss(logits: torch.Tensor, targets: torch.Tensor, smoothing: float) -> torch.Tensor:
    """Summed label-smoothed cross-entropy of logits (N, V) for targets (N,)."""
    return F.cross_entropy(logits.float(), targets, label_smoothing=smoothing, reduction="sum")


def sampled_columns(targets: torch.Tensor, vocab_size: int,
                    sample: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The target ids a batch's softmax runs over (V',), sorted: those in targets (N,) and
    others drawn uniformly, `sample` or a few more (V' a multiple of COLUMNS, at most V); the
    targets as columns of it (N,); and what to add to each column's logit (V',): log(1/q) for
    a drawn piece, which the draw took with probability q, so that the sampled softmax's
    normaliser estimates the full one's (0 for the targets, which are always in)."""
    is_target = torch.zeros(vocab_size, dtype=torch.bool, device=targets.device)  # (V,)
    is_target[targets] = True
    have = int(is_target.sum())
    draw = min(vocab_size, round_up(have + sample, COLUMNS)) - have
    others = (~is_target).nonzero().squeeze(1)  # (V - have,)
    chosen = is_target.clone()
    chosen[others[torch.randperm(others.numel(), device=targets.device)[:draw]]] = True
    columns = chosen.nonzero().squeeze(1)  # (V',)
    weight = math.log(others.numel() / draw) if draw else 0.0  # log(1/q), q = draw / (V - have)
    offset = (~is_target[columns]).float() * weight  # (V',)
    return columns, torch.searchsorted(columns, targets), offset


def batch_loss(net: nn.Module, batch: Batch, smoothing: float,
               sample: int = 0) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Teacher forcing on a batch: the summed loss of its real target pieces, the attention
    weights (B, T, S) and the number of those pieces. net is a Seq2Seq, or one wrapped for
    distributed training; its output layer runs on the real target positions only, and with
    `sample` > 0 over a sample of the vocabulary (`sampled_columns`)."""
    targets = batch.tgt_out[batch.tgt_out != PAD]  # (N,)
    columns = offset = None
    if sample:
        columns, targets, offset = sampled_columns(targets, getattr(net, "module", net).output.out_features, sample)
    logits, attention = net(batch.src, batch.src_len, batch.tgt_in, batch.tgt_out, columns)  # (N, V) or (N, V')
    if offset is not None:
        logits = logits.float() + offset
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
