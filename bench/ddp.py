"""Training speed: one process against N processes under torchrun (DDP), same config, same run.

Both runs use the same global batch (train.accumulate batches of train.batch_tokens per
update, shared out among the processes) and the same number of CPU threads in all (the
single process gets them all, each of the N gets its share). Prints the median
source+target pieces/s over log windows, the first window (warm-up) left out.

    python bench/ddp.py                                   # configs/reference.yaml, 2 processes
    python bench/ddp.py -c configs/demo.yaml --steps 400
    python bench/ddp.py --set train.bf16=true --set train.output_sample=1000
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from s2s import checkpoint


def speeds(run_dir: Path) -> list[float]:
    """Source+target pieces/s of each log window but the first (the run's recorded training log)."""
    return [window["tokens_per_s"] for window in checkpoint.train_log(run_dir)][1:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-c", "--config", default="configs/reference.yaml")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="CPU threads in all")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="a config override for both runs, as for s2s train (repeatable)")
    args = parser.parse_args()
    n = args.processes
    sets = [*args.overrides, f"train.accumulate={n}", f"train.max_steps={args.steps}",
            f"train.log_every={max(1, args.steps // 6)}", "train.valid_every=1000000", "train.keep_checkpoints=0"]
    settings = [arg for value in sets for arg in ("--set", value)] + ["--quiet"]
    with tempfile.TemporaryDirectory() as out:
        runs = {
            f"1 process, {args.threads} threads": ([sys.executable, "-m", "s2s"], args.threads),
            f"{n} processes (torchrun, DDP over gloo), {max(1, args.threads // n)} thread(s) each":
                ([sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={n}",
                  "-m", "s2s"], max(1, args.threads // n)),
        }
        results = {}
        for i, (name, (command, threads)) in enumerate(runs.items()):
            env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
            run_dir = Path(out) / f"run{i}"
            subprocess.run(command + ["train", "-c", args.config, "-o", str(run_dir), *settings], env=env,
                           check=True, stdout=subprocess.DEVNULL)
            results[name] = speeds(run_dir)
    told = "".join(f", {o}" for o in args.overrides)
    print(f"{args.config}{told}, {args.steps} updates of train.accumulate={n} batches, {os.cpu_count()} CPUs")
    for name, values in results.items():
        print(f"  {name}: median {statistics.median(values):,.0f} source+target pieces/s "
              f"({len(values)} windows)")
    one, many = (statistics.median(v) for v in results.values())
    print(f"  ratio {n} processes / 1 process: {many / one:.2f}")


if __name__ == "__main__":
    main()
