"""Sentence splitters on paragraphs made of known sentences: which finds the boundaries.

Joins every 5 consecutive lines of each validation set into one paragraph and asks each
splitter for its sentences. A boundary between two joined lines that a splitter does not
find is a miss; a cut inside a line is an extra (a line may hold two sentences, so some
extras are right). Also prints each splitter's time per line. sentencex is what s2s uses;
the others are measured where they are installed (`pip install pysbd syntok sentence-splitter`).

    python bench/sentences.py                 # validation sets under $S2S_DATA, and the demo's
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from pathlib import Path

from s2s.text import read_lines

GROUP = 5


def data_sets() -> dict[str, tuple[Path, str]]:
    root = Path(os.environ.get("S2S_DATA", "data"))
    sets = {f"multi30k val.{lang}": (root / "multi30k" / f"val.{lang}", lang) for lang in ("de", "en", "fr", "cs")}
    sets.update({"tatoeba-en-de valid.en": (root / "tatoeba-en-de" / "valid.en", "en"),
                 "tatoeba-en-de valid.de": (root / "tatoeba-en-de" / "valid.de", "de"),
                 "tatoeba-en-fr valid.fr": (root / "tatoeba-en-fr" / "valid.fr", "fr"),
                 "demo valid.src": (Path("data/demo/valid.src"), "en")})
    return {name: found for name, found in sets.items() if found[0].exists()}


def splitters() -> dict[str, Callable[[str, str], list[str]]]:
    from s2s.segment import sentences
    found: dict[str, Callable[[str, str], list[str]]] = {
        "sentencex (s2s)": sentences,
        "regex [.!?] + space": lambda text, lang: [s for s in re.split(r"(?<=[.!?])\s+", text) if s]}
    try:
        import pysbd
        cache: dict = {}

        def pysbd_split(text: str, lang: str) -> list[str]:
            if lang not in cache:
                try:
                    cache[lang] = pysbd.Segmenter(language=lang, clean=False)
                except ValueError:  # a language it has no rules for
                    cache[lang] = pysbd.Segmenter(language="en", clean=False)
            return [s.strip() for s in cache[lang].segment(text) if s.strip()]
        found["pysbd"] = pysbd_split
    except ImportError:
        pass
    try:
        import syntok.segmenter as syntok
        found["syntok"] = lambda text, lang: ["".join(t.spacing + t.value for t in sentence).strip()
                                              for paragraph in syntok.analyze(text) for sentence in paragraph]
    except ImportError:
        pass
    try:
        from sentence_splitter import SentenceSplitter
        moses: dict = {}
        found["sentence-splitter (Moses rules)"] = \
            lambda text, lang: moses.setdefault(lang, SentenceSplitter(language=lang)).split(text)
    except ImportError:
        pass
    return found


def boundaries(parts: list[str]) -> set[int]:
    """Where each part but the last ends, in characters of the text without whitespace."""
    ends, at = set(), 0
    for part in parts[:-1]:
        at += len("".join(part.split()))
        ends.add(at)
    return ends


def main() -> None:
    print(f"paragraphs of {GROUP} consecutive lines (the first 1,000 lines of each set): boundaries missed, "
          "cuts inside a line, paragraphs split exactly, milliseconds per line")
    print()
    tools = splitters()
    print("| set | " + " | ".join(tools) + " |")
    print("|---|" + "---:|" * len(tools))
    for name, (path, lang) in data_sets().items():
        lines = [line.strip() for line in read_lines(path) if line.strip()][:1000]
        groups = [lines[i:i + GROUP] for i in range(0, len(lines), GROUP)]
        cells = []
        for split in tools.values():
            missed = extra = exact = 0
            start = time.perf_counter()
            for group in groups:
                parts = split(" ".join(group), lang)
                gold, got = boundaries(group), boundaries(parts)
                missed, extra, exact = missed + len(gold - got), extra + len(got - gold), exact + (parts == group)
            ms = 1000 * (time.perf_counter() - start) / len(lines)
            cells.append(f"{missed} / {extra} / {exact} of {len(groups)} / {ms:.2f}")
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
