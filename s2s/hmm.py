"""The HMM word aligner (Vogel et al. 1996, with Och and Ney's NULL states), trained alone or
both directions by agreement.

Where the diagonal model (s2s.diagonal) places each target word's link independently, the
HMM makes it depend on the previous word's: target word j links to source word i with
probability p(i | i_prev) * t(f_j | e_i), where p depends only on the jump i - i_prev (one
parameter per jump width, widths beyond MAX_JUMP shared), so a phrase translated in order
costs little however far from the diagonal it lies. A target word may also link to NULL
(probability p0): as in Och and Ney (2003), each source position has a NULL state that
remembers it, so the word after a NULL link jumps from where the last real link was.

EM runs the forward-backward algorithm over batches of sentence pairs of similar lengths
at once (scaled, in float64), and the posteriors it gives each (target word, source word
or NULL) are laid out as `s2s.align.Pairs` lays out its elements. So the M-step for
t(f | e) is the diagonal model's (variational Bayes), and training by agreement is the
same product of the two directions' posteriors. t(f | e) starts from the diagonal model's,
trained both ways by agreement, as HMMs are usually started from a simpler model.
`learn_links` gives the word links of sentence pairs from aligners trained on those pairs;
`text_links` runs it with HMMs trained by agreement on text as written, as `s2s align`
without a model does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import torch

from s2s.align import Model1, Pairs
from s2s.alignment import symmetrize
from s2s import diagonal
from s2s.diagonal import by_agreement, lexicon_step, train_alone, train_both

PUNCTUATION = re.compile(r"([^\w\s])")  # split off the word it is in, as classical aligners' text is
MAX_JUMP = 15  # jumps |i - i_prev| beyond this share one parameter per direction
UNSEEN = 1e-200  # added to every emission, so that a word with t(f | e) = 0 everywhere keeps the chain
BATCH_ELEMENTS = 2_000_000  # pairs per forward-backward batch: B * M * (2N) ** 2 at most this


@dataclass
class HmmModel:
    """An HMM aligner's t(f | e) and jump probabilities; it aligns each target word to the
    source word (or NULL) with the highest posterior."""

    lexicon: Model1  # t(f | e), by variational Bayes
    jumps: torch.Tensor  # (2 * MAX_JUMP + 1,) c(d) for jumps d = -MAX_JUMP..MAX_JUMP (the ends: beyond)
    null_prob: float  # p0

    @classmethod
    def train(cls, src: list[list[int]], tgt: list[list[int]], iterations: int = 5, null_prob: float = 0.08,
              alpha: float = 0.01) -> "HmmModel":
        """EM on piece-id sentence pairs (no EOS/BOS), t(f | e) started from the diagonal
        model's (trained alone) and estimated by variational Bayes (Dirichlet prior `alpha`)."""
        model = _Training(train_alone(src, tgt), src, tgt, null_prob, alpha)
        for _ in range(iterations):
            model.update(model.posterior())
        return model.result()

    @classmethod
    def train_jointly(cls, src: list[list[int]], tgt: list[list[int]], iterations: int = 5, null_prob: float = 0.08,
                      alpha: float = 0.01) -> tuple["HmmModel", "HmmModel"]:
        """The source->target and target->source HMMs trained by agreement (Liang et al. 2006),
        started from the diagonal models trained by agreement: in each E-step a link's
        expected count is the product of the two directions' posteriors, the rest NULL's."""
        start_forward, start_backward, partners = train_both(src, tgt)
        forward = _Training(start_forward, src, tgt, null_prob, alpha)
        backward = _Training(start_backward, tgt, src, null_prob, alpha)
        by_agreement(forward, backward, partners, iterations)
        return forward.result(), backward.result()

    def align(self, src: list[int], tgt: list[int]) -> list[int]:
        """For each target piece, the source position with the highest posterior (NULL: -1)."""
        return self.align_all([src], [tgt])[0]

    def align_all(self, src: list[list[int]], tgt: list[list[int]]) -> list[list[int]]:
        """`align` of many pairs, in batches."""
        vocab = max(self.lexicon.vocab, 1 + max((max(t) for t in tgt if t), default=0))
        pairs = Pairs.of(src, tgt, vocab)  # a target id the lexicon never saw gets t = 0
        source, target = pairs.unique // vocab, pairs.unique % vocab
        known = target < self.lexicon.vocab
        keys = source * self.lexicon.vocab + target.clamp(max=self.lexicon.vocab - 1)
        t = torch.where(known, self.lexicon.prob_of(keys), torch.zeros((), dtype=torch.float64))[pairs.inverse]  # (N,)
        post, _ = _Lattice(src, tgt).posterior(t, self.jumps, self.null_prob)
        out, at = [], 0
        for s, t_ in zip(src, tgt):
            if not t_:
                out.append([])
                continue
            size = len(t_) * (len(s) + 1)
            grid = post[at:at + size].view(len(t_), len(s) + 1)  # column 0: NULL
            seen = t[at:at + size].view(len(t_), len(s) + 1).amax(dim=1) > 0  # a word nothing explains: NULL
            out.append([int(i) - 1 if ok else -1 for i, ok in zip(grid.argmax(dim=1).tolist(), seen.tolist())])
            at += size
        return out


