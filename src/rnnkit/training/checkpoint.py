"""Checkpoints: weights and optimizer tensors in safetensors, everything else in JSON, written atomically.

Layout under ``output_dir/checkpoints/``::

    step-00000120/
      model.safetensors       the model's state_dict
      optimizer.safetensors   every tensor of the optimizer state (key "<param index>.<name>")
      trainer.json            config, model description, optimizer param groups, scheduler state,
                              epoch/step/batch position, RNG states, early-stopping state, history,
                              and the SHA-256 of both tensor files
    latest.json               {"checkpoint": "step-00000120"}
    best.json                 {"checkpoint": "step-00000080", "metric": "val_loss", "value": 0.31}

A checkpoint directory is written under a temporary name and renamed into place, and the
pointers are replaced atomically, so a process killed at any instant leaves the previous
checkpoint intact. Nothing is ever unpickled: JSON and safetensors only.
"""

from __future__ import annotations

import base64
import os
import random
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from rnnkit.serialization import (
    Saveable,
    SerializationError,
    class_key,
    read_json,
    read_tensors,
    write_json,
    write_tensors,
)

FORMAT = "rnnkit.checkpoint"
FORMAT_VERSION = 1


class CheckpointError(SerializationError):
    """A checkpoint is missing, corrupted, or does not fit the model being resumed."""


# ------------------------------------------------------------------------------------------- RNG


