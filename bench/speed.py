"""Speed of the reference model on this machine, as figures and as fractions of its matmul peak.

Prints, in one run:
- the machine's measured fp32 matmul peak (GFLOP/s, torch's own threads);
- training: source+target pieces/s (median of steady-state log windows), peak memory,
  model FLOPs per piece (counted on real batches, forward and backward), on Multi30k de-en
  and on Tatoeba en-de when it is there;
- translation of test_2016_flickr, greedy and beam 5, fp32, int8 and (where the CPU has
  AVX512_BF16 or AMX) bf16, each over the full vocabulary and the shortlist: sentences/s and target
  pieces/s for decoding alone (model loaded, median of --repeats runs), the whole
  `s2s translate` command (start-up and model load included), BLEU and chrF;
- with --peers: the ratios s2s / peer against Joey NMT and OpenNMT-py, rerun in the same
  run by ../shared/bench/peers/*.sh where those are installed (about 30 minutes each),
  else against the figures recorded in ../shared/bench/peers/RESULTS.md (marked so);
  with --last-peers: against the peers' last run on this machine (their results under
  $PEERS/logs, with the time they were collected), without rerunning them.

    python bench/speed.py -m runs/multi30k_de_en           # make bench
    python bench/speed.py -m runs/multi30k_de_en --peers   # and the peers side by side

The translation model (-m) should be a trained one: decoding speed depends on how long
its outputs are. Without -m the model the training measurement made is used.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from s2s import checkpoint
from s2s.data import ParallelData
from s2s.text import read_parallel, split_path
from s2s.loss import batch_loss
from s2s.metrics import score
from s2s.precision import has_bf16
from s2s.shortlist import path_for
from s2s.translator import Translator

from peers import compare, peer_figures
from rounds import format_options, load_format

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("S2S_DATA", ROOT / "data"))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-m", "--model", help="trained checkpoint or run directory for the translation figures")
    parser.add_argument("-c", "--config", default=str(ROOT / "configs" / "reference.yaml"))
    parser.add_argument("--steps", type=int, default=400, help="training steps per corpus")
    parser.add_argument("--window", type=int, default=50, help="steps per log window")
    parser.add_argument("--skip", type=int, default=100, help="warm-up steps left out of the median")
    parser.add_argument("--repeats", type=int, default=3, help="timed decoding runs per setting")
    parser.add_argument("--no-tatoeba", action="store_true", help="skip the Tatoeba training measurement")
    parser.add_argument("--peers", action="store_true", help="compare with Joey NMT and OpenNMT-py, rerun now")
    parser.add_argument("--last-peers", action="store_true",
                        help="compare with the peers' last run on this machine instead of rerunning them")
    parser.add_argument("--profile", action="store_true",
                        help="also print where the time goes (torch.profiler, top operators) in training "
                             "steps and in beam-5 decoding")
    return parser.parse_args()


def matmul_peak(repeats: int = 10) -> float:
    """The best median GFLOP/s of fp32 square matrix products on this machine."""
    best = 0.0
    for n in (512, 1024, 2048):
        a, b = torch.randn(n, n), torch.randn(n, n)
        torch.mm(a, b)
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            torch.mm(a, b)
            times.append(time.perf_counter() - start)
        best = max(best, 2 * n ** 3 / statistics.median(times) / 1e9)
    return best


def run_timed(cmd: list[str]) -> tuple[float, int]:
    """Runs a command (its messages kept back unless it fails); returns its wall seconds and
    peak resident memory (KB)."""
    with tempfile.TemporaryFile() as messages:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stderr=messages)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        if os.waitstatus_to_exitcode(status) != 0:
            messages.seek(0)
            sys.exit(f"failed: {' '.join(cmd)}\n{messages.read().decode(errors='replace')}")
    return seconds, usage.ru_maxrss


def train_speed(args, out: Path, overrides: list[str]) -> dict:
    """Trains for --steps steps; returns median pieces/s over the steady windows and peak memory."""
    cmd = [sys.executable, "-m", "s2s", "train", "-c", args.config, "-o", str(out), "--quiet",
           "--set", f"train.max_steps={args.steps}", "--set", f"train.valid_every={args.steps}",
           "--set", f"train.log_every={args.window}", "--set", "train.keep_checkpoints=0", *overrides]
    seconds, rss = run_timed(cmd)
    steady = [window["tokens_per_s"] for window in checkpoint.train_log(out) if window["step"] > args.skip]
    return {"pieces_s": statistics.median(steady), "windows": len(steady), "max_rss_mb": rss / 1024,
            "seconds": seconds}


def _training_batches(run_dir: Path, batches: int) -> tuple[torch.nn.Module, ParallelData, list[list[int]]]:
    """A run's model (in training mode), its encoded training data and the first `batches` batches."""
    translator = Translator.load(run_dir / "last.pt", torch.device("cpu"), precision="fp32")
    config = translator.config
    src, tgt = read_parallel(split_path(config.data.train, config.data.src_lang),
                             split_path(config.data.train, config.data.tgt_lang))
    train = ParallelData.from_text(src[:20000], tgt[:20000], translator.tokenizer, max_len=config.data.max_len)
    return translator.model.train(), train, train.epoch_batches(config.train.batch_tokens, 1, 0)[:batches]


