"""Training speed with the decoder's GRU stepped by hand (s2s/recurrence.py) against nn.GRU:
`s2s train` on the reference model, both ways in turn, each run in a process of its own.

    python bench/recurrence.py [--rounds 2] [--steps 250] [--set KEY=VALUE ...]

Each run trains --steps updates (train.bf16 and train.output_sample=1000 unless --set says
otherwise) and reports the median pieces/s of its 50-step log windows after the first.
Rounds alternate the two settings, so that the machine's drift falls on both.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from s2s import checkpoint

ROOT = Path(__file__).resolve().parent.parent
# The child process: s2s train, with the by-hand path switched off when asked.
CHILD = """
import sys
from s2s.cli import main
from s2s.decoder import Decoder
if sys.argv.pop(1) == "nn.GRU":
    Decoder._by_hand = lambda self, device: False
main()
"""


def run(setting: str, out: Path, steps: int, overrides: list[str]) -> float:
    sets = [f"train.max_steps={steps}", "train.log_every=50", f"train.valid_every={steps}",
            "train.keep_checkpoints=0", "train.bf16=true", "train.output_sample=1000", *overrides]
    cmd = [sys.executable, "-c", CHILD, setting, "train", "-c", str(ROOT / "configs/reference.yaml"),
           "-o", str(out), "--quiet"] + [arg for value in sets for arg in ("--set", value)]
    subprocess.run(cmd, check=True)
    windows = [window["tokens_per_s"] for window in checkpoint.train_log(out)][1:]
    return statistics.median(windows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--steps", type=int, default=250)
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args()
    speeds: dict[str, list[float]] = {"by hand": [], "nn.GRU": []}
    with tempfile.TemporaryDirectory() as tmp:
        for round_ in range(args.rounds):
            for setting in speeds:
                out = Path(tmp) / f"{setting.replace(' ', '_')}-{round_}"
                speeds[setting].append(run(setting, out, args.steps, args.overrides))
                print(f"round {round_ + 1}, {setting}: {speeds[setting][-1]:,.0f} pieces/s", flush=True)
    hand, plain = statistics.median(speeds["by hand"]), statistics.median(speeds["nn.GRU"])
    print(f"by hand {hand:,.0f} against nn.GRU {plain:,.0f} pieces/s (medians over rounds): {hand / plain:.3f}x")


if __name__ == "__main__":
    main()