class _Lattice:
    """The forward-backward batches of a corpus: pairs of similar lengths padded together,
    each with where its (j, i) elements are in the corpus's flat element array."""

    def __init__(self, src: list[list[int]], tgt: list[list[int]]):
        offsets, at = [], 0
        for s, t in zip(src, tgt):
            offsets.append(at)
            at += len(t) * (len(s) + 1) if t else 0
        self.size = at
        self.null_only = []  # elements of pairs with an empty source: NULL is all there is
        todo = []
        for k, (s, t) in enumerate(zip(src, tgt)):
            if t and not s:
                self.null_only.extend(range(offsets[k], offsets[k] + len(t)))
            elif t:
                todo.append(k)
        todo.sort(key=lambda k: (len(src[k]), len(tgt[k])))
        self.batches = []
        start = 0
        while start < len(todo):
            end, n, m = start, 0, 0  # the batch todo[start:end], padded to (m, n)
            while end < len(todo):
                n_next, m_next = max(n, len(src[todo[end]])), max(m, len(tgt[todo[end]]))
                if end > start and (end - start + 1) * m_next * (2 * n_next) ** 2 > BATCH_ELEMENTS:
                    break
                end, n, m = end + 1, n_next, m_next
            ks = todo[start:end]
            where = torch.full((len(ks), m, n + 1), self.size, dtype=torch.int64)  # padding: one past the end
            for b, k in enumerate(ks):
                mk, nk = len(tgt[k]), len(src[k])
                where[b, :mk, :nk + 1] = offsets[k] + torch.arange(mk * (nk + 1)).view(mk, nk + 1)
            lengths = torch.tensor([len(src[k]) for k in ks]), torch.tensor([len(tgt[k]) for k in ks])
            self.batches.append((where, *lengths))
            start = end

    def posterior(self, t: torch.Tensor, jumps: torch.Tensor, null_prob: float) -> tuple[torch.Tensor, torch.Tensor]:
        """(N,) each element's posterior, and (2 * MAX_JUMP + 1,) expected jump counts, from each
        element's t(f | e) (N,)."""
        t = torch.cat([t, torch.zeros(1, dtype=t.dtype)])
        post = torch.zeros(self.size + 1, dtype=torch.float64)
        counts = torch.zeros(len(jumps), dtype=torch.float64)
        for where, n_src, n_tgt in self.batches:
            gamma, jump_counts = _forward_backward(t[where], n_src, n_tgt, jumps, null_prob)
            post.index_add_(0, where.flatten(), gamma.flatten())
            counts += jump_counts
        post[self.null_only] = 1.0
        return post[:-1], counts


