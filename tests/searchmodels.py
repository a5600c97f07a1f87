"""Models for the search tests: stubs that script what each step returns, and a small real one."""

import itertools
from dataclasses import dataclass

import torch

from s2s.config import DecoderConfig, EncoderConfig, ModelConfig
from s2s.data import collate
from s2s.model import Seq2Seq
from s2s.penalty import length_penalty
from s2s.tokenizer import BOS, EOS, PAD

V = 9


@dataclass(frozen=True)
class Rows:
    """A stub state: one row per sentence, holding the sentence id and the step."""

    ids: torch.Tensor
    step: torch.Tensor

    def select(self, index):
        return Rows(self.ids.index_select(0, index), self.step.index_select(0, index))


class ScriptedModel:
    """Sentence i emits script[i] token by token, then EOS; records the batch sizes it saw."""

    def __init__(self, script):
        self.script = script
        self.batch_sizes = []

    def encode(self, src, src_len):
        b, self.src_len = src.size(0), src.size(1)
        return Rows(torch.arange(b), torch.zeros(b, dtype=torch.long)), Rows(torch.arange(b),
                                                                           torch.zeros(b, dtype=torch.long))

    def decode_step(self, prev, memory, state):
        self.batch_sizes.append(prev.size(0))
        logits = torch.full((prev.size(0), V), -5.0)
        for row, (i, t) in enumerate(zip(state.ids.tolist(), state.step.tolist())):
            seq = self.script[i] + [EOS]
            logits[row, seq[min(t, len(seq) - 1)]] = 5.0
        return torch.log_softmax(logits, -1), torch.ones(prev.size(0), self.src_len) / self.src_len, Rows(state.ids, state.step + 1)


def small_model():
    torch.manual_seed(1)
    config = ModelConfig(embed_dim=8, dropout=0.0, encoder=EncoderConfig(hidden_size=8),
                         decoder=DecoderConfig(hidden_size=8))
    return Seq2Seq.from_config(config, V, V).eval()


SRC = [[4, 5, 6, 3], [7, 3], [8, 8, 5, 6, 7, 3]]


def teacher_forced(model, src_ids, hyp):
    """The model's own log-probability of a hypothesis (its EOS included when it has one)."""
    ended = len(hyp.attention) == len(hyp.tokens) + 1
    batch = collate([src_ids], [hyp.tokens])
    with torch.no_grad():
        logits, _ = model(batch.src, batch.src_len, batch.tgt_in)
    log_probs = torch.log_softmax(logits[0], -1)
    targets = batch.tgt_out[0] if ended else batch.tgt_out[0, :-1]
    return log_probs[torch.arange(len(targets)), targets].sum().item(), len(targets)


@dataclass(frozen=True)
class Prefix:
    """Stub state: a hash of each row's sentence and output so far."""

    h: torch.Tensor  # (B,)

    def select(self, index):
        return Prefix(self.h.index_select(0, index))


class PrefixModel:
    """Log-probabilities drawn from a random table by a hash of (sentence, prefix): any
    distribution can follow any prefix, so only a search without pruning is sure to find
    the best sequence."""

    def __init__(self, vocab_size=7, seed=0):
        g = torch.Generator().manual_seed(seed)
        self.table = torch.log_softmax(2 * torch.randn(101, vocab_size, generator=g), -1)  # (101, V)

    def encode(self, src, src_len):
        h = (src * torch.arange(1, src.size(1) + 1)).sum(1)  # (B,) differs between sentences
        self.s = src.size(1)
        return Prefix(h), Prefix(h)

    def decode_step(self, prev, memory, state):
        h = (state.h * 31 + prev + 1) % 1_000_003
        return self.table[h % 101], torch.full((prev.size(0), self.s), 1.0 / self.s), Prefix(h)

    def log_prob(self, src, tokens):
        h, total = self.encode(src, None)[1].h, 0.0
        prev = torch.tensor([BOS])
        for tok in tokens:
            log_probs, _, state = self.decode_step(prev, None, Prefix(h))
            total, h, prev = total + log_probs[0, tok].item(), state.h, torch.tensor([tok])
        return total


def exhaustive(model, src, limit, min_len, penalty, alpha):
    """Every sequence search may output, with its penalised score, best first."""
    words = [w for w in range(model.table.size(1)) if w not in (PAD, BOS, EOS)]
    found = []
    for n in range(limit + 1):
        for seq in itertools.product(words, repeat=n):
            seq = list(seq)
            if n < limit and n >= min_len:  # ends on EOS (allowed once min_len tokens are out)
                steps, scored = n + 1, seq + [EOS]
            elif n == limit:  # cut at the length limit
                steps, scored = n, seq
            else:
                continue
            lp = length_penalty(penalty, alpha, torch.tensor(steps)).item()
            found.append((model.log_prob(src, scored) / lp, seq))
    return sorted(found, key=lambda f: -f[0])


class Counting:
    """A model wrapper that counts the hypothesis-steps search asks for."""

    def __init__(self, model):
        self.model, self.rows = model, 0

    def encode(self, src, src_len):
        return self.model.encode(src, src_len)

    def decode_step(self, prev, memory, state):
        self.rows += prev.size(0)
        return self.model.decode_step(prev, memory, state)


class StepTable:
    """Stub: the log-probabilities of step t are row t of a table (the last row repeats)."""

    def __init__(self, rows):
        self.rows = torch.log_softmax(torch.tensor(rows), -1)  # (T, V)

    def encode(self, src, src_len):
        zero = torch.zeros(src.size(0), dtype=torch.long)
        self.s = src.size(1)
        return Prefix(zero), Prefix(zero)

    def decode_step(self, prev, memory, state):
        log_probs = self.rows[state.h.clamp(max=len(self.rows) - 1)]
        return log_probs, torch.full((prev.size(0), self.s), 1.0 / self.s), Prefix(state.h + 1)
