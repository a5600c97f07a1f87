"""Word alignment against human links: alignment error rate (AER), precision and recall on
the English-French Hansards gold set (the 147 dev pairs, Sure and Possible links), side by
side in one run, for eflomal, s2s's own statistical aligners (IBM Model 1, the diagonal
model and the HMM, the last by agreement as `s2s align` without a model runs it), and s2s
models' attention (one direction, the other, and both combined), with each s2s model's BLEU
on Multi30k.

Every aligner learns from the same text: Multi30k and Tatoeba English-French plus the text
(not the links) of the 147 sentences. eflomal is GPL-3 and is run as a separate program
(`eflomal-align`, from `pip install eflomal` in an environment of its own); give its path
with --eflomal, or leave it out to skip it.

    python bench/align.py --prepare     # writes runs/align/data/train.{en,fr} (once)
    s2s train -c configs/align_en_fr.yaml -o runs/align/en_fr                   # and the others:
    s2s train -c configs/align_en_fr.yaml -o runs/align/en_fr_guided --set train.guided_alignment=1
    s2s train -c configs/align_en_fr.yaml -o runs/align/fr_en --set data.src_lang=fr --set data.tgt_lang=en
    s2s train -c configs/align_en_fr.yaml -o runs/align/fr_en_guided --set data.src_lang=fr \\
        --set data.tgt_lang=en --set train.guided_alignment=1
    python bench/align.py --eflomal /path/to/eflomal-align \\
        --s2s attention=runs/align/en_fr,runs/align/fr_en --s2s guided=runs/align/en_fr_guided,runs/align/fr_en_guided

With an alignment head (model.alignment_head) taught by a teacher's links, one model per
direction gives two systems: its head (--s2s), and its translation attention, which is
that of the same model trained without a head (--s2s-attention). The teacher is s2s's
HMMs by agreement, or eflomal with --eflomal:

    python bench/align.py --teacher    # runs/align/data/train.{en-fr,fr-en}.align
    s2s train -c configs/align_en_fr.yaml -o runs/align/en_fr_head --set model.alignment_head=256 \\
        --set train.guided_alignment=1 --set data.train_alignments=runs/align/data/train.en-fr.align
    s2s train -c configs/align_en_fr.yaml -o runs/align/fr_en_head --set model.alignment_head=256 \\
        --set train.guided_alignment=1 --set data.train_alignments=runs/align/data/train.fr-en.align \\
        --set data.src_lang=fr --set data.tgt_lang=en
    python bench/align.py --eflomal /path/to/eflomal-align --s2s head=runs/align/en_fr_head,runs/align/fr_en_head \\
        --s2s-attention attention=runs/align/en_fr_head,runs/align/fr_en_head

docs/translating.md ("Measured against human alignments") gives the commands of the two
runs (one per direction) whose heads err less than eflomal: the 147 sentences repeated 30
times in training, and 2,400 steps.
"""

from __future__ import annotations

import argparse
import functools
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DATA = Path(os.environ.get("S2S_DATA", "data"))
GOLD = DATA / "alignment" / "enfr-hansards"
TRAIN = [DATA / "multi30k" / "train", DATA / "tatoeba-en-fr" / "train", GOLD / "dev"]
WORK = Path("runs/align/data")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prepare", action="store_true", help=f"write the training text to {WORK} and stop")
    parser.add_argument("--eflomal", help="the eflomal-align program (a separate install: it is GPL-3)")
    parser.add_argument("--teacher", action="store_true",
                        help="write links of the training text for guided alignment: s2s's HMMs by agreement "
                             "(s2s align without -m), or eflomal's with --eflomal")
    parser.add_argument("--s2s", action="append", default=[], metavar="NAME=EN_FR[,FR_EN]",
                        help="s2s runs to align with: English->French, and optionally French->English "
                             "(by their alignment heads where they have one)")
    parser.add_argument("--s2s-attention", action="append", default=[], metavar="NAME=EN_FR[,FR_EN]",
                        help="the same, by the runs' translation attention even where they have a head")
    parser.add_argument("--no-bleu", action="store_true", help="skip the Multi30k BLEU of the s2s models")
    return parser.parse_args()