def _forward_backward(t: torch.Tensor, n_src: torch.Tensor, n_tgt: torch.Tensor, jumps: torch.Tensor,
                      null_prob: float) -> tuple[torch.Tensor, torch.Tensor]:
    """One batch: t (B, M, N + 1) of each target word's t(f | e) over NULL and the source
    words; n_src, n_tgt (B,) the lengths. Returns the posteriors (B, M, N + 1) (NULL in
    column 0, padding 0) and the expected jump counts."""
    B, M, N1 = t.shape
    N = N1 - 1
    real = torch.arange(N).unsqueeze(0) < n_src.unsqueeze(1)  # (B, N)
    states = torch.cat([real, real], dim=1).to(t.dtype)  # (B, 2N)
    emit = torch.cat([t[..., 1:], t[..., :1].expand(B, M, N)], dim=2) * states.unsqueeze(1)  # (B, M, 2N)
    emit = emit + UNSEEN * states.unsqueeze(1)  # a word nothing explains does not cut the chain
    width = torch.arange(N).unsqueeze(0) - torch.arange(N).unsqueeze(1)  # (N, N) i - k, from k to i
    bucket = width.clamp(-MAX_JUMP, MAX_JUMP) + MAX_JUMP
    move = jumps[bucket].unsqueeze(0) * real.unsqueeze(1).to(t.dtype)  # (B, N, N) to real i only
    move = (1 - null_prob) * move / move.sum(dim=2, keepdim=True).clamp(min=1e-300)
    stay = null_prob * torch.eye(N, dtype=t.dtype).unsqueeze(0).expand(B, N, N)
    top = torch.cat([move, stay], dim=2)  # (B, N, 2N) from real k
    step = torch.cat([top, top], dim=1)  # (B, 2N, 2N): from NULL-at-k as from k
    live = torch.arange(M).unsqueeze(0) < n_tgt.unsqueeze(1)  # (B, M)
    start = torch.cat([(1 - null_prob) * real / n_src.unsqueeze(1),
                       null_prob * (torch.arange(N) == 0).expand(B, N)], dim=1).to(t.dtype)  # (B, 2N)
    alpha = torch.empty(B, M, 2 * N, dtype=t.dtype)
    scale = torch.ones(B, M, dtype=t.dtype)
    a = start * emit[:, 0]
    for j in range(M):
        if j:
            a_next = torch.bmm(alpha[:, j - 1].unsqueeze(1), step).squeeze(1) * emit[:, j]
            a = torch.where(live[:, j:j + 1], a_next, alpha[:, j - 1])
        s = a.sum(dim=1).clamp(min=1e-300)
        s = torch.where(live[:, j], s, torch.ones_like(s))
        scale[:, j] = s
        alpha[:, j] = a / s.unsqueeze(1)
    beta = torch.ones(B, M, 2 * N, dtype=t.dtype)
    for j in range(M - 2, -1, -1):
        b_next = torch.bmm(step, (emit[:, j + 1] * beta[:, j + 1]).unsqueeze(2)).squeeze(2) / scale[:, j + 1:j + 2]
        beta[:, j] = torch.where(live[:, j + 1:j + 2], b_next, beta[:, j + 1])
    gamma = alpha * beta * live.unsqueeze(2)  # (B, M, 2N)
    out = torch.cat([gamma[..., N:].sum(dim=2, keepdim=True), gamma[..., :N]], dim=2)  # (B, M, N + 1)
    # expected transitions: sum over j >= 1 of alpha_{j-1}(k) step(k, i) emit_j(i) beta_j(i) / scale_j
    later = (emit[:, 1:] * beta[:, 1:] / scale[:, 1:].unsqueeze(2)) * live[:, 1:].unsqueeze(2)  # (B, M-1, 2N)
    xi = torch.bmm(alpha[:, :-1].transpose(1, 2), later) * step  # (B, 2N, 2N)
    to_real = (xi[:, :N, :N] + xi[:, N:, :N]).sum(dim=0)  # (N, N) from k (real or NULL-at-k) to real i
    counts = torch.zeros(2 * MAX_JUMP + 1, dtype=t.dtype).index_add_(0, bucket.flatten(), to_real.flatten())
    return out, counts


class _Training:
    """An HMM's state during EM: its pairs, t(f | e) and jump probabilities."""

    def __init__(self, start: diagonal.Training, src: list[list[int]], tgt: list[list[int]], null_prob: float,
                 alpha: float):
        """From a trained diagonal model's state on the same pairs: its pairs and t(f | e)."""
        self.vocab, self.pairs, self.is_null, self.prob = start.vocab, start.pairs, start.is_null, start.prob
        self.lattice = _Lattice(src, tgt)
        self.null_prob, self.alpha = null_prob, alpha
        # jumps start peaked at +1, the next source word, as exp(-|d - 1|)
        self.jumps = torch.exp(-torch.arange(-MAX_JUMP, MAX_JUMP + 1, dtype=torch.float64).sub(1).abs())
        self._jump_counts = torch.zeros_like(self.jumps)  # of the last posterior()

    def posterior(self) -> torch.Tensor:
        """(N,) each element's posterior: its target piece's link to its source position."""
        post, self._jump_counts = self.lattice.posterior(self.prob[self.pairs.inverse], self.jumps, self.null_prob)
        return post

    def update(self, posterior: torch.Tensor) -> None:
        """The M-step from each element's posterior (N,), and from the jumps counted by the
        last posterior() (an agreeing posterior leaves them as they were)."""
        self.prob = lexicon_step(self.pairs, posterior, self.alpha)
        jumps = self._jump_counts + 1e-3
        self.jumps = jumps / jumps.sum()

    def result(self) -> HmmModel:
        return HmmModel(Model1(self.pairs.unique, self.prob, self.vocab), self.jumps, self.null_prob)


