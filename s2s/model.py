"""The translation model: encoder + decoder (with or without attention) + output layer.

Besides teacher-forced `forward` for training, it offers the narrow protocol search uses:
`encode(src, src_len) -> (memory, state)` and `decode_step(prev, memory, state) ->
(log_probs, attention, state)`, with `memory.select` / `state.select` to reorder rows.

A model may carry an alignment head (`s2s.aligner`, `model.alignment_head`): teacher
forcing with the targets given then returns its weights instead of the attention's.
"""

from __future__ import annotations

from functools import partial

import torch
from torch import nn
from torch.nn import functional as F

from s2s.aligner import AlignmentHead
from s2s.config import ModelConfig
from s2s.decoder import Decoder, DecoderState, Memory
from s2s.encoder import Encoder
from s2s.padded import round_up
from s2s.tokenizer import PAD

BF16_ROWS = 128  # with output_bf16, the output layer computes a multiple of this many rows


class Seq2Seq(nn.Module):
    """A recurrent encoder-decoder, with attention or with a fixed context vector."""

    def __init__(self, encoder: Encoder, decoder: Decoder, tgt_vocab_size: int,
                 tie_embeddings: bool = False, share_embeddings: bool = False, alignment_head: int = 0):
        super().__init__()
        self.encoder, self.decoder = encoder, decoder
        embed_dim = decoder.embed.embedding_dim
        # Tied output weights are the target embeddings (Press and Wolf 2017); where the output
        # vector is wider than an embedding, a linear map without bias narrows it first, as
        # Nematus and Marian do: the output layer then costs E instead of H per vocabulary entry.
        narrow = tie_embeddings and decoder.hidden_size != embed_dim
        self.bottleneck = nn.Linear(decoder.hidden_size, embed_dim, bias=False) if narrow else None
        self.output = nn.Linear(embed_dim if narrow else decoder.hidden_size, tgt_vocab_size)
        self.output_bf16 = False  # the output layer's products in bf16 (s2s.precision: training on a CPU)
        if tie_embeddings:
            self.output.weight = decoder.embed.weight
        if share_embeddings:  # one joint vocabulary, one matrix for both sides
            encoder.embed.weight = decoder.embed.weight
        self.aligner = None
        if alignment_head:  # made on a side of the random stream: the other weights start as without it
            with torch.random.fork_rng(devices=[]):
                self.aligner = AlignmentHead(src_vocab_size=encoder.embed.num_embeddings, tgt_vocab_size=tgt_vocab_size,
                                             memory_size=encoder.output_size, hidden_size=decoder.hidden_size,
                                             embed_dim=embed_dim, size=alignment_head,
                                             attention=decoder.attention is not None)

    @classmethod
    def from_config(cls, config: ModelConfig, src_vocab_size: int, tgt_vocab_size: int) -> "Seq2Seq":
        dec = config.decoder
        encoder = Encoder.from_config(config, src_vocab_size)
        decoder = Decoder(vocab_size=tgt_vocab_size, embed_dim=config.embed_dim, cell=dec.cell,
                          hidden_size=dec.hidden_size, num_layers=dec.num_layers,
                          attention=dec.attention, input_feeding=dec.input_feeding,
                          bridge=dec.bridge, memory_size=encoder.output_size,
                          dropout=config.dropout, window=dec.local_window, coverage=dec.coverage,
                          context=dec.context, context_use=dec.context_use, center=dec.local_center)
        model = cls(encoder, decoder, tgt_vocab_size, config.tie_embeddings, config.share_embeddings,
                    config.alignment_head)
        model.reset_parameters()
        return model

    @property
    def has_attention(self) -> bool:
        return self.decoder.attention is not None

    def reset_parameters(self) -> None:
        """Uniform(-0.1, 0.1) for all weights (what trains recurrent NMT well), zero padding rows."""
        head = set() if self.aligner is None else {id(p) for p in self.aligner.parameters()}
        for p in self.parameters():
            if id(p) not in head:
                nn.init.uniform_(p, -0.1, 0.1)
        with torch.no_grad():
            self.encoder.embed.weight[PAD].zero_()
            self.decoder.embed.weight[PAD].zero_()
        if self.aligner is not None:  # on a side of the random stream: training draws as it would without it
            with torch.random.fork_rng(devices=[]):
                self.aligner.reset_parameters()

    def encode(self, src: torch.Tensor, src_len: torch.Tensor) -> tuple[Memory, DecoderState]:
        """src (B, S), src_len (B,) -> memory for attention and the decoder's first state."""
        values, final = self.encoder(src, src_len)
        memory = self.decoder.remember(values, final, src != PAD)
        return memory, self.decoder.init_state(final, memory)

    def decode_step(self, prev: torch.Tensor, memory: Memory,
                    state: DecoderState) -> tuple[torch.Tensor, torch.Tensor, DecoderState]:
        """prev (B,) -> log-probabilities (B, V), attention (B, S), next state."""
        attentional, weights, state = self.decoder.step(prev, memory, state)
        return torch.log_softmax(self.logits(attentional).float(), dim=-1), weights, state

    def logits(self, attentional: torch.Tensor, columns: torch.Tensor | None = None) -> torch.Tensor:
        """Output vectors (..., H) -> scores over the target vocabulary (..., V), or over the
        ids `columns` (V',) only; in bf16 with output_bf16, which those who read them turn to
        fp32 first."""
        features = self.features(attentional)
        output = self.output  # (V, E) weights; an int8 layer (s2s.quantize) is only called, never cut
        if columns is not None:  # the rows of those ids; gradients flow back to the layer's
            output = partial(F.linear, weight=output.weight.index_select(0, columns),  # (V', E)
                             bias=output.bias.index_select(0, columns))  # (V',)
        if not self.output_bf16:
            return output(features)
        # The rows padded to a multiple of BF16_ROWS: the CPU's bf16 kernels are compiled for
        # each shape, and a training batch's number of target pieces is seldom the same twice.
        rows = features.reshape(-1, features.size(-1))  # (N, H)
        padded = round_up(rows.size(0), BF16_ROWS)
        with torch.autocast(features.device.type, dtype=torch.bfloat16):  # weights cast, fp32 accumulation
            logits = output(F.pad(rows, (0, 0, 0, padded - rows.size(0))))[: rows.size(0)]  # (N, V)
        return logits.view(*features.shape[:-1], -1)

    def features(self, attentional: torch.Tensor) -> torch.Tensor:
        """Output vectors (..., H) -> what the output layer reads (..., H), or (..., E) when
        tied embeddings narrow it first."""
        vector = self.decoder.dropout(attentional)
        return vector if self.bottleneck is None else self.bottleneck(vector)

    def forward(self, src: torch.Tensor, src_len: torch.Tensor, tgt_in: torch.Tensor,
                tgt_out: torch.Tensor | None = None,
                columns: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Teacher forcing: logits (B, T, V) for every target position, attention (B, T, S).

        Given the targets tgt_out (B, T), the logits are (N, V) for its N non-padding
        positions only, in the order of tgt_out[tgt_out != PAD]: the output layer, the
        largest product of a training step, then skips the padding. A model with an
        alignment head then returns the head's weights (B, T, S) for each piece of tgt_out.
        Given `columns` (V',), target ids, the logits are for those ids only (..., V').
        """
        memory, state = self.encode(src, src_len)
        attentional, weights = self.decoder(tgt_in, memory, state)  # (B, T, H), (B, T, S)
        if tgt_out is not None and self.aligner is not None:
            weights = self.aligner(src=src, tgt=tgt_out, values=memory.values, mask=memory.mask, vectors=attentional,
                                   attention=weights if self.has_attention else None,
                                   src_embedded=self.encoder.embed(src), tgt_embedded=self.decoder.embed(tgt_out))
        if tgt_out is not None:
            attentional = attentional[tgt_out != PAD]  # (N, H)
        return self.logits(attentional, columns), weights
