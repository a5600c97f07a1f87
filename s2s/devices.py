"""Where a model runs: a name the user gives ("auto", "cpu", "cuda", "cuda:1") or a torch.device."""

from __future__ import annotations

import torch

from s2s.errors import UserError


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """The torch.device for `device`; "auto" picks CUDA when torch sees a GPU, else the CPU."""
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError):
        raise UserError(f"device {device!r}: expected auto, cpu, cuda or cuda:N") from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise UserError(f"--device {device}: no CUDA GPU is available to torch here")
    return resolved
