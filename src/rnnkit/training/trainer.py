"""``Trainer``: one training loop for every rnnkit model (layer 5 of docs/design.md).

The loop in :meth:`Trainer.fit` reads top to bottom in phases: set up (devices, processes, data,
optimizer, schedule, resume) -> for each batch: forward/backward per micro-batch or TBPTT chunk
-> optimizer step (norm, non-finite guard, clipping, step, schedule, log) -> end of epoch
(validate, early stopping, checkpoint) -> finish (final model, plot).
"""

from __future__ import annotations

import contextlib
import math
import time
from pathlib import Path
from typing import Any

import torch
from torch import nn

from rnnkit.serialization import Saveable, load_state_dict_checked
from rnnkit.training import checkpoint as ckpt
from rnnkit.training.batches import batch_size, describe, sequence_length, to_device
from rnnkit.training.config import TrainerConfig
from rnnkit.training.data import Batches
from rnnkit.training.distributed import Distributed, resolve_device, setup_distributed
from rnnkit.training.evaluation import BatchError, evaluate_batches, predict_batches
from rnnkit.training.logs import CSVLog, Progress, TensorBoardLog, plot_training_curves
from rnnkit.training.optim import build_optimizer, build_scheduler
from rnnkit.training.protocol import check_trainable
from rnnkit.training.state import AccumulationGroup, FitResult, RunState, TrainingDiverged, seed_everything
from rnnkit.training.steps import NO_STATE, StepRunner, loss_and_logs, tbptt_windows


