import pytest
import torch

from s2s.data import source_batch
from s2s.padded import PaddedModel, padded_index
from s2s.search import beam_search, greedy
from s2s.shortlist import Shortlist, ShortlistModel
from tests.searchmodels import SRC, V, PrefixModel, ScriptedModel, small_model

SCRIPT = [[4, 5], [6], [7, 8, 4, 5, 6]]  # sentences end at different steps: the batch shrinks


def test_padding_repeats_the_first_row_up_to_the_multiple():
    assert padded_index(torch.tensor([3, 1, 2]), 4).tolist() == [3, 1, 2, 3]
    assert padded_index(torch.tensor([3, 1, 2, 0]), 4).tolist() == [3, 1, 2, 0]
    assert padded_index(torch.tensor([5]), 1).tolist() == [5]


@pytest.mark.parametrize("multiple", [1, 4, 32])
def test_search_finds_the_same_with_padded_rows(multiple):
    src, src_len = source_batch(SRC)
    for model in (PrefixModel(), ScriptedModel(SCRIPT)):
        padded = PaddedModel(model, multiple)
        for a, b in zip(greedy(padded, src, src_len, max_len_b=6), greedy(model, src, src_len, max_len_b=6)):
            assert a.tokens == b.tokens and a.score == b.score and torch.equal(a.attention, b.attention)
        for a, b in zip(beam_search(padded, src, src_len, beam=3, nbest=3, max_len_b=6),
                        beam_search(model, src, src_len, beam=3, nbest=3, max_len_b=6)):
            assert [(h.tokens, h.score) for h in a] == [(h.tokens, h.score) for h in b]


def test_the_model_sees_only_multiples_once_search_has_selected_rows():
    src, src_len = source_batch(SRC)
    plain, inner = ScriptedModel(SCRIPT), ScriptedModel(SCRIPT)
    greedy(plain, src, src_len)
    greedy(PaddedModel(inner, 4), src, src_len)
    assert plain.batch_sizes == [3, 3, 2, 1, 1, 1]  # sentences leave as they end
    assert inner.batch_sizes == [3, 3, 4, 4, 4, 4]  # the first rows as encoded, then padded
    inner = ScriptedModel(SCRIPT)
    beam_search(PaddedModel(inner, 4), src, src_len, beam=3)
    assert all(size % 4 == 0 for size in inner.batch_sizes) and inner.batch_sizes[0] == 12  # 3 sentences x 3


def test_a_real_model_scores_the_same_with_padded_rows():
    model = small_model()
    src, src_len = source_batch(SRC)
    for a, b in zip(beam_search(PaddedModel(model, 8), src, src_len, beam=4, nbest=2),
                    beam_search(model, src, src_len, beam=4, nbest=2)):
        assert [h.tokens for h in a] == [h.tokens for h in b]
        assert all(abs(x.score - y.score) < 1e-5 for x, y in zip(a, b))


def test_shortlist_columns_padded_to_a_multiple_are_never_chosen():
    model = small_model()
    table = torch.stack([torch.tensor([4, 6]) + e % 3 for e in range(V + 1)])  # (V + 1, 2): ids 4-8
    shortlist = Shortlist(table, torch.arange(4), "test")
    src, src_len = source_batch(SRC)
    memory, _ = ShortlistModel(model, shortlist, columns=16).encode(src, src_len)
    assert memory.vocabulary.numel() % 16 == 0 and memory.vocabulary.numel() > shortlist.columns(src)[0].numel()
    for a, b in zip(beam_search(ShortlistModel(model, shortlist, columns=16), src, src_len, beam=3, nbest=3),
                    beam_search(ShortlistModel(model, shortlist), src, src_len, beam=3, nbest=3)):
        assert [h.tokens for h in a] == [h.tokens for h in b]
        assert all(abs(x.score - y.score) < 1e-5 for x, y in zip(a, b))
