"""An estimate of the probability mass a shortlist leaves out, so that decoding over a
shortlist (s2s.shortlist) keeps log-probabilities close to the full vocabulary's without
computing the whole output layer.

Normalising a step's scores over the shortlist alone gives every piece log p + delta, where
delta = log Z_full - log Z_shortlist >= 0 is the log of the mass outside the shortlist
plus one: a step whose likely pieces are all in the shortlist has delta near 0, an uncertain
one a larger delta. Beam search then favours hypotheses through uncertain steps; on the
reference model that cost 0.3 BLEU with beam 5, and normalising over the full vocabulary
gave it back (docs/performance.md).

`Normaliser` predicts delta from what the step has anyway: the vector the output layer
reads (E), the shortlist's own log-normaliser and the gap between it and the best score.
It is a two-layer network (E + 2 -> 32 -> 1, softplus out, so delta >= 0): under 2% of the
product of an output layer cut to 2,000 shortlisted rows. `fit` learns it once per
checkpoint from teacher-forced training pairs (`s2s shortlist`), and it is kept with the
shortlist, with a fingerprint of the output layer it was fitted to.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Callable

import torch
from torch import nn
from torch.nn import functional as F

from s2s.data import collate
from s2s.tokenizer import EOS, PAD

HIDDEN = 32


def fingerprint(output: nn.Linear) -> str:
    """What identifies the fp32 output layer an estimate was fitted to: a hash of every 16th row."""
    rows = output.weight.detach()[::16].float().contiguous().cpu()
    return hashlib.sha256(rows.numpy().tobytes()).hexdigest()[:16]


class Normaliser(nn.Module):
    """Predicts delta = log Z_full - log Z_shortlist for each row of a decoding step."""

    def __init__(self, features: int, hidden: int = HIDDEN):
        super().__init__()
        self.features = features
        self.layers = nn.Sequential(nn.Linear(features + 2, hidden), nn.Tanh(), nn.Linear(hidden, 1))

    @staticmethod
    def inputs(features: torch.Tensor, logits: torch.Tensor, log_z: torch.Tensor) -> torch.Tensor:
        """features (B, E), shortlist logits (B, V') with -inf outside, their log-normaliser
        (B, 1) -> the network's inputs (B, E + 2)."""
        gap = log_z - logits.amax(dim=-1, keepdim=True)  # (B, 1) >= 0: how flat the shortlist's scores are
        return torch.cat([features.float(), log_z, gap], dim=1)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """inputs (B, E + 2) from `inputs` -> delta (B, 1) >= 0."""
        return F.softplus(self.layers(inputs))

    def correct(self, features: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
        """features (B, E), shortlist logits (B, V') with -inf outside the shortlist, whose
        columns 0-3 are the special ids (s2s.shortlist) -> log-probabilities (B, V')
        normalised over the estimated full vocabulary."""
        log_probs = torch.log_softmax(logits, dim=-1)
        log_z = logits[:, EOS:EOS + 1] - log_probs[:, EOS:EOS + 1]  # (B, 1); EOS is in every shortlist
        return log_probs.sub_(self(self.inputs(features, logits, log_z)))

    def state(self, fitted_to: str, error: dict[str, float]) -> dict[str, Any]:
        return {"weights": self.state_dict(), "features": self.features, "fitted_to": fitted_to, "error": error}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> "Normaliser":
        made = cls(state["features"])
        made.load_state_dict(state["weights"])
        return made.eval()


@dataclass(frozen=True)
class Positions:
    """Teacher-forced target positions: the network's inputs (N, E + 2) and delta (N,)."""

    inputs: torch.Tensor
    delta: torch.Tensor


def positions(model: nn.Module, columns: Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]],
              pairs: list[tuple[list[int], list[int]]], batch_size: int = 64) -> Positions:
    """Every target position of `pairs` (source and target piece ids, no BOS/EOS; the
    source gets its EOS as in training and translation) under teacher forcing with `model`
    (s2s.model.Seq2Seq, fp32, eval mode), its shortlist given by `columns`
    (s2s.shortlist.Shortlist.columns)."""
    found, deltas = [], []
    with torch.no_grad():
        for start in range(0, len(pairs), batch_size):
            batch = collate(*zip(*pairs[start:start + batch_size]), src_eos=True)
            memory, state = model.encode(batch.src, batch.src_len)
            vectors, _ = model.decoder(batch.tgt_in, memory, state)  # (B, T, H)
            kept = batch.tgt_out != PAD
            features = model.features(vectors)[kept]  # (N, E)
            logits = model.output(features)  # (N, V)
            ids, allowed = columns(batch.src)  # (V',), (B, V')
            rows = kept.nonzero()[:, 0]  # (N,) each position's sentence
            short = logits.index_select(1, ids).masked_fill_(~allowed[rows], float("-inf"))  # (N, V')
            log_z = torch.logsumexp(short, dim=-1, keepdim=True)  # (N, 1)
            found.append(Normaliser.inputs(features, short, log_z))
            deltas.append(torch.logsumexp(logits, dim=-1) - log_z.squeeze(1))
    return Positions(torch.cat(found), torch.cat(deltas).clamp(min=0))


def fit(train: Positions, held_out: Positions, *, steps: int = 4000, batch: int = 512,
        seed: int = 0) -> tuple[Normaliser, dict[str, float]]:
    """The network fitted to `train` by least squares (Adam), and its mean absolute error on
    `held_out` beside that of normalising over the shortlist alone (delta taken as 0)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        net = Normaliser(train.inputs.size(1) - 2)
    mean, std = train.inputs.mean(dim=0), train.inputs.std(dim=0).clamp(min=1e-3)  # (E + 2,) each
    inputs = (train.inputs - mean) / std  # fitted standardised, then folded into the first layer
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    for _ in range(steps):
        pick = torch.randint(0, len(train.delta), (batch,), generator=generator)
        loss = (net(inputs[pick]).squeeze(1) - train.delta[pick]).pow(2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    first = net.layers[0]
    with torch.no_grad():  # W ((x - mean) / std) + b = (W / std) x + (b - (W / std) mean)
        first.weight.div_(std)
        first.bias.sub_(first.weight @ mean)
    net.eval()
    with torch.no_grad():
        error = (net(held_out.inputs).squeeze(1) - held_out.delta).abs().mean().item()
    return net, {"estimate": error, "shortlist": held_out.delta.abs().mean().item(), "fitted": len(train.delta),
                 "held_out": len(held_out.delta)}
