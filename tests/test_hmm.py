"""The HMM aligner: forward-backward against brute force over every path, padding, and
alignments recovered on corpora with known links."""

import itertools

import torch

from s2s.hmm import MAX_JUMP, HmmModel, _forward_backward, classical_tokens, word_links
from tests.test_align import permuted_corpus
from tests.test_diagonal import monotone_corpus, share_right


def brute_force(t: torch.Tensor, jumps: torch.Tensor, null_prob: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Posteriors (M, N + 1) and expected jump counts of one pair, t (M, N + 1) with NULL in
    column 0, by summing over every state path: states 0..N-1 are the source words, N + k is
    NULL remembering source word k; a path starts at a word (uniformly) or at NULL-at-0."""
    m, n = t.shape[0], t.shape[1] - 1

    def memory(state):
        return state if state < n else state - n

    def step(a, b):
        if b >= n:
            return null_prob if b - n == memory(a) else 0.0
        weights = [float(jumps[max(-MAX_JUMP, min(MAX_JUMP, i - memory(a))) + MAX_JUMP]) for i in range(n)]
        return (1 - null_prob) * weights[b] / sum(weights)

    def emit(j, state):
        return float(t[j, state + 1]) if state < n else float(t[j, 0])

    post, counts, total = torch.zeros(m, n + 1, dtype=torch.float64), torch.zeros(len(jumps), dtype=torch.float64), 0.0
    for path in itertools.product(range(2 * n), repeat=m):
        p = ((1 - null_prob) / n if path[0] < n else (null_prob if path[0] == n else 0.0)) * emit(0, path[0])
        for j in range(1, m):
            p *= step(path[j - 1], path[j]) * emit(j, path[j])
        total += p
        for j, state in enumerate(path):
            post[j, state + 1 if state < n else 0] += p
            if j and state < n:
                counts[max(-MAX_JUMP, min(MAX_JUMP, state - memory(path[j - 1]))) + MAX_JUMP] += p
    return post / total, counts / total


def test_forward_backward_equals_the_sum_over_every_path_also_beside_a_longer_pair():
    torch.manual_seed(0)
    jumps = torch.rand(2 * MAX_JUMP + 1, dtype=torch.float64) + 0.1
    long, short = torch.rand(4, 4, dtype=torch.float64), torch.rand(2, 3, dtype=torch.float64)  # (M, N + 1)
    batch = torch.zeros(2, 4, 4, dtype=torch.float64)
    batch[0], batch[1, :2, :3] = long, short
    post, counts = _forward_backward(batch, torch.tensor([3, 2]), torch.tensor([4, 2]), jumps, 0.2)
    want_long, counts_long = brute_force(long, jumps, 0.2)
    want_short, counts_short = brute_force(short, jumps, 0.2)
    torch.testing.assert_close(post[0], want_long)
    torch.testing.assert_close(post[1, :2, :3], want_short)
    assert post[1, 2:].abs().sum() == 0 and post[1, :, 3:].abs().sum() == 0  # padding gets nothing
    torch.testing.assert_close(counts, counts_long + counts_short)


def test_the_hmm_finds_the_links_of_ordered_and_shuffled_translations():
    src, tgt, truth = monotone_corpus()
    model = HmmModel.train(src, tgt)
    assert share_right(model, src, tgt, truth) > 0.99
    assert int(model.jumps.argmax()) == MAX_JUMP + 1  # the next source word
    src, tgt, truth = permuted_corpus()
    assert share_right(HmmModel.train(src, tgt), src, tgt, truth) > 0.99


def test_hmms_trained_by_agreement_both_find_the_words_translations():
    src, tgt, truth = permuted_corpus()
    forward, backward = HmmModel.train_jointly(src, tgt)
    assert share_right(forward, src, tgt, truth) > 0.99
    back = [[next((j for j, i in enumerate(a) if i == k), None) for k in range(len(s))] for s, a in zip(src, truth)]
    assert share_right(backward, tgt, src, back) > 0.99


def test_a_word_nothing_explains_is_unaligned_and_does_not_cut_the_chain():
    model = HmmModel.train([[1, 2], [2, 1], []], [[5, 6], [6, 5], [7]])
    assert model.align([1, 2], [5, 999, 6]) == [0, -1, 1]
    assert model.align([], [5]) == [-1] and model.align([1], []) == []
    assert model.align_all([[1, 2], [2, 1]], [[5, 6], [6, 5]]) == [model.align([1, 2], [5, 6]), [0, 1]]


def test_tokens_keep_their_words_and_punctuation_inside_a_word_links_nothing():
    src, tgt = classical_tokens("The dog's bone. ..."), classical_tokens("L'os du chien .")
    assert src == (["the", "dog", "'", "s", "bone", ".", ".", ".", "."], [0, 1, 1, 1, 2, 2, 3, 3, 3])
    assert tgt == (["l", "'", "os", "du", "chien", "."], [0, 0, 0, 1, 2, 3])
    links = {(4, 2), (1, 4), (2, 1), (5, 5), (6, 5)}  # bone-os, dog-chien, '-', .-. twice
    assert word_links(links, src, tgt) == {(2, 0), (1, 2), (3, 3)}  # "..." is punctuation alone: it links
