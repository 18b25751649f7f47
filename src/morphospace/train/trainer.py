"""The training loop: set up, then for each epoch draw views, step, update the target, log.

Runs unchanged on one CPU, one GPU, or many processes under ``torchrun`` (DDP). What the
run is set up with (device, objects, schedule, state) is in :mod:`morphospace.train.setup`,
what it writes beside the model in :mod:`morphospace.train.logs`, and the model's card and
whitening in :mod:`morphospace.models`.
"""

from __future__ import annotations

import hashlib
import math
import shutil
import time
import warnings
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from morphospace.augment import Augmenter
from morphospace.byol import BYOL, cosine_tau
from morphospace.config import Settings
from morphospace.dataset import Batch, ObjectBank
from morphospace.errors import InputError
from morphospace.files import folder_lock
from morphospace.io.sources import find_sources
from morphospace.models import ModelCard, parse_backbone, save_model
from morphospace.models.inference import fit_whitening
from morphospace.models.store import CardTraining
from morphospace.progress import progress_bar
from morphospace.train.checkpoint import save_checkpoint
from morphospace.train.logs import TrainingLogs, write_config
from morphospace.train.optim import learning_rate_at
from morphospace.train.setup import Hardware, Plan, State, load_bank, plan_schedule, start_state
from morphospace.train.setup import wrap as wrap_model
from morphospace.train.transfer import earlier_card, lineage

__all__ = ["COLLAPSE_SPREAD", "TrainResult", "Trainer", "weights_digest"]

# Spread = per-dimension std of unit-normalised projections x sqrt(D): about 1 for well
# spread vectors, 0 when every object maps to the same point (collapse).
COLLAPSE_SPREAD = 0.1
_VALIDATION_SEED = 987_654_321


@dataclass
class TrainResult:
    """What a finished run reports."""

    run_dir: Path
    epochs: int  # completed so far
    total_epochs: int  # the schedule's length (``train.epochs``, resolved if "auto")
    finished: bool  # False when stop_after ended this call early
    steps: int
    train_loss: float
    val_loss: float | None
    spread: float | None
    images_per_second: float
    skipped_steps: int
    history: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def of(cls, run_dir: Path, state: State, total_epochs: int, end_epoch: int) -> TrainResult:
        """The figures of a run whose state is ``state`` after epoch ``end_epoch``."""
        last = state.history[-1] if state.history else {}
        return cls(
            run_dir=run_dir,
            epochs=end_epoch,
            total_epochs=total_epochs,
            finished=end_epoch == total_epochs,
            steps=state.step,
            train_loss=last.get("train_loss", float("nan")),
            val_loss=last.get("val_loss"),
            spread=last.get("spread"),
            images_per_second=state.images_per_second,
            skipped_steps=state.skipped,
            history=state.history,
        )


