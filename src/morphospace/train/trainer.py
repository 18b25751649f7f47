"""The training loop: set up, then for each epoch draw views, step, update the target, log.

Runs unchanged on one CPU, one GPU, or many processes under ``torchrun`` (DDP).
"""

from __future__ import annotations

import csv
import hashlib
import math
import random
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
from morphospace.dataset import ObjectBank, keep_batch, load_objects
from morphospace.errors import InputError
from morphospace.io.reader import write_problems
from morphospace.models import build_backbone
from morphospace.train.checkpoint import (
    load_checkpoint,
    rng_state,
    save_checkpoint,
    save_model,
    set_rng_state,
)
from morphospace.train.distributed import Distributed
from morphospace.train.optim import build_optimizer, learning_rate_at

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

    # --- set-up ---------------------------------------------------------------------------

    def _device(self) -> torch.device:
        wanted = self.settings.train.device
        if wanted == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        return torch.device(wanted)

    def _precision(self, device: torch.device) -> torch.dtype | None:
        precision = self.settings.train.precision
        if precision == "auto":
            bf16 = device.type == "cuda" and torch.cuda.is_bf16_supported()
            return torch.bfloat16 if bf16 else None
        return {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]

    def _load_bank(self, dist: Distributed) -> ObjectBank:
        s = self.settings
        if not s.data.sources:
            raise InputError(
                "data.sources", "no data given: name FITS files, folders, globs or a file list"
            )
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
        device = self._device()
        dist = Distributed.from_environment(device.type)
        if device.type == "cuda" and dist.enabled:
            device = torch.device("cuda", dist.local_rank)
            torch.cuda.set_device(device)
        if t.threads or (dist.enabled and device.type == "cpu"):
            torch.set_num_threads(t.threads or dist.cores_per_process)
        random.seed(t.seed)
        try:
            return self._fit(device, dist, bank)
        finally:
            dist.close()

    def _fit(self, device: torch.device, dist: Distributed, bank: ObjectBank | None) -> TrainResult:
        s, t = self.settings, self.settings.train
        if dist.is_main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            (self.run_dir / "config.toml").write_text(s.to_toml())
            if not self.resume:  # a fresh run over an old one: no stale report
                (self.run_dir / "skipped.csv").unlink(missing_ok=True)
        dist.barrier()

        # Data: every object preprocessed once, then held in one bank tensor.
        bank = bank if bank is not None else self._load_bank(dist)
        train_indices, val_indices = self._split(len(bank))
        per_rank_batch = min(t.batch_size // dist.world_size, len(train_indices) // dist.world_size)
        if per_rank_batch < 2:
            raise InputError(
                "train.batch_size",
                f"too few objects ({len(train_indices)}) for a batch of 2 per process",
            )
        loader, sampler = self._loader(bank, train_indices, dist, per_rank_batch)
        epochs = t.epochs_for(len(train_indices))
        steps_per_epoch = len(loader)
        total_steps = epochs * steps_per_epoch
        warmup_steps = min(round(t.warmup_epochs * steps_per_epoch), max(total_steps - 1, 0))
        augment = Augmenter(s.augment)

        # Model, optimiser and (optionally) the state of an interrupted run.
        byol = self._build_model(bank.channels, device, dist)
        optimizer = build_optimizer(byol, t.optimizer, t.learning_rate, t.weight_decay)
        autocast_dtype = self._precision(device)
        scaler = torch.amp.GradScaler(device.type, enabled=autocast_dtype == torch.float16)
        step, start_epoch, history, skipped = 0, 0, [], 0
        checkpoint_path = self.run_dir / "checkpoints" / "last.pt"
        if self.resume:
            if not checkpoint_path.exists():
                raise InputError(checkpoint_path, "nothing to resume: no checkpoint in this run")
            state = load_checkpoint(checkpoint_path)
            byol.load_state_dict(
                {**byol.whitening.state_dict(prefix="whitening."), **state["model"]}
            )
            optimizer.load_state_dict(state["optimizer"])
            scaler.load_state_dict(state["scaler"])
            step, start_epoch, skipped = state["step"], state["epoch"], state["skipped_steps"]
            history = list(state["history"])
            set_rng_state(state["rng"])
        model: torch.nn.Module = byol
        if dist.enabled:
            model = torch.nn.parallel.DistributedDataParallel(
                byol, device_ids=[device.index] if device.type == "cuda" else None
            )
        if t.compile:
            model = torch.compile(model)

        logs = _Logs(self.run_dir / "logs", append=self.resume) if dist.is_main else None
        images_per_second = 0.0
        end_epoch = (
            epochs if self.stop_after is None else min(epochs, start_epoch + self.stop_after)
        )
        for epoch in range(start_epoch, end_epoch):
            sampler.set_epoch(epoch)
            byol.train()
            bar = tqdm(
                loader,
                desc=f"epoch {epoch + 1}/{epochs}",
                disable=not (self.progress and dist.is_main),
                leave=False,
            )
            epoch_losses, started, seen = [], time.perf_counter(), 0
            for batch in bar:
                lr = learning_rate_at(
                    step, base=t.learning_rate, total_steps=total_steps, warmup_steps=warmup_steps,
                    schedule=t.lr_schedule, steps_per_epoch=steps_per_epoch, gamma=t.gamma,
                )  # fmt: skip
                for group in optimizer.param_groups:
                    group["lr"] = lr
                # Randomness tied to the step number: a resumed run draws the same views.
                generator = torch.Generator(device).manual_seed(t.seed * 1_000_003 + step)
                images = batch.images.to(device, non_blocking=True)
                extents = batch.extents.to(device)
                view_1 = augment(images, extents, generator)
                view_2 = augment(images, extents, generator)
                if t.channels_last:
                    view_1 = view_1.contiguous(memory_format=torch.channels_last)
                    view_2 = view_2.contiguous(memory_format=torch.channels_last)
                # The forward pass moves BatchNorm statistics before the loss is known; keep a
                # copy (a few kB) so a skipped step leaves no trace in the network.
                buffers = [buffer.clone() for buffer in byol.buffers()]
                with _autocast(device, autocast_dtype):
                    loss = model(view_1, view_2)

                # A non-finite loss (or gradient) skips the step on every rank: weights stay clean.
                # (BatchNorm can overflow to an infinite variance while the loss stays finite.)
                finite = _all_finite([loss, *byol.buffers()])
                bad, unscaled = dist.any(not finite, device), False
                if not bad:
                    scaler.scale(loss).backward()
                    scaler.unscale_(optimizer)
                    unscaled = True
                    norm = torch.nn.utils.clip_grad_norm_(
                        byol.parameters(), t.grad_clip or math.inf
                    )
                    # With fp16 the gradient scaler skips overflowing steps by itself.
                    bad = not bool(torch.isfinite(norm)) and not scaler.is_enabled()
                if bad:
                    optimizer.zero_grad(set_to_none=True)
                    with torch.no_grad():
                        for buffer, saved in zip(byol.buffers(), buffers, strict=True):
                            buffer.copy_(saved)
                    if unscaled:
                        scaler.update()
                    skipped += 1
                    names = [bank.paths[i] for i in batch.indices.tolist()]
                    more = f" and {len(names) - 8} more" if len(names) > 8 else ""
                    warnings.warn(
                        f"step {step}: non-finite loss or gradient, step skipped; "
                        f"batch files: {', '.join(names[:8])}{more}",
                        stacklevel=2,
                    )
                    step += 1
                    continue
                scaler.step(optimizer)
                scaler.update()
                optimizer.zero_grad(set_to_none=True)
                tau = cosine_tau(step, total_steps, byol.base_tau)
                byol.update_target(tau)

                step += 1
                seen += len(batch.indices) * dist.world_size
                images_per_second = seen / max(time.perf_counter() - started, 1e-9)
                epoch_losses.append(float(loss.detach()))
                bar.set_postfix(
                    loss=f"{epoch_losses[-1]:.4f}", lr=f"{lr:.2e}", img_s=f"{images_per_second:.0f}"
                )
                if logs is not None and step % t.log_every == 0:
                    logs.step(step, epoch + 1, epoch_losses[-1], lr, tau, images_per_second)

            # End of epoch: same BatchNorm statistics everywhere, validation, checkpoint.
            dist.broadcast_buffers(byol)
            train_loss = dist.mean(
                float(np.mean(epoch_losses)) if epoch_losses else float("nan"), device
            )
            val_loss, spread = self._validate(
                byol, bank, val_indices or train_indices, augment, device, autocast_dtype
            )
            record = {
                "epoch": epoch + 1,
                "train_loss": train_loss,
                "val_loss": val_loss if val_indices else None,
                "spread": spread,
                "images_per_second": images_per_second,
                "seconds": time.perf_counter() - started,
            }
            history.append(record)
            if self.progress and dist.is_main:
                val_text = f", val loss {val_loss:.4f}" if val_indices else ""
                tqdm.write(
                    f"epoch {epoch + 1}/{epochs}: train loss {train_loss:.4f}{val_text}, "
                    f"spread {spread:.2f}, {images_per_second:.0f} images/s"
                )
            if spread < COLLAPSE_SPREAD:
                warnings.warn(
                    f"epoch {epoch + 1}: embeddings are collapsing (spread {spread:.3f} < "
                    f"{COLLAPSE_SPREAD}); try a lower learning rate, a larger batch or "
                    "stronger augmentations",
                    stacklevel=2,
                )
            if logs is not None:
                logs.epoch(record)
                if (epoch + 1) % t.checkpoint_every == 0 or epoch + 1 == end_epoch:
                    save_checkpoint(
                        checkpoint_path,
                        {
                            "model": byol.state_dict(),
                            "optimizer": optimizer.state_dict(),
                            "scaler": scaler.state_dict(),
                            "step": step,
                            "epoch": epoch + 1,
                            "skipped_steps": skipped,
                            "history": history,
                            "rng": rng_state(),
                        },
                    )
            dist.barrier()

        finished = end_epoch == epochs
        if logs is not None:
            logs.close()
            if finished:
                description = self._description(bank, epochs, step, history)
                fit_whitening(byol, bank, description, device, t.seed)
                save_model(self.run_dir, byol, description)
        if dist.enabled:
            digest = weights_digest(byol)
            print(
                f"morphospace: rank {dist.rank}/{dist.world_size} finished, "
                f"weights sha256={digest}",
                flush=True,
            )
        last = history[-1] if history else {}
        return TrainResult(
            run_dir=self.run_dir,
            epochs=end_epoch,
            total_epochs=epochs,
            finished=finished,
            steps=step,
            train_loss=last.get("train_loss", float("nan")),
            val_loss=last.get("val_loss"),
            spread=last.get("spread"),
            images_per_second=images_per_second,
            skipped_steps=skipped,
            history=history,
        )

    @torch.no_grad()
    def _validate(
        self, byol: BYOL, bank: ObjectBank, indices: list[int], augment: Augmenter, device, dtype
    ):
        """Held-out BYOL loss and embedding spread, on views drawn the same way every epoch.

        BatchNorm uses batch statistics, as in training (the MLP heads' running statistics
        make eval-mode losses meaningless), and its running statistics are left untouched.
        """
        generator = torch.Generator(device).manual_seed(_VALIDATION_SEED)
        losses, projections = [], []
        with _untouched_buffers(byol):
            for start in range(0, len(indices), 256):
                chunk = indices[start : start + 256]
                if len(chunk) < 2:
                    break
                batch = bank.__getitems__(chunk)
                images, extents = batch.images.to(device), batch.extents.to(device)
                view_1, view_2 = (
                    augment(images, extents, generator),
                    augment(images, extents, generator),
                )
                with _autocast(device, dtype):
                    losses.append(float(byol(view_1, view_2)) * len(chunk))
                    # Projections, as SimSiam measures collapse: backbone outputs are post-ReLU and
                    # share one orthant, so their spread is small even when nothing has collapsed.
                    projections.append(byol.online_encoder(view_1).float())
        vectors = torch.nn.functional.normalize(torch.cat(projections), dim=1)
        spread = float(vectors.std(dim=0).mean() * math.sqrt(vectors.shape[1]))
        return sum(losses) / sum(len(p) for p in projections), spread

    def _description(
        self, bank: ObjectBank, epochs: int, steps: int, history: list[dict]
    ) -> dict[str, Any]:
        s = self.settings
        return {
            "backbone": s.model.backbone,
            "hidden_layer": s.model.hidden_layer,
            "in_channels": bank.channels,
            "projection_size": s.model.projection_size,
            "projection_hidden_size": s.model.projection_hidden_size,
            "preprocess": s.preprocess.to_dict(),
            "data": {"hdu": s.data.hdu, "min_side": s.data.min_side},
            "views": {
                "view_size": s.augment.view_size,
                "view_mode": s.augment.view_mode,
                "bank_size": bank.size,
            },
            "training": {
                "objects": len(bank),
                "epochs": epochs,
                "steps": steps,
                "history": history,
            },
        }


WHITENING_SAMPLE = 20_000


def fit_whitening(
    byol: BYOL, bank: ObjectBank, description: dict[str, Any], device: torch.device, seed: int
) -> None:
    """Fit the embedding whitening on the training objects, framed and averaged as at inference.

    Large sets are sampled: a covariance of a few thousand dimensions needs no more.
    """
    from morphospace.embed import Embedder  # embed imports train: import here, not above

    generator = torch.Generator().manual_seed(seed)
    sample = torch.randperm(len(bank), generator=generator)[:WHITENING_SAMPLE]
    byol.whitening.reset()
    byol.eval()
    embedder = Embedder(byol, description, tta=True, device=str(device))
    features = embedder.transform_bank(bank.images[sample], bank.extents[sample])
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


@contextmanager
def _untouched_buffers(module: torch.nn.Module):
    """Run with batch statistics, then put every buffer (BatchNorm statistics) back as it was."""
    saved = [buffer.clone() for buffer in module.buffers()]
    try:
        yield
    finally:
        with torch.no_grad():
            for buffer, copy in zip(module.buffers(), saved, strict=True):
                buffer.copy_(copy)


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
