"""Word alignments: from piece attention to word links, combined directions, error rate."""

import random

import pytest
import torch

from s2s.alignment import (Gold, error_rate, links, parse_gold, parse_links, pharaoh, piece_alignment, read_links,
                           symmetrize, word_links)
from s2s.errors import UserError
from tests.test_translate import translator


def test_a_word_takes_its_pieces_weights_and_the_eos_column_is_left_out():
    # source pieces: word 0 = pieces 0-1, word 1 = piece 2, then EOS; output: word 0 = steps 0-1, word 1 = step 2
    weights = torch.tensor([[0.3, 0.3, 0.0, 0.4],   # word 0's pieces together (0.6) beat EOS (0.4)
                            [0.2, 0.2, 0.1, 0.5],
                            [0.1, 0.0, 0.3, 0.6],   # EOS is not a word: source word 1
                            [0.0, 0.0, 0.0, 1.0]])  # the EOS step: no output word
    assert links(weights, [0, 0, 1], [0, 0, 1]) == [(0, 0), (1, 1)]
    assert links(weights, [], [0]) == [] and links(weights, [0], []) == []


def test_each_output_word_gets_one_link_to_the_word_with_most_weight():
    torch.manual_seed(0)
    for _ in range(20):
        src_words = sorted(random.choices(range(5), k=9))
        tgt_words = sorted(random.choices(range(4), k=7))
        weights = torch.softmax(torch.randn(8, 10), dim=-1)
        found = links(weights, src_words, tgt_words)
        assert [j for _, j in sorted(found, key=lambda link: link[1])] == sorted(set(tgt_words))
        for i, j in found:
            rows = [t for t, w in enumerate(tgt_words) if w == j]
            per_word = [sum(float(weights[t, s]) for t in rows for s, w in enumerate(src_words) if w == k)
                        for k in range(max(src_words) + 1)]
            assert per_word[i] == pytest.approx(max(per_word))


def test_pharaoh_and_gold_lines():
    assert pharaoh({(2, 1), (0, 0), (1, 2)}) == "0-0 1-2 2-1"
    assert parse_links("0-0 1-2", "f:1") == {(0, 0), (1, 2)}
    gold = parse_gold("1-1 2p3 3-2", "gold:4", one_based=True)
    assert gold.sure == {(0, 0), (2, 1)} and gold.possible == {(0, 0), (1, 2), (2, 1)}
    for bad in ("1-x", "0-1", "1_2", "-1-2"):
        with pytest.raises(UserError, match="gold:4: .* is not a link"):
            parse_gold(bad, "gold:4", one_based=True)
    with pytest.raises(UserError, match="f:2: possible links"):
        parse_links("0p1", "f:2")


def test_error_rate_by_hand():
    gold = [Gold(frozenset({(0, 0), (1, 1)}), frozenset({(0, 0), (1, 1), (2, 1)}))]
    rate = error_rate([{(0, 0), (1, 1), (2, 2)}], gold)
    assert rate.aer == pytest.approx(1 - (2 + 2) / (3 + 2))
    assert (rate.precision, rate.recall, rate.links) == (pytest.approx(2 / 3), 1.0, 3)
    assert error_rate([{(0, 0), (1, 1)}], gold).aer == 0.0  # every Sure link, nothing else
    assert error_rate([{(2, 1)}], gold).aer == pytest.approx(1 - 1 / 3)  # a Possible link only
    with pytest.raises(UserError, match="1 alignments for 2 gold lines"):
        error_rate([set()], gold * 2)


def test_symmetrization_by_hand():
    forward, backward = {(0, 0), (1, 1), (2, 1), (0, 3)}, {(0, 0), (1, 1), (2, 2), (4, 4)}
    assert symmetrize(forward, backward, "intersection") == {(0, 0), (1, 1)}
    assert symmetrize(forward, backward, "union") == forward | backward
    # grow-diag adds (2, 1) (source word 2 unaligned, next to (1, 1)), then (2, 2) (target word 2 unaligned)
    assert symmetrize(forward, backward, "grow-diag") == {(0, 0), (1, 1), (2, 1), (2, 2)}
    # final: (0, 3) joins an aligned source word to an unaligned target word; (4, 4) two unaligned words
    assert symmetrize(forward, backward, "grow-diag-final") == {(0, 0), (1, 1), (2, 1), (2, 2), (0, 3), (4, 4)}
    assert symmetrize(forward, backward, "grow-diag-final-and") == {(0, 0), (1, 1), (2, 1), (2, 2), (4, 4)}
    assert symmetrize(set(), set(), "grow-diag-final") == set()
    with pytest.raises(UserError, match="unknown symmetrization 'grow'"):
        symmetrize(forward, backward, "grow")


