"""``Trainer``: one training loop for every rnnkit model (layer 5 of docs/design.md).

:meth:`Trainer.fit` reads top to bottom in phases: set up (devices, processes, data, optimizer,
schedule, resume) -> for each epoch: its data order -> for each batch: forward/backward per
micro-batch or TBPTT chunk -> optimizer step (norm, non-finite guard, clipping, step, schedule,
log) -> end of epoch (validate, callbacks such as early stopping, checkpoint) -> finish (final
model, plot). What one ``fit`` call works with is one :class:`_Loop`; what a checkpoint restores
is its :class:`~rnnkit.training.state.RunState`.
"""

from __future__ import annotations

import contextlib
import math
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from rnnkit.dirlock import DirectoryLock
from rnnkit.serialization import Saveable
from rnnkit.training import checkpoint as ckpt
from rnnkit.training.batches import batch_size, describe, sequence_length, to_device
from rnnkit.training.callbacks import EarlyStopping
from rnnkit.training.checkpointing import CheckpointMixin
from rnnkit.training.config import TrainerConfig
from rnnkit.training.data import Batches
from rnnkit.training.distributed import Distributed, resolve_device, setup_distributed
from rnnkit.training.evaluation import BatchError, evaluate_batches, predict_batches
from rnnkit.training.logs import CSVLog, Progress, TensorBoardLog, plot_training_curves
from rnnkit.training.optim import build_optimizer, build_scheduler
from rnnkit.training.protocol import check_trainable
from rnnkit.training.signals import StopSignals, TrainingInterrupted, resume_hint
from rnnkit.training.state import AccumulationGroup, FitResult, RunState, TrainingDiverged, seed_everything
from rnnkit.training.steps import NO_STATE, StepRunner, loss_and_logs, tbptt_windows

#: At most one epoch line per this many seconds (the first and last epochs' always).
EPOCH_LINE_SECONDS = 5.0


@dataclass
class _Loop:
    """Everything one :meth:`Trainer.fit` call works with (``state`` is what checkpoints restore)."""

    model: nn.Module
    runner: nn.Module                    # the model's training_step, wrapped for DDP when distributed
    parameters: list[nn.Parameter]
    batches: Batches
    val_batches: Batches | None
    total: int | None                    # optimizer steps of the whole run, when knowable
    state: RunState
    out_dir: Path | None
    root: Path | None                    # output_dir/checkpoints (None: no checkpoints)
    csv_log: CSVLog | None
    tb_log: TensorBoardLog | None
    progress: Progress
    resume_rng: dict[str, Any] | None    # RNG states of a checkpoint, consumed by the first epoch
    group: AccumulationGroup = field(default_factory=AccumulationGroup)
    last_validation: dict[str, float] = field(default_factory=dict)  # the monitored metric, for the bar
    epoch_start_rng: dict[str, Any] | None = None
    epoch_started: float = 0.0
    throughput: float = math.nan
    checkpoint_due: bool = False
    last_written: Path | None = None
    stop_reason: str = ""
    last_line: float = -math.inf         # when the last epoch line was written (perf_counter)

    def log(self, row: dict[str, Any]) -> None:
        for sink in (self.csv_log, self.tb_log):
            if sink is not None:
                sink.log(row)



def _describe_empty(train_data: Any, cfg: Any) -> str:
    try:
        size = len(train_data)
    except TypeError:
        return "an empty iterable"
    if size == 0:
        return "0 samples"
    return f"{size} samples, batch_size={cfg.batch_size} with drop_last=True"

