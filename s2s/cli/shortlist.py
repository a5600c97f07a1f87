"""`s2s shortlist`: learn the lexical shortlist that `--shortlist` decodes over."""

from __future__ import annotations

import logging
import time

import click

from s2s.cli.common import setup_logging

log = logging.getLogger("s2s")


@click.command(short_help="Learn which target pieces each source piece translates to (for --shortlist).")
@click.option("-m", "--model", required=True, type=click.Path(exists=True),
              help="Checkpoint file, or run directory (its best.pt): its tokenizer and training text are used.")
@click.option("--top", type=click.IntRange(min=1), default=50, show_default=True,
              help="Target pieces kept for each source piece (by IBM Model 1's t(target | source)).")
@click.option("--frequent", type=click.IntRange(min=0), default=100, show_default=True,
              help="The most frequent target pieces, always in the shortlist.")
@click.option("--max-pairs", type=click.IntRange(min=1), default=100_000, show_default=True,
              help="Learn from at most this many training pairs, spread evenly over the corpus "
                   "(IBM Model 1 holds every source x target piece pair of them: 0.8 GB at most for "
                   "Multi30k's 29,000 pairs of 15 pieces a side, about 3 GB for 100,000 of 20).")
@click.option("--estimate/--no-estimate", default=True, show_default=True,
              help="Also fit to this checkpoint an estimate of the probability mass the shortlist leaves "
                   "out, so that decoding normalises over the estimated full vocabulary rather than the "
                   "shortlist alone (20 s more for Multi30k on 2 cores; beam search then loses less BLEU).")
def shortlist(model, top, frequent, max_pairs, estimate) -> None:
    """Learn a lexical shortlist from a run's training text and write it to RUN/shortlist.pt.

    Translating with --shortlist (or search.shortlist: true) then scores, for each batch,
    only the target pieces that its source pieces translate to, instead of the whole
    target vocabulary: the output layer, the largest product of a decoding step, shrinks.
    The estimate is fitted to this checkpoint: after training further, run this again.

    \b
    Examples:
      s2s shortlist -m runs/demo
      s2s translate -m runs/demo --shortlist < data/demo/test.src > hyp.txt
    """
    from s2s.shortlist import learn_for, path_for

    setup_logging(verbose=True)
    start = time.perf_counter()
    found, pairs = learn_for(model, top=top, frequent=frequent, max_pairs=max_pairs, estimate=estimate)
    where = path_for(model)
    found.save(where, {"top": top, "frequent": frequent, "pairs": pairs})
    log.info("learnt from %d training pairs in %.1f s: %d target pieces always in, up to %d per source piece; "
             "wrote %s", pairs, time.perf_counter() - start, len(found.always), top, where)
    if found.normaliser is not None:
        error = found.normaliser["error"]
        log.info("the left-out mass, log(Z_full / Z_shortlist) per target position of %d held-out training "
                 "pieces: mean absolute error %.3f estimated, %.3f with the shortlist alone",
                 error["held_out"], error["estimate"], error["shortlist"])
