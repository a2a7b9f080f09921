"""Data-parallel training with ``torchrun``: the same ``train`` command on N processes.

    torchrun --nproc_per_node 4 -m nmt_core train configs/my.yaml --run-dir runs/big

``torchrun`` sets RANK, WORLD_SIZE, LOCAL_RANK (and MASTER_ADDR/PORT); ``setup`` reads them, joins the
process group (nccl on CUDA, gloo on CPU) and gives each process its GPU (``cuda:LOCAL_RANK``). Without
those variables everything here is a no-op (``World.single()``), so the trainer has one code path.

How a step stays *the same step* as on one process (tests/test_distributed.py checks it):

* **Sampler.** Every rank computes the same seeded, bucketed order of *global* batches
  (``batching.bucketed_batches``), then takes every ``world_size``-th sentence of each one
  (``World.shard``). Ranks therefore see similar lengths (little padding, balanced work) and, together,
  exactly the global batch. Global batches with fewer sentences than ranks are dropped (``usable``), on
  every rank alike, because every rank must take part in every backward pass.
* **Loss.** The loss is normalised by the number of target tokens in the *global* batch, which each
  rank counts on the host from the shared order: no communication, no device sync. DDP *averages*
  gradients over ranks, so each rank back-propagates ``world_size x`` its share; the average of those
  is the sum of the shares, i.e. the gradient of the global-batch mean loss. Gradient clipping then sees
  identical gradients on every rank.
* **Bookkeeping.** Rank 0 alone writes metrics, status and checkpoints and runs validation; the result
  is broadcast so that every rank updates best BLEU, patience and plateau learning rates alike. Stop
  requests (STOP file, time budget) are read by rank 0 at logging steps and broadcast, so all ranks stop
  at the same step. A barrier follows each checkpoint write.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

ENV_VARS = ("RANK", "WORLD_SIZE", "LOCAL_RANK")


@dataclass(frozen=True)
class World:
    """This process's place in the job. ``World.single()`` when not launched by torchrun."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @classmethod
    def single(cls) -> World:
        return cls()

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    # ---- data
    def usable(self, batches: list[list[int]]) -> list[list[int]]:
        """Global batches every rank can take a non-empty share of (all of them on one process)."""
        return batches if not self.enabled else [b for b in batches if len(b) >= self.world_size]

    def shard(self, index: list[int]) -> list[int]:
        """This rank's sentences of a global batch: every world_size-th one, starting at its rank."""
        return index if not self.enabled else index[self.rank::self.world_size]

    # ---- collectives (no-ops on one process)
    def sum(self, tensor: torch.Tensor) -> torch.Tensor:
        """All-reduce SUM of a tensor (returned; the input may be modified)."""
        if self.enabled:
            dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
        return tensor

    def broadcast(self, obj: Any) -> Any:
        """Rank 0's ``obj`` on every rank (picklable objects, e.g. a validation record or a stop reason)."""
        if not self.enabled:
            return obj
        box = [obj if self.is_main else None]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()


def launched_by_torchrun() -> bool:
    return all(v in os.environ for v in ENV_VARS) and int(os.environ["WORLD_SIZE"]) > 1


def setup(device: torch.device) -> tuple[World, torch.device]:
    """Join the process group when launched by torchrun; returns the world and this rank's device.

    ``device`` is the one the config asked for: on CUDA each rank takes ``cuda:LOCAL_RANK``
    (backend nccl); anything else trains on CPU with gloo (MPS has no collective backend)."""
    if not launched_by_torchrun():
        return World.single(), device
    world = World(int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]), int(os.environ["LOCAL_RANK"]))
    if device.type == "cuda":
        device = torch.device("cuda", world.local_rank)
        torch.cuda.set_device(device)
        backend = "nccl"
    else:
        device, backend = torch.device("cpu"), "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend=backend, rank=world.rank, world_size=world.world_size,
                                **({"device_id": device} if backend == "nccl" else {}))
    return world, device


def cleanup() -> None:
    """Leave the process group (a no-op when there is none)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


class LossModule(nn.Module):
    """``model.loss`` as a module's forward, so DDP can wrap it: DDP synchronises gradients only for
    computations that go through the wrapper's ``forward``. Holds the model, adds no parameters."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, *args: Any, **kwargs: Any):
        return self.model.loss(*args, **kwargs)


def wrap_loss(model: nn.Module, world: World, device: torch.device):
    """The callable the training step computes its loss with: ``model.loss`` on one process, the same
    function under DistributedDataParallel (which broadcasts rank 0's initial weights) on several."""
    if not world.enabled:
        return model.loss
    from torch.nn.parallel import DistributedDataParallel as DDP

    ids = [device.index] if device.type == "cuda" else None
    return DDP(LossModule(model), device_ids=ids, output_device=ids[0] if ids else None)


def share_tokenizers(world: World, tokenizers):
    """Rank 0's tokenizers on every rank, sent as sentencepiece model bytes (training them separately
    on each rank is not guaranteed to give identical vocabularies)."""
    if not world.enabled:
        return tokenizers
    from .tokenizer import Tokenizer, TokenizerPair

    blob = world.broadcast(None if tokenizers is None else
                           (tokenizers.src.to_bytes(), None if tokenizers.joint else tokenizers.tgt.to_bytes()))
    if world.is_main:
        return tokenizers
    src = Tokenizer(blob[0])
    return TokenizerPair(src, src if blob[1] is None else Tokenizer(blob[1]))