class Trainer(CheckpointMixin):
    """Trains any model that follows :class:`~rnnkit.training.TrainableModel`.

    Args:
        config: a :class:`TrainerConfig`; or give its fields as keyword arguments.
        callbacks: objects with any of ``on_step_end(trainer, step, row)``,
            ``on_epoch_end(trainer, epoch, record)`` and ``on_fit_end(trainer, result)``, called on
            every process (see :mod:`rnnkit.training.callbacks`: :class:`EarlyStopping`,
            :class:`KeepBest`). A callback ends the run with ``trainer.stop(reason)`` or by
            setting ``trainer.should_stop = True`` (``stop_reason`` ``"callback"``): from
            ``on_epoch_end`` after that epoch, from ``on_step_end`` after that step (the partial
            epoch is validated; under DDP, at the epoch's end).
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
        self.should_stop = False
        self._stop_reason = ""

    def stop(self, reason: str = "callback") -> None:
        """End the run after the current epoch; ``reason`` becomes ``FitResult.stop_reason``."""
        self.should_stop, self._stop_reason = True, reason

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
            rnnkit.dirlock.DirectoryLocked: another process is writing ``output_dir``.
            TrainingInterrupted: SIGTERM or SIGINT arrived; the step was finished and (with
                ``output_dir``) a checkpoint written. A ``SystemExit``: uncaught, the program exits
                with status 143 / 130 after printing how to resume.
        """
        cfg = self.config
        check_trainable(model, tbptt=cfg.tbptt_steps is not None)
        wants_cuda = cfg.device.startswith("cuda") or (cfg.device == "auto" and torch.cuda.is_available())
        self.dist = dist = setup_distributed("cuda" if wants_cuda else "cpu")
        # Saturated gates drive RNN activations into subnormal floats, which CPUs process ~10x
        # slower (measured: 0.07 s -> 0.65 s per LSTM step mid-training); flush them to zero.
        flush = cfg.flush_denormal and torch.set_flush_denormal(True)
        if cfg.output_dir and Path(cfg.output_dir).exists() and not Path(cfg.output_dir).is_dir():
            raise ckpt.CheckpointError(f"output_dir: {cfg.output_dir} exists and is a file, not a directory")
        # One writer per output_dir (rank 0 writes for all): a second run aimed at it fails here.
        lock = DirectoryLock(cfg.output_dir) if (cfg.output_dir and dist.is_main) else contextlib.nullcontext()
        try:
            with lock, StopSignals() as self._signals:
                return self._fit(model, train_data, val_data, resume)
        finally:
            if flush:
                torch.set_flush_denormal(False)
            dist.close()

    def _fit(self, model: nn.Module, train_data: Any, val_data: Any, resume: bool | str) -> FitResult:
        # Phase: set up — data, optimizer, schedule, then start fresh or restore a checkpoint.
        loop = self._set_up(model, train_data, val_data, resume)
        previous_determinism = torch.are_deterministic_algorithms_enabled()
        if self.config.deterministic:
            torch.use_deterministic_algorithms(True)
        try:
            model.train()
            while not self._run_is_over(loop):
                # Phase: one epoch of optimizer steps, then validation, callbacks and a checkpoint.
                self._train_epoch(loop)
                self._end_epoch(loop)
        finally:
            loop.progress.close()
            if loop.tb_log is not None:
                loop.tb_log.close()
            torch.use_deterministic_algorithms(previous_determinism)
        # Phase: finish — final model, training curves, callbacks' on_fit_end.
        return self._finish(loop)

    # ------------------------------------------------------------------------------ set up
    def _set_up(self, model: nn.Module, train_data: Any, val_data: Any, resume: bool | str) -> _Loop:
        cfg, dist = self.config, self.dist
        self.device = device = resolve_device(cfg.device, dist.local_rank, distributed=dist.enabled)
        model.to(device)
        if val_data is not None and not callable(getattr(model, "validation_step", None)):
            raise TypeError(f"model: val_data was given but {type(model).__name__} has no validation_step(batch)")
        options = {"batch_size": cfg.batch_size, "drop_last": cfg.drop_last, "num_workers": cfg.num_workers,
                   "seed": cfg.seed, "rank": dist.rank, "world_size": dist.world_size}
        batches = Batches(train_data, shuffle=cfg.shuffle, **options)
        val_batches = None if val_data is None else Batches(
            val_data, shuffle=False, **{**options, "drop_last": False}, name="val_data")
        if batches.has_length() and len(batches) == 0:  # a schedule over zero steps fails inside torch
            raise ValueError(f"train_data: it gives no batch to train on ({_describe_empty(train_data, cfg)})")
        parameters = [p for p in model.parameters() if p.requires_grad]
        if not parameters:
            raise ValueError("model: it has no parameter that requires a gradient")
        self.model = model
        self.optimizer = build_optimizer(cfg, parameters)
        self.total_steps = total = self._total_steps(batches, model)
        self.scheduler = build_scheduler(cfg, self.optimizer, total)
        self.should_stop, self._stop_reason = False, ""
        self._all_callbacks = [*self._builtin_callbacks(), *self.callbacks]

        state, resume_rng = RunState(), None
        if resume:
            state, resume_rng = self._restore(model, resume)
        else:
            seed_everything(cfg.seed + dist.rank)

        out_dir = Path(cfg.output_dir) if cfg.output_dir else None
        writes = out_dir is not None and dist.is_main
        resumed_at = state.step if resume else None
        runner: nn.Module = StepRunner(model, self._autocast)
        if dist.enabled:
            runner = nn.parallel.DistributedDataParallel(runner, device_ids=[device] if device.type == "cuda" else None)
        return _Loop(
            model=model, runner=runner, parameters=parameters, batches=batches, val_batches=val_batches,
            total=total, state=state, out_dir=out_dir,
            root=ckpt.checkpoint_dir(out_dir) if out_dir is not None else None,
            csv_log=CSVLog(out_dir / "metrics.csv", resume_step=resumed_at) if writes else None,
            tb_log=TensorBoardLog(out_dir / "tensorboard", purge_step=resumed_at) if (
                writes and cfg.tensorboard) else None,
            progress=Progress(cfg.progress_bar if dist.is_main else False, total=total, initial=state.step),
            resume_rng=resume_rng,
        )

    def _builtin_callbacks(self) -> list[Any]:
        """The callbacks that config options stand for (they run before the user's)."""
        cfg = self.config
        if cfg.early_stopping_patience is None:
            return []
        return [EarlyStopping(cfg.monitor, cfg.early_stopping_patience, mode=cfg.monitor_mode)]

    def _run_is_over(self, loop: _Loop) -> bool:
        cfg, state = self.config, loop.state
        if not loop.stop_reason:
            if cfg.max_epochs is not None and state.epoch >= cfg.max_epochs:
                loop.stop_reason = "max_epochs"
            elif self._steps_done(loop):
                loop.stop_reason = "max_steps"
        return bool(loop.stop_reason)

    def _steps_done(self, loop: _Loop) -> bool:
        return self.config.max_steps is not None and loop.state.step >= self.config.max_steps

    def _stopped_mid_epoch(self) -> bool:
        """Whether a step callback (a time budget) ended the run: the epoch ends after this step.
        Under DDP the processes could disagree, so there the stop waits for the epoch's end."""
        return self.should_stop and not self.dist.enabled

    # ------------------------------------------------------------------------------- epoch
    def _epoch_batches(self, loop: _Loop) -> Any:
        """The epoch's batches in order, resumed mid-epoch if the checkpoint was.

        Creating the iterator draws from the global RNG (DataLoader's base seed), so a resumed
        run recreates it under the RNG state of the epoch's start, then jumps to the
        checkpoint's RNG state.
        """
        if loop.resume_rng is not None:
            ckpt.restore_rng(loop.resume_rng["epoch_start"])
        loop.epoch_start_rng = ckpt.capture_rng()
        iterator = loop.batches.epoch(loop.state.epoch, skip=loop.state.batch_in_epoch)
        if loop.resume_rng is not None:
            ckpt.restore_rng(loop.resume_rng["now"])
            loop.resume_rng = None
        return iterator

    def _train_epoch(self, loop: _Loop) -> None:
        cfg, state = self.config, loop.state
        loop.epoch_started = time.perf_counter()
        if state.batch_in_epoch == 0:  # a new epoch (a resumed one keeps its running sums)
            state.epoch_loss_sum, state.epoch_loss_count = 0.0, 0
        iterator = self._epoch_batches(loop)
        for batch in iterator:
            self._train_batch(loop, batch)
            state.batch_in_epoch += 1
            if self._steps_done(loop):
                loop.stop_reason = "max_steps"
                return
            if self._stopped_mid_epoch():
                loop.stop_reason = self._stop_reason or "callback"
                return
            # Checkpoints fall on batch boundaries, never inside an accumulation group.
            if loop.checkpoint_due and not loop.group.losses:
                self._write_checkpoint(loop)
                loop.checkpoint_due = False
            if not loop.group.losses and self._stop_signal() is not None:
                self._interrupt(loop)
        if loop.group.losses:  # a last, smaller accumulation group
            self._step(loop, scale=cfg.accumulate_grad_batches / len(loop.group.losses))

    def _train_batch(self, loop: _Loop, batch: Any) -> None:
        """Forward and backward over each micro-batch (or TBPTT chunk); an optimizer step per group."""
        cfg, state = self.config, loop.state
        try:
            examples = batch_size(batch)
        except ValueError as error:
            raise BatchError(f"train_data: epoch {state.epoch}, batch {state.batch_in_epoch}: {error}") from None
        batch = to_device(batch, self.device)
        tick = time.perf_counter()
        for chunks, carry, sync in self._micro_batches(loop.model, batch):
            out, states = self._forward(loop.runner, chunks, carry, batch, state)
            loss, extras = loss_and_logs(out, "training_step")
            last_micro = len(loop.group.losses) + 1 == cfg.accumulate_grad_batches
            # Under DDP, gradients are all-reduced only on the last micro-batch of a group.
            with loop.runner.no_sync() if (self.dist.enabled and not last_micro) else contextlib.nullcontext():
                (loss / cfg.accumulate_grad_batches).backward()
            sync(states)
            loop.group.add(float(loss.detach()), extras)
            if last_micro:
                loop.throughput = examples / max(time.perf_counter() - tick, 1e-9)
                self._step(loop)
                tick = time.perf_counter()
                if self._steps_done(loop) or self._stopped_mid_epoch():
                    return

    def _step(self, loop: _Loop, scale: float = 1.0) -> None:
        """One optimizer step over the accumulated group, then schedule, log, guard and callbacks."""
        cfg, state, scheduler = self.config, loop.state, self.scheduler
        row = self._optimizer_step(loop, scale)
        row.update({k: sum(v) / len(v) for k, v in loop.group.extras.items()})
        loop.group.reset()
        # The schedule holds `total` rates, for steps 0 .. total-1: never step past the last.
        if (cfg.scheduler in ("cosine", "one-cycle") and row["skipped"] == 0
                and scheduler.last_epoch + 1 < (loop.total or math.inf)):
            scheduler.step()
        if math.isfinite(row["train_loss"]):
            state.epoch_loss_sum += row["train_loss"]
            state.epoch_loss_count += 1
        if state.step % cfg.log_every_n_steps == 0 or row["skipped"]:
            loop.log(row)
        if state.nonfinite_consecutive >= cfg.max_nonfinite_steps:
            raise TrainingDiverged(
                f"training stopped at step {state.step} (epoch {state.epoch}): {state.nonfinite_consecutive} "
                f"consecutive steps had a non-finite loss or gradient (max_nonfinite_steps="
                f"{cfg.max_nonfinite_steps}); the last finite loss was {state.last_finite_loss} at step "
                f"{state.last_finite_step}. Try a lower lr or clip_grad_norm. "
                + (f"Checkpoints and logs written so far are kept in {loop.out_dir}." if loop.out_dir else "")
            )
        loop.progress.update(1, loss=row["train_loss"], grad_norm=row["grad_norm"],
                             **{"ex/s": row.get("examples_per_s"), **loop.last_validation})
        self._call("on_step_end", state.step, row)
        if cfg.checkpoint_every_n_steps and state.step % cfg.checkpoint_every_n_steps == 0:
            loop.checkpoint_due = True

    def _end_epoch(self, loop: _Loop) -> None:
        """Validate, update the best value, run the epoch callbacks, write a checkpoint."""
        cfg, state = self.config, loop.state
        finished_epoch = not loop.stop_reason  # False when max_steps ended it mid-epoch
        record: dict[str, float] = {"epoch": state.epoch, "step": state.step,
                                    "train_loss": state.epoch_loss_sum / max(state.epoch_loss_count, 1),
                                    "lr": self.optimizer.param_groups[0]["lr"]}
        improved = False
        if loop.val_batches is not None and ((state.epoch + 1) % cfg.val_every_n_epochs == 0 or loop.stop_reason):
            metrics = self._validate(loop.model, loop.val_batches)
            record.update(metrics)
            improved = self._track_monitor(loop, metrics)
        record["seconds"] = time.perf_counter() - loop.epoch_started
        state.history.append(record)
        loop.log({"step": state.step, "epoch": state.epoch, **{k: v for k, v in record.items() if k[:4] == "val_"}})
        self._call("on_epoch_end", state.epoch, record)
        if self.should_stop:  # a callback ended the run (early stopping, a target reached)
            reason = self._stop_reason or "callback"
            if reason != "callback" or not loop.stop_reason:
                loop.stop_reason = reason
        # One line per epoch, but at most one per EPOCH_LINE_SECONDS (an epoch of one batch would
        # otherwise print a line per step), and always the first and the last epoch's.
        now = time.perf_counter()
        last = bool(loop.stop_reason) or (cfg.max_epochs is not None and state.epoch + 1 >= cfg.max_epochs)
        if state.epoch == 0 or last or now - loop.last_line >= EPOCH_LINE_SECONDS:
            loop.last_line = now
            loop.progress.write(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                                         for k, v in record.items()))
        if finished_epoch:
            state.epoch += 1
            state.batch_in_epoch = 0
        self._write_checkpoint(loop, best=improved and cfg.save_best)
        if self._stop_signal() is not None:
            self._interrupt(loop)

    def _track_monitor(self, loop: _Loop, metrics: dict[str, float]) -> bool:
        """Record the monitored metric; step a plateau schedule; return whether it improved."""
        cfg, state = self.config, loop.state
        if cfg.monitor not in metrics:
            raise KeyError(f"monitor: {cfg.monitor!r} is not a validation metric; got {sorted(metrics)}")
        value = loop.last_validation[cfg.monitor] = metrics[cfg.monitor]
        improved = state.best is None or (value < state.best if cfg.monitor_mode == "min" else value > state.best)
        if improved:
            state.best = value
        if cfg.scheduler == "reduce-on-plateau":
            self.scheduler.step(value)
        return improved

    def _stop_signal(self) -> int | None:
        """SIGTERM/SIGINT if one arrived (on any process, under DDP) since ``fit`` began."""
        signals = getattr(self, "_signals", None)
        received = signals.received if signals is not None else None
        if self.dist.enabled:  # every process must stop at the same step, or the collectives hang
            flag = self.dist.sum(torch.tensor([0.0 if received is None else 1.0], device=self.device))
            if received is None and float(flag[0]) > 0:
                received = int(signal.SIGTERM)
        return received

    def _interrupt(self, loop: _Loop) -> None:
        """Checkpoint (when there is an output_dir), say how to resume, and stop the program."""
        state, signum = loop.state, self._stop_signal()
        here = f"step-{state.step:08d}"
        path = loop.last_written if (loop.last_written and loop.last_written.name == here) else (
            self._write_checkpoint(loop, force=True))
        message = resume_hint(signum, state.step, state.epoch, path, self.config.output_dir)
        if self.dist.is_main:
            print(message, file=sys.stderr, flush=True)
        raise TrainingInterrupted(signum, state.step, path, message)

    def _call(self, hook: str, *args: Any) -> None:
        for callback in self._all_callbacks:
            method = getattr(callback, hook, None)
            if method is not None:
                method(self, *args)

    # ------------------------------------------------------------------------------ finish
    def _finish(self, loop: _Loop) -> FitResult:
        cfg, state, root = self.config, loop.state, loop.root
        result = FitResult(
            history=state.history, steps=state.step, epochs=state.epoch, stop_reason=loop.stop_reason,
            best_metric=state.best, nonfinite_steps=state.nonfinite_total, output_dir=loop.out_dir,
            last_checkpoint=loop.last_written,
            best_checkpoint=root / state.best_checkpoint if (root and state.best_checkpoint) else None,
        )
        self._call("on_fit_end", result)  # KeepBest puts the best weights back before the model is saved
        if loop.out_dir is not None and self.dist.is_main:
            if isinstance(loop.model, Saveable):
                loop.model.save(loop.out_dir / "model")
            if cfg.plot and loop.csv_log is not None:
                plot_training_curves(loop.csv_log.rows, loop.out_dir / "training_curves.png")
        self.dist.barrier()
        loop.model.eval()
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

    def _optimizer_step(self, loop: _Loop, scale: float) -> dict[str, Any]:
        """Gradient norm, non-finite guard, clipping, the step itself; returns the log row."""
        cfg, dist, state, parameters = self.config, self.dist, loop.state, loop.parameters
        grads = [p.grad for p in parameters if p.grad is not None]
        if scale != 1.0:
            for grad in grads:
                grad.mul_(scale)
        # The 2-norm over all gradients (what clip_grad_norm_ uses), written out to keep torch>=2.4.
        norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads])) if grads else (
            torch.zeros(()))
        losses = loop.group.losses
        loss = sum(losses) / len(losses)
        if dist.enabled:  # the norm is already global (DDP averaged the gradients); the loss is not
            loss = float(dist.sum(torch.tensor([loss], dtype=torch.float64))[0]) / dist.world_size
        state.step += 1
        row: dict[str, Any] = {"step": state.step, "epoch": state.epoch, "train_loss": loss,
                               "grad_norm": float(norm), "lr": self.optimizer.param_groups[0]["lr"], "skipped": 0}
        if not (math.isfinite(loss) and math.isfinite(row["grad_norm"])):
            # Skip: the weights stay as they were; count it, and stop after too many in a row.
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
        self._check_parameters(loop, loss, row["grad_norm"])
        state.nonfinite_consecutive = 0
        state.last_finite_loss, state.last_finite_step = loss, state.step
        row["examples_per_s"] = round(loop.throughput, 1)
        return row

    def _check_parameters(self, loop: _Loop, loss: float, grad_norm: float) -> None:
        """Stop when a step with a finite loss and gradient left non-finite weights (the update overflowed)."""
        finite = torch.stack([torch.isfinite(p).all() for p in loop.parameters])
        if bool(finite.all()):
            return
        names = {id(p): n for n, p in loop.model.named_parameters()}
        bad = [names.get(id(p), "?") for p, ok in zip(loop.parameters, finite.tolist(), strict=True) if not ok]
        state = loop.state
        raise TrainingDiverged(
            f"training stopped at step {state.step} (epoch {state.epoch}): the parameters are not finite after "
            f"optimizer step {state.step} ({', '.join(bad[:3])}{' ...' if len(bad) > 3 else ''}), although the loss "
            f"({loss:.4g}) and gradient norm ({grad_norm:.4g}) were finite: the update overflowed. Try a lower lr "
            f"(now {self.optimizer.param_groups[0]['lr']:.4g}) or clip_grad_norm."
            + (f" Checkpoints and logs written so far are kept in {loop.out_dir}." if loop.out_dir else "")
        )

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
