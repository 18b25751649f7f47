"""torch.distributed set-up: the same code runs alone or under ``torchrun``."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from morphospace.io.reader import default_workers

__all__ = ["Distributed"]


@dataclass(frozen=True)
class Distributed:
    """This process's place in the job: rank 0 of 1 without torchrun."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def cores_per_process(self) -> int:
        """This machine's cores shared evenly between the processes of the job."""
        return max(1, default_workers() // self.world_size)

    @classmethod
    def from_environment(cls, device_type: str) -> Distributed:
        """Join the process group that ``torchrun`` describes in the environment, if any.

        Uses NCCL on GPUs and gloo on the CPU.
        """
        world_size = int(os.environ.get("WORLD_SIZE", "1"))
        if world_size <= 1:
            return cls()
        if not dist.is_initialized():
            dist.init_process_group(backend="nccl" if device_type == "cuda" else "gloo")
        return cls(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))

    def any(self, flag: bool, device: torch.device) -> bool:
        """True if ``flag`` is true on any rank (so every rank takes the same branch)."""
        if not self.enabled:
            return flag
        value = torch.tensor([float(flag)], device=device)
        dist.all_reduce(value, op=dist.ReduceOp.MAX)
        return bool(value.item())

    def mean(self, value: float, device: torch.device) -> float:
        """Average of a number over ranks."""
        if not self.enabled:
            return value
        tensor = torch.tensor([value], device=device, dtype=torch.float64)
        dist.all_reduce(tensor)
        return float(tensor.item()) / self.world_size

    def broadcast_buffers(self, module: torch.nn.Module) -> None:
        """Give every rank rank 0's buffers (BatchNorm statistics drift apart between syncs)."""
        if self.enabled:
            for buffer in module.buffers():
                dist.broadcast(buffer, src=0)

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()

    def close(self) -> None:
        if self.enabled and dist.is_initialized():
            dist.destroy_process_group()
