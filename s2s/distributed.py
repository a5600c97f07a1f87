"""The process group when training runs under `torchrun`: who I am, and agreeing with the others.

`torchrun --nproc_per_node=N -m s2s train ...` starts N processes with RANK, WORLD_SIZE and
LOCAL_RANK set; `Group.start()` joins them into a torch.distributed process group (NCCL on
GPUs, gloo on CPUs). Without torchrun it is a group of one whose operations do nothing,
so the training loop reads the same either way.
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

from s2s.errors import UserError


@dataclass(frozen=True)
class Group:
    """This process's place among the training processes."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        """Rank 0 alone writes checkpoints, logs, plots and validation results."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @classmethod
    def start(cls, device: torch.device) -> "Group":
        """Joins the torchrun process group, if there is one (else a group of one)."""
        world_size = int(os.environ.get("WORLD_SIZE", "1"))
        if world_size == 1:
            return cls()
        group = cls(int(os.environ["RANK"]), world_size, int(os.environ.get("LOCAL_RANK", "0")))
        if not dist.is_initialized():
            backend = "nccl" if device.type == "cuda" else "gloo"
            dist.init_process_group(backend, timeout=datetime.timedelta(minutes=30))
        return group

    def device(self, device: torch.device) -> torch.device:
        """One GPU per process on a machine: cuda:LOCAL_RANK."""
        if device.type == "cuda" and self.distributed:
            if self.local_rank >= torch.cuda.device_count():
                raise UserError(f"process {self.rank} has local rank {self.local_rank} but this machine has "
                                f"{torch.cuda.device_count()} GPUs: use --nproc_per_node <= the GPU count")
            torch.cuda.set_device(self.local_rank)
            return torch.device("cuda", self.local_rank)
        return device

    def any(self, flag: bool, device: torch.device) -> bool:
        """True on every process if it is True on any (e.g. a signal one of them received)."""
        if not self.distributed:
            return flag
        value = torch.tensor([1.0 if flag else 0.0], device=device)
        dist.all_reduce(value, op=dist.ReduceOp.MAX)
        return bool(value.item() > 0)

    def total(self, number: float, device: torch.device) -> float:
        """The sum of `number` over all processes."""
        if not self.distributed:
            return number
        value = torch.tensor([float(number)], dtype=torch.float64, device=device)
        dist.all_reduce(value)
        return float(value.item())

    def maximum(self, number: float, device: torch.device) -> float:
        """The largest `number` over all processes (e.g. the elapsed time, so that all agree)."""
        if not self.distributed:
            return number
        value = torch.tensor([float(number)], dtype=torch.float64, device=device)
        dist.all_reduce(value, op=dist.ReduceOp.MAX)
        return float(value.item())

    def share(self, value: Any) -> Any:
        """Rank 0's `value` (any picklable object), on every process."""
        if not self.distributed:
            return value
        box = [value if self.main else None]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def gather(self, value: Any) -> list[Any]:
        """Every process's `value`, in rank order, on every process."""
        if not self.distributed:
            return [value]
        out: list[Any] = [None] * self.world_size
        dist.all_gather_object(out, value)
        return out

    def barrier(self) -> None:
        if self.distributed:
            dist.barrier()

    def stop(self) -> None:
        if self.distributed and dist.is_initialized():
            dist.destroy_process_group()
