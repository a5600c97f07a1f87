"""The decoder: with attention (Luong-style: RNN step, attend with its output, combine) or
without it (the classic encoder-decoder, where one context vector c stands for the source).

Without attention, c is made in one of three ways (`context`): the encoder's last state
(`last`), a learned transform of it (`transformed_last`: tanh(W h_last)), or a learned
transform of the mean of all its states (`transformed_mean`); and used in one of two ways
or both (`context_use`): as the decoder's first state (`init`), or as an input at every
step (`input`: next to the embedding, and in the output tanh(W [h; c]) as in Cho et al. 2014).

With `cell: cgru` the step is the conditional GRU of Nematus (Sennrich et al. 2017): a
first GRU reads the previous embedding, attention uses its state as the query, and a second
GRU (one cell) reads the context and gives the step's state: s'_j = GRU1(y_j-1, s_j-1),
c_j = att(s'_j), s_j = GRU2(c_j, s'_j). The output vector is tanh(W [s_j; c_j]) as for the
other cells. With several layers, GRU2's state stands in for the top layer's.

The state is an explicit value (`DecoderState`) passed in and returned by every step;
`Memory` holds what the encoder produced for the batch. Both can `select` rows, which is
how search reorders hypotheses and drops finished sentences, and keep their first rows
(`head`), which is how teacher forcing drops sentences whose target has ended.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from s2s.attention import Attention
from s2s.encoder import make_rnn
from s2s.recurrence import GRURecurrence
from s2s.recurrence import applies as recurrence_applies
from s2s.tokenizer import PAD


def _rows(tensor: torch.Tensor | None, index: torch.Tensor, dim: int = 0) -> torch.Tensor | None:
    return None if tensor is None else tensor.index_select(dim, index)


def _head(tensor: torch.Tensor | None, n: int, dim: int = 0) -> torch.Tensor | None:
    return None if tensor is None else tensor.narrow(dim, 0, n)


@dataclass(frozen=True)
class Memory:
    """The encoder's output for a batch: attention keys projected once, or the context c."""

    values: torch.Tensor  # (B, S, He)
    keys: torch.Tensor | None  # (B, S, Hq) with attention
    mask: torch.Tensor  # (B, S) True on real positions
    context: torch.Tensor | None = None  # (B, Hc) without attention

    def select(self, index: torch.Tensor) -> "Memory":
        """Rows `index` (B',) of the batch, in that order."""
        return Memory(self.values.index_select(0, index), _rows(self.keys, index),
                      self.mask.index_select(0, index), _rows(self.context, index))

    def head(self, n: int) -> "Memory":
        """The first n rows of the batch, as views."""
        return Memory(self.values[:n], _head(self.keys, n), self.mask[:n], _head(self.context, n))


@dataclass(frozen=True)
class DecoderState:
    """Everything the next decoder step needs besides the previous token."""

    hidden: torch.Tensor  # (L, B, H)
    cell: torch.Tensor | None  # (L, B, H) for LSTM, else None
    feed: torch.Tensor  # (B, H) previous attentional vector (input feeding), zeros at first
    coverage: torch.Tensor | None = None  # (B, S) attention weights summed over past steps
    step: int = 0  # the target position of the next step (every row of a batch is at the same one)

    def select(self, index: torch.Tensor) -> "DecoderState":
        """Rows `index` (B',) of the batch, in that order."""
        return DecoderState(self.hidden.index_select(1, index), _rows(self.cell, index, 1),
                            self.feed.index_select(0, index), _rows(self.coverage, index), self.step)

    def head(self, n: int) -> "DecoderState":
        """The first n rows of the batch, as views."""
        return DecoderState(self.hidden[:, :n], _head(self.cell, n, 1), self.feed[:n], _head(self.coverage, n),
                            self.step)

    def rnn_state(self) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        return self.hidden if self.cell is None else (self.hidden, self.cell)