class Trainer:
    """Train a BYOL encoder on FITS objects and write a run folder.

    Parameters
    ----------
    settings : Settings
        Resolved settings (``settings.data.sources`` names the objects).
    run_dir : path
        Output folder: ``model.safetensors``, ``model.json``, ``config.toml``,
        ``checkpoints/``, ``logs/``, ``cache/``.
    resume : bool
        Continue from ``run_dir/checkpoints/last.pt``.
    progress : bool
        Show a progress bar (rank 0 only).
    stop_after : int, optional
        Train at most this many epochs in this call, checkpoint, and return; ``resume``
        later continues the same schedule (for jobs with a wall-time limit).
    """

    def __init__(
        self,
        settings: Settings,
        run_dir: str | Path,
        *,
        resume: bool = False,
        progress: bool = True,
        stop_after: int | None = None,
    ):
        self.settings = settings
        self.run_dir = Path(run_dir)
        self.resume = resume
        self.progress = progress
        self.stop_after = stop_after
        self.earlier = earlier_card(settings)  # the model to start from (finetune.from_run)

    @property
    def _checkpoint_path(self) -> Path:
        return self.run_dir / "checkpoints" / "last.pt"

    def fit(self, bank: ObjectBank | None = None) -> TrainResult:
        """Train; returns the final figures. Only rank 0 writes files.

        Parameters
        ----------
        bank : ObjectBank, optional
            Objects to train on, for callers with their own arrays; by default the objects
            named by ``settings.data.sources``, read, preprocessed and cached.
        """
        hw = Hardware.detect(self.settings)
        try:
            made = self._check_start(bank)  # before anything is written
            held = folder_lock(self.run_dir, "train") if hw.dist.is_main else nullcontext()
            with held:
                return self._fit(hw, bank, made)
        finally:
            hw.dist.close()

    def _fit(self, hw: Hardware, bank: ObjectBank | None, made: bool) -> TrainResult:
        # Set-up: every object preprocessed once into one bank tensor, the schedule, the
        # model (or the interrupted run's state), then the run folder's settings. A start
        # that fails leaves nothing behind: a folder it made is removed again.
        s, main = self.settings, hw.dist.is_main
        if not self.resume and main:  # a fresh run over an old one: no stale list
            (self.run_dir / "skipped.csv").unlink(missing_ok=True)
        try:
            bank = bank if bank is not None else load_bank(s, self.run_dir, hw.dist)
            plan = plan_schedule(s, bank, hw.dist)
            checkpoint = self._checkpoint_path if self.resume else None
            state = start_state(s, plan, hw, self.earlier, checkpoint)
            model = wrap_model(state.byol, s, hw)
        except BaseException:
            if made and main:
                shutil.rmtree(self.run_dir, ignore_errors=True)
            raise
        if main:
            write_config(self.run_dir, s)
        hw.dist.barrier()
        augment = Augmenter(s.augment)
        logs = TrainingLogs(self.run_dir / "logs", append=self.resume) if main else None
        stop = plan.epochs if self.stop_after is None else state.epoch + self.stop_after
        end_epoch = min(plan.epochs, stop)

        for epoch in range(state.epoch, end_epoch):
            plan.sampler.set_epoch(epoch)
            state.byol.train()
            meter, bar = _Meter(), self._progress(plan, epoch, hw)
            for batch in bar:
                loss = self._step(state, model, batch, plan, augment, hw)
                if loss is None:
                    continue  # skipped: not finite
                meter.add(loss, len(batch.indices) * hw.dist.world_size)
                bar.set_postfix(loss=f"{loss:.4f}", lr=f"{state.lr:.2e}", img_s=f"{meter.rate:.0f}")
                if logs is not None and state.step % s.train.log_every == 0:
                    logs.step(state.step, epoch + 1, loss, state.lr, state.tau, meter.rate)
            state.epoch = epoch + 1
            self._end_epoch(state, plan, meter, augment, hw, logs, end_epoch)

        return self._finish(state, plan, hw, logs, end_epoch)

    def _check_start(self, bank: ObjectBank | None) -> bool:
        """Refuse a start that cannot work before anything is written; True when the run
        folder does not exist yet (so a failed start may remove it)."""
        parse_backbone(self.settings.model.backbone)
        if bank is None:
            if not self.settings.data.sources:
                raise InputError(
                    "data.sources", "no data given: name FITS files, folders, globs or a file list"
                )
            find_sources(self.settings.data.sources)  # names a missing path or an empty folder
        return not self.run_dir.exists()

    def _progress(self, plan: Plan, epoch: int, hw: Hardware) -> tqdm:
        return progress_bar(
            plan.loader,
            f"epoch {epoch + 1}/{plan.epochs}",
            self.progress and hw.dist.is_main,
            leave=False,
            delay=0,
        )

    def _step(
        self,
        state: State,
        model: torch.nn.Module,
        batch: Batch,
        plan: Plan,
        augment: Augmenter,
        hw: Hardware,
    ) -> float | None:
        """One optimiser step on two views of ``batch``: the loss, or None if it was skipped."""
        t, byol, optimizer, scaler = self.settings.train, state.byol, state.optimizer, state.scaler
        state.lr = learning_rate_at(
            state.step, base=plan.learning_rate, total_steps=plan.total_steps,
            warmup_steps=plan.warmup_steps, schedule=t.lr_schedule,
            steps_per_epoch=plan.steps_per_epoch, gamma=t.gamma,
        )  # fmt: skip
        for group in optimizer.param_groups:
            group["lr"] = state.lr
        view_1, view_2, *local = _views(
            batch, augment, state.step, hw.device, t.seed, t.channels_last
        )
        # The forward pass moves BatchNorm statistics before the loss is known; keep a copy
        # (a few kB) so a skipped step leaves no trace in the network.
        buffers = _snapshot_buffers(byol)
        with _autocast(hw.device, hw.precision):
            loss = model(view_1, view_2, local)

        # A non-finite loss (or gradient) skips the step on every rank: weights stay clean.
        # (BatchNorm can overflow to an infinite variance while the loss stays finite.)
        if hw.dist.any(not _all_finite([loss, *byol.buffers()]), hw.device):
            return _skip(state, plan, batch, buffers, scaler_used=False)
        scaler.scale(loss).backward()
        scaler.unscale_(optimizer)
        norm = torch.nn.utils.clip_grad_norm_(byol.parameters(), t.grad_clip or math.inf)
        # With fp16 the gradient scaler skips overflowing steps by itself.
        if not bool(torch.isfinite(norm)) and not scaler.is_enabled():
            return _skip(state, plan, batch, buffers, scaler_used=True)
        scaler.step(optimizer)
        scaler.update()
        optimizer.zero_grad(set_to_none=True)
        state.tau = cosine_tau(state.step, plan.total_steps, byol.base_tau)
        byol.update_target(state.tau)
        state.step += 1
        return float(loss.detach())

    def _end_epoch(
        self,
        state: State,
        plan: Plan,
        meter: _Meter,
        augment: Augmenter,
        hw: Hardware,
        logs: TrainingLogs | None,
        end_epoch: int,
    ) -> None:
        """Same BatchNorm statistics everywhere, validation, logs and the checkpoint."""
        hw.dist.broadcast_buffers(state.byol)
        train_loss = hw.dist.mean(meter.mean_loss, hw.device)
        held_out = plan.val_indices or plan.train_indices
        val_loss, spread = _validate(state.byol, plan.bank, held_out, augment, hw)
        record = {
            "epoch": state.epoch,
            "train_loss": train_loss,
            "val_loss": val_loss if plan.val_indices else None,
            "spread": spread,
            "images_per_second": meter.rate,
            "seconds": meter.seconds,
        }
        state.history.append(record)
        state.images_per_second = meter.rate
        if self.progress and hw.dist.is_main:
            val_text = f", val loss {val_loss:.4f}" if plan.val_indices else ""
            tqdm.write(
                f"epoch {state.epoch}/{plan.epochs}: train loss {train_loss:.4f}{val_text}, "
                f"spread {spread:.2f}, {meter.rate:.0f} images/s"
            )
        if spread < COLLAPSE_SPREAD:
            warnings.warn(
                f"epoch {state.epoch}: embeddings are collapsing (spread {spread:.3f} < "
                f"{COLLAPSE_SPREAD}); try a lower learning rate, a larger batch or "
                "stronger augmentations",
                stacklevel=2,
            )
        if logs is not None:
            logs.epoch(record)
            every = self.settings.train.checkpoint_every
            if state.epoch % every == 0 or state.epoch == end_epoch:
                save_checkpoint(self._checkpoint_path, state.to_checkpoint())
        hw.dist.barrier()

    def _finish(
        self, state: State, plan: Plan, hw: Hardware, logs: TrainingLogs | None, end_epoch: int
    ) -> TrainResult:
        """Close the logs; at the schedule's end fit the whitening and write the model."""
        finished = end_epoch == plan.epochs
        if logs is not None:
            logs.close()
            if finished:
                card = ModelCard.of_training(
                    self.settings,
                    state.byol,
                    in_channels=plan.bank.channels,
                    bank_size=plan.bank.size,
                    training=CardTraining(
                        objects=len(plan.bank),
                        epochs=plan.epochs,
                        steps=state.step,
                        history=state.history,
                    ),
                    lineage=lineage(self.settings, self.earlier),
                )
                bank, seed = plan.bank, self.settings.train.seed
                fit_whitening(state.byol, card, bank.images, bank.extents, hw.device, seed)
                save_model(self.run_dir, state.byol, card)
        if hw.dist.enabled:
            print(
                f"morphospace: rank {hw.dist.rank}/{hw.dist.world_size} finished, "
                f"weights sha256={weights_digest(state.byol)}",
                flush=True,
            )
        return TrainResult.of(self.run_dir, state, plan.epochs, end_epoch)


