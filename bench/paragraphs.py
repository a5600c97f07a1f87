"""Long lines translated whole: paragraphs of N sentences against the same sentences one per line.

Joins every N consecutive lines of a test set into one line (a paragraph, as users paste
them), translates the paragraphs and the lines with one model, and prints for each N:
BLEU and chrF2 of the paragraph translations against the joined references, the same for
the one-per-line translations joined the same way, and the words the paragraph
translations keep (overall and in the worst paragraph), against the one-per-line ones.

    python bench/paragraphs.py -m runs/multi30k_de_en --sizes 5        # the run's data.test split
    python bench/paragraphs.py -m runs/demo --src data/demo/test.src --ref data/demo/test.tgt \\
        --sizes 1-50 --one-each
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from s2s.text import read_parallel, split_path
from s2s.metrics import score
from s2s.translator import Translator


@dataclass(frozen=True)
class Row:
    size: int  # sentences per paragraph
    paragraphs: int
    bleu: float  # of the paragraph translations, against the joined references
    bleu_lines: float  # of the one-per-line translations joined into the same paragraphs
    chrf: float
    chrf_lines: float
    words: float  # words of the paragraph translations / words of the one-per-line ones
    worst_words: float  # the same for the paragraph that keeps the fewest


def groups(count: int, size: int, one_each: bool, offset: int = 0) -> list[list[int]]:
    """Line indices of the paragraphs of `size` sentences: every `size` consecutive lines,
    or (one_each) a single paragraph starting at `offset`, wrapping round the set."""
    if one_each:
        return [[(offset + i) % count for i in range(size)]]
    return [list(range(start, min(start + size, count))) for start in range(0, count, size)]


def compare(translator: Translator, srcs: list[str], refs: list[str], sizes: list[int],
            one_each: bool = False) -> list[Row]:
    """One row per paragraph size: paragraph and one-per-line translations, scored alike."""
    lines = translator.translate(srcs)
    rows, offset = [], 0
    for size in sizes:
        rows.append(score_paragraphs(translator, srcs, refs, lines, groups(len(srcs), size, one_each, offset)))
        offset += size
    return rows


def score_paragraphs(translator: Translator, srcs: list[str], refs: list[str], lines: list[str],
                     chosen: list[list[int]]) -> Row:
    """Translates the paragraphs made of `chosen` lines and scores them beside `lines`, the
    one-per-line translations, joined the same way."""
    paragraphs = translator.translate([" ".join(srcs[i] for i in g) for g in chosen])
    joined = [" ".join(lines[i] for i in g) for g in chosen]
    references = [" ".join(refs[i] for i in g) for g in chosen]
    ratios = [len(p.split()) / max(1, len(j.split())) for p, j in zip(paragraphs, joined)]
    bleu, chrf = score(paragraphs, references)
    bleu_lines, chrf_lines = score(joined, references)
    words = sum(len(p.split()) for p in paragraphs) / max(1, sum(len(j.split()) for j in joined))
    return Row(max(map(len, chosen)), len(chosen), bleu.score, bleu_lines.score, chrf.score, chrf_lines.score,
               words, min(ratios))


def parse_sizes(text: str) -> list[int]:
    """'5', '1,5,10' or '1-50'."""
    sizes: list[int] = []
    for part in text.split(","):
        low, _, high = part.partition("-")
        sizes += list(range(int(low), int(high or low) + 1))
    return sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-m", "--model", default="runs/multi30k_de_en", help="checkpoint or run directory")
    parser.add_argument("--src", help="source lines (default: the run's data.test)")
    parser.add_argument("--ref", help="reference lines (default: the run's data.test)")
    parser.add_argument("--sizes", default="5", help="sentences per paragraph: 5, 1,5,10 or 1-50")
    parser.add_argument("--one-each", action="store_true", help="one paragraph per size instead of the whole set")
    parser.add_argument("--beam", type=int, help="beam size (default: the run's search section)")
    args = parser.parse_args()
    torch.manual_seed(0)
    translator = Translator.load(args.model, torch.device("cpu"), precision="fp32")
    if args.beam:
        translator.search = replace(translator.search, beam=args.beam)
    data = translator.config.data
    src = Path(args.src) if args.src else split_path(data.test, data.src_lang)
    ref = Path(args.ref) if args.ref else split_path(data.test, data.tgt_lang)
    srcs, refs = read_parallel(src, ref)
    print(f"model {args.model}; {len(srcs)} lines of {src}; beam {translator.search.beam}; sentences "
          f"longer than {translator.max_src_len} source pieces are cut")
    print()
    print("| sentences per paragraph | paragraphs | BLEU paragraphs / lines | chrF2 paragraphs / lines "
          "| words kept (worst paragraph) |")
    print("|---:|---:|---:|---:|---:|")
    rows = compare(translator, srcs, refs, parse_sizes(args.sizes), args.one_each)
    for r in rows:
        print(f"| {r.size} | {r.paragraphs} | {r.bleu:.1f} / {r.bleu_lines:.1f} | {r.chrf:.1f} / {r.chrf_lines:.1f} "
              f"| {100 * r.words:.1f}% ({100 * r.worst_words:.1f}%) |")


if __name__ == "__main__":
    main()
