"""The encoder: source embeddings through a stacked, optionally bidirectional RNN, GRU or LSTM.

It returns the per-position outputs (the memory attention reads) and a fixed-size summary
of the whole sentence (what the bridge, or a classifier head, starts from).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from s2s.config import ModelConfig
from s2s.tokenizer import EOS, PAD, UNK

RNN_CLASSES = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}


def make_rnn(cell: str, input_size: int, hidden_size: int, num_layers: int, dropout: float,
             bidirectional: bool = False) -> nn.RNNBase:
    """A torch RNN module of the given cell type (the plain RNN uses tanh)."""
    return RNN_CLASSES[cell](input_size, hidden_size, num_layers, batch_first=True,
                             dropout=dropout if num_layers > 1 else 0.0,
                             bidirectional=bidirectional)


class Encoder(nn.Module):
    """Embeds source ids and runs the recurrent encoder over them, packed by length."""

    def __init__(self, *, vocab_size: int, embed_dim: int, cell: str, hidden_size: int,
                 num_layers: int, bidirectional: bool, dropout: float, word_dropout: float = 0.0):
        super().__init__()
        self.word_dropout = word_dropout  # training only: each piece becomes UNK with this probability
        self.embed = nn.Embedding(vocab_size, embed_dim, padding_idx=PAD)
        self.rnn = make_rnn(cell, embed_dim, hidden_size, num_layers, dropout, bidirectional)
        self.dropout = nn.Dropout(dropout)
        self.num_layers = num_layers
        self.num_directions = 2 if bidirectional else 1
        self.output_size = hidden_size * self.num_directions

    @classmethod
    def from_config(cls, config: ModelConfig, vocab_size: int) -> "Encoder":
        enc = config.encoder
        return cls(vocab_size=vocab_size, embed_dim=config.embed_dim, cell=enc.cell, hidden_size=enc.hidden_size,
                   num_layers=enc.num_layers, bidirectional=enc.bidirectional, dropout=config.dropout,
                   word_dropout=config.word_dropout)

    def forward(self, src: torch.Tensor, src_len: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Encodes a padded batch.

        src: (B, S) ids, PAD after each sentence; src_len: (B,) real lengths (CPU tensor).
        Returns memory (B, S, He) with zeros on padding, and final (B, He): the top layer's
        last state, both directions concatenated, He = hidden_size * directions.
        """
        if self.training and self.word_dropout > 0:
            drop = (torch.rand(src.shape, device=src.device) < self.word_dropout) & (src > EOS)
            src = src.masked_fill(drop, UNK)  # (positions kept: a tagger's word starts stay put)
        x = self.dropout(self.embed(src))  # (B, S, E)
        packed = pack_padded_sequence(x, src_len.cpu(), batch_first=True, enforce_sorted=False)
        out, h = self.rnn(packed)
        memory, _ = pad_packed_sequence(out, batch_first=True, total_length=src.size(1))
        if isinstance(h, tuple):  # LSTM: (h, c)
            h = h[0]
        b = src.size(0)
        top = h.view(self.num_layers, self.num_directions, b, -1)[-1]  # (dirs, B, H)
        final = top.transpose(0, 1).reshape(b, self.output_size)  # (B, He)
        return self.dropout(memory), final