def _views(
    batch: Batch,
    augment: Augmenter,
    step: int,
    device: torch.device,
    seed: int,
    channels_last: bool,
) -> tuple[torch.Tensor, ...]:
    """Two augmented views of each object, then its local views (multi-crop, if any), drawn
    from randomness tied to the step number (a resumed run draws the same views)."""
    generator = torch.Generator(device).manual_seed(seed * 1_000_003 + step)
    images = batch.images.to(device, non_blocking=True)
    extents = batch.extents.to(device)
    views = augment(images, extents, generator), augment(images, extents, generator)
    views += tuple(augment.local_views(images, extents, generator))
    if channels_last:
        views = tuple(view.contiguous(memory_format=torch.channels_last) for view in views)
    return views


def _skip(
    state: State, plan: Plan, batch: Batch, buffers: list[torch.Tensor], *, scaler_used: bool
) -> None:
    """Undo a step whose loss or gradient was not finite, and say which files it held."""
    state.optimizer.zero_grad(set_to_none=True)
    _restore_buffers(state.byol, buffers)
    if scaler_used:
        state.scaler.update()
    state.skipped += 1
    names = [plan.bank.paths[i] for i in batch.indices.tolist()]
    more = f" and {len(names) - 8} more" if len(names) > 8 else ""
    warnings.warn(
        f"step {state.step}: non-finite loss or gradient, step skipped; "
        f"batch files: {', '.join(names[:8])}{more}",
        stacklevel=2,
    )
    state.step += 1