def read(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def prepare() -> None:
    """The training text: Multi30k, Tatoeba and the gold sentences' text, one file per language."""
    WORK.mkdir(parents=True, exist_ok=True)
    for lang in ("en", "fr"):
        lines = [line for prefix in TRAIN for line in read(Path(f"{prefix}.{lang}"))]
        (WORK / f"train.{lang}").write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    print(f"wrote {len(lines)} pairs to {WORK}/train.{{en,fr}}")


def classic_text() -> tuple[list[str], list[str], int]:
    """The training text as classical aligners want it (lowercased, punctuation split off),
    with the gold sentences last as they are tokenised (lowercased); and how many those are."""
    from s2s.hmm import classical_tokens

    gold = {lang: [line.lower() for line in read(GOLD / f"dev.{lang}")] for lang in ("en", "fr")}
    text = {lang: [" ".join(classical_tokens(line)[0])
                   for prefix in TRAIN[:-1] for line in read(Path(f"{prefix}.{lang}"))] + gold[lang]
            for lang in ("en", "fr")}
    return text["en"], text["fr"], len(gold["en"])


def teacher(program: str | None) -> None:
    """A teacher's links for every training pair, both directions combined
    (grow-diag-final-and), on the whitespace words of the text s2s trains on, written as
    train.en-fr.align and train.fr-en.align for data.train_alignments: eflomal's where its
    program is given (moved from its tokens to the words), else s2s's HMMs by agreement, as
    `s2s align` without a model prints them."""
    from s2s.alignment import pharaoh, symmetrize
    from s2s.hmm import classical_tokens, text_links

    raw = {lang: read(WORK / f"train.{lang}") for lang in ("en", "fr")}
    start = time.perf_counter()
    if program:
        en, fr, gold = classic_text()
        sides = eflomal(program, en, fr, len(en))
        words = {lang: [classical_tokens(line)[1] for line in raw[lang][:-gold]] +
                 [list(range(len(line.split()))) for line in raw[lang][-gold:]] for lang in ("en", "fr")}
        found = [{(words["en"][n][i], words["fr"][n][j]) for i, j in symmetrize(fwd, rev, "grow-diag-final-and")}
                 for n, (fwd, rev) in enumerate(zip(sides["fwd"], sides["rev"]))]
    else:
        found = text_links(raw["en"], raw["fr"])
    out = {"en-fr": [pharaoh(links) for links in found], "fr-en": [pharaoh({(j, i) for i, j in links}) for links in found]}
    for direction, lines in out.items():
        (WORK / f"train.{direction}.align").write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    print(f"{'eflomal' if program else 's2s.hmm'} aligned {len(found)} pairs in {time.perf_counter() - start:.0f} s: "
          f"{WORK}/train.en-fr.align and train.fr-en.align")


def _links(line: str) -> set:
    from s2s.alignment import parse_links

    return parse_links(line, "eflomal's output")


def eflomal(program: str, en: list[str], fr: list[str], last: int) -> dict[str, list[set]]:
    """eflomal's links (model 3) for the last `last` pairs, both directions."""
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "en").write_text("".join(line + "\n" for line in en), encoding="utf-8")
        (Path(tmp) / "fr").write_text("".join(line + "\n" for line in fr), encoding="utf-8")
        subprocess.run([program, "-s", f"{tmp}/en", "-t", f"{tmp}/fr", "-f", f"{tmp}/fwd", "-r", f"{tmp}/rev",
                        "--model", "3", "--overwrite"], check=True, stderr=subprocess.DEVNULL)
        return {side: [_links(line) for line in read(Path(tmp) / side)[-last:]] for side in ("fwd", "rev")}


def classical(aligner: str, jointly: bool, en: list[str], fr: list[str], last: int) -> dict[str, list[set]]:
    """s2s's IBM Model 1, diagonal model or HMM (s2s.align, s2s.diagonal, s2s.hmm) over words,
    trained both ways (by agreement if `jointly`); links for the last `last` pairs."""
    from s2s.align import Model1
    from s2s.diagonal import DiagonalModel
    from s2s.hmm import HmmModel, learn_links

    model = {"Model1": Model1, "DiagonalModel": DiagonalModel, "HmmModel": HmmModel}[aligner]
    forward, backward = learn_links(en, fr, model, jointly, slice(len(en) - last, None))
    return {"fwd": forward, "rev": backward}


def attention(run: str, src: list[str], tgt: list[str], backward: bool, head: bool = True) -> list[set]:
    """Links from a model's attention by forced decoding, or from its alignment head where it
    has one (unless `head` is False); (English, French) word pairs."""
    from s2s import Translator

    translator = Translator.load(run, device="cpu", precision="fp32")
    if not head:
        translator.model.aligner = None  # the translation attention: the model as trained without its head
    found = [set(translator.alignment(t)) for t in translator.force_all(src, tgt)]
    return [{(j, i) for i, j in links} for links in found] if backward else found


