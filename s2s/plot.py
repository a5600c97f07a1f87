"""Pictures: attention heatmaps and training curves, as PNG files (matplotlib, no display).

Labels are drawn with DejaVu Sans, falling back to other installed fonts that cover more
scripts (Noto, Droid, WenQuanYi, ...) when there are any; glyphs no installed font has
are drawn as boxes rather than failing.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: never needs a display

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib import font_manager  # noqa: E402

from s2s.atomic import atomic_file  # noqa: E402

DPI = 100
CELL = 0.32  # inches per source or target piece in a heatmap
FALLBACK_FONTS = ("DejaVu Sans", "Noto Sans", "Noto Sans CJK JP", "Noto Sans CJK SC", "Noto Sans Arabic",
                  "Noto Sans Hebrew", "Noto Sans Devanagari", "Noto Sans Thai", "Droid Sans Fallback",
                  "WenQuanYi Zen Hei", "Arial Unicode MS")

logging.getLogger("matplotlib.font_manager").setLevel(logging.ERROR)


def _fonts() -> list[str]:
    installed = {f.name for f in font_manager.fontManager.ttflist}
    return [name for name in FALLBACK_FONTS if name in installed] or ["sans-serif"]


def heatmap_size(n_src: int, n_tgt: int) -> tuple[int, int]:
    """The (width, height) in pixels of a heatmap of n_tgt rows over n_src columns."""
    width = max(4.0, CELL * n_src + 2.0)
    height = max(3.0, CELL * n_tgt + 1.8)
    return int(round(width * DPI)), int(round(height * DPI))


def attention_heatmap(weights, src_pieces: list[str], tgt_pieces: list[str], path: str | Path,
                      title: str = "") -> None:
    """Writes a PNG of attention weights (T, S): target pieces down, source pieces across."""
    fig = heatmap_figure(weights, src_pieces, tgt_pieces, title)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # missing glyphs
        _save(fig, path)


def heatmap_figure(weights, src_pieces: list[str], tgt_pieces: list[str], title: str = ""):
    """The figure of an attention heatmap: source pieces and their label along the top,
    output pieces and theirs down the left, the translation as a caption below.

    Matplotlib's constrained layout places the labels and the caption so that none
    overlaps another, whatever the number and length of the pieces.
    """
    n_tgt, n_src = len(tgt_pieces), len(src_pieces)
    if tuple(weights.shape) != (n_tgt, n_src):
        raise ValueError(f"weights {tuple(weights.shape)} do not match {n_tgt} x {n_src} labels")
    width, height = heatmap_size(n_src, n_tgt)
    with plt.rc_context({"font.family": _fonts(), "font.size": 9}), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # missing glyphs
        fig, ax = plt.subplots(figsize=(width / DPI, height / DPI), dpi=DPI, layout="constrained")
        ax.imshow(weights, cmap="Greys", vmin=0.0, vmax=1.0, aspect="auto", interpolation="nearest")
        ax.set_xticks(range(n_src), src_pieces, rotation=90)
        ax.set_yticks(range(n_tgt), tgt_pieces)
        ax.xaxis.tick_top()
        ax.xaxis.set_label_position("top")
        ax.set_xlabel("source")
        ax.set_ylabel("output")
        if title:
            fig.supxlabel(title, fontsize=9)
        fig.canvas.draw()  # lays out now, inside the fonts' context
    return fig


def training_curves(train_log: list[dict], valid_log: list[dict], path: str | Path) -> None:
    """Writes a PNG of training and validation loss, and the validation score (BLEU, or
    accuracy), against steps."""
    with plt.rc_context({"font.family": _fonts(), "font.size": 9}):
        fig, (loss_ax, bleu_ax) = plt.subplots(2, 1, figsize=(7, 6), dpi=DPI, sharex=True)
        if train_log:
            loss_ax.plot([r["step"] for r in train_log], [r["loss"] for r in train_log],
                         label="training loss (label-smoothed)", color="tab:blue", linewidth=1)
        if valid_log:
            steps = [r["step"] for r in valid_log]
            loss_ax.plot(steps, [r["valid_loss"] for r in valid_log], "o-", label="validation loss",
                         color="tab:orange", markersize=3)
            bleu_ax.plot(steps, [r.get("valid_score", r.get("valid_bleu")) for r in valid_log], "o-",
                         color="tab:green", markersize=3)
        metric = valid_log[-1].get("metric", "BLEU") if valid_log else "BLEU"
        loss_ax.set_ylabel("loss per target piece" if metric == "BLEU" else "loss per label")
        loss_ax.legend(loc="upper right")
        loss_ax.grid(alpha=0.3)
        bleu_ax.set_ylabel("validation BLEU (greedy)" if metric == "BLEU" else f"validation {metric} (%)")
        bleu_ax.set_xlabel("step")
        bleu_ax.grid(alpha=0.3)
        fig.tight_layout()
        _save(fig, path)


def _save(fig, path: str | Path) -> None:
    try:
        with atomic_file(path) as handle:
            fig.savefig(handle, format="png", dpi=DPI)
    finally:
        plt.close(fig)
