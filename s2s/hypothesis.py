"""Search's results: a hypothesis, and the best finished hypotheses of each sentence that
beam search keeps while it runs (s2s.search)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from s2s.tokenizer import EOS

NEG_INF = float("-inf")


@dataclass
class Hypothesis:
    """One output sequence with its scores and attention."""

    tokens: list[int]  # target ids, EOS excluded
    score: float  # log_prob / length penalty of the scored steps: what search ranks by
    log_prob: float  # sum of log-probabilities of tokens and the final EOS (if it was produced)
    attention: torch.Tensor  # (steps, S_i) weights over this sentence's source; steps = tokens [+ EOS]


@dataclass
class Finished:
    """The K best finished hypotheses of each sentence of a batch, best first."""

    score: torch.Tensor  # (B, K) penalised; -inf where there is none yet
    log_prob: torch.Tensor  # (B, K)
    length: torch.Tensor  # (B, K) scored steps
    tokens: torch.Tensor  # (B, K, Tmax)
    attention: torch.Tensor  # (B, K, Tmax, S)

    def add(self, ids: torch.Tensor, score: torch.Tensor, log_prob: torch.Tensor, length: int,
            tokens: torch.Tensor, attention: torch.Tensor) -> None:
        """Merges candidates of sentences ids (R,) that ended after `length` steps.

        score, log_prob: (R, K), score -inf where a candidate did not end; tokens
        (R*K, length); attention (R*K, length, S).
        """
        r, k, steps = score.size(0), self.score.size(1), self.tokens.size(2)
        merged = torch.cat([self.score[ids], score], dim=1)  # (R, 2K)
        best, pick = merged.topk(k, dim=1)  # (R, K)
        flat = (pick + torch.arange(r, device=pick.device).unsqueeze(1) * 2 * k).view(-1)  # (R*K,)
        pad = steps - length
        both = lambda old, new: torch.cat([old, new.view(r, k, *new.shape[1:])], dim=1)  # noqa: E731
        take = lambda x: x.flatten(0, 1)[flat].view(r, k, *x.shape[2:])  # noqa: E731
        self.log_prob[ids] = take(both(self.log_prob[ids], log_prob.reshape(-1)))
        self.length[ids] = take(both(self.length[ids], torch.full((r * k,), length, device=pick.device)))
        self.tokens[ids] = take(both(self.tokens[ids], torch.nn.functional.pad(tokens, (0, pad))))
        self.attention[ids] = take(both(self.attention[ids],
                                        torch.nn.functional.pad(attention, (0, 0, 0, pad))))
        self.score[ids] = best

    def nbest_lists(self, src_len: torch.Tensor, nbest: int) -> list[list[Hypothesis]]:
        """The n best of each sentence as Hypothesis objects, EOS dropped."""
        score, log_prob, length = self.score.cpu(), self.log_prob.cpu(), self.length.tolist()
        tokens, attention, src_len = self.tokens.cpu(), self.attention.cpu(), src_len.tolist()
        out = []
        for i in range(score.size(0)):
            hyps = []
            for j in range(nbest):
                if score[i, j] == NEG_INF:
                    break
                n = length[i][j]
                row = tokens[i, j, :n].tolist()
                if row and row[-1] == EOS:
                    row = row[:-1]
                hyps.append(Hypothesis(row, float(score[i, j]), float(log_prob[i, j]),
                                       attention[i, j, :n, : src_len[i]].clone()))  # not a view of the batch
            out.append(hyps)
        return out