def test_every_symmetrization_lies_between_intersection_and_union():
    rng = random.Random(3)
    for _ in range(200):
        forward = {(rng.randrange(6), rng.randrange(6)) for _ in range(rng.randrange(8))}
        backward = {(rng.randrange(6), rng.randrange(6)) for _ in range(rng.randrange(8))}
        for method in ("grow-diag", "grow-diag-final", "grow-diag-final-and"):
            found = symmetrize(forward, backward, method)
            assert forward & backward <= found <= forward | backward
        assert symmetrize(forward, backward, "grow-diag") <= symmetrize(forward, backward, "grow-diag-final-and")


LINES = ["The dog sees a cat.", "", "  Some   big kings follow\tthe girls near a river. ", "A bird ✈ flies.",
         "The big red dog sees the small cat near the white house. A girl holds a flower.",
         "Averyveryverylongwordwithoutanyspaceinsideitatallthatmustbecut and more words here."]


@pytest.mark.parametrize("max_src_len", [0, 12, 6])
def test_every_output_word_links_to_one_word_of_its_own_line(tokenizer, max_src_len):
    t = translator(tokenizer, beam=3)
    t.max_src_len = max_src_len  # 6 and 12 cut the long lines into parts, one inside a word
    for line, found in zip(LINES, t.nbest(LINES, 2)):
        for translation in found:
            al = t.alignment(translation)
            if not line.strip():
                assert al == []
                continue
            assert sorted(j for _, j in al) == list(range(len(translation.text.split())))
            assert all(0 <= i < len(line.split()) for i, _ in al)


def test_the_words_of_a_part_link_inside_that_part(tokenizer):
    t = translator(tokenizer, beam=1)
    t.max_src_len = 8  # cut at sentence ends and spaces, into several parts
    best = t.nbest([LINES[4]], 1)[0][0]
    assert len(best.parts) > 2
    found, src, tgt = [], 0, 0
    for part in best.parts:  # each part's own links, moved by the words of the parts before it
        found += [(src + i, tgt + j) for i, j in word_links(part, tokenizer)]
        src, tgt = src + len(part.source.split()), tgt + len(part.text.split())
    assert t.alignment(best) == sorted(found)


def test_forced_alignments_use_the_given_translations_words(tokenizer):
    t = translator(tokenizer)
    target = "Ka  vorn ✈ mi miset vidit."  # an unknown character decodes as " ⁇ ": its own words count
    forced = t.force("The dog sees a cat.", target)
    assert forced.forced and forced.text == target
    assert sorted(j for _, j in t.alignment(forced)) == list(range(len(target.split())))


def test_word_links_become_one_source_piece_per_target_piece():
    # source words: 0 = pieces 0-1, 1 = piece 2; target words: 0 = piece 0, 1 = pieces 1-2, 2 = piece 3
    assert piece_alignment({(1, 0), (0, 1)}, [0, 0, 1], [0, 1, 1, 2]) == [2, 0, 0, -1]
    assert piece_alignment({(1, 1), (0, 1)}, [0, 0, 1], [0, 1, 1, 2]) == [-1, 0, 0, -1]  # several: the first
    assert piece_alignment(set(), [0], [0, 0]) == [-1, -1]
    # with the pieces: a word's longest piece, not the lone "▁" it starts with
    assert piece_alignment({(1, 0)}, [0, 1, 1, 1], [0], ["▁a", "▁", "bcd", "e"]) == [2]


def test_a_links_file_that_does_not_fit_its_pairs_is_named(tmp_path):
    pairs = [("a b c", "x y"), ("d", "z")]
    good = tmp_path / "good.align"
    good.write_text("0-0 2-1\n\n", encoding="utf-8")
    assert read_links(str(good), pairs) == [{(0, 0), (2, 1)}, set()]
    for text, message in (("0-0\n", "has 1 lines for 2 sentence pairs"),
                          ("0-0\n0-1\n", r":2: link 0-1 is outside the pair, which has 1 source and 1 target"),
                          ("0-0 x\n\n", r":1: 'x' is not a link")):
        (tmp_path / "bad.align").write_text(text, encoding="utf-8")
        with pytest.raises(UserError, match=message):
            read_links(str(tmp_path / "bad.align"), pairs)
