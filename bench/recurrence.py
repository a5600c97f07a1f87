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
import sys
import tempfile
from pathlib import Path

from training import train_speed

ROOT = Path(__file__).resolve().parent.parent
# The child process: s2s's command line, with the by-hand path switched off when asked.
CHILD = """
import sys
from s2s.cli import main
from s2s.decoder import Decoder
if sys.argv.pop(1) == "nn.GRU":
    Decoder._by_hand = lambda self, device: False
main()
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--steps", type=int, default=250)
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args()
    runs = argparse.Namespace(config=str(ROOT / "configs/reference.yaml"), steps=args.steps, window=50, skip=50)
    overrides = [arg for value in ["train.bf16=true", "train.output_sample=1000", *args.overrides]
                 for arg in ("--set", value)]
    speeds: dict[str, list[float]] = {"by hand": [], "nn.GRU": []}
    with tempfile.TemporaryDirectory() as tmp:
        for round_ in range(args.rounds):
            for setting in speeds:
                out = Path(tmp) / f"{setting.replace(' ', '_')}-{round_}"
                speed = train_speed(runs, out, overrides, program=[sys.executable, "-c", CHILD, setting])
                speeds[setting].append(speed["pieces_s"])
                print(f"round {round_ + 1}, {setting}: {speeds[setting][-1]:,.0f} pieces/s", flush=True)
    hand, plain = statistics.median(speeds["by hand"]), statistics.median(speeds["nn.GRU"])
    print(f"by hand {hand:,.0f} against nn.GRU {plain:,.0f} pieces/s (medians over rounds): {hand / plain:.3f}x")


if __name__ == "__main__":
    main()
