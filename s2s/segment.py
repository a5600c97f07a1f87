"""Cutting a line into the units a model translates: its sentences, and parts of the
sentences that are too long for it.

Models learn from sentence pairs, and a recurrent model given several sentences at once
tends to translate the first and stop. So a line is cut at every sentence end first,
by sentencex (Wikimedia's rule-based segmenter: abbreviations, numbers and quotes in
about 300 languages, with a fallback for the rest). A sentence with more source pieces
than the limit is then cut at the most natural boundaries that make every part fit the
packing limit: after clause punctuation first, then at spaces, and only as a last
resort inside a run of characters (text without spaces, such as Chinese or Japanese, or
a very long token); those parts are packed greedily up to that limit. Only whitespace at
the cuts is lost.

`halves` cuts one unit in two near its middle, for translating again a unit whose
translation came out too short.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

import sentencex

log = logging.getLogger(__name__)

# Inside a sentence, each level cuts after what its pattern matches (whitespace at the ends
# of a part is dropped). The first catches sentence ends that sentencex took for abbreviations.
LEVELS = (
    re.compile(r"(?<=[.!?\u3002\uff01\uff1f\u0964\u061f])\s+|(?<=[\u3002\uff01\uff1f])"),  # sentences
    re.compile(r"(?<=[,;:\u3001\uff0c\uff1b\uff1a\u060c])\s+|(?<=[\uff0c\uff1b\u3001])"),  # clauses
    re.compile(r"\s+"),  # words
)
BALANCE = 0.25  # `halves` takes a boundary of a higher level if each half keeps this share of the text


def _squeeze(text: str) -> str:
    return "".join(text.split())


def sentences(text: str, lang: str) -> list[str]:
    """The sentences of `text` (a language code such as "de"; unknown codes get generic rules)."""
    text = text.strip()
    found = [s.strip() for s in sentencex.segment(lang, text) if s.strip()]
    if not found or _squeeze("".join(found)) != _squeeze(text):  # never lose or reorder text
        return [text] if text else []
    return found


def split_line(text: str, count: Callable[[str], int], limit: int, lang: str = "en",
               pack: int | None = None) -> list[str]:
    """Units of `text`, in order: each sentence alone, and a sentence of more than `limit`
    pieces (limit >= 1) cut into parts of at most `pack` pieces each (default `limit`)."""
    return [part for sentence in sentences(text, lang) for part in cut_sentence(sentence, count, limit, pack)]


def cut_sentence(sentence: str, count: Callable[[str], int], limit: int, pack: int | None = None) -> list[str]:
    """[sentence] if it has at most `limit` pieces, else its parts of at most `pack` pieces."""
    return [sentence] if count(sentence) <= limit else _split(sentence, count, pack or limit, 0)


def _units(text: str, level: int) -> list[str]:
    """`text` cut after each boundary of `level`, each unit keeping what follows it."""
    cuts = [m.end() for m in LEVELS[level].finditer(text)]
    edges = [0] + [c for c in cuts if 0 < c < len(text)] + [len(text)]
    return [text[a:b] for a, b in zip(edges, edges[1:]) if b > a]


def _split(text: str, count: Callable[[str], int], limit: int, level: int) -> list[str]:
    if level == len(LEVELS):
        return _split_characters(text, count, limit)
    parts: list[str] = []
    current = ""
    for unit in _units(text, level):
        if count((current + unit).strip()) <= limit:
            current += unit
            continue
        if current.strip():
            parts.append(current.strip())
        if count(unit.strip()) <= limit:
            current = unit
        else:  # this unit alone is too long: cut it at the next level down; its last part
            *whole, current = _split(unit.strip(), count, limit, level + 1)  # may share with the next
            parts.extend(whole)
            current += unit[len(unit.rstrip()):]  # keep the whitespace that followed the unit
    if current.strip():
        parts.append(current.strip())
    return parts


def _split_characters(text: str, count: Callable[[str], int], limit: int) -> list[str]:
    """Cuts a run without boundaries into the longest prefixes that fit (by bisection).

    A prefix is looked for among the first 32 characters per allowed piece, which keeps
    each search short on very long runs.
    """
    parts = []
    while text:
        low, high = 1, min(len(text), 32 * limit)  # the longest prefix that fits is in [low, high]
        while low < high:
            middle = (low + high + 1) // 2
            if count(text[:middle]) <= limit:
                low = middle
            else:
                high = middle - 1
        parts.append(text[:low])
        text = text[low:]
    return parts


def halves(text: str) -> list[str] | None:
    """`text` cut in two at its most natural boundary near the middle, or None when it
    cannot be cut (one character).

    A sentence or clause boundary is taken when each half keeps at least BALANCE of the
    characters; otherwise the space nearest the middle; text without spaces is cut in
    the middle.
    """
    text = text.strip()
    middle = len(text) / 2
    for level, pattern in enumerate(LEVELS):
        cuts = [m for m in pattern.finditer(text) if 0 < m.start() and m.end() < len(text)]
        if not cuts:
            continue
        best = min(cuts, key=lambda m: abs(m.start() - middle))
        if level == len(LEVELS) - 1 or min(best.start(), len(text) - best.end()) >= BALANCE * len(text):
            return [text[:best.start()].strip(), text[best.end():].strip()]
    if len(text) < 2:
        return None
    return [text[:len(text) // 2], text[len(text) // 2:]]


def plan_lines(lines: list[str], numbers: list[int], encode: Callable[[list[str]], list[list[int]]],
               limit: int, pack: int, lang: str) -> tuple[list[list[str]], dict[str, list[int]]]:
    """What is translated of each line: the line itself where `limit` is 0, else its
    sentences, each cut into parts of at most `limit` source pieces (packed up to `pack`)
    where longer; and the pieces of the sentences, encoded once in one call. Lines are
    numbered `numbers` in the warning that names a sentence cut into parts."""
    if not limit:
        return [[line] for line in lines], {}
    found = [sentences(line, lang) for line in lines]
    flat = [sentence for line in found for sentence in line]
    encoded = dict(zip(flat, encode(flat)))
    count = lambda text: len(encoded[text] if text in encoded else encode([text])[0])  # noqa: E731
    plans = []
    for number, line in zip(numbers, found):
        units: list[str] = []
        for sentence in line:
            parts = cut_sentence(sentence, count, limit, pack)
            if len(parts) > 1:
                log.warning("line %d: a sentence of %d source pieces is longer than the limit of %d "
                            "(--max-src-len; by default the longest training sentence); translated in %d "
                            "parts, joined", number, count(sentence), limit, len(parts))
            units += parts
        plans.append(units)
    return plans, encoded
