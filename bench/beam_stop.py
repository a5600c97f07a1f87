"""When beam search stops: exact search against stop margins, side by side in one run.

For each `search.stop_margin` m (0 is exact: a sentence stops only when no live hypothesis
could still win; m > 0 assumes each further piece costs at least m nats), on the first
model's validation and test splits: BLEU, the lines whose translation differs from exact
search's, hypothesis-steps per output piece (decoder rows computed, over the pieces of
the best translations, EOS included: a beam of K that never runs a finished sentence on
would need K) and seconds. The other search settings are the run's unless given.

    python bench/beam_stop.py -m runs/multi30k_de_en_fast --margins 0 0.1 0.2 0.4
    python bench/beam_stop.py -m runs/multi30k_de_en_fast --margins 0 0.3 --precision bf16
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import torch

from s2s.metrics import score
from s2s.text import read_parallel, split_path
from s2s.translator import Translator


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-m", "--model", required=True, help="checkpoint or run directory")
    parser.add_argument("--margins", type=float, nargs="+", default=[0.0, 0.1, 0.2, 0.4])
    parser.add_argument("--beam", type=int)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--precision", choices=("fp32", "bf16"), default="fp32",
                        help="what the model computes in (bf16: on a CPU with AVX512_BF16 or AMX)")
    return parser.parse_args()


def counted(translator: Translator) -> list[int]:
    """Makes the translator's model count the rows of every decoder step into the returned list."""
    rows, step = [0], translator.model.decode_step

    def decode_step(prev, memory, state):
        rows[0] += prev.size(0)
        return step(prev, memory, state)

    translator.model.decode_step = decode_step
    return rows


def main() -> None:
    args = parse_args()
    translator = Translator.load(args.model, torch.device("cpu"), batch_size=args.batch_size,
                                 precision=args.precision)
    rows = counted(translator)
    data = translator.config.data
    base = translator.search if args.beam is None else replace(translator.search, beam=args.beam)
    print(f"search: beam {base.beam}, length penalty {base.length_penalty} {base.alpha}; {args.precision}; "
          f"threads {torch.get_num_threads()}")
    print("| split | stop margin | BLEU | lines changed | hypothesis-steps per output piece | seconds |")
    print("|---|---:|---:|---:|---:|---:|")
    for name in ("valid", "test"):
        prefix = getattr(data, name)
        src, ref = read_parallel(split_path(prefix, data.src_lang), split_path(prefix, data.tgt_lang))
        exact = None
        for margin in args.margins:
            translator.search = replace(base, stop_margin=margin)
            rows[0] = 0
            start = time.perf_counter()
            found = [best[0] for best in translator.nbest(src, 1)]
            seconds = time.perf_counter() - start
            hyps = [t.text for t in found]
            pieces = sum(len(t.hypothesis.tokens) + 1 for t in found if t.hypothesis is not None)
            exact = hyps if exact is None else exact
            changed = sum(a != b for a, b in zip(hyps, exact))
            print(f"| {name} | {margin:g} | {score(hyps, ref)[0].score:.2f} | {changed} | {rows[0] / pieces:.2f} | "
                  f"{seconds:.1f} |", flush=True)


if __name__ == "__main__":
    main()
