"""Decoding over a lexical shortlist against the full vocabulary, side by side in one run.

For greedy search and beam 5 (the run's other search settings), on the model's validation
and test splits: BLEU, the lines whose translation differs from the full vocabulary's, the
mean shortlist size per batch, and decoding seconds (model loaded first; median of
`--repeats` rounds, the settings alternating within each round). Shortlists of each
`--top` are learnt here from the run's training text (`s2s shortlist` writes one to use).

    python bench/shortlist.py -m runs/multi30k_de_en --tops 20 50 100
    python bench/shortlist.py -m runs/multi30k_de_en --tops 50 100 200 --beams 5 --precision bf16
    python bench/shortlist.py -m runs/multi30k_de_en --tops 50 --beams 5 --full-normaliser --repeats 1
    python bench/shortlist.py -m runs/multi30k_de_en --tops 50 --beams 5 --estimate --precision bf16

`--full-normaliser` adds, for each top, a row that keeps the shortlist's choices but
normalises every step over the full vocabulary (so it computes the whole output layer: its
seconds are not a speed-up). It tells which of the two a BLEU change comes from: pieces the
shortlist leaves out, or log-probabilities normalised over fewer pieces. `--estimate` adds a
row for each top normalised over the estimated full vocabulary (s2s.normaliser, fitted here
to the checkpoint as `s2s shortlist` fits it).
"""

from __future__ import annotations

import argparse
import statistics
from dataclasses import replace

import torch

from machine import cpu
from rounds import alternating
from s2s.metrics import score
from s2s.shortlist import ShortlistModel, learn_for
from s2s.text import read_parallel, split_path
from s2s.translator import Translator


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-m", "--model", required=True, help="checkpoint or run directory")
    parser.add_argument("--tops", type=int, nargs="+", default=[20, 50, 100])
    parser.add_argument("--frequent", type=int, default=100)
    parser.add_argument("--beams", type=int, nargs="+", default=[1, 5])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--int8", action="store_true", help="int8 weights (--quantize int8) for every row")
    parser.add_argument("--precision", choices=("fp32", "bf16"), default="fp32",
                        help="what every row computes in (bf16: on a CPU with AVX512_BF16 or AMX)")
    parser.add_argument("--stop-margin", type=float, default=0.0, help="beam search's stop margin for every row")
    parser.add_argument("--full-normaliser", action="store_true",
                        help="also each top with every step normalised over the full vocabulary")
    parser.add_argument("--estimate", action="store_true",
                        help="also each top normalised over the estimated full vocabulary")
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()
    if args.int8 and args.precision == "bf16":
        parser.error("--int8 computes in fp32: leave out --precision bf16")
    return args


class FullNormaliser(ShortlistModel):
    """The shortlist's pieces, with log-probabilities normalised over the full vocabulary."""

    def decode_step(self, prev, memory, state):
        log_probs, weights, state = self.model.decode_step(prev, memory.memory, state)  # (B, V), every piece
        kept = log_probs.index_select(1, memory.vocabulary)  # (B, V'), the batch's shortlist columns
        return kept.add_(memory.outside), weights, state


def sizes(translator: Translator) -> list[tuple[int, float]]:
    """Makes the translator's shortlist record, for each batch, the rows of the output layer
    computed and the mean shortlist of its sentences into the returned list."""
    found, columns = [], translator.shortlist.columns

    def counted(src: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        ids, allowed = columns(src)
        found.append((len(ids), allowed.sum(dim=1).float().mean().item()))
        return ids, allowed

    object.__setattr__(translator.shortlist, "columns", counted)  # a frozen dataclass: set on this one object
    return found


def main() -> None:
    args = parse_args()
    base = Translator.load(args.model, torch.device("cpu"), batch_size=args.batch_size,
                           quantize="int8" if args.int8 else None, precision=args.precision)
    settings = {"full": base}
    for top in args.tops:
        shortlist, _ = learn_for(args.model, top=top, frequent=args.frequent, max_pairs=100_000,
                                 estimate=args.estimate)
        settings[f"top {top}"] = replace(base, shortlist=shortlist, search=replace(base.search, shortlist=True),
                                         shortlisted=ShortlistModel(base.model, shortlist))  # over the shortlist alone
        if args.estimate:
            own = replace(shortlist)
            settings[f"top {top}, estimate"] = replace(settings[f"top {top}"], shortlist=own,
                                                       shortlisted=ShortlistModel(base.model, own,
                                                                                  own.estimate_for(base.output_layer)))
        if args.full_normaliser:
            own = replace(shortlist)  # an object of its own, so that its batches are counted apart
            settings[f"top {top}, full normaliser"] = replace(settings[f"top {top}"], shortlist=own,
                                                              shortlisted=FullNormaliser(base.model, own))
    counts = {name: sizes(t) for name, t in settings.items() if t.shortlist is not None}
    data = base.config.data
    print(f"{cpu()}; torch {torch.__version__}, {torch.get_num_threads()} threads; weights "
          f"{'int8' if args.int8 else args.precision}; stop margin {args.stop_margin:g}; "
          f"frequent pieces {args.frequent}; target vocabulary {base.tokenizer.tgt_vocab_size}")
    print("| split | beam | vocabulary | rows per batch | pieces per sentence | BLEU | lines changed | seconds "
          "| speed-up |")
    print("|---|---:|---|---:|---:|---:|---:|---:|---:|")
    for split in ("valid", "test"):
        prefix = getattr(data, split)
        src, ref = read_parallel(split_path(prefix, data.src_lang), split_path(prefix, data.tgt_lang))
        for beam in args.beams:
            clear = lambda name: counts.get(name, []).clear()  # noqa: E731  this round's batches only
            hyps, seconds = alternating(settings, src, args.repeats, clear, beam=beam, stop_margin=args.stop_margin)
            full = seconds["full"]
            for name in settings:
                full_size = f"{base.tokenizer.tgt_vocab_size:,}"
                scored = (f"{statistics.mean(r for r, _ in counts[name]):,.0f} | "
                          f"{statistics.mean(p for _, p in counts[name]):,.0f}" if name in counts
                          else f"{full_size} | {full_size}")
                changed = sum(a != b for a, b in zip(hyps[name], hyps["full"]))
                print(f"| {split} | {beam} | {name} | {scored} | {score(hyps[name], ref)[0].score:.2f} | {changed} | "
                      f"{seconds[name]:.2f} | {full / seconds[name]:.2f}x |", flush=True)


if __name__ == "__main__":
    main()
