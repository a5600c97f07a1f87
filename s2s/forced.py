"""Forced decoding: what a model makes of given translations (their score and attention),
for many pairs at once.

Each pair's target is fed to the decoder as if the model had produced it (teacher
forcing), in batches of pairs of similar length; a pair's score is its log-probability
over the pieces and EOS divided by the search's length penalty, as search scores its own
translations. `s2s align` reads word alignments off the attention this gives, or off the
weights of the model's alignment head where it has one (`s2s.aligner`).
"""

from __future__ import annotations

import torch

from s2s.config import SearchConfig
from s2s.data import collate
from s2s.ensemble import Ensemble
from s2s.model import Seq2Seq
from s2s.penalty import length_penalty
from s2s.result import Translation
from s2s.hypothesis import Hypothesis
from s2s.tokenizer import EOS, PAD, Tokenizer


@torch.no_grad()
def force(model: Seq2Seq | Ensemble, tokenizer: Tokenizer, device: torch.device, search: SearchConfig,
          sources: list[str], targets: list[str], batch_size: int = 64) -> list[Translation]:
    """The model's Translation of each (source, target) pair, its text the target.

    A pair with a blank side gives an empty Translation without a hypothesis."""
    found = [Translation("", 0.0, None, source=source) for source in sources]
    todo = [p for p, (s, t) in enumerate(zip(sources, targets)) if s.strip() and t.strip()]
    src = dict(zip(todo, tokenizer.encode_src([sources[p] for p in todo])))
    tgt = dict(zip(todo, tokenizer.encode_tgt([targets[p] for p in todo])))
    todo.sort(key=lambda p: -(len(src[p]) + len(tgt[p])))
    was_training = model.training
    model.eval()
    try:
        for start in range(0, len(todo), batch_size):
            group = todo[start:start + batch_size]
            batch = collate([src[p] + [EOS] for p in group], [tgt[p] for p in group]).to(device)
            real = batch.tgt_out != PAD  # (B, T)
            logits, weights = model(batch.src, batch.src_len, batch.tgt_in, batch.tgt_out)  # (N, V), (B, T, S)
            log_probs = torch.zeros(real.shape)  # (B, T) each real piece's log-probability
            log_probs[real.cpu()] = torch.log_softmax(logits.float(), dim=-1).gather(
                1, batch.tgt_out[real].unsqueeze(1)).squeeze(1).cpu()
            steps = torch.tensor([len(tgt[p]) + 1 for p in group])  # (B,) the pieces and EOS
            penalty = length_penalty(search.length_penalty, search.alpha, steps)  # (B,)
            weights = weights.float().cpu()
            for b, p in enumerate(group):
                log_prob = float(log_probs[b, :steps[b]].sum())
                hyp = Hypothesis(tgt[p], log_prob / float(penalty[b]), log_prob,
                                 weights[b, :steps[b], :len(src[p]) + 1].clone())  # (T, S) with EOS
                found[p] = Translation(targets[p], hyp.score, hyp, src[p] + [EOS], len(tgt[p]),
                                       len(src[p]), source=sources[p], forced=True)
    finally:
        model.train(was_training)
    return found
