"""Training on corpora of growing size: memory, start-up time and speed should stay flat.

For each size, a demo corpus of that many pairs is generated (data/make_demo.py, seed 1),
then `s2s train` runs the demo config for --steps steps, three times:
  cold    a new corpus cache: the tokenizer is learnt and the corpus encoded into it
  warm    the same cache (data.cache_dir) and an emptied run directory: both are found there
  ddp     the same cache, 2 processes under torchrun (train.accumulate=2)
and the bench prints, for each: seconds from launch to the first training step, the peak
resident memory of each training process and of the helper processes it started
(tokenizer, encoding workers) as the run's log reports them, source+target pieces/s over
the steps (median of the log windows after the first), and the cache's size on disk.

    python bench/scale.py                                # 100k, 1M and 5M pairs (about 40 min)
    python bench/scale.py --sizes 100000,1000000 --steps 200 --work runs/scale
"""

from __future__ import annotations

import argparse
import datetime
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from s2s import checkpoint

ROOT = Path(__file__).resolve().parents[1]
PEAKS = re.compile(r"peak memory \(resident set\) ([\d, ]+) MB per process; .* at most (\d+) MB")


def corpus(work: Path, pairs: int) -> Path:
    """A demo corpus of `pairs` training pairs (made once, kept in `work`)."""
    out = work / f"corpus-{pairs}"
    if not (out / ".done").exists():
        subprocess.run([sys.executable, str(ROOT / "data" / "make_demo.py"), "--out", str(out), "--seed", "1",
                        "--train", str(pairs), "--valid", "500", "--test", "10"], check=True)
        (out / ".done").touch()
    return out


def train(command: list[str], run_dir: Path, data: Path, cache: Path, steps: int, extra: list[str],
          env: dict | None = None) -> dict:
    """One training run (in `run_dir`, emptied first); its time from launch to the first
    training step (the log's "epoch 0" line), peak memory and speed."""
    shutil.rmtree(run_dir, ignore_errors=True)
    settings = [f"data.train={data}/train", f"data.valid={data}/valid", f"data.cache_dir={cache}",
                f"train.max_steps={steps}", f"train.log_every={max(1, steps // 5)}", "train.valid_every=1000000",
                "train.keep_checkpoints=0", *extra]
    started = time.time()
    subprocess.run(command + ["train", "-c", str(ROOT / "configs" / "demo.yaml"), "-o", str(run_dir), "--quiet",
                              *[x for s in settings for x in ("--set", s)]], check=True, env={**os.environ, **(env or {})})
    log = (run_dir / "train.log").read_text()
    first = re.search(r"^(\S+ \S+) INFO epoch 0: ", log, re.M)
    at = datetime.datetime.strptime(first.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()
    own, helpers = PEAKS.search(log).groups()
    speeds = [w["tokens_per_s"] for w in checkpoint.train_log(run_dir)][1:]
    return {"first_step_s": at - started, "peak_mb": [float(x) for x in own.split(",")],
            "helpers_mb": float(helpers), "pieces_s": statistics.median(speeds)}


def size_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100000,1000000,5000000", help="training pairs, comma-separated")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--work", type=Path, default=ROOT / "runs" / "scale", help="corpora, caches and runs")
    parser.add_argument("--no-ddp", action="store_true", help="leave out the 2-process runs")
    args = parser.parse_args()
    one = [sys.executable, "-m", "s2s"]
    two = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "s2s"]
    rows = []
    for pairs in map(int, args.sizes.split(",")):
        data = corpus(args.work, pairs)
        cache = args.work / f"cache-{pairs}"
        shutil.rmtree(cache, ignore_errors=True)
        runs = {"cold": train(one, args.work / f"run-{pairs}", data, cache, args.steps, [])}
        runs["warm"] = train(one, args.work / f"run-{pairs}", data, cache, args.steps, [])
        if not args.no_ddp:  # each of the 2 processes gets its share of the cores
            threads = {"OMP_NUM_THREADS": str(max(1, (os.cpu_count() or 2) // 2))}
            runs["ddp"] = train(two, args.work / f"run-{pairs}", data, cache, args.steps, ["train.accumulate=2"],
                                threads)
        rows.append((pairs, runs, size_mb(cache), (data / "train.src").stat().st_size + (data / "train.tgt").stat().st_size))
        for name, r in runs.items():
            print(f"{pairs:>9,} {name:<4}  first step {r['first_step_s']:6.1f} s  peak "
                  f"{'/'.join(f'{m:.0f}' for m in r['peak_mb'])} MB (helpers {r['helpers_mb']:.0f} MB)  "
                  f"{r['pieces_s']:,.0f} pieces/s", flush=True)
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    print(f"\n{cpu}, {os.cpu_count()} CPUs; configs/demo.yaml, {args.steps} steps per run\n")
    print("| pairs | text MB | cache MB | first step, cold (s) | first step, cached (s) | peak RSS MB (1 process) "
          "| helpers' peak MB | pieces/s | 2 processes: peak RSS MB each | 2 processes: first step (s) |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    base = rows[0][1]
    for pairs, runs, cache_mb, text_bytes in rows:
        cold, warm, ddp = runs["cold"], runs["warm"], runs.get("ddp")
        peak = max(cold["peak_mb"][0], warm["peak_mb"][0])
        ddp_cells = [" / ".join(f"{m:.0f}" for m in ddp["peak_mb"]), f"{ddp['first_step_s']:.1f}"] if ddp else ["-", "-"]
        cells = [f"{pairs:,}", f"{text_bytes / 1e6:.0f}", f"{cache_mb:.0f}", f"{cold['first_step_s']:.1f}",
                 f"{warm['first_step_s']:.1f}", f"{peak:.0f}", f"{max(cold['helpers_mb'], warm['helpers_mb']):.0f}",
                 f"{statistics.median([cold['pieces_s'], warm['pieces_s']]):,.0f}", *ddp_cells]
        print("| " + " | ".join(cells) + " |")
    if len(rows) > 1:
        first_peak = max(base["cold"]["peak_mb"][0], base["warm"]["peak_mb"][0])
        last_pairs, last = rows[-1][0], rows[-1][1]
        last_peak = max(last["cold"]["peak_mb"][0], last["warm"]["peak_mb"][0])
        speed = lambda runs: statistics.median([runs["cold"]["pieces_s"], runs["warm"]["pieces_s"]])  # noqa: E731
        print(f"\n{last_pairs:,} pairs against {rows[0][0]:,}: peak RSS x{last_peak / first_peak:.2f}, "
              f"pieces/s x{speed(last) / speed(base):.2f}")
        if "ddp" in base and "ddp" in last:
            print(f"2 processes: peak RSS x{max(last['ddp']['peak_mb']) / max(base['ddp']['peak_mb']):.2f} "
                  "(largest process)")


if __name__ == "__main__":
    main()
