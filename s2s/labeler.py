"""Labelers: the encoder of s2s.encoder with an output over a label set, for the seed's
N-to-1 structure (classify a sentence) and its N-to-N structure (tag every word).

The sentence vector of a classifier is made in the seed's two ways, or a modern third:
- `last`: the encoder's last state in each direction (forward at the last piece, backward
  at the first), concatenated: the summary the bridge of a translator starts from;
- `mean`: the mean of the top layer's states over the real (non-padding) positions;
- `attention`: a learned weighted mean, softmax(v . tanh(W h_i)) over the positions;
- `max`: the largest value of each feature over the real positions (the BiLSTM-max sentence
  vector of Conneau et al. 2017).
A tagger labels each word from the encoder state at the word's first piece (bidirectional,
so that state has read the whole sentence on both sides), or with `word_pieces: first_last`
from that state and the state at its last piece side by side: there the forward direction
has read the whole word too.
"""

from __future__ import annotations

import torch
from torch import nn

from s2s.config import ModelConfig
from s2s.encoder import Encoder
from s2s.tokenizer import PAD


class Pooling(nn.Module):
    """Encoder states (B, S, He) -> one vector per sentence (B, He)."""

    def __init__(self, kind: str, size: int):
        super().__init__()
        self.kind = kind
        if kind == "attention":
            self.project = nn.Linear(size, size)
            self.score = nn.Linear(size, 1, bias=False)

    def forward(self, memory: torch.Tensor, final: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """memory (B, S, He), zeros on padding; final (B, He); mask (B, S), True on real pieces."""
        if self.kind == "last":
            return final
        if self.kind == "mean":
            return memory.sum(1) / mask.sum(1, keepdim=True).to(memory.dtype)
        if self.kind == "max":
            return memory.masked_fill(~mask.unsqueeze(-1), float("-inf")).amax(1)  # (B, He)
        scores = self.score(torch.tanh(self.project(memory))).squeeze(-1)  # (B, S)
        weights = torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=-1)
        return torch.bmm(weights.unsqueeze(1), memory).squeeze(1)  # (B, He)


def head(size: int, hidden: int, labels: int, dropout: float) -> nn.Module:
    """The output layer over the labels: linear, or with `hidden` > 0 a one-hidden-layer MLP."""
    if hidden == 0:
        return nn.Sequential(nn.Dropout(dropout), nn.Linear(size, labels))
    return nn.Sequential(nn.Dropout(dropout), nn.Linear(size, hidden), nn.Tanh(), nn.Dropout(dropout),
                         nn.Linear(hidden, labels))


def reset(model: nn.Module, encoder: Encoder) -> None:
    """Uniform(-0.1, 0.1) for every weight, as for the translator, and a zero padding row."""
    for p in model.parameters():
        nn.init.uniform_(p, -0.1, 0.1)
    with torch.no_grad():
        encoder.embed.weight[PAD].zero_()


class Classifier(nn.Module):
    """N-to-1: a sentence in, one label's logits out."""

    def __init__(self, config: ModelConfig, vocab_size: int, num_labels: int):
        super().__init__()
        self.encoder = Encoder.from_config(config, vocab_size)
        self.pooling = Pooling(config.pooling, self.encoder.output_size)
        self.output = head(self.encoder.output_size, config.head_size, num_labels, config.dropout)
        reset(self, self.encoder)

    def forward(self, src: torch.Tensor, src_len: torch.Tensor, first: torch.Tensor | None = None) -> torch.Tensor:
        """src (B, S), src_len (B,) -> logits (B, L)."""
        memory, final = self.encoder(src, src_len)  # (B, S, He), (B, He)
        return self.output(self.pooling(memory, final, src != PAD))


class Tagger(nn.Module):
    """N-to-N: a sentence in, one label's logits for every word out."""

    def __init__(self, config: ModelConfig, vocab_size: int, num_labels: int):
        super().__init__()
        self.encoder = Encoder.from_config(config, vocab_size)
        self.both_ends = config.word_pieces == "first_last"
        size = self.encoder.output_size * (2 if self.both_ends else 1)
        self.output = head(size, config.head_size, num_labels, config.dropout)
        reset(self, self.encoder)

    def forward(self, src: torch.Tensor, src_len: torch.Tensor, first: torch.Tensor | None = None) -> torch.Tensor:
        """src (B, S), src_len (B,), first (B, W) word starts (-1 after the last word) ->
        logits (N, L) for the N words, sentence by sentence, word by word."""
        memory, _ = self.encoder(src, src_len)  # (B, S, He)
        words = first >= 0  # (B, W)
        states = _at(memory, first.clamp(min=0))[words]  # (N, He)
        if self.both_ends:
            states = torch.cat([states, _at(memory, last_pieces(first, src_len))[words]], dim=-1)  # (N, 2He)
        return self.output(states)


def last_pieces(first: torch.Tensor, src_len: torch.Tensor) -> torch.Tensor:
    """Each word's last piece (B, W): the one before the next word's first, or before EOS
    for a sentence's last word (src_len counts EOS); 0 where there is no word."""
    following = torch.cat([first[:, 1:], first.new_full((first.size(0), 1), -1)], dim=1)  # (B, W)
    eos = (src_len.to(first.device) - 1).unsqueeze(1).expand_as(first)  # (B, W)
    return (torch.where(following >= 0, following, eos) - 1).clamp(min=0) * (first >= 0)


def _at(memory: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
    """memory (B, S, He) at positions (B, W) -> (B, W, He)."""
    return memory.gather(1, positions.unsqueeze(-1).expand(-1, -1, memory.size(-1)))


LABELERS = {"classify": Classifier, "tag": Tagger}
