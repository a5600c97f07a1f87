"""Search speed and quality: greedy and beam search, batched and one sentence at a time.

Translates a test set with a trained model in each setting, in one run on one machine,
and prints BLEU, chrF and sentences/s (translation only: the model is loaded first;
tokenizing and detokenizing are included). Batched settings are timed `--repeats` times
and the median is shown; one-sentence-at-a-time settings, which are slow, once.

    python bench/search.py -m runs/multi30k_de_en          # Multi30k de-en test_2016_flickr
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from dataclasses import replace
from pathlib import Path

import torch

from s2s.text import read_parallel
from s2s.metrics import score
from s2s.translator import Translator


def parse_args() -> argparse.Namespace:
    data = Path(os.environ.get("S2S_DATA", "data")) / "multi30k"
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-m", "--model", default="runs/multi30k_de_en", help="checkpoint or run directory")
    parser.add_argument("--src", default=str(data / "test_2016_flickr.de"))
    parser.add_argument("--ref", default=str(data / "test_2016_flickr.en"))
    parser.add_argument("--beams", type=int, nargs="+", default=[1, 5, 10], help="beam sizes (1 = greedy)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of each batched setting")
    parser.add_argument("--no-single", action="store_true", help="skip one-sentence-at-a-time runs")
    return parser.parse_args()


def timed(translator: Translator, lines: list[str], repeats: int) -> tuple[list[str], float]:
    """Translations and the median seconds of `repeats` runs."""
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        out = translator.translate(lines)
        seconds.append(time.perf_counter() - start)
    return out, statistics.median(seconds)


def main() -> None:
    args = parse_args()
    torch.manual_seed(0)
    srcs, refs = read_parallel(Path(args.src), Path(args.ref))
    translator = Translator.load(args.model, torch.device("cpu"), precision="fp32")
    base = translator.search
    print(f"model {args.model}; {len(srcs)} sentences from {args.src}; torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads; length penalty {base.length_penalty} alpha {base.alpha} "
          f"for beams > 1")
    print()
    print("| search | batch | BLEU | chrF2 | sentences/s | seconds |")
    print("|---|---:|---:|---:|---:|---:|")
    speed = {}
    for beam in args.beams:
        translator.search = replace(base, beam=beam)
        for batch_size in ([args.batch_size] if args.no_single else [args.batch_size, 1]):
            translator.batch_size = batch_size
            out, seconds = timed(translator, srcs, args.repeats if batch_size > 1 else 1)
            bleu, chrf = score(out, refs)
            speed[beam, batch_size] = len(srcs) / seconds
            name = "greedy" if beam == 1 else f"beam {beam}"
            print(f"| {name} | {batch_size} | {bleu.score:.1f} | {chrf.score:.1f} | "
                  f"{speed[beam, batch_size]:.1f} | {seconds:.1f} |", flush=True)
    print()
    for beam in args.beams:
        if (beam, 1) in speed:
            print(f"beam {beam}: batched is {speed[beam, args.batch_size] / speed[beam, 1]:.1f}x "
                  f"one sentence at a time")
    print(f"signature: {bleu.signature}")


if __name__ == "__main__":
    main()