@torch.no_grad()
def _validate(
    byol: BYOL, bank: ObjectBank, indices: list[int], augment: Augmenter, hw: Hardware
) -> tuple[float, float]:
    """Held-out BYOL loss and embedding spread, on views drawn the same way every epoch.

    BatchNorm uses batch statistics, as in training (the MLP heads' running statistics
    make eval-mode losses meaningless), and its running statistics are left untouched.
    """
    generator = torch.Generator(hw.device).manual_seed(_VALIDATION_SEED)
    losses, projections = [], []
    with _untouched_buffers(byol):
        for start in range(0, len(indices), 256):
            chunk = indices[start : start + 256]
            if len(chunk) < 2:
                break
            batch = bank.__getitems__(chunk)
            images, extents = batch.images.to(hw.device), batch.extents.to(hw.device)
            view_1, view_2 = (
                augment(images, extents, generator),
                augment(images, extents, generator),
            )
            with _autocast(hw.device, hw.precision):
                losses.append(float(byol(view_1, view_2)) * len(chunk))
                # Projections, as SimSiam measures collapse: backbone outputs are post-ReLU and
                # share one orthant, so their spread is small even when nothing has collapsed.
                projections.append(byol.online_encoder(view_1).float())
    vectors = torch.nn.functional.normalize(torch.cat(projections), dim=1)
    spread = float(vectors.std(dim=0).mean() * math.sqrt(vectors.shape[1]))
    return sum(losses) / sum(len(p) for p in projections), spread


class _Meter:
    """One epoch's losses and throughput."""

    def __init__(self):
        self.losses: list[float] = []
        self.seen = 0
        self.started = time.perf_counter()
        self.rate = 0.0

    def add(self, loss: float, objects: int) -> None:
        self.losses.append(loss)
        self.seen += objects
        self.rate = self.seen / max(time.perf_counter() - self.started, 1e-9)

    @property
    def mean_loss(self) -> float:
        return float(np.mean(self.losses)) if self.losses else float("nan")

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self.started


def weights_digest(byol: BYOL) -> str:
    """SHA-256 of all online, predictor and target weights (to compare ranks or runs).

    The whitening is left out: only rank 0 fits it, after training.
    """
    digest = hashlib.sha256()
    for name, tensor in sorted(byol.state_dict().items()):
        if name.startswith("whitening."):
            continue
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def _all_finite(tensors) -> bool:
    """One reduction and one host sync for all tensors (a sync per tensor stalls a GPU)."""
    checks = [torch.isfinite(t).all() for t in tensors if t.is_floating_point()]
    return bool(torch.stack(checks).all())


def _snapshot_buffers(module: torch.nn.Module) -> list[torch.Tensor]:
    return [buffer.clone() for buffer in module.buffers()]


def _restore_buffers(module: torch.nn.Module, saved: list[torch.Tensor]) -> None:
    with torch.no_grad():
        for buffer, copy in zip(module.buffers(), saved, strict=True):
            buffer.copy_(copy)


@contextmanager
def _untouched_buffers(module: torch.nn.Module):
    """Run with batch statistics, then put every buffer (BatchNorm statistics) back as it was."""
    saved = _snapshot_buffers(module)
    try:
        yield
    finally:
        _restore_buffers(module, saved)


def _autocast(device: torch.device, dtype: torch.dtype | None):
    return torch.autocast(device.type, dtype=dtype) if dtype is not None else nullcontext()
