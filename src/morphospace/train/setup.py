"""What a training run is set up with before its first step: where it runs, the objects it
draws from, the plan of its schedule, and the state that changes as it goes (and that a
checkpoint holds)."""

from __future__ import annotations

import itertools
import math
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, DistributedSampler

from morphospace.byol import BYOL
from morphospace.config import Settings
from morphospace.dataset import ObjectBank, check_usable, keep_batch, load_objects, read_objects
from morphospace.errors import InputError
from morphospace.io import find_sources
from morphospace.models import ModelCard, build_backbone
from morphospace.models.devices import resolve_device
from morphospace.train.checkpoint import load_checkpoint, rng_state, set_rng_state
from morphospace.train.distributed import Distributed
from morphospace.train.logs import report_skipped
from morphospace.train.optim import build_optimizer
from morphospace.train.transfer import check_agreement, schedule, start_from

__all__ = [
    "Hardware",
    "Plan",
    "State",
    "initial_model",
    "load_bank",
    "plan_schedule",
    "start_state",
    "wrap",
]


@dataclass(frozen=True)
class Hardware:
    """Where this process trains: its device, its place in the job, its autocast dtype."""

    device: torch.device
    dist: Distributed
    precision: torch.dtype | None

    @classmethod
    def detect(cls, settings: Settings) -> Hardware:
        """The device ``train.device`` names (this process's GPU under torchrun), the job,
        the precision, and the CPU threads; the global RNGs seeded."""
        t = settings.train
        device = resolve_device(t.device, "train.device")
        dist = Distributed.from_environment(device.type)
        if device.type == "cuda" and dist.enabled:
            device = torch.device("cuda", dist.local_rank)
            torch.cuda.set_device(device)
        if t.threads or (dist.enabled and device.type == "cpu"):
            torch.set_num_threads(t.threads or dist.cores_per_process)
        random.seed(t.seed)
        return cls(device, dist, _precision(t.precision, device))