class Decoder(nn.Module):
    """Target embeddings -> RNN -> attention (or the fixed context) -> output vector."""

    def __init__(self, *, vocab_size: int, embed_dim: int, cell: str, hidden_size: int,
                 num_layers: int, attention: str, input_feeding: bool, bridge: bool,
                 memory_size: int, dropout: float, window: int = 0, coverage: bool = False,
                 context: str = "transformed_last", context_use: str = "both", center: str = "predicted"):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embed_dim, padding_idx=PAD)
        self.input_feeding = input_feeding
        self.is_lstm = cell == "lstm"
        if cell == "cgru" and attention == "none":
            raise ValueError("cgru needs attention")
        self.num_layers, self.hidden_size = num_layers, hidden_size
        self.dropout = nn.Dropout(dropout)
        self.attention: Attention | None = None
        self.context_kind, self.context_init, self.context_input = None, False, False
        extra = hidden_size if input_feeding else 0  # RNN input besides the embedding
        if attention == "none":
            if input_feeding:
                raise ValueError("input feeding needs attention")
            self.context_kind = context
            self.context_init = context_use in ("init", "both")
            self.context_input = context_use in ("input", "both")
            context_size = memory_size if context == "last" else hidden_size
            if self.context_init and context_size != hidden_size:
                raise ValueError(f"context 'last' ({memory_size}) as the first state needs the decoder "
                                 f"size ({hidden_size})")
            self.context_proj = nn.Linear(memory_size, hidden_size) if context != "last" else None
            extra = context_size if self.context_input else 0
            combined = context_size if self.context_input else 0
        else:
            self.attention = Attention(kind=attention, query_size=hidden_size, memory_size=memory_size,
                                       window=window, coverage=coverage, center=center)
            combined = memory_size
        self.rnn = make_rnn("gru" if cell == "cgru" else cell, embed_dim + extra, hidden_size, num_layers, dropout)
        self.conditional = nn.GRUCell(memory_size, hidden_size) if cell == "cgru" else None  # cgru's GRU2
        self.combine = nn.Linear(hidden_size + combined, hidden_size, bias=False) if combined else None
        use_bridge = bridge and self.attention is not None
        self.bridge_h = nn.Linear(memory_size, num_layers * hidden_size) if use_bridge else None
        self.bridge_c = nn.Linear(memory_size, num_layers * hidden_size) if use_bridge and self.is_lstm else None

    @property
    def has_coverage(self) -> bool:
        return self.attention is not None and self.attention.coverage is not None

    def remember(self, values: torch.Tensor, final: torch.Tensor, mask: torch.Tensor) -> Memory:
        """The memory of the encoder's output values (B, S, He) and summary final (B, He)."""
        if self.attention is not None:  # attention reads the values in fp32 (s2s.attention): cast once here
            values = values.float()  # (B, S, He); no copy when they are fp32
            return Memory(values, self.attention.keys(values), mask)
        if self.context_kind == "last":
            context = final  # (B, He)
        else:
            source = final
            if self.context_kind == "transformed_mean":
                real = mask.unsqueeze(-1).to(values.dtype)  # (B, S, 1)
                source = (values * real).sum(1) / real.sum(1)  # (B, He)
            context = torch.tanh(self.context_proj(source))  # (B, H)
        return Memory(values, None, mask, context)

    def init_state(self, final: torch.Tensor, memory: Memory) -> DecoderState:
        """The first state: the bridge from the encoder's summary final (B, He), the context c
        (`init`), or zeros."""
        b = final.size(0)
        shape = (b, self.num_layers, self.hidden_size)
        as_layers = lambda x: x.view(shape).transpose(0, 1).contiguous()  # noqa: E731  (L, B, H)
        if self.bridge_h is not None:
            hidden = as_layers(torch.tanh(self.bridge_h(final)))
        elif self.context_init:
            hidden = memory.context.unsqueeze(0).repeat(self.num_layers, 1, 1).contiguous()
        else:
            hidden = final.new_zeros(shape[1], b, shape[2])
        cell = None
        if self.is_lstm:
            cell = torch.zeros_like(hidden) if self.bridge_c is None else as_layers(self.bridge_c(final))
        coverage = torch.zeros(memory.mask.shape, dtype=final.dtype, device=final.device) if self.has_coverage else None
        return DecoderState(hidden, cell, final.new_zeros(b, self.hidden_size), coverage)

    def _output(self, out: torch.Tensor, memory: Memory, coverage: torch.Tensor | None = None,
                start: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
        """RNN outputs (B, T, H) for target positions start, start + 1, ... -> output vectors
        (B, T, H) and attention weights (B, T, S) (zeros without attention)."""
        if self.attention is not None:
            context, weights = self.attention(out, memory.keys, memory.values, memory.mask, coverage, start)
        else:
            weights = out.new_zeros(out.size(0), out.size(1), memory.mask.size(1))
            if self.combine is None:
                return out, weights
            context = memory.context.unsqueeze(1).expand(-1, out.size(1), -1)  # (B, T, Hc)
        return torch.tanh(self.combine(torch.cat([out, context], dim=-1))), weights

    def _inputs(self, emb: torch.Tensor, memory: Memory) -> torch.Tensor:
        """Embeddings (B, T, E) with the context c beside them when it is an input (B, T, E+Hc)."""
        if not self.context_input:
            return emb
        return torch.cat([emb, memory.context.unsqueeze(1).expand(-1, emb.size(1), -1)], dim=-1)

    def step(self, prev: torch.Tensor, memory: Memory,
             state: DecoderState) -> tuple[torch.Tensor, torch.Tensor, DecoderState]:
        """One step from the previous tokens prev (B,).

        Returns the output vector (B, H), attention weights (B, S) and the next state.
        """
        return self._step_embedded(self.dropout(self.embed(prev)), memory, state)

    def _step_embedded(self, emb: torch.Tensor, memory: Memory,
                       state: DecoderState) -> tuple[torch.Tensor, torch.Tensor, DecoderState]:
        x = self._inputs(emb.unsqueeze(1), memory)  # (B, 1, E[+Hc])
        if self.input_feeding:
            x = torch.cat([x, state.feed.unsqueeze(1)], dim=-1)  # (B, 1, E+H)
        out, rnn_state = self.rnn(x, state.rnn_state())  # (B, 1, H)
        return self._attend(out, rnn_state, memory, state)

    def _attend(self, out: torch.Tensor, rnn_state: torch.Tensor | tuple[torch.Tensor, torch.Tensor],
                memory: Memory, state: DecoderState) -> tuple[torch.Tensor, torch.Tensor, DecoderState]:
        """The step after the RNN's: its output out (B, 1, H) -> output vector (B, H), attention
        weights (B, S) and the next state."""
        if self.conditional is None:
            vector, weights = self._output(out, memory, state.coverage, state.step)
        else:  # cgru: attend with GRU1's output, then GRU2 reads the context
            context, weights = self.attention(out, memory.keys, memory.values, memory.mask,
                                              state.coverage, state.step)  # (B, 1, He), (B, 1, S)
            top = self.conditional(context[:, 0], out[:, 0])  # (B, H)
            rnn_state = torch.cat([rnn_state[:-1], top.unsqueeze(0)])  # (L, B, H)
            vector = torch.tanh(self.combine(torch.cat([top, context[:, 0]], dim=-1))).unsqueeze(1)  # (B, 1, H)
        hidden, cell = rnn_state if self.is_lstm else (rnn_state, None)
        coverage = None if state.coverage is None else state.coverage + weights[:, 0]
        return vector[:, 0], weights[:, 0], DecoderState(hidden, cell, vector[:, 0], coverage, state.step + 1)

    def _by_hand(self, device: torch.device) -> bool:
        """Whether teacher forcing steps the GRU with s2s.recurrence: input feeding's [y; f]
        into one GRU layer, on a CPU."""
        return self.input_feeding and self.conditional is None and recurrence_applies(self.rnn, device)

    def forward(self, tgt_in: torch.Tensor, memory: Memory,
                state: DecoderState) -> tuple[torch.Tensor, torch.Tensor]:
        """Teacher-forced decoding of tgt_in (B, T), PAD after each target.

        Returns output vectors (B, T, H) and attention weights (B, T, S); where tgt_in is
        PAD they mean nothing (zeros when stepping). Unless a step depends on the last
        one's output (input feeding, coverage, cgru), the whole sequence runs through the fused
        RNN and attention at once. Otherwise it runs one step at a time, and a sentence
        leaves the batch when its target ends, so that no step is spent on padding; a
        one-layer GRU with input feeding then steps by hand on a CPU (s2s.recurrence).
        """
        emb = self.dropout(self.embed(tgt_in))  # (B, T, E)
        if not self.input_feeding and not self.has_coverage and self.conditional is None:
            out, _ = self.rnn(self._inputs(emb, memory), state.rnn_state())  # (B, T, H)
            return self._output(out, memory)
        b, steps = tgt_in.shape
        lengths = (tgt_in != PAD).sum(dim=1)  # (B,)
        order = lengths.argsort(descending=True)  # longest first: the running rows are a prefix
        emb, memory, state = emb.index_select(0, order), memory.select(order), state.select(order)
        running = (lengths[order].unsqueeze(0) > torch.arange(steps, device=tgt_in.device).unsqueeze(1)).sum(1)  # (T,)
        outputs, weights = [], []
        recurrence = GRURecurrence(self.rnn, emb) if self._by_hand(emb.device) else None
        embedded = emb.unbind(1) if recurrence is None else None  # T x (B, E)
        for t, n in enumerate(running.tolist()):  # n: sentences whose target has a step t
            if n < state.feed.size(0):
                memory, state = memory.head(n), state.head(n)
            if recurrence is None:
                vector, w, state = self._step_embedded(embedded[t][:n], memory, state)  # (n, H), (n, S)
            else:
                hidden = recurrence.step(t, state.feed, state.hidden[0])  # (n, H)
                vector, w, state = self._attend(hidden.unsqueeze(1), hidden.unsqueeze(0), memory, state)
            outputs.append(F.pad(vector, (0, 0, 0, b - n)))
            weights.append(F.pad(w, (0, 0, 0, b - n)))
        back = order.argsort()  # (B,) the batch's own order again
        return torch.stack(outputs, dim=1)[back], torch.stack(weights, dim=1)[back]
