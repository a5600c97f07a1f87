"""Splitting over-long lines: natural boundaries first, every part within the limit, nothing lost."""

from hypothesis import given, settings
from hypothesis import strategies as st

from s2s.segment import split_line

words = lambda text: len(text.split())  # noqa: E731  a piece count of one piece per word


def test_a_line_within_the_limit_stays_whole():
    assert split_line("  A short line.  ", words, 5) == ["A short line."]


def test_sentences_are_kept_together_where_they_fit():
    text = "One two three. Four five six! Seven eight? Nine."
    assert split_line(text, words, 4) == ["One two three.", "Four five six!", "Seven eight? Nine."]
    assert split_line(text, words, 6) == ["One two three. Four five six!", "Seven eight? Nine."]


def test_a_long_sentence_is_cut_at_clauses_then_words():
    text = "a b c, d e; f g h i j k. l m."
    assert split_line(text, words, 3) == ["a b c,", "d e;", "f g h", "i j k.", "l m."]


def test_the_rest_of_a_cut_sentence_shares_a_part_with_the_next():
    assert split_line("a b c d e f g. h.", words, 4) == ["a b c d", "e f g. h."]


def test_text_without_spaces_is_cut_inside_runs():
    text = "\u4e2d\u6587\u6ca1\u6709\u7a7a\u683c\u7684\u53e5\u5b50\u5f88\u957f"  # 12 characters, no spaces
    parts = split_line(text, len, 5)
    assert parts == [text[:5], text[5:10], text[10:]]
    cjk = "\u6211\u6765\u4e86\u3002\u4f60\u597d\u5417\uff1f\u5f88\u597d\u3002"  # three sentences
    assert split_line(cjk, len, 8) == [cjk[:8], cjk[8:]]


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab .,;!?\u3002 ")), max_size=300), st.integers(2, 12))
def test_parts_fit_and_keep_every_character(text, limit):
    parts = split_line(text, len, limit)
    assert all(len(part) <= limit for part in parts)
    squeeze = lambda s: "".join(s.split())  # noqa: E731  only whitespace may change
    assert squeeze("".join(parts)) == squeeze(text)
