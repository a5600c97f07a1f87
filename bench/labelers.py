"""The seed's N-to-1 choices side by side: every pooling with every cell on one classify recipe.

Each variant is the recipe (by default configs/sst2.yaml) with `model.pooling` and
`model.encoder.cell` overridden, trained by `s2s train` (best.pt chosen on validation
accuracy, early stopping as the recipe says), then scored once on the validation and test
splits. The table gives parameters, steps, training time, and accuracy and macro-F1 on
both splits; choose on validation, the test columns are for reading only.

    python bench/labelers.py                         # SST-2: 12 variants, about 27 minutes on 2 cores
    python bench/labelers.py --only gru-mean lstm-attention --set train.max_minutes=2
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from s2s import checkpoint
from s2s.config import POOLINGS
from s2s.labels import read_split
from s2s.predictor import Predictor
from s2s.labelscores import score_lines

ROOT = Path(__file__).resolve().parent.parent
CELLS = ("rnn", "gru", "lstm")
VARIANTS = {f"{cell}-{pooling}": [f"model.encoder.cell={cell}", f"model.pooling={pooling}"]
            for cell in CELLS for pooling in POOLINGS}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-c", "--config", default=str(ROOT / "configs" / "sst2.yaml"), help="classify recipe")
    parser.add_argument("--only", nargs="+", choices=sorted(VARIANTS), help="run these variants only")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        help="extra override for every variant (section.key=value)")
    parser.add_argument("--keep", help="train into DIR/VARIANT and keep the runs (default: a temporary directory)")
    return parser.parse_args()


def score(predictor: Predictor, split: str) -> tuple[float, float]:
    data = predictor.config.data
    examples = read_split(predictor.task, data, split)
    scores = score_lines(predictor.task, predictor.predict(examples.inputs), examples.label_lines(),
                         "predictions", examples.name)
    return scores.accuracy, scores.macro_f1


def main() -> None:
    args = parse_args()
    names = args.only or list(VARIANTS)
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(args.keep or scratch)
        rows = []
        for name in names:
            run = root / name
            sets = [f"--set={o}" for o in VARIANTS[name] + args.overrides]
            started = time.monotonic()
            subprocess.run([sys.executable, "-m", "s2s", "train", "-c", args.config, "-o", str(run), "-q", *sets],
                           check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           env={**os.environ, "PYTHONHASHSEED": "0"})
            seconds = time.monotonic() - started
            best = checkpoint.load(run / checkpoint.BEST)
            predictor = Predictor.load(run, torch.device("cpu"))
            valid, test = score(predictor, predictor.config.data.valid), score(predictor, predictor.config.data.test)
            rows.append((name, checkpoint.parameter_count(best["model"]), best["meta"]["step"], seconds, valid, test))
            print(f"  {name}: validation {valid[0]:.2f} / {valid[1]:.2f}, test {test[0]:.2f} / {test[1]:.2f} "
                  f"({seconds:.0f} s)", flush=True)
    print(f"\n{Path(args.config).name}, overrides: {' '.join(args.overrides) or 'none'}\n")
    print("| variant | parameters | best step | training time | validation accuracy | validation macro-F1 "
          "| test accuracy | test macro-F1 |")
    print("|---|---|---|---|---|---|---|---|")
    for name, params, step, seconds, valid, test in rows:
        print(f"| {name} | {params:,} | {step} | {seconds / 60:.1f} min | {valid[0]:.2f} | {valid[1]:.2f} "
              f"| {test[0]:.2f} | {test[1]:.2f} |")


if __name__ == "__main__":
    main()
