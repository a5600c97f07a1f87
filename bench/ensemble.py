"""Ensembles against their members, side by side in one run: validation and test BLEU, test
chrF2 and translation speed of each model alone, of the first two together and of all of
them together, with one search setting for all (the run's search section unless --beam,
--length-penalty or --alpha say otherwise).

    python bench/ensemble.py -m runs/fast_s1 -m runs/fast_s2 [-m runs/fast_s3]

Validation and test splits are those of the first model's config. Sentences/s count the
translation of the test set with the models loaded (batch 64), encoding and detokenizing
included; the machine should be otherwise idle.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

import torch

from machine import cpu
from s2s.ensemble import Ensemble
from s2s.errors import UserError
from s2s.loader import check_same_tokenizer
from s2s.metrics import score
from s2s.text import read_parallel, split_path
from s2s.translator import Translator


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-m", "--model", dest="models", action="append", required=True,
                        help="checkpoint or run directory (its best.pt); give it 2 or more times")
    parser.add_argument("--beam", type=int)
    parser.add_argument("--length-penalty", choices=["none", "length", "gnmt"])
    parser.add_argument("--alpha", type=float)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--json", help="also write the rows to this file")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if len(args.models) < 2:
        raise SystemExit("give -m at least twice")
    singles = [Translator.load(m, torch.device("cpu"), batch_size=args.batch_size, precision="fp32") for m in args.models]
    first = singles[0]
    data = first.config.data
    search = replace(first.search, **{k: v for k, v in (("beam", args.beam), ("length_penalty", args.length_penalty),
                                                          ("alpha", args.alpha)) if v is not None})
    valid = read_parallel(split_path(data.valid, data.src_lang), split_path(data.valid, data.tgt_lang))
    test = read_parallel(split_path(data.test, data.src_lang), split_path(data.test, data.tgt_lang))
    print(f"CPU: {cpu()}; torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(f"search: beam {search.beam}, length penalty {search.length_penalty} {search.alpha}; "
          f"validation {data.valid} ({len(valid[0])}), test {data.test} ({len(test[0])})\n")
    longest = min(t.max_src_len for t in singles)  # one sentence limit for all rows
    try:
        for path, other in zip(args.models[1:], singles[1:]):
            check_same_tokenizer(args.models[0], first.tokenizer, path, other.tokenizer)
    except UserError as e:
        raise SystemExit(str(e)) from None
    systems = [[i] for i in range(len(singles))] + [[0, 1]] + ([list(range(len(singles)))] if len(singles) > 2 else [])
    rows = []
    print("| models | parameters | validation BLEU | test BLEU | test chrF2 | test sentences/s |")
    print("|---|---:|---:|---:|---:|---:|")
    for members in systems:  # each model loaded once; an ensemble is made of the loaded ones
        models = [args.models[i] for i in members]
        model = singles[members[0]].model if len(members) == 1 else Ensemble([singles[i].model for i in members])
        translator = replace(first, model=model, search=search, max_src_len=longest)
        valid_bleu = score(translator.translate(valid[0]), valid[1])[0].score
        start = time.perf_counter()
        hyps = translator.translate(test[0])
        seconds = time.perf_counter() - start
        bleu, chrf = score(hyps, test[1])
        params = sum(p.numel() for p in translator.model.parameters())  # shared (tied) ones once
        row = {"models": models, "parameters": params, "valid_bleu": round(valid_bleu, 2),
               "test_bleu": round(bleu.score, 2), "test_chrf": round(chrf.score, 2),
               "sentences_per_s": round(len(test[0]) / seconds, 1), "bleu_signature": bleu.signature}
        rows.append(row)
        print(f"| {' + '.join(models)} | {params:,} | {valid_bleu:.2f} | {bleu.score:.2f} | {chrf.score:.2f} | "
              f"{row['sentences_per_s']} |", flush=True)
    print(f"\nBLEU signature: {rows[0]['bleu_signature']}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
