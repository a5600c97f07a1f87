"""The alignment head: a small attention of its own that aligns each target piece, trained
only towards given word alignments and used only to align.

Translation attention at step t is computed before the decoder knows the piece y_t it is
about to emit, so it often rests on the source of the previous or the next word; guided
towards an aligner's links it still fell far short of that aligner on human links. The
head is told which piece it aligns (Garg et al. 2019 and Zenkel et al. 2019 let the
alignment layer see the target word for the same reason). Its query for y_t reads

    [v_t; v_t+1; E(y_t)]  (the decoder's output vector that predicted y_t, the next one,
                           which has read y_t, and y_t's embedding)

normalised and through a tanh layer, scores every source position by a scaled dot
product with a projection of the encoder's outputs and source embeddings (normalised too),
adds a lexical score u(x_s) . w(y_t) from small piece vectors of the head's own (a
low-rank table of which pieces translate which, as IBM models learn; without it the head
learnt slowly from the model's features alone), adds the translation attention of steps t and t+1
(their logs, each times a learned weight) where the model has attention, and normalises
over the real source positions. The source EOS stands for "no link" (NULL): a target piece
the teacher leaves unaligned is trained towards it, and a word whose weight rests there gets
no link (`s2s.alignment.links`).

Everything the head reads is detached from the translation model, so its loss changes only
its own weights: a model with a head translates exactly as it would without one.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from s2s.align import guided_loss
from s2s.tokenizer import EOS, PAD


class AlignmentHead(nn.Module):
    """Weights (B, T, S) over the source positions for each target piece of a batch."""

    def __init__(self, *, src_vocab_size: int, tgt_vocab_size: int, memory_size: int, hidden_size: int,
                 embed_dim: int, size: int, attention: bool, lexical_size: int = 64):
        super().__init__()
        keys, queries = memory_size + embed_dim, 2 * hidden_size + embed_dim
        # each side's features are normalised first: they come in at whatever scale the model has
        self.keys = nn.Sequential(nn.LayerNorm(keys), nn.Linear(keys, size, bias=False))
        self.query = nn.Sequential(nn.LayerNorm(queries), nn.Linear(queries, size), nn.Tanh(), nn.Linear(size, size))
        self.source_lexicon = nn.Embedding(src_vocab_size, lexical_size)  # the head's own, for u(x_s) . w(y_t)
        self.target_lexicon = nn.Embedding(tgt_vocab_size, lexical_size)
        self.prior = nn.Parameter(torch.ones(2)) if attention else None  # weights of log attention at t, t+1
        self.scale = 1 / math.sqrt(size)

    def reset_parameters(self) -> None:
        """Unit gains for the normalisations, Glorot-uniform products, small lexicon vectors,
        log attention taken as it is."""
        for module in self.modules():
            if isinstance(module, nn.LayerNorm):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Linear):
                nn.init.xavier_uniform_(module.weight)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Embedding):
                nn.init.normal_(module.weight, std=0.1)
        if self.prior is not None:
            nn.init.ones_(self.prior)

    def forward(self, *, src: torch.Tensor, tgt: torch.Tensor, values: torch.Tensor, mask: torch.Tensor,
                vectors: torch.Tensor, attention: torch.Tensor | None, src_embedded: torch.Tensor,
                tgt_embedded: torch.Tensor) -> torch.Tensor:
        """src (B, S) and tgt (B, T) piece ids (tgt: the pieces to align), values (B, S, He) the
        encoder's outputs, mask (B, S) True on real positions, vectors (B, T, H) the decoder's
        output vectors that predicted tgt, attention (B, T, S) or None, and the model's
        embeddings of src (B, S, E) and tgt (B, T, E) -> weights (B, T, S). The head computes
        in fp32, also in a bf16 model (s2s.precision)."""
        vectors = vectors.detach().float()
        following = F.pad(vectors[:, 1:], (0, 0, 0, 1))  # (B, T, H) v_t+1, zeros after the last
        query = self.query(torch.cat([vectors, following, tgt_embedded.detach().float()], dim=-1))  # (B, T, A)
        keys = self.keys(torch.cat([values.float(), src_embedded.float()], dim=-1).detach())  # (B, S, A)
        scores = query @ keys.transpose(1, 2) * self.scale  # (B, T, S)
        scores = scores + self.target_lexicon(tgt) @ self.source_lexicon(src).transpose(1, 2)  # (B, T, S)
        if self.prior is not None and attention is not None:
            now = attention.detach().float().clamp(min=1e-6).log()  # (B, T, S)
            after = F.pad(now[:, 1:], (0, 0, 0, 1))  # (B, T, S)
            scores = scores + self.prior[0] * now + self.prior[1] * after
        scores = scores.float().masked_fill(~mask.unsqueeze(1), float("-inf"))
        return torch.softmax(scores, dim=-1)


def head_loss(weights: torch.Tensor, alignment: torch.Tensor, tgt_out: torch.Tensor,
              src_len: torch.Tensor) -> torch.Tensor:
    """The summed negative log weight of the alignment head on each real target piece's
    aligned source position, or on the source EOS (NULL) where the piece is unaligned:
    weights (B, T, S), alignment (B, T) (-1 = none), tgt_out (B, T), src_len (B,) with EOS.
    It is guided alignment's loss (`s2s.align.guided_loss`) with NULL made a position."""
    real = (tgt_out != PAD) & (tgt_out != EOS)  # (B, T)
    target = torch.where(alignment >= 0, alignment, (src_len - 1).unsqueeze(1).to(alignment.device))  # (B, T)
    return guided_loss(weights, target.masked_fill(~real, -1))
