"""The training loop: set up, then for each epoch draw views, step, update the target, log.

Runs unchanged on one CPU, one GPU, or many processes under ``torchrun`` (DDP).
"""

from __future__ import annotations

import csv
import hashlib
import math
import random
import shutil
import time
import warnings
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, DistributedSampler
from tqdm.auto import tqdm

from morphospace.augment import Augmenter
from morphospace.byol import BYOL, cosine_tau
from morphospace.config import Settings
from morphospace.dataset import Batch, ObjectBank, keep_batch, load_objects
from morphospace.errors import InputError
from morphospace.files import atomic_write, folder_lock
from morphospace.io.reader import write_problems
from morphospace.io.sources import find_sources
from morphospace.models import FramedEncoder, ModelCard, build_backbone, parse_backbone, save_model
from morphospace.models.devices import resolve_device
from morphospace.models.store import CardData, CardTraining, CardViews
from morphospace.train.checkpoint import (
    load_checkpoint,
    rng_state,
    save_checkpoint,
    set_rng_state,
)
from morphospace.train.distributed import Distributed
from morphospace.train.optim import build_optimizer, learning_rate_at
from morphospace.train.transfer import check_agreement, earlier_card, lineage, schedule, start_from

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

    # --- set-up ---------------------------------------------------------------------------

    def _precision(self, device: torch.device) -> torch.dtype | None:
        precision = self.settings.train.precision
        if precision == "auto":
            bf16 = device.type == "cuda" and torch.cuda.is_bf16_supported()
            return torch.bfloat16 if bf16 else None
        return {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]

    def _load_bank(self, dist: Distributed) -> ObjectBank:
        s = self.settings
        workers = dist.cores_per_process
        loaded = load_objects(
            s.data.sources,
            s.preprocess,
            hdu=s.data.hdu,
            min_side=s.data.min_side,
            on_error=s.data.on_error,
            cache_dir=self.run_dir / "cache" if s.data.cache else None,
            workers=workers,
        )
        if loaded.problems and dist.is_main:
            report = write_problems(loaded.problems, self.run_dir / "skipped.csv")
            warnings.warn(
                f"skipped {len(loaded.problems)} unusable files; see {report}", stacklevel=2
            )
        if len(loaded.arrays) < 2:
            raise InputError(s.data.sources[0], "training needs at least 2 usable objects")
        bank_size = math.ceil(s.augment.view_size * s.train.bank_scale)
        return ObjectBank(loaded.arrays, [m.path for m in loaded.metas], bank_size)

    def _split(self, n: int) -> tuple[list[int], list[int]]:
        """Hold out ``val_fraction`` of the objects (at least 2, or none for tiny sets)."""
        order = np.random.default_rng(self.settings.train.seed).permutation(n).tolist()
        n_val = round(self.settings.train.val_fraction * n)
        if n_val < 2 or n - n_val < 2:
            return order, []
        return order[n_val:], order[:n_val]

    def _loader(self, bank: ObjectBank, indices: list[int], dist: Distributed, batch_size: int):
        subset = torch.utils.data.Subset(bank, indices)
        sampler = DistributedSampler(
            subset,
            num_replicas=dist.world_size,
            rank=dist.rank,
            shuffle=True,
            seed=self.settings.train.seed,
            drop_last=True,
        )
        loader = DataLoader(
            subset,
            batch_size=batch_size,
            sampler=sampler,
            drop_last=True,
            collate_fn=keep_batch,
            num_workers=self.settings.train.workers,
        )
        return loader, sampler

    def _build_model(self, channels: int, device: torch.device, dist: Distributed) -> BYOL:
        m = self.settings.model
        torch.manual_seed(self.settings.train.seed)  # identical initial weights on every rank
        byol = BYOL(
            build_backbone(m.backbone, channels),
            channels,
            hidden_layer=m.hidden_layer,
            projection_size=m.projection_size,
            projection_hidden_size=m.projection_hidden_size,
            base_tau=m.base_tau,
            use_momentum=m.use_momentum,
            variance_weight=m.variance_weight,
            probe_size=self.settings.augment.view_size,
        )
        if dist.enabled and self.settings.train.sync_batchnorm:
            if device.type != "cuda":
                raise InputError(
                    "train.sync_batchnorm", "SyncBatchNorm works on GPUs only; set it false on CPUs"
                )
            byol = torch.nn.SyncBatchNorm.convert_sync_batchnorm(byol)
        byol = byol.to(device)
        if self.settings.train.channels_last:  # NHWC: faster convolutions on CPUs and GPUs alike
            byol = byol.to(memory_format=torch.channels_last)
        return byol

    def _plan(self, bank: ObjectBank, dist: Distributed) -> _Plan:
        """The split, the loader and the schedule's length in epochs and steps."""
        t = self.settings.train
        train_indices, val_indices = self._split(len(bank))
        per_rank_batch = min(t.batch_size // dist.world_size, len(train_indices) // dist.world_size)
        if per_rank_batch < 2:
            raise InputError(
                "train.batch_size",
                f"too few objects ({len(train_indices)}) for a batch of 2 per process",
            )
        loader, sampler = self._loader(bank, train_indices, dist, per_rank_batch)
        epochs, steps_per_epoch = t.epochs_for(len(train_indices)), len(loader)
        total_steps = epochs * steps_per_epoch
        learning_rate, warmup_epochs = schedule(self.settings)
        return _Plan(
            bank=bank,
            train_indices=train_indices,
            val_indices=val_indices,
            loader=loader,
            sampler=sampler,
            epochs=epochs,
            steps_per_epoch=steps_per_epoch,
            total_steps=total_steps,
            learning_rate=learning_rate,
            warmup_steps=min(round(warmup_epochs * steps_per_epoch), max(total_steps - 1, 0)),
        )

    def _start(self, plan: _Plan, device: torch.device, dist: Distributed) -> _State:
        """A new model and optimiser (from the earlier run's weights with ``--init``), or
        those of the interrupted run when resuming."""
        t = self.settings.train
        byol = self._build_model(plan.bank.channels, device, dist)
        if self.earlier is not None:
            check_agreement(self.settings, self.earlier, plan.bank.channels)
            start_from(byol, self.settings, load=not self.resume)
        optimizer = build_optimizer(byol, t.optimizer, plan.learning_rate, t.weight_decay)
        scaler = torch.amp.GradScaler(device.type, enabled=self._precision(device) == torch.float16)
        state = _State(byol, optimizer, scaler)
        if self.resume:
            path = self._checkpoint_path
            if not path.exists():
                raise InputError(path, "nothing to resume: no checkpoint in this run")
            state.restore(load_checkpoint(path))
        return state

    def _wrap(self, byol: BYOL, device: torch.device, dist: Distributed) -> torch.nn.Module:
        """The module the loop calls: ``byol``, under DDP and ``torch.compile`` when asked."""
        model: torch.nn.Module = byol
        if dist.enabled:
            model = torch.nn.parallel.DistributedDataParallel(
                byol, device_ids=[device.index] if device.type == "cuda" else None
            )
        if self.settings.train.compile:
            model = torch.compile(model)
        return model

    @property
    def _checkpoint_path(self) -> Path:
        return self.run_dir / "checkpoints" / "last.pt"

    # --- the loop -------------------------------------------------------------------------

    def fit(self, bank: ObjectBank | None = None) -> TrainResult:
        """Train; returns the final figures. Only rank 0 writes files.

        Parameters
        ----------
        bank : ObjectBank, optional
            Objects to train on, for callers with their own arrays; by default the objects
            named by ``settings.data.sources``, read, preprocessed and cached.
        """
        t = self.settings.train
        device = resolve_device(t.device, "train.device")
        dist = Distributed.from_environment(device.type)
        if device.type == "cuda" and dist.enabled:
            device = torch.device("cuda", dist.local_rank)
            torch.cuda.set_device(device)
        if t.threads or (dist.enabled and device.type == "cpu"):
            torch.set_num_threads(t.threads or dist.cores_per_process)
        random.seed(t.seed)
        try:
            made = self._check_start(bank)  # before anything is written
            held = folder_lock(self.run_dir, "train") if dist.is_main else nullcontext()
            with held:
                return self._fit(_Hardware(device, dist, self._precision(device)), bank, made)
        finally:
            dist.close()

    def _fit(self, hw: _Hardware, bank: ObjectBank | None, made: bool) -> TrainResult:
        # Set-up: every object preprocessed once into one bank tensor, the schedule, the
        # model (or the interrupted run's state), then the run folder's settings. A start
        # that fails leaves nothing behind: a folder it made is removed again.
        if not self.resume and hw.dist.is_main:  # a fresh run over an old one: no stale list
            (self.run_dir / "skipped.csv").unlink(missing_ok=True)
        try:
            bank = bank if bank is not None else self._load_bank(hw.dist)
            plan = self._plan(bank, hw.dist)
            state = self._start(plan, hw.device, hw.dist)
            model = self._wrap(state.byol, hw.device, hw.dist)
        except BaseException:
            if made and hw.dist.is_main:
                shutil.rmtree(self.run_dir, ignore_errors=True)
            raise
        self._prepare_folder(hw.dist)
        augment = Augmenter(self.settings.augment)
        logs = _Logs(self.run_dir / "logs", append=self.resume) if hw.dist.is_main else None
        stop = plan.epochs if self.stop_after is None else state.epoch + self.stop_after
        end_epoch = min(plan.epochs, stop)

        for epoch in range(state.epoch, end_epoch):
            plan.sampler.set_epoch(epoch)
            state.byol.train()
            meter, bar = _Meter(), self._progress(plan, epoch, hw.dist)
            for batch in bar:
                loss = self._step(state, model, batch, plan, augment, hw)
                if loss is None:
                    continue  # skipped: not finite
                meter.add(loss, len(batch.indices) * hw.dist.world_size)
                bar.set_postfix(loss=f"{loss:.4f}", lr=f"{state.lr:.2e}", img_s=f"{meter.rate:.0f}")
                if logs is not None and state.step % self.settings.train.log_every == 0:
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

    def _prepare_folder(self, dist: Distributed) -> None:
        if dist.is_main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            text = self.settings.to_toml()
            atomic_write(self.run_dir / "config.toml", lambda temporary: temporary.write_text(text))
        dist.barrier()

    def _progress(self, plan: _Plan, epoch: int, dist: Distributed) -> tqdm:
        return tqdm(
            plan.loader,
            desc=f"epoch {epoch + 1}/{plan.epochs}",
            disable=not (self.progress and dist.is_main),
            leave=False,
        )

    def _step(
        self,
        state: _State,
        model: torch.nn.Module,
        batch: Batch,
        plan: _Plan,
        augment: Augmenter,
        hw: _Hardware,
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
        view_1, view_2 = self._views(batch, augment, state.step, hw.device)
        # The forward pass moves BatchNorm statistics before the loss is known; keep a copy
        # (a few kB) so a skipped step leaves no trace in the network.
        buffers = _snapshot_buffers(byol)
        with _autocast(hw.device, hw.precision):
            loss = model(view_1, view_2)

        # A non-finite loss (or gradient) skips the step on every rank: weights stay clean.
        # (BatchNorm can overflow to an infinite variance while the loss stays finite.)
        if hw.dist.any(not _all_finite([loss, *byol.buffers()]), hw.device):
            return self._skip(state, plan, batch, buffers, scaler_used=False)
        scaler.scale(loss).backward()
        scaler.unscale_(optimizer)
        norm = torch.nn.utils.clip_grad_norm_(byol.parameters(), t.grad_clip or math.inf)
        # With fp16 the gradient scaler skips overflowing steps by itself.
        if not bool(torch.isfinite(norm)) and not scaler.is_enabled():
            return self._skip(state, plan, batch, buffers, scaler_used=True)
        scaler.step(optimizer)
        scaler.update()
        optimizer.zero_grad(set_to_none=True)
        state.tau = cosine_tau(state.step, plan.total_steps, byol.base_tau)
        byol.update_target(state.tau)
        state.step += 1
        return float(loss.detach())

    def _views(
        self, batch: Batch, augment: Augmenter, step: int, device: torch.device
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Two augmented views of each object, drawn from randomness tied to the step number
        (a resumed run draws the same views)."""
        t = self.settings.train
        generator = torch.Generator(device).manual_seed(t.seed * 1_000_003 + step)
        images = batch.images.to(device, non_blocking=True)
        extents = batch.extents.to(device)
        views = augment(images, extents, generator), augment(images, extents, generator)
        if t.channels_last:
            views = tuple(view.contiguous(memory_format=torch.channels_last) for view in views)
        return views

    @staticmethod
    def _skip(
        state: _State, plan: _Plan, batch: Batch, buffers: list[torch.Tensor], *, scaler_used: bool
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

    def _end_epoch(
        self,
        state: _State,
        plan: _Plan,
        meter: _Meter,
        augment: Augmenter,
        hw: _Hardware,
        logs: _Logs | None,
        end_epoch: int,
    ) -> None:
        """Same BatchNorm statistics everywhere, validation, logs and the checkpoint."""
        hw.dist.broadcast_buffers(state.byol)
        train_loss = hw.dist.mean(meter.mean_loss, hw.device)
        held_out = plan.val_indices or plan.train_indices
        val_loss, spread = self._validate(state.byol, plan.bank, held_out, augment, hw)
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
        self,
        state: _State,
        plan: _Plan,
        hw: _Hardware,
        logs: _Logs | None,
        end_epoch: int,
    ) -> TrainResult:
        """Close the logs; at the schedule's end fit the whitening and write the model."""
        finished = end_epoch == plan.epochs
        if logs is not None:
            logs.close()
            if finished:
                card = self._card(state, plan)
                fit_whitening(state.byol, plan.bank, card, hw.device, self.settings.train.seed)
                save_model(self.run_dir, state.byol, card)
        if hw.dist.enabled:
            digest = weights_digest(state.byol)
            print(
                f"morphospace: rank {hw.dist.rank}/{hw.dist.world_size} finished, "
                f"weights sha256={digest}",
                flush=True,
            )
        last = state.history[-1] if state.history else {}
        return TrainResult(
            run_dir=self.run_dir,
            epochs=end_epoch,
            total_epochs=plan.epochs,
            finished=finished,
            steps=state.step,
            train_loss=last.get("train_loss", float("nan")),
            val_loss=last.get("val_loss"),
            spread=last.get("spread"),
            images_per_second=state.images_per_second,
            skipped_steps=state.skipped,
            history=state.history,
        )

    @torch.no_grad()
    def _validate(
        self,
        byol: BYOL,
        bank: ObjectBank,
        indices: list[int],
        augment: Augmenter,
        hw: _Hardware,
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

    def _card(self, state: _State, plan: _Plan) -> ModelCard:
        """The model card of this run (``save_model`` adds versions, whitening and digest)."""
        s, bank = self.settings, plan.bank
        return ModelCard(
            backbone=s.model.backbone,
            hidden_layer=s.model.hidden_layer,
            in_channels=bank.channels,
            representation_size=state.byol.representation_size,
            projection_size=s.model.projection_size,
            projection_hidden_size=s.model.projection_hidden_size,
            preprocess=s.preprocess,
            data=CardData(hdu=s.data.hdu, min_side=s.data.min_side),
            views=CardViews(
                view_size=s.augment.view_size, view_mode=s.augment.view_mode, bank_size=bank.size
            ),
            training=CardTraining(
                objects=len(bank), epochs=plan.epochs, steps=state.step, history=state.history
            ),
            whitening=False,
            lineage=lineage(self.settings, self.earlier),
        )


@dataclass(frozen=True)
class _Hardware:
    """Where this process trains: its device, its place in the job, its autocast dtype."""

    device: torch.device
    dist: Distributed
    precision: torch.dtype | None


@dataclass
class _Plan:
    """The split and the schedule, fixed before the first step."""

    bank: ObjectBank
    train_indices: list[int]
    val_indices: list[int]
    loader: DataLoader
    sampler: DistributedSampler
    epochs: int
    steps_per_epoch: int
    total_steps: int
    learning_rate: float  # the schedule's peak
    warmup_steps: int


@dataclass
class _State:
    """What changes as training goes, and what a checkpoint holds of it."""

    byol: BYOL
    optimizer: torch.optim.Optimizer
    scaler: torch.amp.GradScaler
    step: int = 0
    epoch: int = 0  # completed epochs
    skipped: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    lr: float = 0.0
    tau: float = 0.0
    images_per_second: float = 0.0

    def to_checkpoint(self) -> dict[str, Any]:
        return {
            "model": self.byol.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scaler": self.scaler.state_dict(),
            "step": self.step,
            "epoch": self.epoch,
            "skipped_steps": self.skipped,
            "history": self.history,
            "rng": rng_state(),
        }

    def restore(self, checkpoint: dict[str, Any]) -> None:
        # A checkpoint holds no fitted whitening: keep the (identity) one the model has.
        whitening = self.byol.whitening.state_dict(prefix="whitening.")
        self.byol.load_state_dict({**whitening, **checkpoint["model"]})
        self.optimizer.load_state_dict(checkpoint["optimizer"])
        self.scaler.load_state_dict(checkpoint["scaler"])
        self.step, self.epoch = checkpoint["step"], checkpoint["epoch"]
        self.skipped = checkpoint["skipped_steps"]
        self.history = list(checkpoint["history"])
        set_rng_state(checkpoint["rng"])


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


WHITENING_SAMPLE = 20_000


def fit_whitening(
    byol: BYOL, bank: ObjectBank, card: ModelCard, device: torch.device, seed: int
) -> None:
    """Fit the embedding whitening on the training objects, framed and averaged as at inference.

    Large sets are sampled: a covariance of a few thousand dimensions needs no more.
    """
    generator = torch.Generator().manual_seed(seed)
    sample = torch.randperm(len(bank), generator=generator)[:WHITENING_SAMPLE]
    byol.whitening.reset()
    encoder = FramedEncoder(byol, card, tta=True, device=device)
    features = encoder.embed_bank(bank.images[sample], bank.extents[sample])
    finite = np.isfinite(features).all(axis=1)
    if finite.sum() < 2:
        warnings.warn("embeddings are not finite: the whitening is left off", stacklevel=2)
        return
    byol.whitening.fit(torch.as_tensor(features[finite]))


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


class _Logs:
    """CSV logs (steps and epochs) and TensorBoard scalars under ``RUN/logs``.

    A resumed run appends to its CSV files; a fresh run starts them anew.
    """

    def __init__(self, folder: Path, append: bool):
        from torch.utils.tensorboard import SummaryWriter

        folder.mkdir(parents=True, exist_ok=True)
        mode = "a" if append else "w"
        self.steps = (folder / "steps.csv").open(mode, newline="")
        self.epochs = (folder / "epochs.csv").open(mode, newline="")
        self.step_writer = csv.writer(self.steps)
        self.epoch_writer: csv.DictWriter | None = None
        if self.steps.tell() == 0:
            self.step_writer.writerow(["step", "epoch", "loss", "lr", "tau", "images_per_second"])
        self.tensorboard = SummaryWriter(log_dir=str(folder))

    def step(self, step: int, epoch: int, loss: float, lr: float, tau: float, rate: float) -> None:
        self.step_writer.writerow(
            [step, epoch, f"{loss:.6g}", f"{lr:.6g}", f"{tau:.6g}", f"{rate:.1f}"]
        )
        for name, value in (
            ("loss/train_step", loss),
            ("lr", lr),
            ("tau", tau),
            ("images_per_second", rate),
        ):
            self.tensorboard.add_scalar(name, value, step)

    def epoch(self, record: dict[str, Any]) -> None:
        if self.epoch_writer is None:
            self.epoch_writer = csv.DictWriter(self.epochs, fieldnames=list(record))
            if self.epochs.tell() == 0:
                self.epoch_writer.writeheader()
        self.epoch_writer.writerow(record)
        for name in ("train_loss", "val_loss", "spread"):
            if record.get(name) is not None:
                self.tensorboard.add_scalar(f"epoch/{name}", record[name], record["epoch"])
        self.steps.flush()
        self.epochs.flush()

    def close(self) -> None:
        self.tensorboard.close()
        self.steps.close()
        self.epochs.close()
