"""Cutting lines into units: every sentence alone, long sentences in parts that fit, nothing lost."""

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from s2s.segment import halves, sentences, split_line
from tests.conftest import load_demo_module

words = lambda text: len(text.split())  # noqa: E731  a piece count of one piece per word


def test_a_single_sentence_within_the_limit_stays_whole():
    assert split_line("  A short line.  ", words, 5) == ["A short line."]


def test_every_sentence_is_a_unit_of_its_own_however_short():
    text = "One two three. Four five six! Seven eight? Nine."
    expected = ["One two three.", "Four five six!", "Seven eight?", "Nine."]
    assert split_line(text, words, 4) == expected
    assert split_line(text, words, 100) == expected


def test_abbreviations_numbers_and_quotes_do_not_end_sentences():
    assert sentences('Mr. Smith paid $3.50 for it. He said: "Go home." Then he left!', "en") == \
        ["Mr. Smith paid $3.50 for it.", 'He said: "Go home."', "Then he left!"]
    assert sentences("Dr. Müller kam z. B. am 3. Mai. Er ging.", "de") == ["Dr. Müller kam z. B. am 3. Mai.", "Er ging."]


def test_a_long_sentence_is_cut_at_clauses_then_words():
    text = "a b c, d e; f g h i j k l m."
    assert split_line(text, words, 3) == ["a b c,", "d e;", "f g h", "i j k", "l m."]


def test_parts_of_a_long_sentence_are_packed_up_to_the_packing_limit():
    text = "a b, c d, e f, g h, i j."  # 10 words, over a limit of 8
    assert split_line(text, words, 8) == ["a b, c d, e f, g h,", "i j."]
    assert split_line(text, words, 8, pack=4) == ["a b, c d,", "e f, g h,", "i j."]
    assert split_line(text, words, 10, pack=4) == [text]  # within the limit: whole


def test_text_without_spaces_is_cut_inside_runs():
    text = "\u4e2d\u6587\u6ca1\u6709\u7a7a\u683c\u7684\u53e5\u5b50\u5f88\u957f"  # 12 characters, no spaces
    parts = split_line(text, len, 5)
    assert parts == [text[:5], text[5:10], text[10:]]
    cjk = "\u6211\u6765\u4e86\u3002\u4f60\u597d\u5417\uff1f\u5f88\u597d\u3002"  # three sentences
    assert split_line(cjk, len, 8, lang="zh") == [cjk[:4], cjk[4:8], cjk[8:]]


def test_halves_prefer_a_sentence_or_clause_end_near_the_middle():
    assert halves("A dog runs. A cat sleeps") == ["A dog runs.", "A cat sleeps"]  # a period the splitter missed
    assert halves("a b c d, e f g h") == ["a b c d,", "e f g h"]
    assert halves("a, b c d e f g h i j") == ["a, b c d e", "f g h i j"]  # the comma is too far from the middle
    assert halves("abcdef") == ["abc", "def"]
    assert halves("x") is None


def test_demo_sentences_joined_into_a_paragraph_come_back_as_they_were():
    demo = load_demo_module()
    rng = random.Random(3)
    pairs = demo.generate(300, rng, set())
    for size in (1, 2, 5, 20, 50):
        chosen = [src for src, _ in rng.sample(pairs, size)]
        assert sentences(" ".join(chosen), "en") == chosen


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab .,;!?\u3002 \"'")), max_size=300), st.integers(2, 12),
       st.integers(1, 12))
def test_parts_fit_and_keep_every_character(text, limit, pack):
    pack = min(pack, limit)
    parts = split_line(text, len, limit, pack=pack)
    assert all(len(part) <= limit for part in parts)
    squeeze = lambda s: "".join(s.split())  # noqa: E731  only whitespace may change
    assert squeeze("".join(parts)) == squeeze(text)
    assert all(part.strip() == part and part for part in parts)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200), st.sampled_from(["en", "de", "fr", "cs", "zh", "src", ""]))
def test_any_text_in_any_language_keeps_its_characters(text, lang):
    squeeze = lambda s: "".join(s.split())  # noqa: E731
    assert squeeze("".join(sentences(text, lang))) == squeeze(text)
    cut = halves(text)
    assert cut is None or (squeeze("".join(cut)) == squeeze(text) and all(cut))