def capture_rng() -> dict[str, Any]:
    """Every RNG state that training touches (Python, NumPy, torch CPU and CUDA), as JSON values."""
    version, internal, gauss = random.getstate()
    name, keys, pos, has_gauss, cached = np.random.get_state()
    state = {
        "python": [version, list(internal), gauss],
        "numpy": [name, keys.tolist(), int(pos), int(has_gauss), float(cached)],
        "torch": _b64(torch.get_rng_state()),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = [_b64(s) for s in torch.cuda.get_rng_state_all()]
    return state


def restore_rng(state: dict[str, Any]) -> None:
    """Inverse of :func:`capture_rng`."""
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(_unb64(state["torch"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([_unb64(s) for s in state["cuda"]])


def _b64(t: Tensor) -> str:
    return base64.b64encode(t.cpu().numpy().tobytes()).decode("ascii")


def _unb64(text: str) -> Tensor:
    return torch.frombuffer(bytearray(base64.b64decode(text)), dtype=torch.uint8).clone()


# ------------------------------------------------------------------------------------- optimizer


def split_optimizer_state(optimizer: torch.optim.Optimizer) -> tuple[dict[str, Tensor], dict[str, Any]]:
    """An optimizer's state as (tensors for safetensors, JSON for the rest)."""
    full = optimizer.state_dict()
    tensors: dict[str, Tensor] = {}
    plain: dict[str, dict[str, Any]] = {}
    for index, entry in full["state"].items():
        for name, value in entry.items():
            if isinstance(value, Tensor):
                tensors[f"{index}.{name}"] = value
            else:
                plain.setdefault(str(index), {})[name] = value
    return tensors, {"param_groups": full["param_groups"], "state": plain}


def join_optimizer_state(tensors: dict[str, Tensor], meta: dict[str, Any]) -> dict[str, Any]:
    """Inverse of :func:`split_optimizer_state`: a dict for ``optimizer.load_state_dict``."""
    state: dict[int, dict[str, Any]] = {int(k): dict(v) for k, v in meta["state"].items()}
    for key, tensor in tensors.items():
        index, _, name = key.partition(".")
        state.setdefault(int(index), {})[name] = tensor
    return {"state": state, "param_groups": meta["param_groups"]}


# ------------------------------------------------------------------------------------------ model


def describe_model(model: nn.Module) -> dict[str, Any]:
    """What a checkpoint records to recognise its model: class, config (if saveable), tensor shapes."""
    return {
        "class": class_key(type(model)),
        "config": model.get_config() if isinstance(model, Saveable) else None,
        "tensors": {name: list(t.shape) for name, t in model.state_dict().items()},
    }


def check_same_model(saved: dict[str, Any], model: nn.Module, where: Path) -> None:
    """Raise :class:`CheckpointError` listing how ``model`` differs from the checkpoint's model."""
    now = describe_model(model)
    problems = []
    if saved.get("config") is not None and now["config"] is not None and saved["config"] != now["config"]:
        keys = sorted(set(saved["config"]) | set(now["config"]))
        diffs = [f"{k}: checkpoint {saved['config'].get(k)!r}, model {now['config'].get(k)!r}"
                 for k in keys if saved["config"].get(k) != now["config"].get(k)]
        problems.append("config differs (" + "; ".join(diffs) + ")")
    old, new = saved["tensors"], now["tensors"]
    if set(old) != set(new):
        only_old, only_new = sorted(set(old) - set(new)), sorted(set(new) - set(old))
        problems.append(f"parameters differ (only in checkpoint: {only_old[:4]}, only in model: {only_new[:4]})")
    else:
        shapes = [f"{k}: checkpoint {old[k]}, model {new[k]}" for k in old if old[k] != new[k]]
        if shapes:
            problems.append("shapes differ (" + "; ".join(shapes[:4]) + ")")
    if problems:
        raise CheckpointError(
            f"resume: the model does not match the checkpoint {where}: {'; '.join(problems)}. "
            "Build the model with the checkpoint's configuration, or use a new output_dir."
        )


#: Settings a checkpoint cannot be resumed under when they changed: the optimizer state and the
#: schedule only fit their own kind; a mid-epoch data position only means something for the same
#: batches in the same order.
ALWAYS_SAME = ("optimizer", "scheduler")
SAME_MID_EPOCH = ("batch_size", "shuffle", "drop_last", "seed", "accumulate_grad_batches", "tbptt_steps",
                  "tbptt_backprop_steps")


def check_same_training(meta: dict[str, Any], config: dict[str, Any], where: Path) -> None:
    """Raise :class:`CheckpointError` naming the Trainer settings that differ from the checkpoint's
    in a way that makes an exact resume impossible."""
    saved = meta.get("trainer_config") or {}
    progress = meta.get("progress") or {}
    names = [*ALWAYS_SAME, *(SAME_MID_EPOCH if progress.get("batch_in_epoch") else ())]
    diffs = [f"{name}: checkpoint {saved[name]!r}, this run {config.get(name)!r}"
             for name in names if name in saved and saved[name] != config.get(name)]
    if diffs:
        raise CheckpointError(
            f"resume: {where} cannot be continued with these Trainer settings ({'; '.join(diffs)}). "
            "Resume with the checkpoint's settings, or start a new run (another output_dir)."
        )


# ------------------------------------------------------------------------------------ read/write


def checkpoint_dir(output_dir: str | os.PathLike) -> Path:
    return Path(output_dir) / "checkpoints"


def write_checkpoint(
    root: Path, name: str, *, model: nn.Module, optimizer: torch.optim.Optimizer, meta: dict[str, Any]
) -> Path:
    """Write checkpoint ``root/name`` atomically and return its path.

    ``meta`` holds the JSON part (config, scheduler, progress, RNG, ...); the model description,
    optimizer param groups and checksums are added here.
    """
    root.mkdir(parents=True, exist_ok=True)
    final = root / name
    tmp = root / f".{name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    model_sha = write_tensors(tmp / "model.safetensors", model.state_dict())
    opt_tensors, opt_meta = split_optimizer_state(optimizer)
    opt_sha = write_tensors(tmp / "optimizer.safetensors", opt_tensors)
    write_json(tmp / "trainer.json", {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        **meta,
        "model": describe_model(model),
        "optimizer": opt_meta,
        "sha256": {"model.safetensors": model_sha, "optimizer.safetensors": opt_sha},
    })
    if final.exists():  # the same step written again after a resume: swap, never leave a gap without one
        trash = root / f".{name}.old-{os.getpid()}"
        os.replace(final, trash)
        os.replace(tmp, final)
        shutil.rmtree(trash, ignore_errors=True)
    else:
        os.replace(tmp, final)
    return final


def set_pointer(root: Path, pointer: str, name: str, **extra: Any) -> None:
    """Atomically point ``latest.json`` / ``best.json`` at checkpoint ``name``."""
    write_json(root / f"{pointer}.json", {"checkpoint": name, **extra})


def read_pointer(root: Path, pointer: str) -> dict[str, Any] | None:
    path = root / f"{pointer}.json"
    return read_json(path, what=f"checkpoint pointer {pointer}") if path.exists() else None


def prune(root: Path, keep_last: int, protected: set[str]) -> None:
    """Delete all but the newest ``keep_last`` step checkpoints, sparing ``protected`` names."""
    steps = sorted(p.name for p in root.glob("step-*") if p.is_dir())
    keep = set(steps[-keep_last:]) if keep_last else set()
    for name in steps:
        if name not in keep and name not in protected:
            shutil.rmtree(root / name, ignore_errors=True)


def find_checkpoint(resume: bool | str | os.PathLike, output_dir: str | None) -> Path:
    """The checkpoint to resume from: a given directory, or ``output_dir``'s latest.

    Raises:
        CheckpointError: nothing to resume from.
    """
    if not isinstance(resume, bool):
        path = Path(resume)
        if not (path / "trainer.json").is_file():
            raise CheckpointError(f"resume: {path} is not a checkpoint directory (no trainer.json in it)")
        return path
    if output_dir is None:
        raise CheckpointError("resume: resume=True needs output_dir (where the checkpoints are), or a checkpoint path")
    root = checkpoint_dir(output_dir)
    pointer = read_pointer(root, "latest")
    if pointer is None:
        raise CheckpointError(f"resume: no checkpoint to resume from in {root} (latest.json is missing)")
    path = root / pointer["checkpoint"]
    if not path.is_dir():
        raise CheckpointError(f"resume: latest.json points to {path}, which does not exist")
    return path


def load_checkpoint_weights(model: nn.Module, path: str | os.PathLike) -> None:
    """Load the (checksum-verified) model weights of checkpoint directory ``path`` into ``model``.

    Example:
        >>> result = trainer.fit(model, train, val)
        >>> load_checkpoint_weights(model, result.best_checkpoint)   # back to the best epoch
    """
    from rnnkit.serialization import load_state_dict_checked

    path = Path(path)
    meta, weights, _ = read_checkpoint(path)
    check_same_model(meta["model"], model, path)
    load_state_dict_checked(model, weights, what=f"checkpoint {path}")


def read_checkpoint(path: Path) -> tuple[dict[str, Any], dict[str, Tensor], dict[str, Tensor]]:
    """Read and verify a checkpoint: (JSON meta, model tensors, optimizer tensors)."""
    try:
        meta = read_json(path / "trainer.json", what="checkpoint")
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise CheckpointError(f"checkpoint: {path / 'trainer.json'} is not an rnnkit checkpoint")
        sums = meta.get("sha256", {})
        model = read_tensors(path / "model.safetensors", expected_sha256=sums.get("model.safetensors"),
                             what="checkpoint weights")
        optimizer = read_tensors(path / "optimizer.safetensors", expected_sha256=sums.get("optimizer.safetensors"),
                                 what="checkpoint optimizer state")
    except CheckpointError:
        raise
    except SerializationError as error:
        raise CheckpointError(str(error)) from None
    return meta, model, optimizer