class Trainer:
    """Trains any model that follows :class:`~rnnkit.training.TrainableModel`.

    Args:
        config: a :class:`TrainerConfig`; or give its fields as keyword arguments.
        callbacks: objects with any of ``on_step_end(trainer, step, row)`` and
            ``on_epoch_end(trainer, epoch, record)``; called on every process. A callback ends
            the run after the current epoch by setting ``trainer.should_stop = True``
            (``stop_reason`` ``"callback"``).
        **options: :class:`TrainerConfig` fields (``max_epochs=5, lr=3e-3, ...``).

    Example:
        >>> trainer = rnnkit.Trainer(max_epochs=5, lr=3e-3, clip_grad_norm=1.0, output_dir="runs/a")
        >>> result = trainer.fit(model, train_dataset, val_dataset)
        >>> result.history[-1]["val_loss"]
        >>> trainer.fit(model, train_dataset, val_dataset, resume=True)   # after an interruption
    """

    def __init__(self, config: TrainerConfig | None = None, *, callbacks: list[Any] | None = None, **options: Any):
        if config is not None and options:
            raise TypeError("Trainer: give a TrainerConfig or keyword options, not both")
        self.config = config if config is not None else TrainerConfig.from_dict(options, where="Trainer")
        self.callbacks = list(callbacks or [])

    # ------------------------------------------------------------------------------------ fit
    def fit(self, model: nn.Module, train_data: Any, val_data: Any = None, *, resume: bool | str = False) -> FitResult:
        """Train ``model`` on ``train_data``, validating on ``val_data`` each ``val_every_n_epochs``.

        Args:
            model: an ``nn.Module`` with ``training_step`` / ``validation_step``.
            train_data: a ``Dataset`` (batched by the Trainer with a seeded, resumable order) or
                an iterable of batches such as a ``DataLoader``.
            val_data: the same kinds, or ``None``.
            resume: ``True`` continues from ``output_dir``'s latest checkpoint; a path continues
                from that checkpoint directory. Continuing is exact: weights, optimizer,
                schedule, RNG states and data position are restored.

        Returns:
            A :class:`FitResult`.

        Raises:
            TrainingDiverged: ``max_nonfinite_steps`` consecutive non-finite steps.
            BatchError: the model failed on a batch (the message describes the batch).
            rnnkit.training.CheckpointError: no checkpoint to resume from, a corrupted one, or a
                model that differs from the checkpoint's.
        """
        cfg = self.config
        tbptt = cfg.tbptt_steps is not None
        check_trainable(model, tbptt=tbptt)
        wants_cuda = cfg.device.startswith("cuda") or (cfg.device == "auto" and torch.cuda.is_available())
        self.dist = dist = setup_distributed("cuda" if wants_cuda else "cpu")
        # Saturated gates drive RNN activations into subnormal floats, which CPUs process ~10x
        # slower (measured: 0.07 s -> 0.65 s per LSTM step mid-training); flush them to zero.
        flush = cfg.flush_denormal and torch.set_flush_denormal(True)
        try:
            return self._fit(model, train_data, val_data, resume)
        finally:
            if flush:
                torch.set_flush_denormal(False)
            dist.close()

    def _fit(self, model: nn.Module, train_data: Any, val_data: Any, resume: bool | str) -> FitResult:
        cfg, dist = self.config, self.dist
        self.device = device = resolve_device(cfg.device, dist.local_rank, distributed=dist.enabled)
        model.to(device)
        loader_options = {"batch_size": cfg.batch_size, "drop_last": cfg.drop_last, "num_workers": cfg.num_workers,
                          "seed": cfg.seed, "rank": dist.rank, "world_size": dist.world_size}
        if val_data is not None and not callable(getattr(model, "validation_step", None)):
            raise TypeError(f"model: val_data was given but {type(model).__name__} has no validation_step(batch)")
        batches = Batches(train_data, shuffle=cfg.shuffle, **loader_options)
        val_batches = None if val_data is None else Batches(
            val_data, shuffle=False, **{**loader_options, "drop_last": False}, name="val_data")
        parameters = [p for p in model.parameters() if p.requires_grad]
        if not parameters:
            raise ValueError("model: it has no parameter that requires a gradient")
        self.optimizer = optimizer = build_optimizer(cfg, parameters)
        self.total_steps = total = self._total_steps(batches, model)
        self.scheduler = scheduler = build_scheduler(cfg, optimizer, total)
        per_step_schedule = cfg.scheduler in ("cosine", "one-cycle")

        # Phase: start fresh, or restore everything from a checkpoint.
        state, resume_rng = RunState(), None
        if resume:
            state, resume_rng = self._restore(model, resume)
        else:
            seed_everything(cfg.seed + dist.rank)
        root = ckpt.checkpoint_dir(cfg.output_dir) if cfg.output_dir else None
        writes = root is not None and dist.is_main
        out_dir = Path(cfg.output_dir) if cfg.output_dir else None
        csv_log = CSVLog(out_dir / "metrics.csv", resume_step=state.step if resume else None) if writes else None
        tb_log = TensorBoardLog(out_dir / "tensorboard", purge_step=state.step if resume else None) if (
            writes and cfg.tensorboard) else None
        progress = Progress(cfg.progress_bar if dist.is_main else False, total=total, initial=state.step)
        self.model = model
        self.should_stop = False
        runner: nn.Module = StepRunner(model, self._autocast)
        if dist.enabled:
            runner = nn.parallel.DistributedDataParallel(runner, device_ids=[device] if device.type == "cuda" else None)
        previous_determinism = torch.are_deterministic_algorithms_enabled()
        if cfg.deterministic:
            torch.use_deterministic_algorithms(True)
        result = FitResult(output_dir=out_dir)
        last_written: Path | None = None

        def log(row: dict[str, Any]) -> None:
            if csv_log is not None:
                csv_log.log(row)
            if tb_log is not None:
                tb_log.log(row)

        def write_checkpoint(best: bool = False) -> Path | None:
            nonlocal last_written
            if root is None or (cfg.keep_last_checkpoints == 0 and not best):
                return None
            path = root / f"step-{state.step:08d}"
            meta = self._meta(state)  # collective under DDP: every rank's RNG state is gathered
            if dist.is_main:
                ckpt.write_checkpoint(root, path.name, model=model, optimizer=optimizer, meta=meta)
                if best:
                    state.best_checkpoint = path.name
                    ckpt.set_pointer(root, "best", path.name, metric=cfg.monitor, value=state.best)
                ckpt.set_pointer(root, "latest", path.name, step=state.step, epoch=state.epoch)
                ckpt.prune(root, cfg.keep_last_checkpoints, {state.best_checkpoint} if cfg.save_best else set())
            dist.barrier()
            last_written = path
            return path

        epoch_losses: list[float] = []
        last_validation: dict[str, float] = {}  # the monitored metric, shown on the progress bar
        group = AccumulationGroup()
        checkpoint_due = False

        def optimizer_step(scale: float = 1.0) -> None:
            nonlocal checkpoint_due
            row = self._optimizer_step(state, parameters, group.losses, scale)
            row.update({k: sum(v) / len(v) for k, v in group.extras.items()})
            group.reset()
            # The schedule holds `total` rates, for steps 0 .. total-1: never step past the last.
            if per_step_schedule and row["skipped"] == 0 and scheduler.last_epoch + 1 < (total or math.inf):
                scheduler.step()
            if math.isfinite(row["train_loss"]):
                epoch_losses.append(row["train_loss"])
            if state.step % cfg.log_every_n_steps == 0 or row["skipped"]:
                log(row)
            if state.nonfinite_consecutive >= cfg.max_nonfinite_steps:
                raise TrainingDiverged(
                    f"training stopped at step {state.step} (epoch {state.epoch}): {state.nonfinite_consecutive} "
                    f"consecutive steps had a non-finite loss or gradient (max_nonfinite_steps="
                    f"{cfg.max_nonfinite_steps}); the last finite loss was {state.last_finite_loss} at step "
                    f"{state.last_finite_step}. Try a lower lr or clip_grad_norm. "
                    + (f"Checkpoints and logs written so far are kept in {out_dir}." if out_dir else "")
                )
            progress.update(1, loss=row["train_loss"], grad_norm=row["grad_norm"],
                            **{"ex/s": row.get("examples_per_s"), **last_validation})
            for callback in self.callbacks:
                if hasattr(callback, "on_step_end"):
                    callback.on_step_end(self, state.step, row)
            if cfg.checkpoint_every_n_steps and state.step % cfg.checkpoint_every_n_steps == 0:
                checkpoint_due = True

        def steps_done() -> bool:
            return cfg.max_steps is not None and state.step >= cfg.max_steps

        stop_reason = ""
        try:
            model.train()
            max_epochs = cfg.max_epochs if cfg.max_epochs is not None else math.inf
            while not stop_reason:
                if state.epoch >= max_epochs or steps_done():
                    stop_reason = "max_epochs" if state.epoch >= max_epochs else "max_steps"
                    break
                # Phase: the epoch's data order, resumed mid-epoch if the checkpoint was.
                # Creating the iterator draws from the global RNG (DataLoader's base seed), so a
                # resumed run recreates it under the RNG state of the epoch's start, then jumps to
                # the checkpoint's RNG state.
                epoch_start = time.perf_counter()
                if resume_rng is not None:
                    ckpt.restore_rng(resume_rng["epoch_start"])
                self._epoch_start_rng = ckpt.capture_rng()
                iterator = batches.epoch(state.epoch, skip=state.batch_in_epoch)
                if resume_rng is not None:
                    ckpt.restore_rng(resume_rng["now"])
                    resume_rng = None
                epoch_losses.clear()

                # Phase: batches -> micro-batches or TBPTT chunks -> optimizer steps.
                for batch in iterator:
                    try:
                        examples = batch_size(batch)
                    except ValueError as error:
                        where = f"epoch {state.epoch}, batch {state.batch_in_epoch}"
                        raise BatchError(f"train_data: {where}: {error}") from None
                    batch = to_device(batch, device)
                    tick = time.perf_counter()
                    for chunks, carry, sync in self._micro_batches(model, batch):
                        out, states = self._forward(runner, chunks, carry, batch, state)
                        loss, extras = loss_and_logs(out, "training_step")
                        last_micro = len(group.losses) + 1 == cfg.accumulate_grad_batches
                        # Under DDP, gradients are all-reduced only on the last micro-batch of a group.
                        with runner.no_sync() if (dist.enabled and not last_micro) else contextlib.nullcontext():
                            (loss / cfg.accumulate_grad_batches).backward()
                        sync(states)
                        group.add(float(loss.detach()), extras)
                        if last_micro:
                            self._throughput = examples / max(time.perf_counter() - tick, 1e-9)
                            optimizer_step()
                            tick = time.perf_counter()
                            if steps_done():
                                break
                    state.batch_in_epoch += 1
                    if steps_done():
                        stop_reason = "max_steps"
                        break
                    if checkpoint_due and not group.losses:
                        write_checkpoint()
                        checkpoint_due = False
                if group.losses and not stop_reason:  # a last, smaller accumulation group
                    optimizer_step(scale=cfg.accumulate_grad_batches / len(group.losses))

                # Phase: end of epoch — validate, early stopping, checkpoint.
                finished_epoch = not stop_reason
                record: dict[str, float] = {"epoch": state.epoch, "step": state.step,
                                            "train_loss": sum(epoch_losses) / max(len(epoch_losses), 1),
                                            "lr": optimizer.param_groups[0]["lr"]}
                improved = False
                if val_batches is not None and (
                        (state.epoch + 1) % cfg.val_every_n_epochs == 0 or stop_reason):
                    metrics = self._validate(model, val_batches)
                    record.update(metrics)
                    if cfg.monitor not in metrics:
                        raise KeyError(f"monitor: {cfg.monitor!r} is not a validation metric; got {sorted(metrics)}")
                    value = last_validation[cfg.monitor] = metrics[cfg.monitor]
                    improved = state.best is None or (
                        value < state.best if cfg.monitor_mode == "min" else value > state.best)
                    if improved:
                        state.best, state.bad_validations = value, 0
                    else:
                        state.bad_validations += 1
                    if cfg.scheduler == "reduce-on-plateau":
                        scheduler.step(value)
                    if cfg.early_stopping_patience is not None and state.bad_validations >= cfg.early_stopping_patience:
                        stop_reason = "early_stopping"
                record["seconds"] = time.perf_counter() - epoch_start
                state.history.append(record)
                log({"step": state.step, "epoch": state.epoch, **{k: v for k, v in record.items() if k[:4] == "val_"}})
                progress.write(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                                        for k, v in record.items()))
                for callback in self.callbacks:
                    if hasattr(callback, "on_epoch_end"):
                        callback.on_epoch_end(self, state.epoch, record)
                if self.should_stop and not stop_reason:  # a callback ended the run (a target was reached)
                    stop_reason = "callback"
                if finished_epoch:
                    state.epoch += 1
                    state.batch_in_epoch = 0
                write_checkpoint(best=improved and cfg.save_best)
        finally:
            progress.close()
            if tb_log is not None:
                tb_log.close()
            torch.use_deterministic_algorithms(previous_determinism)

        # Phase: finish — final model and training curves (rank 0 only).
        if out_dir is not None and dist.is_main:
            if isinstance(model, Saveable):
                model.save(out_dir / "model")
            if cfg.plot and csv_log is not None:
                plot_training_curves(csv_log.rows, out_dir / "training_curves.png")
        dist.barrier()
        result.history, result.steps, result.epochs = state.history, state.step, state.epoch
        result.stop_reason, result.best_metric, result.nonfinite_steps = stop_reason, state.best, state.nonfinite_total
        result.last_checkpoint = last_written
        result.best_checkpoint = root / state.best_checkpoint if (root and state.best_checkpoint) else None
        model.eval()
        return result

    # ---------------------------------------------------------------------------- loop pieces
    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.config.precision == "bf16-mixed":
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def _micro_batches(self, model: nn.Module, batch: Any):
        cfg = self.config
        if cfg.tbptt_steps is None:
            yield [batch], NO_STATE, lambda states: None
            return
        try:
            yield from tbptt_windows(model, batch, cfg.tbptt_steps, cfg.tbptt_backprop_steps or cfg.tbptt_steps)
        except ValueError as error:
            raise BatchError(str(error)) from None

    def _forward(self, runner: nn.Module, chunks: list[Any], carry: Any, batch: Any, state: RunState) -> Any:
        try:
            return runner(chunks, carry)
        except (RuntimeError, ValueError, TypeError, IndexError) as error:
            raise BatchError(
                f"training_step failed on epoch {state.epoch}, batch {state.batch_in_epoch} "
                f"({describe(batch)}): {error}"
            ) from error

    def _optimizer_step(self, state: RunState, parameters: list[nn.Parameter], losses: list[float], scale: float):
        """Gradient norm, non-finite guard, clipping, the step itself; returns the log row."""
        cfg, dist = self.config, self.dist
        grads = [p.grad for p in parameters if p.grad is not None]
        if scale != 1.0:
            for grad in grads:
                grad.mul_(scale)
        # The 2-norm over all gradients (what clip_grad_norm_ uses), written out to keep torch>=2.4.
        norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads])) if grads else (
            torch.zeros(()))
        loss = sum(losses) / len(losses)
        if dist.enabled:  # the norm is already global (DDP averaged the gradients); the loss is not
            loss = float(dist.sum(torch.tensor([loss], dtype=torch.float64))[0]) / dist.world_size
        state.step += 1
        row: dict[str, Any] = {"step": state.step, "epoch": state.epoch, "train_loss": loss,
                               "grad_norm": float(norm), "lr": self.optimizer.param_groups[0]["lr"], "skipped": 0}
        if not (math.isfinite(loss) and math.isfinite(row["grad_norm"])):
            # Phase: skip — the weights stay as they were; count it, and stop after too many in a row.
            self.optimizer.zero_grad(set_to_none=True)
            state.nonfinite_total += 1
            state.nonfinite_consecutive += 1
            row.update(skipped=1, nonfinite_total=state.nonfinite_total)
            return row
        if cfg.clip_grad_norm is not None:
            torch.nn.utils.clip_grads_with_norm_(parameters, cfg.clip_grad_norm, norm)
        if cfg.clip_grad_value is not None:
            torch.nn.utils.clip_grad_value_(parameters, cfg.clip_grad_value)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        state.nonfinite_consecutive = 0
        state.last_finite_loss, state.last_finite_step = loss, state.step
        row["examples_per_s"] = round(getattr(self, "_throughput", math.nan), 1)
        return row

    def _total_steps(self, batches: Batches, model: nn.Module) -> int | None:
        """Optimizer steps the run will take, if knowable (for schedules and the progress bar)."""
        cfg = self.config
        if cfg.max_epochs is None or not batches.has_length():
            return cfg.max_steps
        chunks: int | None = 1
        if cfg.tbptt_steps is not None:
            chunks = None
            if cfg.scheduler in ("cosine", "one-cycle") and cfg.max_steps is None:
                first = next(iter(batches.epoch(0)))  # one batch, to learn the sequence length
                chunks = math.ceil(getattr(model, "sequence_length", sequence_length)(first) / cfg.tbptt_steps)
        if chunks is None:
            return cfg.max_steps
        total = cfg.max_epochs * math.ceil(len(batches) * chunks / cfg.accumulate_grad_batches)
        return min(total, cfg.max_steps) if cfg.max_steps is not None else total

    # ------------------------------------------------------------------------- checkpoints
    def _gather(self, value: Any) -> list[Any]:
        if not self.dist.enabled:
            return [value]
        gathered: list[Any] = [None] * self.dist.world_size
        torch.distributed.all_gather_object(gathered, value)
        return gathered

    def _meta(self, state: RunState) -> dict[str, Any]:
        now = ckpt.capture_rng()
        epoch_start = self._epoch_start_rng if state.batch_in_epoch else now
        return {
            "rnnkit_version": _version(),
            "trainer_config": self.config.to_dict(),
            "world_size": self.dist.world_size,
            "progress": {**state.__dict__},
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
            "rng": self._gather(now),
            "epoch_start_rng": self._gather(epoch_start),
        }

    def _restore(self, model: nn.Module, resume: bool | str) -> tuple[RunState, dict[str, Any]]:
        """Load a checkpoint into the model, optimizer and schedule; return progress and RNG states."""
        path = ckpt.find_checkpoint(resume, self.config.output_dir)
        meta, weights, optimizer_tensors = ckpt.read_checkpoint(path)
        ckpt.check_same_model(meta["model"], model, path)
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
        rank, world = self.dist.rank, self.dist.world_size
        if meta.get("world_size", 1) != world and state.batch_in_epoch:
            raise ckpt.CheckpointError(
                f"resume: {path} was written mid-epoch by {meta.get('world_size')} processes; resume it with "
                f"the same number (now {world}), or from an end-of-epoch checkpoint"
            )
        pick = rank if rank < len(meta["rng"]) else 0
        return state, {"now": meta["rng"][pick], "epoch_start": meta["epoch_start_rng"][pick]}

    # ---------------------------------------------------------------------- evaluate/predict
    def _validate(self, model: nn.Module, batches: Batches) -> dict[str, float]:
        metrics = evaluate_batches(model, batches, device=self.device, autocast=self._autocast, dist=self.dist)
        return {(k if k.startswith("val_") else f"val_{k}"): v for k, v in metrics.items()}

    def _inference_batches(self, model: nn.Module, data: Any) -> Batches:
        if not hasattr(self, "dist"):
            self.dist = Distributed()
        first = next(model.parameters(), None)
        self.device = first.device if first is not None else torch.device("cpu")
        return Batches(data, batch_size=self.config.batch_size, shuffle=False, drop_last=False,
                       num_workers=self.config.num_workers, seed=self.config.seed, name="data")

    def evaluate(self, model: nn.Module, data: Any) -> dict[str, float]:
        """Average ``validation_step`` metrics over ``data``, weighted by batch size.

        Args:
            model: the model, on the device it should run on.
            data: a ``Dataset`` (batched with ``config.batch_size``) or an iterable of batches.

        Returns:
            ``{name: value}`` with the names ``validation_step`` uses (``"loss"``, ...).
        """
        batches = self._inference_batches(model, data)
        return evaluate_batches(model, batches, device=self.device, autocast=self._autocast, dist=self.dist)

    def predict(self, model: nn.Module, data: Any) -> Any:
        """Run ``model.predict_step(batch)`` (or ``model(batch)``) over ``data`` in order, without gradients.

        Returns:
            The outputs concatenated along the batch dimension when they are tensors, else a list.
        """
        batches = self._inference_batches(model, data)
        return predict_batches(model, batches, device=self.device, autocast=self._autocast)


def _version() -> str:
    from rnnkit.serialization import _version as version

    return version()