def train_flops(run_dir: Path, batches: int = 20) -> float:
    """Model FLOPs (forward + backward) per source+target piece, on the run's first real batches."""
    model, train, batch_list = _training_batches(run_dir, batches)
    flops = pieces = 0
    for indices in batch_list:
        batch = train.batch(indices)
        with FlopCounterMode(display=False) as counter:
            batch_loss(model, batch, 0.1)[0].backward()  # as s2s.trainer computes it
        flops += counter.get_total_flops()
        pieces += train.counts(indices)[0]
    return flops / pieces


def profile_training(run_dir: Path, batches: int = 10) -> None:
    """The operators that take the most CPU time in a few training steps (forward, backward, Adam)."""
    model, train, batch_list = _training_batches(run_dir, batches)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, fused=True)  # as s2s.trainer has it
    with torch.profiler.profile() as prof:
        for indices in batch_list:
            batch_loss(model, train.batch(indices), 0.1)[0].backward()
            optimizer.step()
            optimizer.zero_grad()
    print(f"training, {batches} steps:")
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=12))


def profile_decoding(translator: Translator, lines: list[str]) -> None:
    translator.search = replace(translator.search, beam=5)
    with torch.profiler.profile() as prof:
        translator.translate(lines)
    print(f"beam 5, {len(lines)} sentences:")
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=12))


