"""Segmenting a line that is too long for the model into parts it can translate.

A line whose source pieces exceed the limit is cut at the most natural boundaries that
make every part fit: after sentence-final punctuation first, then after clause
punctuation, then at spaces, and only as a last resort inside a run of characters (text
without spaces, such as Chinese or Japanese, or a very long token). Parts are packed
greedily, so a line becomes as few parts as those boundaries allow; only whitespace at
the cuts is lost.
"""

from __future__ import annotations

import re
from collections.abc import Callable

# Each level cuts after what its pattern matches (whitespace at the ends of a part is dropped).
LEVELS = (
    re.compile(r"(?<=[.!?\u3002\uff01\uff1f\u0964\u061f])\s+|(?<=[\u3002\uff01\uff1f])"),  # sentences
    re.compile(r"(?<=[,;:\u3001\uff0c\uff1b\uff1a\u060c])\s+|(?<=[\uff0c\uff1b\u3001])"),  # clauses
    re.compile(r"\s+"),  # words
)


def split_line(text: str, count: Callable[[str], int], limit: int) -> list[str]:
    """Parts of `text`, each with count(part) <= limit pieces (limit >= 1), in order."""
    text = text.strip()
    if count(text) <= limit:
        return [text]
    return _split(text, count, limit, 0)


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
