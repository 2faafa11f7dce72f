"""The Trainer's checkpoints: what a checkpoint holds beyond the tensors, writing it, and restoring
a run from it (a mixin of :class:`rnnkit.training.Trainer`; see :mod:`rnnkit.training.checkpoint`
for the files)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from rnnkit.serialization import load_state_dict_checked
from rnnkit.training import checkpoint as ckpt
from rnnkit.training.callbacks import EarlyStopping
from rnnkit.training.state import RunState


class CheckpointMixin:
    """``_write_checkpoint``, ``_meta`` and ``_restore`` of the Trainer (they use its ``config``,
    ``dist``, ``optimizer``, ``scheduler`` and callbacks)."""

    def _write_checkpoint(self, loop: Any, best: bool = False, force: bool = False) -> Path | None:
        """Write ``step-N``; ``force``: even with ``keep_last_checkpoints=0`` (a signal stopped the run)."""
        cfg, state, root, dist = self.config, loop.state, loop.root, self.dist
        if root is None or (cfg.keep_last_checkpoints == 0 and not best and not force):
            return None
        path = root / f"step-{state.step:08d}"
        meta = self._meta(loop)  # collective under DDP: every rank's RNG state is gathered
        if dist.is_main:
            ckpt.write_checkpoint(root, path.name, model=loop.model, optimizer=self.optimizer, meta=meta)
            if best:
                state.best_checkpoint = path.name
                ckpt.set_pointer(root, "best", path.name, metric=cfg.monitor, value=state.best)
            ckpt.set_pointer(root, "latest", path.name, step=state.step, epoch=state.epoch)
            keep = {state.best_checkpoint} if cfg.save_best else set()
            ckpt.prune(root, cfg.keep_last_checkpoints, keep | ({path.name} if force else set()))
        dist.barrier()
        loop.last_written = path
        return path

    def _gather(self, value: Any) -> list[Any]:
        if not self.dist.enabled:
            return [value]
        gathered: list[Any] = [None] * self.dist.world_size
        torch.distributed.all_gather_object(gathered, value)
        return gathered

    def _meta(self, loop: Any) -> dict[str, Any]:
        state = loop.state
        now = ckpt.capture_rng()
        epoch_start = loop.epoch_start_rng if state.batch_in_epoch else now
        return {
            "rnnkit_version": _version(),
            "trainer_config": self.config.to_dict(),
            "world_size": self.dist.world_size,
            "progress": {**state.__dict__},
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
            "callbacks": self._callback_states(),
            "rng": self._gather(now),
            "epoch_start_rng": self._gather(epoch_start),
        }

    def _stateful_callbacks(self) -> list[tuple[str, Any]]:
        """``("<index>.<class name>", callback)`` for the callbacks that have a ``state_dict()``."""
        return [(f"{i}.{type(c).__name__}", c) for i, c in enumerate(self._all_callbacks)
                if callable(getattr(c, "state_dict", None))]

    def _callback_states(self) -> dict[str, Any]:
        return {key: callback.state_dict() for key, callback in self._stateful_callbacks()}

    def _restore(self, model: nn.Module, resume: bool | str) -> tuple[RunState, dict[str, Any]]:
        """Load a checkpoint into the model, optimizer, schedule and callbacks; return progress and RNG states."""
        path = ckpt.find_checkpoint(resume, self.config.output_dir)
        meta, weights, optimizer_tensors = ckpt.read_checkpoint(path)
        ckpt.check_same_model(meta["model"], model, path)
        ckpt.check_same_training(meta, self.config.to_dict(), path)
        load_state_dict_checked(model, weights, what=f"checkpoint {path}")
        try:
            self.optimizer.load_state_dict(ckpt.join_optimizer_state(optimizer_tensors, meta["optimizer"]))
        except (ValueError, KeyError, RuntimeError) as error:
            raise ckpt.CheckpointError(
                f"resume: the optimizer state in {path} does not fit this optimizer "
                f"({self.config.optimizer!r}); was it saved with another one? ({error})"
            ) from None
        if self.scheduler is not None and meta.get("scheduler") is not None:
            self.scheduler.load_state_dict(meta["scheduler"])
        state = RunState(**meta["progress"])
        saved = meta.get("callbacks") or {}
        for key, callback in self._stateful_callbacks():
            if key in saved:
                callback.load_state_dict(saved[key])
            elif isinstance(callback, EarlyStopping):  # a checkpoint from before EarlyStopping was a callback
                callback.load_state_dict({"best": state.best, "bad_validations": state.bad_validations})
        rank, world = self.dist.rank, self.dist.world_size
        if meta.get("world_size", 1) != world and state.batch_in_epoch:
            raise ckpt.CheckpointError(
                f"resume: {path} was written mid-epoch by {meta.get('world_size')} processes; resume it with "
                f"the same number (now {world}), or from an end-of-epoch checkpoint"
            )
        pick = rank if rank < len(meta["rng"]) else 0
        return state, {"now": meta["rng"][pick], "epoch_start": meta["epoch_start_rng"][pick]}


def _version() -> str:
    from rnnkit.serialization import _version as version

    return version()