@functools.cache
def bleu(run: str, src_lang: str, tgt_lang: str) -> tuple[float, float]:
    """Validation and test_2016_flickr BLEU of a run on Multi30k (its own search settings),
    once per run: its head, if any, plays no part in translation."""
    from s2s import Translator, score

    translator = Translator.load(run, device="cpu", precision="fp32")
    out = []
    for split in ("val", "test_2016_flickr"):
        hyp = translator.translate(read(DATA / "multi30k" / f"{split}.{src_lang}"))
        out.append(score(hyp, read(DATA / "multi30k" / f"{split}.{tgt_lang}"))[0].score)
    return out[0], out[1]


def argmax_share(links: list[set], gold) -> float:
    """Of the French words with a Sure link, the share whose link (one per word, as attention
    gives) is a Sure link."""
    hit = total = 0
    for found, g in zip(links, gold):
        sure_words = {j for _, j in g.sure}
        total += len(sure_words)
        hit += len({j for i, j in found if (i, j) in g.sure})
    return hit / total if total else 0.0


def main() -> None:
    args = parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    if args.prepare:
        prepare()
        return
    if args.teacher:
        teacher(args.eflomal)
        return
    from s2s.alignment import error_rate, parse_gold, symmetrize

    gold = [parse_gold(line, f"{GOLD / 'dev.gold'}:{n}", one_based=True)
            for n, line in enumerate(read(GOLD / "dev.gold"), 1)]
    en, fr = read(GOLD / "dev.en"), read(GOLD / "dev.fr")
    print(f"gold: {GOLD} ({len(gold)} pairs, {sum(len(g.sure) for g in gold)} Sure and "
          f"{sum(len(g.possible) for g in gold)} Possible links)")
    rows = []

    def add(system: str, sides: dict[str, list[set]], seconds: float, extra: str = "") -> None:
        views = {"en->fr": sides["fwd"]}
        if "rev" in sides:
            views["fr->en"] = sides["rev"]
            for method in ("intersection", "grow-diag-final-and"):
                views[method] = [symmetrize(a, b, method) for a, b in zip(sides["fwd"], sides["rev"])]
        for view, links in views.items():
            rate = error_rate(links, gold)
            share = f"{argmax_share(links, gold):.1%}" if view == "en->fr" else ""
            rows.append(f"| {system} | {view} | {100 * rate.aer:.1f} | {100 * rate.precision:.1f} | "
                        f"{100 * rate.recall:.1f} | {rate.links} | {share} | {seconds:.0f} | {extra} |")

    text = classic_text()
    if args.eflomal:
        start = time.perf_counter()
        add("eflomal (model 3)", eflomal(args.eflomal, *text), time.perf_counter() - start)
    for aligner, jointly, system in (("Model1", False, "IBM Model 1 (s2s.align, words)"),
                                     ("DiagonalModel", False, "diagonal model (s2s.diagonal, words)"),
                                     ("DiagonalModel", True, "diagonal model by agreement (s2s.diagonal, words)"),
                                     ("HmmModel", False, "HMM (s2s.hmm, words)"),
                                     ("HmmModel", True, "HMM by agreement (s2s.hmm, words; s2s align without -m)")):
        start = time.perf_counter()
        add(system, classical(aligner, jointly, *text), time.perf_counter() - start)
    for spec, head in [(spec, True) for spec in args.s2s] + [(spec, False) for spec in args.s2s_attention]:
        name, _, runs = spec.partition("=")
        runs = runs.split(",")
        start = time.perf_counter()
        sides = {"fwd": attention(runs[0], en, fr, backward=False, head=head)}
        if len(runs) > 1:
            sides["rev"] = attention(runs[1], fr, en, backward=True, head=head)
        seconds = time.perf_counter() - start
        extra = ""
        if not args.no_bleu:
            scores = [bleu(runs[0], "en", "fr")] + ([bleu(runs[1], "fr", "en")] if len(runs) > 1 else [])
            extra = "; ".join(f"{d}: {v:.1f} / {t:.1f}" for d, (v, t) in zip(("en-fr", "fr-en"), scores))
        add(f"s2s {name}", sides, seconds, extra)
    print()
    print("| system | links | AER | precision | recall | links | argmax on a Sure link | seconds | "
          "Multi30k BLEU val / test |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
