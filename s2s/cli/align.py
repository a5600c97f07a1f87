"""`s2s align`: word alignments of given sentence pairs, read off a model's attention, or
from a statistical aligner (s2s.hmm) learned on the pairs themselves."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import click
from tqdm import tqdm

from s2s.cli.common import (batch_option, count_lines, device_option, load_translator, quiet_option, setup_logging,
                            show_progress, write_results)
from s2s.cli.translate import check_attention, utf8_option
from s2s.alignment import SYMMETRIZE
from s2s.errors import UserError

CHUNK = 3200  # pairs read and aligned at a time: memory stays flat on large files


@click.command(short_help="Word alignments of sentence pairs, from a model's attention or learned from the pairs.")
@click.option("-m", "--model", type=click.Path(exists=True),
              help="A model translating --src into --tgt: checkpoint file, or run directory (its best.pt). "
                   "Without it, a statistical aligner learns from the pairs themselves.")
@click.option("--src", "src_file", required=True, type=click.Path(exists=True, dir_okay=False),
              help="Source sentences, one per line (UTF-8, .gz accepted).")
@click.option("--tgt", "tgt_file", required=True, type=click.Path(exists=True, dir_okay=False),
              help="Their translations, line by line.")
@click.option("-o", "--output", default="-", show_default=True, type=click.Path(dir_okay=False, allow_dash=True),
              help="Where alignments go ('-' = stdout); a file appears only once complete.")
@click.option("--backward", type=click.Path(exists=True),
              help="A model translating --tgt into --src: align both ways and combine (--symmetrize).")
@click.option("--symmetrize", type=click.Choice(SYMMETRIZE), default="grow-diag-final-and", show_default=True,
              help="How the two directions' links combine: --backward's with --model's, or, without -m, "
                   "the two the pairs taught.")
@utf8_option
@batch_option
@device_option
@quiet_option
def align(model, src_file, tgt_file, output, backward, symmetrize, utf8_errors, batch_size, device_name,
          quiet) -> None:
    """Align the words of each sentence pair (forced decoding: the model reads --tgt as its own
    translation of --src). Prints one line per pair, in Pharaoh format: 'i-j' links from
    source word i to target word j, 0-based, words split at whitespace; a pair with a blank
    side gives an empty line.

    \b
    Each target word is linked to the source word that its attention weighs most, or, for
    a model with an alignment head (model.alignment_head), that its head weighs most (none
    where the head weighs the source's end most). With
    --backward, each source word is also linked to the target word that the other model's
    attention weighs most, and the two are combined.

    \b
    Without -m, no model is needed: an HMM word aligner learns from the pairs themselves,
    both directions trained by agreement, and the two are combined (--symmetrize). It reads
    all pairs into memory first. It reads words lowercased and with punctuation split off
    ("cat." is two tokens), and gives the links of their whitespace words (those of "cat."
    are those of "cat").

    \b
    Examples:
      s2s align -m runs/demo --src data/demo/test.src --tgt data/demo/test.tgt
      s2s align -m runs/en_fr --backward runs/fr_en --src text.en --tgt text.fr -o text.align
      s2s align --src train.de --tgt train.en -o train.align
    """
    from s2s.alignment import pharaoh, symmetrize as combine
    from s2s.text import read_lines

    setup_logging(verbose=False)
    counts = count_lines(src_file), count_lines(tgt_file)
    if None not in counts and counts[0] != counts[1]:
        raise UserError(f"--src {src_file} has {counts[0]} lines but --tgt {tgt_file} has {counts[1]}: "
                        "each source line needs its translation on the same line")
    if model is None:
        if backward is not None:
            raise UserError("--backward needs -m: without a model, s2s align learns both directions itself")
        write_results(_learned(src_file, tgt_file, symmetrize, utf8_errors), output)
        return
    forward = load_translator(model, device_name, batch_size, 0, {})
    check_attention(forward, model, "align words by")
    reverse = None
    if backward is not None:
        reverse = load_translator(backward, device_name, batch_size, 0, {})
        check_attention(reverse, backward, "align words by")

    def aligned() -> Iterator[str]:
        for src, tgt in _chunks(read_lines(src_file, utf8_errors), read_lines(tgt_file, utf8_errors),
                                src_file, tgt_file):
            there = [set(forward.alignment(t)) for t in forward.force_all(src, tgt)]
            if reverse is not None:
                back = [{(i, j) for j, i in reverse.alignment(t)} for t in reverse.force_all(tgt, src)]
                there = [combine(a, b, symmetrize) for a, b in zip(there, back)]
            yield from (pharaoh(links) for links in there)

    lines = tqdm(aligned(), unit=" pairs", desc="aligning", leave=False, disable=not show_progress(quiet),
                 total=counts[0])
    write_results(lines, output)


def _learned(src_file: str, tgt_file: str, method: str, utf8_errors: str) -> Iterator[str]:
    """Pharaoh lines of every pair from s2s.hmm's aligners, trained both ways on them
    (s2s.hmm.text_links)."""
    from s2s.alignment import pharaoh
    from s2s.hmm import text_links
    from s2s.text import read_lines

    src, tgt = [], []
    for a, b in _chunks(read_lines(src_file, utf8_errors), read_lines(tgt_file, utf8_errors), src_file, tgt_file):
        src.extend(a)
        tgt.extend(b)
    yield from (pharaoh(links) for links in text_links(src, tgt, method))


def _chunks(src: Iterator[str], tgt: Iterator[str], src_name: str, tgt_name: str
            ) -> Iterator[tuple[list[str], list[str]]]:
    """Pairs of lines a chunk at a time; a file that ends before the other is an error."""
    done = 0
    while True:
        a = list(itertools.islice(src, CHUNK))
        b = list(itertools.islice(tgt, len(a)))
        if len(b) < len(a) or (not a and next(tgt, None) is not None):
            name, path, ends = ("--tgt", tgt_name, done + len(b)) if a else ("--src", src_name, done)
            raise UserError(f"{name} {path} ends after {ends} lines, before the other file: each source "
                            "line needs its translation on the same line")
        if not a:
            return
        done += len(a)
        yield a, b
