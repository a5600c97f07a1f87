"""Choose a trained run's checkpoint and search settings on the validation set, then score
the test set once with them (cased sacreBLEU and chrF, signatures shown).

Candidates are the run's best.pt, its last.pt and the averages of its last 2 and 3 kept
step checkpoints; then beam sizes and length penalties. Everything is chosen by
validation BLEU; the test set is translated once, at the end.

    python bench/quality.py -m runs/multi30k_de_en_fast       # bench/quality.sh runs it
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

import torch

from s2s import checkpoint
from s2s.configfile import from_dict
from s2s.devices import resolve_device
from s2s.text import read_parallel, split_path
from s2s.metrics import score
from s2s.translator import Translator

SEARCHES = [(1, "none", 0.0)] + [(beam, penalty, alpha) for beam in (5, 10)
                                 for penalty, alpha in (("none", 0.0), ("length", 1.0), ("gnmt", 0.6))]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-m", "--run", required=True, help="run directory")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--device", default="cpu", help="cpu (the default), cuda, cuda:N or auto")
    return parser.parse_args()


def split(config, name: str) -> tuple[list[str], list[str]]:
    data = config.data
    prefix = getattr(data, name)
    return read_parallel(split_path(prefix, data.src_lang), split_path(prefix, data.tgt_lang))


def candidates(run: Path) -> dict[str, Path]:
    """best.pt, last.pt and averages of the last 2 and 3 step checkpoints (written into the run)."""
    found = {"best.pt": run / checkpoint.BEST, "last.pt": run / checkpoint.LAST}
    kept = checkpoint.kept(run)
    for n in (2, 3):
        if len(kept) >= n:
            path = run / f"average-last{n}.pt"
            checkpoint.save(path, checkpoint.average(kept[-n:]))
            found[f"average of {', '.join(p.stem for p in kept[-n:])}"] = path
    return found


def main() -> None:
    args = parse_args()
    torch.manual_seed(0)
    run = Path(args.run)
    device = resolve_device(args.device)
    config = from_dict(checkpoint.load(run / checkpoint.LAST, require=("config",))["config"])
    val_src, val_ref = split(config, "valid")
    default = config.search
    print(f"run {run}; validation {config.data.valid} ({len(val_src)} sentences); "
          f"default search beam {default.beam}, {default.length_penalty} {default.alpha}")

    def val_bleu(translator: Translator) -> float:
        return score(translator.translate(val_src), val_ref)[0].score

    scores = {}
    for name, path in candidates(run).items():
        translator = Translator.load(path, device, batch_size=args.batch_size, precision="fp32")
        scores[name] = (val_bleu(translator), path)
        print(f"  checkpoint {name}: validation BLEU {scores[name][0]:.2f}", flush=True)
    chosen = max(scores, key=lambda name: scores[name][0])
    translator = Translator.load(scores[chosen][1], device, batch_size=args.batch_size, precision="fp32")
    results = []
    for beam, penalty, alpha in SEARCHES:
        translator.search = replace(default, beam=beam, length_penalty=penalty, alpha=alpha)
        results.append((val_bleu(translator), -beam, (beam, penalty, alpha)))
        print(f"  beam {beam}, length penalty {penalty} {alpha}: validation BLEU {results[-1][0]:.2f}", flush=True)
    best_val, _, (beam, penalty, alpha) = max(results)  # ties go to the smaller beam
    translator.search = replace(default, beam=beam, length_penalty=penalty, alpha=alpha)

    test_src, test_ref = split(config, "test")
    start = time.perf_counter()
    bleu, chrf = score(translator.translate(test_src), test_ref)
    seconds = time.perf_counter() - start
    progress = checkpoint.load(run / checkpoint.LAST, require=("progress",))["progress"]
    summary = {"run": str(run), "checkpoint": chosen, "beam": beam, "length_penalty": penalty, "alpha": alpha,
               "valid_bleu": round(best_val, 2), "test": config.data.test, "test_bleu": round(bleu.score, 2),
               "test_chrf": round(chrf.score, 2), "bleu_signature": bleu.signature,
               "chrf_signature": chrf.signature, "steps": progress["step"],
               "train_minutes": round(progress.get("seconds", 0.0) / 60, 1),
               "parameters": checkpoint.parameter_count(checkpoint.load(scores[chosen][1])["model"])}
    print(f"\nchosen on validation: {chosen}, beam {beam}, length penalty {penalty} {alpha} "
          f"(validation BLEU {best_val:.2f})")
    print(f"test {config.data.test} ({len(test_src)} sentences, {seconds:.1f} s):")
    print(f"  {bleu.text}")
    print(f"  {chrf.text}")
    (run / "quality.json").write_text(json.dumps(summary, indent=1) + "\n")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
