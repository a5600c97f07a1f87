"""What each architecture is worth: every variant trained for the same wall-clock budget.

Each variant is a config override of one base model (by default the demo config, with a
decoder of 192 so that its size equals the bidirectional encoder's output, as dot
attention and the encoder's last state as first state need), trained by `s2s train` for
--minutes of wall-clock time. The table
gives parameters, training pieces/s (median of log windows), validation BLEU (greedy) and,
for attention models, how often the attention's argmax falls on the source piece that an
IBM Model 1 aligner, trained on the same training data, aligns the target piece to.

    python bench/variants.py                       # demo corpus, 1 minute each (about 25 minutes)
    python bench/variants.py --minutes 3 --only gru-additive gru-none-transformed_last-both
    S2S_DATA=../shared/data python bench/variants.py -c configs/multi30k_de_en_fast.yaml --minutes 5 \
        --set model.embed_dim=128 --set model.encoder.hidden_size=128 --set model.decoder.hidden_size=256
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

from s2s import checkpoint
from s2s.align import Model1, agreement
from s2s.data import ParallelData
from s2s.pieces import Pieces
from s2s.translator import Translator

ROOT = Path(__file__).resolve().parent.parent
BASE = ["model.decoder.hidden_size=192", "train.valid_every=100000", "train.log_every=25",
        "train.keep_checkpoints=0", "train.max_steps=100000"]
GRU_NONE = ["model.decoder.attention=none", "model.decoder.input_feeding=false"]
VARIANTS = {
    "gru-additive": [],
    "gru-dot": ["model.decoder.attention=dot"],
    "gru-general": ["model.decoder.attention=general"],
    "gru-additive-no-feeding": ["model.decoder.input_feeding=false"],
    "gru-general-local-p": ["model.decoder.attention=general", "model.decoder.local_window=4"],
    "gru-general-local-diagonal": ["model.decoder.attention=general", "model.decoder.local_window=4",
                                   "model.decoder.local_center=diagonal"],
    "gru-additive-coverage": ["model.decoder.coverage=true"],
    "gru-additive-guided": ["train.guided_alignment=1.0"],
    "rnn-additive": ["model.encoder.cell=rnn", "model.decoder.cell=rnn"],
    "lstm-additive": ["model.encoder.cell=lstm", "model.decoder.cell=lstm"],
    "cgru-additive": ["model.decoder.cell=cgru", "model.decoder.input_feeding=false"],
    **{f"gru-none-{context}-{use}": GRU_NONE + [f"model.decoder.context={context}", f"model.decoder.context_use={use}"]
       for context in ("last", "transformed_last", "transformed_mean") for use in ("init", "input", "both")},
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-c", "--config", default=str(ROOT / "configs" / "demo.yaml"), help="base config")
    parser.add_argument("--minutes", type=float, default=1.0, help="wall-clock budget per variant")
    parser.add_argument("--only", nargs="+", choices=sorted(VARIANTS), help="run these variants only")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        help="extra override for every variant (section.key=value)")
    parser.add_argument("--keep", help="train into DIR/VARIANT and keep the runs (default: a temporary directory)")
    return parser.parse_args()


def teacher_links(translator: Translator, cache: dict) -> ParallelData:
    """The validation data with IBM Model 1's links of each pair (trained on the run's training
    data), made once per tokenizer and data: variants of one base share their tokenizer."""
    data = translator.config.data
    key = (*translator.tokenizer.state().values(), data.train, data.valid, data.max_len)
    if key not in cache:
        tokenizer = translator.tokenizer
        train = ParallelData.load(data.train, data.src_lang, data.tgt_lang, tokenizer, data.max_len)
        valid = ParallelData.load(data.valid, data.src_lang, data.tgt_lang, tokenizer)
        aligner = Model1.train(*map(list, zip(*train.pairs(range(len(train))))))
        valid.align = Pieces.from_lists([aligner.align(s, t) for s, t in valid.pairs(range(len(valid)))])
        cache[key] = valid
    return cache[key]


def attention_agreement(run: Path, cache: dict) -> float | None:
    """Share of aligned validation target pieces whose teacher-forced attention argmax is the
    aligned source piece (IBM Model 1 trained on the run's training data), or None."""
    translator = Translator.load(run / checkpoint.BEST, torch.device("cpu"), precision="fp32")
    model = translator.model
    if model.decoder.attention is None:
        return None
    valid = teacher_links(translator, cache)
    hits = total = 0
    with torch.no_grad():
        for start in range(0, len(valid), 64):
            batch = valid.batch(list(range(start, min(start + 64, len(valid)))))
            _, attention = model(batch.src, batch.src_len, batch.tgt_in)
            h, n = agreement(attention, batch.align)
            hits, total = hits + h, total + n
    return hits / total


def main() -> None:
    args = parse_args()
    os.chdir(ROOT)  # the configs' data paths are relative to the project
    if not (ROOT / "data" / "demo" / "train.src").exists():
        subprocess.run([sys.executable, "data/make_demo.py", "--out", "data/demo", "--seed", "1"], check=True)
    names = args.only or list(VARIANTS)
    print(f"base {args.config} + {' '.join(BASE + args.overrides)}; {args.minutes:g} minutes per variant; "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    print()
    print("| variant | parameters | steps | pieces/s | validation BLEU | attention on the aligned piece |")
    print("|---|---:|---:|---:|---:|---:|")
    cache: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            run = Path(args.keep or tmp) / name
            sets = BASE + args.overrides + VARIANTS[name] + [f"train.max_minutes={args.minutes}"]
            cmd = [sys.executable, "-m", "s2s", "train", "-c", args.config, "-o", str(run), "--quiet"]
            for item in sets:
                cmd += ["--set", item]
            subprocess.run(cmd, check=True, cwd=ROOT)
            windows = [window["tokens_per_s"] for window in checkpoint.train_log(run) if window["step"] > 50]
            best = checkpoint.load(run / checkpoint.BEST)
            agree = attention_agreement(run, cache)
            print(f"| {name} | {checkpoint.parameter_count(best['model']):,} | {best['meta']['step']:,} | "
                  f"{statistics.median(windows):,.0f} | {best['meta']['best_bleu']:.1f} | "
                  f"{'-' if agree is None else f'{agree:.1%}'} |", flush=True)


if __name__ == "__main__":
    main()
