"""Checkpoint files: self-contained, written atomically, loaded without running code.

A checkpoint holds the weights, the run's config (as plain data), the serialized
tokenizer models, metadata (step, validation scores) and, for `last.pt`, the training
state needed to resume. It is read with `torch.load(weights_only=True)`, which only
rebuilds tensors and plain containers, never arbitrary objects.
"""

from __future__ import annotations

import pickle
import warnings
import zipfile
from pathlib import Path
from typing import Any

import torch

from s2s.atomic import atomic_file
from s2s.errors import UserError

FORMAT = "s2s-checkpoint-1"
BEST, LAST = "best.pt", "last.pt"
STEP_PATTERN = "step-*.pt"  # the checkpoints kept at each validation: step-0001000.pt
TASK_STATE = ("lengths", "labels")  # beside the weights: the training lengths (translate), the labels
ZIP_MAGIC = b"PK\x03\x04"  # how every zip archive, and so every torch.save file, starts


def step_name(step: int) -> str:
    return f"step-{step:07d}.pt"


def kept(run_dir: str | Path) -> list[Path]:
    """The run's step checkpoints, oldest first."""
    return sorted(Path(run_dir).glob(STEP_PATTERN))


def save(path: str | Path, content: dict[str, Any]) -> None:
    """Writes a checkpoint so that `path` only ever holds a complete file."""
    with atomic_file(path) as handle:
        torch.save({"format": FORMAT, **content}, handle)


def resolve(model: str | Path) -> Path:
    """A checkpoint file, or a run directory's best checkpoint (its last if there is no best)."""
    path = Path(model)
    if path.is_dir():
        for name in (BEST, LAST):
            if (path / name).is_file():
                return path / name
        raise UserError(f"{path} is a directory without a checkpoint ({BEST} or {LAST})")
    if not path.is_file():
        raise UserError(f"model not found: {path}")
    return path


def load(path: str | Path, map_location: str | torch.device = "cpu",
         require: tuple[str, ...] = ()) -> dict[str, Any]:
    """Reads a checkpoint written by `save`, refusing anything else or one lacking `require`."""
    path = Path(path)
    damage = _damage(path)
    if damage:
        raise UserError(f"{path} is truncated or not an s2s checkpoint: {damage}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch's notes on pickle protocols
            content = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError:
        raise UserError(f"{path} is not an s2s checkpoint: it holds objects other than tensors and "
                        "plain data, and s2s never runs code from a checkpoint") from None
    except Exception as e:  # noqa: BLE001  a damaged archive can fail in any way; torch's text is no help
        raise UserError(f"{path} is truncated or not an s2s checkpoint: its archive is damaged "
                        f"({type(e).__name__})") from None
    if not isinstance(content, dict) or content.get("format") != FORMAT:
        found = content.get("format") if isinstance(content, dict) else None
        if isinstance(found, str) and found.startswith("s2s-checkpoint-"):
            raise UserError(f"{path} is an s2s checkpoint of format {found}, which this version of "
                            f"s2s cannot read (it reads {FORMAT})")
        raise UserError(f"{path} is not an s2s checkpoint (expected format {FORMAT})")
    missing = [key for key in require if key not in content]
    if missing:
        raise UserError(f"{path} is an incomplete s2s checkpoint: it has no {', '.join(missing)}")
    return content


def _damage(path: Path) -> str | None:
    """Why a file cannot be a checkpoint, from its bytes alone (None if it may be one).

    torch.save writes a zip archive: it starts with a local file header and ends with the
    archive's central directory, so a file cut short keeps the first and loses the second.
    """
    with open(path, "rb") as f:
        head = f.read(4)
    if not head:
        return "the file is empty"
    if head != ZIP_MAGIC:
        return "it does not start as the zip archive that torch.save writes"
    if not zipfile.is_zipfile(path):
        return "the archive stops before its end (a copy or download cut short?)"
    return None


def task_of(content: dict[str, Any]) -> str:
    """The task a loaded checkpoint's model does (`translate` for those older than tasks)."""
    config = content.get("config")
    return config.get("task", "translate") if isinstance(config, dict) else "translate"


def train_log(run_dir: str | Path) -> list[dict[str, Any]]:
    """A run's training log as its last.pt records it: one dict per log window (step, loss,
    tokens_per_s, ...)."""
    return load(Path(run_dir) / LAST, require=("progress",))["progress"]["train_log"]


def tensor_identity(tensor: torch.Tensor) -> tuple[int, tuple[int, ...]]:
    """What several names of one shared (tied) tensor have in common."""
    return tensor.data_ptr(), tuple(tensor.shape)


def parameter_count(weights: dict[str, torch.Tensor]) -> int:
    """Parameters in a state dict, each shared (tied) tensor counted once."""
    return sum({tensor_identity(tensor): tensor.numel() for tensor in weights.values()}.values())


def average(paths: list[Path]) -> dict[str, Any]:
    """A checkpoint whose weights are the element-wise mean of those in `paths`.

    Config, tokenizer, metadata and the task's state (lengths, labels) come from the last
    path; all must hold the same model.
    """
    contents = [load(p, require=("config", "tokenizer", "model")) for p in paths]
    newest = contents[-1]
    for path, content in zip(paths, contents):
        if content["config"]["model"] != newest["config"]["model"] or content["model"].keys() != newest["model"].keys():
            raise UserError(f"{path} holds another model than {paths[-1]}: only checkpoints of one run "
                            "can be averaged")
    weights, done = {}, {}  # done: a tied tensor (several names, one storage) is averaged once
    for name, tensor in newest["model"].items():
        key = tensor_identity(tensor)
        if key in done:
            weights[name] = done[key]
        elif tensor.is_floating_point():
            total = sum(c["model"][name].double() for c in contents)
            weights[name] = (total / len(contents)).to(tensor.dtype)
        else:
            weights[name] = tensor.clone()
        done[key] = weights[name]
    meta = {**newest.get("meta", {}), "averaged": [str(p) for p in paths],
            "averaged_steps": [c.get("meta", {}).get("step") for c in contents]}
    kept = {key: newest[key] for key in TASK_STATE if key in newest}  # what the task needs to use it
    return {"config": newest["config"], "tokenizer": newest["tokenizer"], "model": weights, "meta": meta, **kept}
