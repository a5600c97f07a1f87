"""Decoding in bf16, int8 and over the shortlist against exact fp32 search, side by side.

For greedy search and beam 5 (the run's other search settings), on the model's validation
and test splits, each setting against fp32 over the full vocabulary: BLEU, its difference,
the lines whose translation differs, and decoding seconds (model loaded first; median of
`--repeats` rounds, the settings alternating within each round). A setting is a number
format (fp32, bf16, int8), with `+shortlist` to score only the run's shortlist
(`s2s shortlist -m RUN` makes it). bf16 is fast only where the CPU has AVX512_BF16 or AMX;
the first line of the output says whether this one has.

    python bench/precision.py -m runs/multi30k_de_en --settings fp32 bf16 bf16+shortlist int8
"""

from __future__ import annotations

import argparse

import torch

from s2s.metrics import score
from s2s.text import read_parallel, split_path
from s2s.translator import Translator

from machine import cpu
from rounds import FORMATS, alternating, load_format


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-m", "--model", required=True, help="checkpoint or run directory")
    parser.add_argument("--settings", nargs="+", default=["bf16", "bf16+shortlist", "int8"],
                        help="each FORMAT or FORMAT+shortlist (FORMAT: fp32, bf16, int8); fp32 over the full "
                             "vocabulary is always measured, as the reference")
    parser.add_argument("--beams", type=int, nargs="+", default=[1, 5])
    parser.add_argument("--splits", nargs="+", default=["valid", "test"], choices=["valid", "test"])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64)
    return parser.parse_args()


def load(model: str, setting: str, batch_size: int) -> Translator:
    """The translator of one setting, FORMAT or FORMAT+shortlist."""
    number, _, extra = setting.partition("+")
    if number not in FORMATS or extra not in ("", "shortlist"):
        raise SystemExit(f"--settings: {setting!r} is not FORMAT or FORMAT+shortlist (FORMAT: {', '.join(FORMATS)})")
    translator = load_format(model, number, batch_size=batch_size).with_search(shortlist=extra == "shortlist")
    translator.load_shortlist()
    return translator


def main() -> None:
    args = parse_args()
    names = ["fp32"] + [s for s in dict.fromkeys(args.settings) if s != "fp32"]
    settings = {name: load(args.model, name, args.batch_size) for name in names}
    data = settings["fp32"].config.data
    print(f"{cpu()}; torch {torch.__version__}, {torch.get_num_threads()} threads; {args.model}; "
          f"batch {args.batch_size}; median of {args.repeats} rounds")
    print("| split | beam | setting | BLEU | against fp32 | lines changed | seconds | speed-up |")
    print("|---|---:|---|---:|---:|---:|---:|---:|")
    for split in args.splits:
        prefix = getattr(data, split)
        src, ref = read_parallel(split_path(prefix, data.src_lang), split_path(prefix, data.tgt_lang))
        for beam in args.beams:
            hyps, seconds = alternating(settings, src, args.repeats, beam=beam)
            exact = score(hyps["fp32"], ref)[0].score
            for name in settings:
                bleu = score(hyps[name], ref)[0].score
                changed = sum(a != b for a, b in zip(hyps[name], hyps["fp32"]))
                print(f"| {split} | {beam} | {name} | {bleu:.2f} | {bleu - exact:+.2f} | {changed} | "
                      f"{seconds[name]:.2f} | {seconds['fp32'] / seconds[name]:.2f}x |", flush=True)


if __name__ == "__main__":
    main()
