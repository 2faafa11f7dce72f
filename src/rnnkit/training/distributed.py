"""Multi-process data parallel through ``torch.distributed``, launched by ``torchrun``.

``torchrun --nproc_per_node N ...`` sets ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK`` and the
rendezvous address; the Trainer then joins the process group (NCCL on CUDA, gloo on CPU), wraps
the model in ``DistributedDataParallel``, shards the data, and lets only rank 0 write.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass
class Distributed:
    """Where this process stands: its rank, the number of processes, its local rank."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    owns_group: bool = False

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()

    def sum(self, values: torch.Tensor) -> torch.Tensor:
        """Element-wise sum over processes (a copy; the input is left alone)."""
        values = values.clone()
        if self.enabled:
            dist.all_reduce(values, op=dist.ReduceOp.SUM)
        return values

    def close(self) -> None:
        if self.owns_group and dist.is_initialized():
            dist.destroy_process_group()
            self.owns_group = False


def setup_distributed(device_type: str) -> Distributed:
    """Join the process group that ``torchrun`` describes in the environment (or do nothing).

    Args:
        device_type: ``"cuda"`` picks the NCCL backend, anything else gloo.
    """
    if dist.is_available() and dist.is_initialized():
        return Distributed(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", 0)))
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Distributed()
    if not dist.is_available():
        raise RuntimeError("distributed: WORLD_SIZE > 1 but this torch build has no torch.distributed")
    backend = "nccl" if device_type == "cuda" else "gloo"
    dist.init_process_group(backend=backend)
    return Distributed(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", 0)), owns_group=True)


def resolve_device(requested: str, local_rank: int, *, distributed: bool) -> torch.device:
    """``"auto"`` -> CUDA when available (``cuda:LOCAL_RANK`` under DDP), else the CPU."""
    if requested == "auto":
        requested = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(requested)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device: {requested!r} was asked for but CUDA is not available")
        if distributed and device.index is None:
            device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    return device