def _precision(setting: str, device: torch.device) -> torch.dtype | None:
    if setting == "auto":
        bf16 = device.type == "cuda" and torch.cuda.is_bf16_supported()
        return torch.bfloat16 if bf16 else None
    return {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[setting]


#: Objects read, preprocessed and written per step when the bank is kept on disk.
BANK_CHUNK = 20_000


def load_bank(settings: Settings, run_dir: Path, dist: Distributed) -> ObjectBank:
    """Every object of ``data.sources`` read, preprocessed (cached in ``RUN/cache``) and
    resampled into one bank tensor; unusable files are listed in ``RUN/skipped.csv``.

    A bank larger than ``train.bank_memory_gib`` (as float32) is kept on disk instead, as
    float16 in ``RUN/cache/bank.npy``, memory-mapped, and filled :data:`BANK_CHUNK` objects
    at a time: training a million objects holds a chunk in memory, not the set.
    """
    s = settings
    bank_size = math.ceil(s.augment.view_size * s.train.bank_scale)
    paths = find_sources(s.data.sources)
    options = {"hdu": s.data.hdu, "min_side": s.data.min_side, "on_error": s.data.on_error,
               "cache_dir": run_dir / "cache" if s.data.cache else None,
               "workers": dist.cores_per_process}  # fmt: skip
    first = read_objects(paths[:1], s.preprocess, **{**options, "on_error": "skip"})
    channels = first.items[0][0].shape[0] if first.items else 1
    if len(paths) * channels * bank_size**2 * 4 > s.train.bank_memory_gib * 2**30:
        return _bank_on_disk(paths, s, options, bank_size, run_dir, dist)
    loaded = load_objects(
        s.data.sources,
        s.preprocess,
        hdu=s.data.hdu,
        min_side=s.data.min_side,
        on_error=s.data.on_error,
        cache_dir=run_dir / "cache" if s.data.cache else None,
        workers=dist.cores_per_process,
    )
    if loaded.problems and dist.is_main:
        report_skipped(loaded.problems, run_dir)
    if len(loaded.arrays) < 2:
        raise InputError(s.data.sources[0], "training needs at least 2 usable objects")
    return ObjectBank(loaded.arrays, [m.path for m in loaded.metas], bank_size)


def _bank_on_disk(
    paths: list[Path], s: Settings, options: dict, size: int, run_dir: Path, dist: Distributed
) -> ObjectBank:
    problems: list = []

    def chunks():
        for start in range(0, len(paths), BANK_CHUNK):
            found = read_objects(paths[start : start + BANK_CHUNK], s.preprocess, **options)
            problems.extend(found.problems)
            yield [a for a, _ in found.items], [m.path for _, m in found.items]

    try:
        bank = ObjectBank.on_disk(chunks(), len(paths), size, run_dir / "cache" / "bank.npy")
    except ValueError:
        check_usable([], problems, paths, s.data.sources)
        raise
    if problems and dist.is_main:
        report_skipped(problems, run_dir)
    if len(bank) < 2:
        raise InputError(s.data.sources[0], "training needs at least 2 usable objects")
    return bank


@dataclass
class Plan:
    """The split and the schedule, fixed before the first step."""

    bank: ObjectBank
    train_indices: list[int]
    val_indices: list[int]
    loader: DataLoader
    sampler: EpochSampler
    epochs: int
    steps_per_epoch: int
    total_steps: int
    learning_rate: float  # the schedule's peak
    warmup_steps: int


#: The warm-up never takes more than this fraction of the run: ``warmup_epochs = 2`` is
#: the first tenth of the default 20 epochs or more, and of a one-epoch run (a million
#: objects) the first tenth too.
WARMUP_MAX_FRACTION = 0.1


class EpochSampler(DistributedSampler):
    """Each process's share of an epoch's shuffled objects, of ``draws`` objects in all:
    the whole set, or for a set larger than ``draws`` a new random subset each epoch."""

    def __init__(self, dataset, draws: int, **kwargs: Any):
        super().__init__(dataset, **kwargs)
        self.per_process = min(self.num_samples, max(draws // self.num_replicas, 1))

    def __iter__(self):
        return itertools.islice(super().__iter__(), self.per_process)

    def __len__(self) -> int:
        return self.per_process


def plan_schedule(settings: Settings, bank: ObjectBank, dist: Distributed) -> Plan:
    """The split, the loader and the schedule's length in epochs and steps."""
    t = settings.train
    train_indices, val_indices = _split(len(bank), t.val_fraction, t.seed)
    per_rank_batch = min(t.batch_size // dist.world_size, len(train_indices) // dist.world_size)
    if per_rank_batch < 2:
        raise InputError(
            "train.batch_size",
            f"too few objects ({len(train_indices)}) for a batch of 2 per process",
        )
    subset = torch.utils.data.Subset(bank, train_indices)
    sampler = EpochSampler(
        subset,
        draws=t.draws_per_epoch(len(train_indices)),
        num_replicas=dist.world_size,
        rank=dist.rank,
        shuffle=True,
        seed=t.seed,
        drop_last=True,
    )
    loader = DataLoader(
        subset,
        batch_size=per_rank_batch,
        sampler=sampler,
        drop_last=True,
        collate_fn=keep_batch,
        num_workers=t.workers,
    )
    epochs, steps_per_epoch = t.epochs_for(len(train_indices)), len(loader)
    total_steps = epochs * steps_per_epoch
    learning_rate, warmup_epochs = schedule(settings)
    return Plan(
        bank=bank,
        train_indices=train_indices,
        val_indices=val_indices,
        loader=loader,
        sampler=sampler,
        epochs=epochs,
        steps_per_epoch=steps_per_epoch,
        total_steps=total_steps,
        learning_rate=learning_rate,
        warmup_steps=min(
            round(warmup_epochs * steps_per_epoch),
            round(WARMUP_MAX_FRACTION * total_steps),  # a run of a few epochs also decays
            max(total_steps - 1, 0),
        ),
    )


def _split(n: int, val_fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """Hold out ``val_fraction`` of the objects (at least 2, or none for tiny sets)."""
    order = np.random.default_rng(seed).permutation(n).tolist()
    n_val = round(val_fraction * n)
    if n_val < 2 or n - n_val < 2:
        return order, []
    return order[n_val:], order[:n_val]


@dataclass
class State:
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


def start_state(
    settings: Settings,
    plan: Plan,
    hw: Hardware,
    earlier: ModelCard | None,
    checkpoint: Path | None,
) -> State:
    """A new model and optimiser (from the ``earlier`` run's weights with ``--init``), or
    those of the interrupted run in ``checkpoint`` when resuming."""
    t = settings.train
    byol = _build_model(settings, plan.bank.channels, hw)
    if earlier is not None:
        check_agreement(settings, earlier, plan.bank.channels)
        start_from(byol, settings, load=checkpoint is None)
    optimizer = build_optimizer(byol, t.optimizer, plan.learning_rate, t.weight_decay)
    scaler = torch.amp.GradScaler(hw.device.type, enabled=hw.precision == torch.float16)
    state = State(byol, optimizer, scaler)
    if checkpoint is not None:
        if not checkpoint.exists():
            raise InputError(checkpoint, "nothing to resume: no checkpoint in this run")
        state.restore(load_checkpoint(checkpoint))
    return state


def initial_model(settings: Settings, channels: int) -> BYOL:
    """The BYOL model as a run with ``settings`` starts it, on the CPU: seeded by
    ``train.seed``, so every rank and every later call gets the same initial weights."""
    m = settings.model
    torch.manual_seed(settings.train.seed)
    return BYOL(
        build_backbone(m.backbone, channels),
        channels,
        hidden_layer=m.hidden_layer,
        projection_size=m.projection_size,
        projection_hidden_size=m.projection_hidden_size,
        base_tau=m.base_tau,
        use_momentum=m.use_momentum,
        variance_weight=m.variance_weight,
        neighbour_queue=m.neighbour_queue,
        neighbours=m.neighbours,
        probe_size=settings.augment.view_size,
    )


def _build_model(settings: Settings, channels: int, hw: Hardware) -> BYOL:
    byol = initial_model(settings, channels)
    if hw.dist.enabled and settings.train.sync_batchnorm:
        if hw.device.type != "cuda":
            raise InputError(
                "train.sync_batchnorm", "SyncBatchNorm works on GPUs only; set it false on CPUs"
            )
        byol = torch.nn.SyncBatchNorm.convert_sync_batchnorm(byol)
    byol = byol.to(hw.device)
    if settings.train.channels_last:  # NHWC: faster convolutions on CPUs and GPUs alike
        byol = byol.to(memory_format=torch.channels_last)
    return byol


def wrap(byol: BYOL, settings: Settings, hw: Hardware) -> torch.nn.Module:
    """The module the loop calls: ``byol``, under DDP and ``torch.compile`` when asked."""
    model: torch.nn.Module = byol
    if hw.dist.enabled:
        model = torch.nn.parallel.DistributedDataParallel(
            byol, device_ids=[hw.device.index] if hw.device.type == "cuda" else None
        )
    if settings.train.compile:
        model = torch.compile(model)
    return model
