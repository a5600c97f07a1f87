"""The attention decoder (Luong-style: RNN step, attend with its output, combine).

Its state is an explicit value (`DecoderState`) passed in and returned by every step;
`Memory` holds what the encoder produced for the batch. Both can `select` rows, which is
how search reorders hypotheses and drops finished sentences.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from s2s.attention import Attention
from s2s.encoder import make_rnn
from s2s.tokenizer import PAD


@dataclass(frozen=True)
class Memory:
    """The encoder's output for a batch, with attention keys projected once."""

    values: torch.Tensor  # (B, S, He)
    keys: torch.Tensor  # (B, S, Hq)
    mask: torch.Tensor  # (B, S) True on real positions

    def select(self, index: torch.Tensor) -> "Memory":
        """Rows `index` (B',) of the batch, in that order."""
        return Memory(self.values.index_select(0, index), self.keys.index_select(0, index),
                      self.mask.index_select(0, index))


@dataclass(frozen=True)
class DecoderState:
    """Everything the next decoder step needs besides the previous token."""

    hidden: torch.Tensor  # (L, B, H)
    cell: torch.Tensor | None  # (L, B, H) for LSTM, else None
    feed: torch.Tensor  # (B, H) previous attentional vector (input feeding), zeros at first

    def select(self, index: torch.Tensor) -> "DecoderState":
        """Rows `index` (B',) of the batch, in that order."""
        return DecoderState(self.hidden.index_select(1, index),
                            None if self.cell is None else self.cell.index_select(1, index),
                            self.feed.index_select(0, index))

    def rnn_state(self) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        return self.hidden if self.cell is None else (self.hidden, self.cell)


class Decoder(nn.Module):
    """Target embeddings -> RNN -> attention -> attentional vector tanh(W [h; c])."""

    def __init__(self, *, vocab_size: int, embed_dim: int, cell: str, hidden_size: int,
                 num_layers: int, attention: str, input_feeding: bool, bridge: bool,
                 memory_size: int, dropout: float):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embed_dim, padding_idx=PAD)
        self.input_feeding = input_feeding
        self.rnn = make_rnn(cell, embed_dim + (hidden_size if input_feeding else 0), hidden_size,
                            num_layers, dropout)
        self.attention = Attention(kind=attention, query_size=hidden_size, memory_size=memory_size)
        self.combine = nn.Linear(hidden_size + memory_size, hidden_size, bias=False)
        self.dropout = nn.Dropout(dropout)
        self.is_lstm = cell == "lstm"
        self.num_layers, self.hidden_size = num_layers, hidden_size
        self.bridge_h = nn.Linear(memory_size, num_layers * hidden_size) if bridge else None
        self.bridge_c = nn.Linear(memory_size, num_layers * hidden_size) if bridge and self.is_lstm else None

    def init_state(self, final: torch.Tensor) -> DecoderState:
        """The first state, from the encoder's summary final (B, He) through the bridge."""
        b = final.size(0)
        shape = (b, self.num_layers, self.hidden_size)
        as_layers = lambda x: x.view(shape).transpose(0, 1).contiguous()  # noqa: E731  (L, B, H)
        if self.bridge_h is None:
            hidden = final.new_zeros(shape[1], b, shape[2])
        else:
            hidden = as_layers(torch.tanh(self.bridge_h(final)))
        cell = None
        if self.is_lstm:
            cell = torch.zeros_like(hidden) if self.bridge_c is None else as_layers(self.bridge_c(final))
        return DecoderState(hidden, cell, final.new_zeros(b, self.hidden_size))

    def _attend(self, out: torch.Tensor, memory: Memory) -> tuple[torch.Tensor, torch.Tensor]:
        """out (B, T, H) -> attentional vectors (B, T, H) and weights (B, T, S)."""
        context, weights = self.attention(out, memory.keys, memory.values, memory.mask)
        return torch.tanh(self.combine(torch.cat([out, context], dim=-1))), weights

    def step(self, prev: torch.Tensor, memory: Memory,
             state: DecoderState) -> tuple[torch.Tensor, torch.Tensor, DecoderState]:
        """One step from the previous tokens prev (B,).

        Returns the attentional vector (B, H), attention weights (B, S) and the next state.
        """
        return self._step_embedded(self.dropout(self.embed(prev)), memory, state)

    def _step_embedded(self, emb: torch.Tensor, memory: Memory,
                       state: DecoderState) -> tuple[torch.Tensor, torch.Tensor, DecoderState]:
        x = torch.cat([emb, state.feed], dim=-1) if self.input_feeding else emb  # (B, E[+H])
        out, rnn_state = self.rnn(x.unsqueeze(1), state.rnn_state())  # (B, 1, H)
        attentional, weights = self._attend(out, memory)
        hidden, cell = rnn_state if self.is_lstm else (rnn_state, None)
        return attentional[:, 0], weights[:, 0], DecoderState(hidden, cell, attentional[:, 0])

    def forward(self, tgt_in: torch.Tensor, memory: Memory,
                state: DecoderState) -> tuple[torch.Tensor, torch.Tensor]:
        """Teacher-forced decoding of tgt_in (B, T).

        Returns attentional vectors (B, T, H) and attention weights (B, T, S). Without input
        feeding the steps are independent given the RNN outputs, so the whole sequence runs
        through the fused RNN and attention at once; with it, one step at a time.
        """
        emb = self.dropout(self.embed(tgt_in))  # (B, T, E)
        if not self.input_feeding:
            out, _ = self.rnn(emb, state.rnn_state())  # (B, T, H)
            return self._attend(out, memory)
        outputs, weights = [], []
        for t in range(emb.size(1)):
            attentional, w, state = self._step_embedded(emb[:, t], memory, state)
            outputs.append(attentional)
            weights.append(w)
        return torch.stack(outputs, dim=1), torch.stack(weights, dim=1)
