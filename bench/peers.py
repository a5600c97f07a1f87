"""Joey NMT and OpenNMT-py beside s2s: their figures, rerun or recorded, and the ratios.

`bench/speed.py --peers` reruns each peer's own script from ../shared/bench/peers (where the
peer is installed) and `--last-peers` reads the peers' last results on this machine.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PEER_DIR = ROOT.parent / "shared" / "bench" / "peers"
PEERS = {"onmt": "OpenNMT-py", "joeynmt": "Joey NMT"}
# recorded in RESULTS.md (2026-11-28, this kind of machine): training pieces/s, then per beam the
# decode-only and whole-command sentences/s and BLEU
RECORDED = {"onmt": {"train": 1517.0, 1: (88.5, 45.40, 34.29), 5: (29.0, 23.05, 35.01)},
            "joeynmt": {"train": 847.7, 1: (26.2, 21.92, 7.95), 5: (21.7, 19.01, 8.30)}}


def peer_figures(rerun: bool) -> dict[str, dict]:
    """Each peer's training pieces/s and, per beam, (decode-only sent/s, whole-command sent/s, BLEU):
    rerun now where installed when `rerun`; otherwise the peer's last results on this machine
    where there are some, else the figures recorded in RESULTS.md."""
    home = Path(os.environ.get("PEERS", Path.home() / ".cache" / "s2s-peers"))
    figures = {}
    for name in PEERS:
        script = PEER_DIR / f"{name}.sh"
        installed = (home / f"venv-{name}" / "bin" / "python").exists()
        if rerun and installed:
            print(f"running {script} (about 30 minutes; logs in {home / 'logs'}) ...", flush=True)
            started = time.time()
            subprocess.run(["bash", str(script)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
            results = home / "logs" / f"{name}_results.json"
            if results.exists() and results.stat().st_mtime >= started:
                how = "this run" if os.environ.get("SKIP_TRAIN") != "1" else \
                    "this run's translation; training from the model it kept (SKIP_TRAIN=1)"
                figures[name] = {**_peer_result(json.loads(results.read_text())), "how": how}
                continue
            print(f"{script} wrote no results: see {home / 'logs'}", flush=True)
        elif installed and (home / "logs" / f"{name}_results.json").exists():
            result = json.loads((home / "logs" / f"{name}_results.json").read_text())
            figures[name] = {**_peer_result(result), "how": f"their last run, {result['collected']}"}
            continue
        elif rerun:
            print(f"{PEERS[name]} is not installed ({home}/venv-{name}): `bash {script}` installs and runs it",
                  flush=True)
        figures[name] = {**RECORDED[name], "how": "recorded in RESULTS.md, not this run"}
    return figures


def _peer_result(result: dict) -> dict:
    """The figures compare() needs from a peer's NAME_results.json (written by the peer's collect.py)."""
    decode = result["decode"]
    return {"train": result["throughput"]["own_tok_s"],
            **{beam: (decode[str(beam)]["sent_s_decode_only"], decode[str(beam)]["sent_s"],
                      decode[str(beam)]["score"]["bleu"]) for beam in (1, 5)}}


def compare(peers: dict[str, dict], train_speed: dict[str, float], decoded: dict) -> None:
    """The peers' figures beside s2s's (exact fp32 search, int8, bf16 where this CPU has it,
    each also over the shortlist, and with workers), then the ratios s2s / peer. train_speed
    holds pieces/s by number format ("fp32", "bf16": train.bf16), each shown in the rows of
    that format (int8's: fp32's, which trained the model), and any other training setting's
    (by its name), shown after the ratios."""
    kinds = [(number, short, workers) for (beam, number, short, workers) in decoded if beam == 1]
    own = {kind: {"train": train_speed.get(kind[0], train_speed["fp32"]),
                  **{beam: (decoded[(beam, *kind)]["sent_s"], decoded[(beam, *kind)]["whole_sent_s"],
                            decoded[(beam, *kind)]["bleu"]) for beam in (1, 5)}}
           for kind in kinds}
    label = {kind: ", ".join(["s2s"] + ([kind[0]] if kind[0] != "fp32" else []) + (["shortlist"] if kind[1] else [])
                             + ([f"{kind[2]} workers"] if kind[2] > 1 else [])) for kind in kinds}
    print()
    print("| toolkit | training pieces/s | greedy sent/s (whole command) | beam 5 sent/s (whole command) "
          "| BLEU greedy / beam 5 | figures |")
    print("|---|---:|---:|---:|---:|---|")
    rows = [(label[kind], {**own[kind], "how": "this run"}) for kind in kinds]
    for name, fig in rows + [(PEERS[name], fig) for name, fig in peers.items()]:
        print(f"| {name} | {fig['train']:,.0f} | {fig[1][0]:.1f} ({fig[1][1]:.1f}) | {fig[5][0]:.1f} ({fig[5][1]:.1f}) "
              f"| {fig[1][2]:.1f} / {fig[5][2]:.1f} | {fig['how']} |")
    print()
    print("| s2s / peer | training pieces/s | greedy sent/s (whole command) | beam 5 sent/s (whole command) |")
    print("|---|---:|---:|---:|")
    for kind in kinds:
        mine = own[kind]
        for name, fig in peers.items():
            print(f"| {PEERS[name]} ({label[kind]}) | {mine['train'] / fig['train']:.2f}x | "
                  + " | ".join(f"{mine[beam][0] / fig[beam][0]:.2f}x ({mine[beam][1] / fig[beam][1]:.2f}x)"
                               for beam in (1, 5)) + " |")
    print("(sentences/s decoding alone; in brackets the whole command, start-up and model load included)")
    for setting, speed in train_speed.items():
        if setting not in ("fp32", "bf16"):
            print(f"training with {setting}: {speed:,.0f} pieces/s, "
                  + ", ".join(f"{speed / fig['train']:.2f}x {PEERS[name]}" for name, fig in peers.items()))
