"""Search: turning a model's step-by-step distributions into output sequences.

Search never imports the model. It needs only the protocol `encode(src, src_len) ->
(memory, state)` and `decode_step(prev, memory, state) -> (log_probs, attention, state)`,
where memory and state have `select(index)` to pick and reorder rows, and log_probs is a
new tensor that search may change in place; any model offering that, or a stub in a
test, works. The columns of log_probs are the target ids, unless the memory has a
`vocabulary` (V',): then column c stands for id vocabulary[c] (a shortlist, s2s.shortlist),
and the special ids PAD, UNK, BOS and EOS keep their own columns (0-3).

Both strategies keep one row per live hypothesis (B for greedy, B*K for beam search),
encode each sentence once, and let a sentence leave the batch as soon as it is done.
Scores are log-probabilities divided by a length penalty (`s2s.penalty`). Neither
strategy ever outputs PAD or BOS, nor EOS before `min_len` tokens.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import torch

from s2s.config import SearchConfig
from s2s.hypothesis import NEG_INF, Finished, Hypothesis
from s2s.penalty import length_penalty
from s2s.sampling import Sampler
from s2s.tokenizer import BOS, EOS, PAD

class Selectable(Protocol):
    def select(self, index: torch.Tensor) -> "Selectable": ...


class StepModel(Protocol):
    def encode(self, src: torch.Tensor, src_len: torch.Tensor) -> tuple[Selectable, Selectable]: ...

    def decode_step(self, prev: torch.Tensor, memory: Selectable,
                    state: Selectable) -> tuple[torch.Tensor, torch.Tensor, Selectable]: ...


def max_lengths(src_len: torch.Tensor, a: float, b: int) -> torch.Tensor:
    """Per-sentence output limit a * source_length + b, in target tokens (EOS included)."""
    return (src_len.float() * a + b).long().clamp(min=1)


def search(model: StepModel, src: torch.Tensor, src_len: torch.Tensor, config: SearchConfig,
           nbest: int = 1) -> list[list[Hypothesis]]:
    """The `nbest` best hypotheses per sentence, best first: greedy for beam 1, else beam
    search; with `config.sample`, `nbest` samples instead (the beam is not used)."""
    settings = dict(penalty=config.length_penalty, alpha=config.alpha, max_len_a=config.max_len_a,
                    max_len_b=config.max_len_b, min_len=config.min_len)
    if config.sample:
        sampler = Sampler(config.temperature, config.top_k, config.top_p, config.seed)
        return sample(model, src, src_len, sampler, nbest, **settings)
    if config.beam == 1:
        return [[h] for h in greedy(model, src, src_len, **settings)]
    return beam_search(model, src, src_len, beam=config.beam, nbest=nbest, stop_margin=config.stop_margin,
                       **settings)


@torch.no_grad()
def sample(model: StepModel, src: torch.Tensor, src_len: torch.Tensor, sampler: Sampler, samples: int = 1,
           **settings) -> list[list[Hypothesis]]:
    """`samples` outputs per sentence, each piece drawn by `sampler` (s2s.sampling), the
    highest scoring first; the scores are the model's own (not the reshaped distribution's)."""
    rows = torch.arange(src.size(0), device=src.device).repeat_interleave(samples)  # (B*samples,)
    keys = sampler.keys(src, src_len, samples)  # (B*samples,)
    drawn = greedy(model, src[rows], src_len[rows.cpu()], **settings,
                   pick=lambda log_probs, alive, step: sampler.draw(log_probs, keys[alive], step))
    return [sorted(drawn[i:i + samples], key=lambda h: -h.score) for i in range(0, len(drawn), samples)]


@torch.no_grad()
def greedy(model: StepModel, src: torch.Tensor, src_len: torch.Tensor, *, max_len_a: float = 2.0,
           max_len_b: int = 10, min_len: int = 0, penalty: str = "none", alpha: float = 0.0,
           pick: Callable[[torch.Tensor, torch.Tensor, int], torch.Tensor] | None = None) -> list[Hypothesis]:
    """Greedy decoding of a batch; sentences leave the batch as soon as they end.

    src: (B, S) padded ids; src_len: (B,). Returns one Hypothesis per sentence, in order.
    The penalty only scales the reported score: it cannot change a greedy choice.
    `pick(log_probs (A, V), rows (A,), step) -> (A,)` chooses the pieces instead of the
    most likely ones (sampling); rows are the batch rows still decoding.
    """
    memory, state = model.encode(src, src_len)
    ids = _vocabulary(memory)
    b, device = src.size(0), src.device
    limits = max_lengths(src_len, max_len_a, max_len_b).to(device)  # (B,)
    steps = int(limits.max())
    tokens = torch.full((b, steps), EOS, dtype=torch.long, device=device)  # (B, Tmax)
    log_prob = torch.zeros(b, device=device)
    attention = torch.zeros(b, steps, src.size(1), device=device)  # (B, Tmax, S)
    lengths = limits.clone()  # steps taken, EOS included (set when a sentence stops)
    alive = torch.arange(b, device=device)  # rows of the original batch still decoding
    prev = torch.full((b,), BOS, dtype=torch.long, device=device)
    for t in range(steps):
        log_probs, weights, state = model.decode_step(prev, memory, state)  # (A, V), (A, S)
        log_probs = _allowed(log_probs, eos=t >= min_len)
        if pick is None:
            best_logp, best = log_probs.max(dim=-1)  # (A,)
        else:
            best = pick(log_probs, alive, t)  # (A,)
            best_logp = log_probs.gather(1, best.unsqueeze(1)).squeeze(1)
        if ids is not None:
            best = ids[best]  # columns -> target ids
        tokens[alive, t] = best
        log_prob[alive] += best_logp
        attention[alive, t, : weights.size(1)] = weights.float()
        done = (best == EOS) | (limits[alive] <= t + 1)
        if bool(done.any()):
            lengths[alive[done]] = t + 1
            keep = (~done).nonzero().squeeze(1)
            if keep.numel() == 0:
                break
            alive, memory, state, best = alive[keep], memory.select(keep), state.select(keep), best[keep]
        prev = best
    score = log_prob / length_penalty(penalty, alpha, lengths)
    tokens, lengths, src_len = tokens.cpu(), lengths.tolist(), src_len.tolist()
    out = []
    for i in range(b):
        row = tokens[i, : lengths[i]].tolist()
        if row and row[-1] == EOS:
            row = row[:-1]
        out.append(Hypothesis(row, float(score[i]), float(log_prob[i]),
                              attention[i, : lengths[i], : src_len[i]].cpu().clone()))  # not a view of the batch
    return out


def _vocabulary(memory: Selectable) -> torch.Tensor | None:
    """The target ids (V',) that the columns of a step's log-probabilities stand for, or None
    where they are all ids in order."""
    return getattr(memory, "vocabulary", None)


def _allowed(log_probs: torch.Tensor, eos: bool) -> torch.Tensor:
    """log_probs (R, V) with the ids search must not output set to -inf (EOS unless `eos`).

    In place: the log-probabilities a decode_step returns are search's to change."""
    banned = torch.tensor([PAD, BOS] if eos else [PAD, BOS, EOS], device=log_probs.device)
    return log_probs.index_fill_(1, banned, NEG_INF)


@torch.no_grad()
def beam_search(model: StepModel, src: torch.Tensor, src_len: torch.Tensor, *, beam: int,
                nbest: int = 1, max_len_a: float = 2.0, max_len_b: int = 10, min_len: int = 0,
                penalty: str = "none", alpha: float = 0.0, stop_margin: float = 0.0) -> list[list[Hypothesis]]:
    """Batched beam search: the `nbest` (<= beam) best hypotheses per sentence, best first.

    All B sentences and their K = `beam` hypotheses run as B*K rows. Each step takes the
    2K best continuations of a sentence, so that K live ones remain even if K of them end;
    those ending (EOS, or the length limit) among the top K are finished. A sentence is done
    when its n-th best finished score is at least what any live hypothesis could still
    reach (its log-probability can only fall, and the penalty is largest at the length
    limit), so the n-best it returns are those it would return with no stopping rule.
    With `stop_margin` m > 0 it assumes instead that every further piece costs at least m
    (nats), which stops sooner and may change the result (`reach`).
    Done sentences leave the batch. src: (B, S) padded ids; src_len: (B,).
    """
    if not 1 <= nbest <= beam:
        raise ValueError(f"nbest must be between 1 and the beam size {beam}, got {nbest}")
    k, b, s, device = beam, src.size(0), src.size(1), src.device
    memory, state = model.encode(src, src_len)
    ids = _vocabulary(memory)
    expand = torch.arange(b, device=device).repeat_interleave(k)  # (B*K,) each sentence K times
    memory, state = memory.select(expand), state.select(expand)
    limits = max_lengths(src_len, max_len_a, max_len_b).to(device)  # (B,)
    steps = int(limits.max())
    # Live hypotheses, one row each: (A*K, ...) for the A sentences still searching.
    live = torch.full((b, k), NEG_INF, device=device)  # (A, K) log-probabilities; one live at start
    live[:, 0] = 0.0
    tokens = torch.zeros(b * k, 0, dtype=torch.long, device=device)  # (A*K, t) so far
    attention = torch.zeros(b * k, 0, s, device=device)  # (A*K, t, S)
    # Finished hypotheses, kept sorted per original sentence: the best K so far.
    done = Finished(torch.full((b, k), NEG_INF, device=device), torch.zeros(b, k, device=device),
                    torch.zeros(b, k, dtype=torch.long, device=device),
                    torch.zeros(b, k, steps, dtype=torch.long, device=device),
                    torch.zeros(b, k, steps, s, device=device))
    alive = torch.arange(b, device=device)  # original index of each searching sentence (A,)
    prev = torch.full((b * k,), BOS, dtype=torch.long, device=device)
    for t in range(steps):
        a = alive.numel()
        offset = torch.arange(a, device=device).unsqueeze(1) * k  # (A, 1) first row of each sentence
        log_probs, weights, state = model.decode_step(prev, memory, state)  # (A*K, V), (A*K, S)
        log_probs = _allowed(log_probs, eos=t >= min_len)
        v = log_probs.size(-1)
        total = log_probs.add_(live.view(-1, 1)).view(a, k * v)  # (A, K*V), in place as in _allowed
        cand, flat = total.topk(min(2 * k, k * v), dim=1)  # (A, 2K), best first
        cand_token, cand_row = flat % v, flat // v + offset  # (A, 2K); rows index A*K
        if ids is not None:
            cand_token = ids[cand_token]  # columns -> target ids
        # Only the top K may end, as in a beam of K: on EOS, or at the length limit.
        ends = (cand_token[:, :k] == EOS) | (limits[alive] <= t + 1).unsqueeze(1)  # (A, K)
        finished = ends & (cand[:, :k] > NEG_INF)
        if bool(finished.any()):
            news = finished.any(dim=1).nonzero().squeeze(1)  # (R,) sentences with new ones
            rows = cand_row[news, :k].reshape(-1)  # (R*K,)
            lp = length_penalty(penalty, alpha, torch.tensor(t + 1, device=device))
            done.add(alive[news], torch.where(finished[news], cand[news, :k] / lp, NEG_INF),
                     cand[news, :k], t + 1,
                     torch.cat([tokens[rows], cand_token[news, :k].reshape(-1, 1)], dim=1),
                     torch.cat([attention[rows], weights[rows].unsqueeze(1).float()], dim=1))
        # The K best candidates that did not end stay live.
        live, pick = torch.where(cand_token == EOS, NEG_INF, cand).topk(k, dim=1)  # (A, K)
        pick = (pick + torch.arange(a, device=device).unsqueeze(1) * cand.size(1)).view(-1)  # (A*K,) into (A*2K,)
        rows = cand_row.view(-1)[pick]  # (A*K,) the rows the live ones extend
        prev = cand_token.view(-1)[pick]
        tokens = torch.cat([tokens[rows], prev.unsqueeze(1)], dim=1)
        attention = torch.cat([attention[rows], weights[rows].unsqueeze(1).float()], dim=1)
        state = state.select(rows)
        # A sentence is done when no live hypothesis can beat its n-th best finished one.
        best = reach(live.max(dim=1).values, t + 1, limits[alive], stop_margin, penalty, alpha)  # (A,)
        stop = (limits[alive] <= t + 1) | (best == NEG_INF) | (done.score[alive, nbest - 1] >= best)
        if bool(stop.any()):
            keep = (~stop).nonzero().squeeze(1)  # (A',)
            if keep.numel() == 0:
                break
            keep_rows = (keep.unsqueeze(1) * k + torch.arange(k, device=device)).view(-1)  # (A'*K,)
            alive, live = alive[keep], live[keep]
            memory, state = memory.select(keep_rows), state.select(keep_rows)
            prev, tokens, attention = prev[keep_rows], tokens[keep_rows], attention[keep_rows]
    return done.nbest_lists(src_len, nbest)


def reach(log_prob: torch.Tensor, length: int, limits: torch.Tensor, margin: float, penalty: str,
          alpha: float) -> torch.Tensor:
    """The best score that live hypotheses of `length` pieces and log-probabilities log_prob
    (A,) could still end with, within the length limits (A,), if each further piece costs at
    least `margin`: max over L of (log_prob - margin (L - length)) / lp(L), for the lengths
    L = length + 1 ... limit it may end at (a live hypothesis needs at least one more piece,
    EOS or another); -inf where there is none.

    With margin 0 that is log_prob / lp(limit): a log-probability can only fall and the
    penalty is largest at the limit, so no hypothesis can do better (exact search).
    """
    if margin == 0:
        return log_prob / length_penalty(penalty, alpha, limits)
    ends = torch.arange(length + 1, max(int(limits.max()), length + 1) + 1, device=log_prob.device)  # (L,)
    future = log_prob.unsqueeze(1) - margin * (ends - length).unsqueeze(0)  # (A, L)
    scores = (future / length_penalty(penalty, alpha, ends)).masked_fill(ends > limits.unsqueeze(1), NEG_INF)
    return scores.max(dim=1).values