def learn_links(src: list[str], tgt: list[str], aligner: type = HmmModel, jointly: bool = True,
                which: slice = slice(None)) -> tuple[list[set[tuple[int, int]]], list[set[tuple[int, int]]]]:
    """Word links of sentence pairs from an aligner (Model1, DiagonalModel or HmmModel) trained
    both ways on the pairs themselves (by agreement if `jointly`; not for Model1), words split
    at whitespace: the source->target links and the target->source ones, both as (source
    word, target word), of the pairs `which` picks. `s2s align` without a model runs it."""
    vocab: dict[str, int] = {}
    src_ids = [[vocab.setdefault(w, len(vocab)) for w in line.split()] for line in src]
    tgt_ids = [[vocab.setdefault(w, len(vocab)) for w in line.split()] for line in tgt]
    if jointly:
        forward, backward = aligner.train_jointly(src_ids, tgt_ids)
    else:
        forward, backward = aligner.train(src_ids, tgt_ids), aligner.train(tgt_ids, src_ids)
    src_ids, tgt_ids = src_ids[which], tgt_ids[which]
    if isinstance(forward, HmmModel):
        there, back = forward.align_all(src_ids, tgt_ids), backward.align_all(tgt_ids, src_ids)
    else:
        there = [forward.align(s, t) for s, t in zip(src_ids, tgt_ids)]
        back = [backward.align(t, s) for s, t in zip(src_ids, tgt_ids)]
    return ([{(i, j) for j, i in enumerate(links) if i >= 0} for links in there],
            [{(i, j) for i, j in enumerate(links) if j >= 0} for links in back])


def text_links(src: list[str], tgt: list[str], method: str = "grow-diag-final-and") -> list[set[tuple[int, int]]]:
    """The links of sentence pairs as they are written, from HMMs trained on them both ways by
    agreement, the two directions combined by `method` (`s2s.alignment.symmetrize`): the
    aligners read classical_tokens, and the links are of whitespace words (word_links).
    `s2s align` without a model prints these."""
    src_tokens, tgt_tokens = [classical_tokens(line) for line in src], [classical_tokens(line) for line in tgt]
    forward, backward = learn_links([" ".join(tokens) for tokens, _ in src_tokens],
                                    [" ".join(tokens) for tokens, _ in tgt_tokens])
    return [word_links(symmetrize(a, b, method), s, t)
            for a, b, s, t in zip(forward, backward, src_tokens, tgt_tokens)]


def classical_tokens(line: str) -> tuple[list[str], list[int]]:
    """A line's tokens as statistical aligners are given text (lowercased, each punctuation
    character a token of its own), and the whitespace word each token comes from."""
    tokens, words = [], []
    for w, word in enumerate(line.split()):
        for token in PUNCTUATION.sub(r" \1 ", word.lower()).split():
            tokens.append(token)
            words.append(w)
    return tokens, words


def word_links(links: set[tuple[int, int]], src: tuple[list[str], list[int]],
               tgt: tuple[list[str], list[int]]) -> set[tuple[int, int]]:
    """Links between the tokens of two lines (classical_tokens' tokens and words of each) as
    links between their whitespace words. A punctuation token inside a word that has other
    tokens (the "." of "cat.") links nothing: the word's other tokens do."""
    src_word, tgt_word = _linking(*src), _linking(*tgt)
    return {(src_word[i], tgt_word[j]) for i, j in links if src_word[i] >= 0 and tgt_word[j] >= 0}


def _linking(tokens: list[str], words: list[int]) -> list[int]:
    """Each token's word, or -1 for punctuation inside a word that has other tokens."""
    punctuation = [PUNCTUATION.fullmatch(token) is not None for token in tokens]
    other = {w for w, p in zip(words, punctuation) if not p}  # words with a token that is not punctuation
    return [-1 if p and w in other else w for w, p in zip(words, punctuation)]
