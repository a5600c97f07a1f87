"""Translation models from checkpoints: one, or several as an ensemble (s2s.ensemble).

Members of an ensemble may differ in architecture, but must cut text into the same pieces:
their tokenizers are compared, and models trained on the same text with the same tokenizer
settings share it.
"""

from __future__ import annotations

from pathlib import Path

from s2s import checkpoint
from s2s.config import Config
from s2s.configfile import from_dict
from s2s.ensemble import Ensemble
from s2s.errors import UserError
from s2s.lengths import Lengths
from s2s.model import Seq2Seq
from s2s.tokenizer import Tokenizer


def load(model_path: str | Path | list[str | Path]) -> tuple[Config, Tokenizer, Seq2Seq | Ensemble,
                                                            Lengths | None, int]:
    """The config, tokenizer, model (on the CPU, an Ensemble for a list of several paths) and
    training lengths of the first checkpoint, and the longest source sentence every model
    was trained on (`data.max_len` for checkpoints older than that record)."""
    paths = list(model_path) if isinstance(model_path, (list, tuple)) else [model_path]
    if not paths:
        raise UserError("no model given")
    members = [_load_member(path) for path in paths]
    config, tokenizer, model, lengths = members[0]
    for path, (_, other, _, _) in zip(paths[1:], members[1:]):
        check_same_tokenizer(paths[0], tokenizer, path, other)
    if len(members) > 1:
        model = Ensemble([member[2] for member in members])
    src_max = min(found.src_max if found else cfg.data.max_len for cfg, _, _, found in members)
    return config, tokenizer, model, lengths, src_max


def _load_member(model_path: str | Path) -> tuple[Config, Tokenizer, Seq2Seq, Lengths | None]:
    """A translation checkpoint's config, tokenizer, model (on the CPU) and training lengths."""
    path = checkpoint.resolve(model_path)
    content = checkpoint.load(path, map_location="cpu", require=("config", "tokenizer", "model"))
    task = checkpoint.task_of(content)
    if task != "translate":
        raise UserError(f"{path} is a {task} model, not a translator: use s2s predict -m {model_path}")
    try:
        config = from_dict(content["config"])
        tokenizer = Tokenizer.from_state(content["tokenizer"])
        model = Seq2Seq.from_config(config.model, tokenizer.src_vocab_size, tokenizer.tgt_vocab_size)
        model.load_state_dict(content["model"])
        lengths = Lengths.from_state(content.get("lengths"))
    except (UserError, RuntimeError, ValueError, TypeError, KeyError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise UserError(f"{path}: the checkpoint's parts do not fit together: {first}") from None
    return config, tokenizer, model, lengths


def check_same_tokenizer(first_path: str | Path, first: Tokenizer, path: str | Path, other: Tokenizer) -> None:
    """Ensemble members must cut text into the same pieces, on both sides."""
    for side, mine, theirs in (("target", first.tgt_model or first.src_model, other.tgt_model or other.src_model),
                               ("source", first.src_model, other.src_model)):
        if mine != theirs:
            raise UserError(f"{first_path} and {path} have different {side} tokenizers, so they cannot "
                            "translate as an ensemble: its models must cut text into the same pieces "
                            "(models trained on the same text with the same tokenizer settings do; on text "
                            "of more than tokenizer.max_sentences lines, with the same train.seed too)")