def decode(translator: Translator, lines: list[str], repeats: int) -> tuple[list[str], float, int]:
    """Translations, median seconds and the target pieces they hold."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        best = translator.nbest(lines, 1)
        times.append(time.perf_counter() - start)
    pieces = sum(len(b[0].hypothesis.tokens) for b in best if b[0].hypothesis is not None)
    return [b[0].text for b in best], statistics.median(times), pieces


def decode_flops(translator: Translator, lines: list[str], beams: tuple[int, ...] = (1, 5)) -> dict[int, float]:
    """Model FLOPs per output piece when translating `lines` with each beam size (encoder
    included; a beam's count holds the work on all its hypotheses)."""
    search, flops = translator.search, {}
    for beam in beams:
        translator.search = replace(search, beam=beam)
        with FlopCounterMode(display=False) as counter:
            _, _, pieces = decode(translator, lines, 1)
        flops[beam] = counter.get_total_flops() / pieces
    translator.search = search
    return flops


def main() -> None:
    args = parse_args()
    if args.model and not Path(args.model).exists():
        print(f"{args.model} does not exist (train it with `make multi30k`)")
        args.model = None
    peak = matmul_peak()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; fp32 matmul peak {peak:.1f} GFLOP/s")
    print()
    rows, speeds = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        corpora = [("Multi30k de-en", [])]
        tatoeba = DATA / "tatoeba-en-de"
        if not args.no_tatoeba and (tatoeba / "train.en").exists():
            corpora.append(("Tatoeba en-de", [
                "--set", "data.src_lang=en", "--set", "data.tgt_lang=de",
                "--set", f"data.train={tatoeba}/train", "--set", f"data.valid={tatoeba}/valid",
                "--set", f"data.test={tatoeba}/test"]))
        for i, (name, overrides) in enumerate(corpora):
            run_dir = Path(tmp) / f"train{i}"
            speed = train_speed(args, run_dir, overrides)
            flops = train_flops(run_dir)
            speeds[name] = speed["pieces_s"]
            rows.append((name, speed, flops))
            if i == 0 and not args.model:
                args.model = str(run_dir / "last.pt")
                print(f"no -m: translating with the {args.steps}-step model just trained (undertrained: "
                      "its output lengths, and so its decoding speed, differ from a trained model's)")
            if i == 0:
                model = Translator.load(args.model, torch.device("cpu"), precision="fp32")
                test_flops = decode_flops(model, read_parallel(*_test_files())[0][:200])
        print("| training, reference model | pieces/s | FLOP/piece | GFLOP/s | of peak | peak memory |")
        print("|---|---:|---:|---:|---:|---:|")
        for name, speed, flops in rows:
            achieved = speed["pieces_s"] * flops / 1e9
            print(f"| {name} | {speed['pieces_s']:,.0f} | {flops / 1e6:.1f} M | {achieved:.1f} | "
                  f"{achieved / peak:.0%} | {speed['max_rss_mb']:,.0f} MB |")
        if len(rows) > 1:
            print(f"\nTatoeba / Multi30k pieces/s: {speeds['Tatoeba en-de'] / speeds['Multi30k de-en']:.2f}")
        print(f"\n(median of {rows[0][1]['windows']} windows of {args.window} steps after step {args.skip})")
        print()
        decoded = translation(args, test_flops, peak, Path(tmp))
    if args.peers or args.last_peers:
        compare(peer_figures(rerun=args.peers), speeds["Multi30k de-en"], decoded)
    if args.profile:
        with tempfile.TemporaryDirectory() as tmp:
            run_dir = Path(tmp) / "profile"
            train_speed(argparse.Namespace(**{**vars(args), "steps": 20, "window": 10, "skip": 0}), run_dir, [])
            profile_training(run_dir)
        profile_decoding(load_format(args.model, "fp32"), read_parallel(*_test_files())[0][:256])


def ensure_shortlist(model: str) -> str:
    """What RUN/shortlist.pt of the model holds, after learning it (as `s2s shortlist -m`
    does, with its defaults) where there is none."""
    where = path_for(model)
    if not where.exists():
        print(f"learning {where} (s2s shortlist -m {model}) ...", flush=True)
        subprocess.run([sys.executable, "-m", "s2s", "shortlist", "-m", model], check=True)
    settings = checkpoint.load(where, require=("shortlist",)).get("settings", {})
    return ", ".join(f"{key} {value:,}" for key, value in settings.items())


def _test_files() -> tuple[Path, Path]:
    return DATA / "multi30k" / "test_2016_flickr.de", DATA / "multi30k" / "test_2016_flickr.en"


def translation(args, flops: dict[int, float], peak: float, tmp: Path) -> dict:
    """Decoding speed and quality of -m on test_2016_flickr: fp32 and int8, greedy and beam 5."""
    src_file, ref_file = _test_files()
    srcs, refs = read_parallel(src_file, ref_file)
    print(f"translation: {args.model} on {src_file.name} ({len(srcs)} sentences, batch 64); model FLOP "
          f"per output piece: greedy {flops[1] / 1e6:.1f} M, beam 5 {flops[5] / 1e6:.1f} M (all hypotheses); "
          "int8 and bf16 rows count the fp32 model's FLOPs against the fp32 peak")
    print()
    print("| search | weights | BLEU | chrF2 | sentences/s | target pieces/s | GFLOP/s | of peak "
          "| whole command s |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    decoded = {}
    shortlisted = ensure_shortlist(args.model)
    numbers = ["fp32", "int8"] + (["bf16"] if has_bf16(torch.device("cpu")) else [])  # bf16 where the CPU has it
    settings = [(number, short) for short in (False, True) for number in numbers]
    for number, short in settings:
        translator = load_format(args.model, number)
        for beam in (1, 5):
            translator = translator.with_search(beam=beam, shortlist=short)
            out, seconds, pieces = decode(translator, srcs, args.repeats)
            bleu, chrf = score(out, refs)
            cmd = [sys.executable, "-m", "s2s", "translate", "-m", args.model, "-i", str(src_file),
                   "-o", str(tmp / "hyp.txt"), "--beam", str(beam), "--quiet", *format_options(number)]
            whole, _ = run_timed(cmd + (["--shortlist"] if short else []))
            sent_s = len(srcs) / seconds
            decoded[beam, number, short] = {"sent_s": sent_s, "whole_sent_s": len(srcs) / whole, "bleu": bleu.score}
            achieved = pieces / seconds * flops[beam] / 1e9
            print(f"| {'greedy' if beam == 1 else f'beam {beam}'} | {number}{', shortlist' if short else ''} | "
                  f"{bleu.score:.1f} | {chrf.score:.1f} | {sent_s:.1f} | {pieces / seconds:,.0f} | {achieved:.1f} | "
                  f"{achieved / peak:.0%} | {whole:.1f} |", flush=True)
    print(f"\n(shortlist: {shortlisted}; its rows count the full vocabulary's FLOPs)")
    for beam in (1, 5):
        fp32 = decoded[beam, "fp32", False]
        for number, short in settings[1:]:
            other = decoded[beam, number, short]
            name = " + ".join(([number] if number != "fp32" else []) + (["shortlist"] if short else []))
            print(f"{name} / fp32, {'greedy' if beam == 1 else f'beam {beam}'}: "
                  f"{other['sent_s'] / fp32['sent_s']:.2f}x speed, {other['bleu'] - fp32['bleu']:+.1f} BLEU")
    print(f"signature: {bleu.signature}")
    return decoded


if __name__ == "__main__":
    main()
