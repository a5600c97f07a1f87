"""What a checkpoint holds, as one mapping: `s2s info` prints it, the server's /info sends it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from s2s import checkpoint
from s2s.errors import UserError
from s2s.metrics import WIDTH
from s2s.tokenizer import Tokenizer

PATH_KEYS = ("train", "valid", "test")  # the config's data section: where the run read its files


def describe(model: str | Path, paths: bool = True) -> dict[str, Any]:
    """Facts about a checkpoint (or a run directory's best.pt): size, vocabulary, task,
    validation scores, training state and config. Without `paths`, the checkpoint's path and
    the data files named in its config are left out (what a server may show)."""
    path = checkpoint.resolve(model)
    content = checkpoint.load(path, require=("config", "tokenizer", "model"))
    try:
        tokenizer = Tokenizer.from_state(content["tokenizer"])
    except (RuntimeError, ValueError, TypeError, KeyError) as e:
        raise UserError(f"{path}: the checkpoint's tokenizer cannot be read: {e}") from None
    meta, progress = content.get("meta", {}), content.get("progress")
    averaged = "averaged_steps" in meta
    facts = {
        "checkpoint": str(path),
        "parameters": checkpoint.parameter_count(content["model"]),
        "vocabulary": {"source": tokenizer.src_vocab_size, "target": tokenizer.tgt_vocab_size,
                       "joint": tokenizer.joint},
        "step": meta.get("step"),
    }
    task = checkpoint.task_of(content)
    if task == "translate":
        facts.update({
            "best_valid_bleu": _rounded(meta.get("best_bleu")),
            "best_step": meta.get("best_step"),
            "valid_bleu_at_step": None if averaged else _rounded(meta.get("valid_bleu")),
            "bleu_signature": meta.get("bleu_signature"),
            "scored_with": "greedy search on the validation split (data.valid), sacrebleu corpus BLEU",
        })
    else:
        score = lambda key: None if meta.get(key) is None else round(meta[key], 2)  # noqa: E731
        facts.update({
            "task": task, "labels": content.get("labels"),
            "vocabulary": {"source": tokenizer.src_vocab_size},
            "best_valid_accuracy": score("best_score"), "best_step": meta.get("best_step"),
            "valid_accuracy_at_step": None if averaged else score("valid_score"),
            "scored_with": "accuracy (%) on the validation split (data.valid)",
        })
    if averaged:
        facts["validated"] = (f"no: this is the average of steps {', '.join(map(str, meta['averaged_steps']))}, "
                              "never validated itself (the best validation score is the run's best single checkpoint's); "
                              "score it with s2s eval -m")
    if progress is not None:
        facts["training"] = {"epoch": progress["epoch"], "skipped_steps": progress.get("skipped_steps", 0),
                             "validations": len(progress["history"]), "interrupted": meta.get("interrupted", False)}
    if averaged:
        facts["averaged_steps"] = meta["averaged_steps"]
    facts["config"] = content["config"]
    if not paths:
        del facts["checkpoint"]
        data = dict(facts["config"].get("data", {}))
        for key in PATH_KEYS:
            data.pop(key, None)
        facts["config"] = {**facts["config"], "data": data}
    return facts


def _rounded(bleu: float | None) -> float | None:
    """A validation BLEU as sacrebleu prints it (one decimal)."""
    return None if bleu is None else round(bleu, WIDTH)
