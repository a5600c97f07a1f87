"""Speed of the reference model on this machine, as figures and as fractions of its matmul peak.

Prints, in one run:
- the CPU (model, and whether it has AVX2, AVX-512, AVX512_BF16, AMX) and its measured fp32
  matmul peak (GFLOP/s, torch's own threads);
- training: source+target pieces/s (median of steady-state log windows), peak memory,
  model FLOPs per piece (counted on real batches, forward and backward), on Multi30k de-en
  (also with train.bf16 where the CPU has AVX512_BF16 or AMX, and with the sampled softmax
  train.output_sample=SAMPLE, with train.bf16 where the CPU has it) and on Tatoeba en-de
  when it is there;
- translation of test_2016_flickr, greedy and beam 5, fp32, int8 and (where the CPU has
  AVX512_BF16 or AMX) bf16, each over the full vocabulary and the shortlist, and the fastest
  of those (the highest product of greedy and beam-5 sentences/s) once more with one worker
  process per thread (`--workers`): sentences/s and target pieces/s for decoding alone
  (model loaded, median of --repeats runs), the whole `s2s translate` command (start-up and
  model load included, median of --repeats runs), BLEU and chrF;
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
from s2s.metrics import score
from s2s.precision import has_bf16
from s2s.shortlist import path_for
from s2s.text import read_parallel
from s2s.translator import Translator

from machine import cpu
from peers import compare, peer_figures
from rounds import format_options, load_format
from timing import matmul_peak, run_timed
from training import profile_training, train_flops, train_speed

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("S2S_DATA", ROOT / "data"))
BF16_TRAIN = "Multi30k de-en, train.bf16"
SAMPLE = 1000  # train.output_sample of the sampled-softmax training row (s2s.loss)


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
    print(f"CPU: {cpu()}")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; fp32 matmul peak {peak:.1f} GFLOP/s")
    print()
    rows, speeds = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        corpora = [("Multi30k de-en", [])]
        sampled = ["--set", f"train.output_sample={SAMPLE}"]
        if has_bf16(torch.device("cpu")):  # the output layer in bf16 (train.bf16) where the CPU has it
            corpora.append((BF16_TRAIN, ["--set", "train.bf16=true"]))
            sampled += ["--set", "train.bf16=true"]
        sampled_label = " + ".join(sampled[1::2])  # the settings, as the ratio lines name them
        sampled_name = f"Multi30k de-en, {sampled_label}"
        corpora.append((sampled_name, sampled))
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
        if BF16_TRAIN in speeds:
            print(f"\ntrain.bf16 / fp32 pieces/s: {speeds[BF16_TRAIN] / speeds['Multi30k de-en']:.2f} "
                  "(its FLOPs counted as fp32's, against the fp32 peak)")
        print(f"\n{sampled_label} / fp32 pieces/s: "
              f"{speeds[sampled_name] / speeds['Multi30k de-en']:.2f} (FLOPs counted over the full vocabulary)")
        if "Tatoeba en-de" in speeds:
            print(f"\nTatoeba / Multi30k pieces/s: {speeds['Tatoeba en-de'] / speeds['Multi30k de-en']:.2f}")
        print(f"\n(median of {rows[0][1]['windows']} windows of {args.window} steps after step {args.skip})")
        print()
        decoded = translation(args, test_flops, peak, Path(tmp))
    if args.peers or args.last_peers:
        train = {"fp32": speeds["Multi30k de-en"], "bf16": speeds.get(BF16_TRAIN, speeds["Multi30k de-en"]),
                 sampled_label: speeds[sampled_name]}
        compare(peer_figures(rerun=args.peers), train, decoded)
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
    content = checkpoint.load(where, require=("shortlist",))
    told = ", ".join(f"{key} {value:,}" for key, value in content.get("settings", {}).items())
    estimate = content["shortlist"].get("normaliser") is not None
    return told + (", normalised over the estimated full vocabulary" if estimate else ", normalised over itself")


def setting_name(number: str, short: bool, workers: int, fp32: str = "") -> str:
    """How the tables name a way of decoding: its number format, the shortlist, the workers."""
    parts = ([number] if number != "fp32" else [fp32] if fp32 else []) + (["shortlist"] if short else [])
    return (", " if fp32 else " + ").join(parts + ([f"{workers} workers"] if workers > 1 else []))


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
    settings = [(number, short, 1) for short in (False, True) for number in numbers]
    for kind in settings:
        decoded.update(_decode_setting(args, kind, src_file, srcs, refs, flops, peak, tmp))
    if torch.get_num_threads() > 1:  # the fastest (greedy and beam 5 together) again, a worker per thread
        number, short, _ = max(settings, key=lambda kind: decoded[(1, *kind)]["sent_s"] * decoded[(5, *kind)]["sent_s"])
        settings.append((number, short, torch.get_num_threads()))
        decoded.update(_decode_setting(args, settings[-1], src_file, srcs, refs, flops, peak, tmp))
    print(f"\n(shortlist: {shortlisted}; its rows count the full vocabulary's FLOPs)")
    for beam in (1, 5):
        fp32 = decoded[beam, "fp32", False, 1]
        for number, short, workers in settings[1:]:
            other = decoded[beam, number, short, workers]
            name = setting_name(number, short, workers)
            print(f"{name} / fp32, {'greedy' if beam == 1 else f'beam {beam}'}: "
                  f"{other['sent_s'] / fp32['sent_s']:.2f}x speed, {other['bleu'] - fp32['bleu']:+.1f} BLEU")
    print(f"signature: {decoded[(5, *settings[-1])]['signature']}")
    return decoded


def _decode_setting(args, kind: tuple[str, bool, int], src_file: Path, srcs: list[str], refs: list[str],
                    flops: dict[int, float], peak: float, tmp: Path) -> dict:
    """Greedy and beam-5 decoding of srcs (read from src_file) in one setting (number format,
    shortlist, workers): decoding alone and the whole command timed, scored and printed as
    table rows; returns the figures by (beam, *kind)."""
    number, short, workers = kind
    decoded = {}
    translator = load_format(args.model, number, workers=workers)
    for beam in (1, 5):
        translator = translator.with_search(beam=beam, shortlist=short)
        out, seconds, pieces = decode(translator, srcs, args.repeats)
        bleu, chrf = score(out, refs)
        cmd = [sys.executable, "-m", "s2s", "translate", "-m", args.model, "-i", str(src_file),
               "-o", str(tmp / "hyp.txt"), "--beam", str(beam), "--quiet", "--workers", str(workers),
               *format_options(number), *(["--shortlist"] if short else [])]
        whole = statistics.median(run_timed(cmd)[0] for _ in range(args.repeats))
        sent_s = len(srcs) / seconds
        decoded[(beam, *kind)] = {"sent_s": sent_s, "whole_sent_s": len(srcs) / whole,
                                  "bleu": bleu.score, "signature": bleu.signature}
        achieved = pieces / seconds * flops[beam] / 1e9
        print(f"| {'greedy' if beam == 1 else f'beam {beam}'} | {setting_name(number, short, workers, 'fp32')} | "
              f"{bleu.score:.1f} | {chrf.score:.1f} | {sent_s:.1f} | {pieces / seconds:,.0f} | {achieved:.1f} | "
              f"{achieved / peak:.0%} | {whole:.1f} |", flush=True)
    if translator.pool is not None:
        translator.pool.close()
    return decoded

if __name__ == "__main__":
    main()
