"""Baselines scored beside a trained model, on the same objects, framing and folds.

- :func:`pixel_pca`: the framed input pixels themselves, reduced by PCA: what any
  embedding must beat to be worth training.
- :func:`random_network`: the same architecture at random initialisation: what the
  architecture gives before it learns anything.
- :func:`train_supervised`: the same backbone trained with the labels (or a continuous
  parameter) on each training fold (the upper bound a label-free method can hope to approach).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.decomposition import PCA

from morphospace.augment import Augmenter, AugmentSettings
from morphospace.byol import BYOL
from morphospace.dataset import ObjectBank
from morphospace.embed import Embedder
from morphospace.errors import InputError
from morphospace.models import build_model

__all__ = ["pixel_pca", "random_network", "train_supervised", "whitened_like"]


def pixel_pca(
    embedder: Embedder, arrays: Sequence[np.ndarray], components: int = 64, seed: int = 0
) -> np.ndarray:
    """Raw-pixel PCA: each object framed exactly as the network sees it, flattened, reduced.

    The components are whitened (unit variance), as the model's embeddings are.
    """
    if embedder.view_mode != "fit":
        raise InputError(
            embedder.run or "pixel_pca",
            "the raw-pixel baseline needs one input size: a view_mode 'fit' model",
        )
    size = embedder.card.in_channels * embedder.view_size**2
    pixels = np.zeros((len(arrays), size), dtype=np.float32)
    for members, inputs in embedder.inputs(arrays):
        pixels[members] = inputs.flatten(1).cpu().numpy()
    components = min(components, len(arrays) - 1, pixels.shape[1])
    pca = PCA(n_components=components, whiten=True, random_state=seed)
    return pca.fit_transform(pixels).astype(np.float32)


def random_network(embedder: Embedder, arrays: Sequence[np.ndarray], seed: int = 0) -> Embedder:
    """The run's architecture, framing and TTA at random initialisation, whitened on ``arrays``.

    The whitening is fitted as training fits the model's, so the comparison isolates what
    the network learned.
    """
    torch.manual_seed(seed)
    return whitened_like(embedder, build_model(embedder.card), arrays)


def whitened_like(embedder: Embedder, byol: BYOL, arrays: Sequence[np.ndarray]) -> Embedder:
    """An embedder for ``byol`` set up like ``embedder``, its whitening fitted on ``arrays``."""
    other = Embedder(
        byol,
        embedder.card,
        tta=embedder.tta,
        batch_size=embedder.batch_size,
        device=str(embedder.device),
        run=embedder.run,
    )
    byol.whitening.fit(torch.as_tensor(other.transform(arrays)))
    return other


def train_supervised(
    embedder: Embedder,
    arrays: Sequence[np.ndarray],
    labels: np.ndarray,
    epochs: int = 20,
    batch_size: int = 64,
    learning_rate: float = 1e-3,
    seed: int = 0,
) -> Embedder:
    """Train the run's backbone from scratch with a linear head on the labels.

    ``labels`` are class names (cross-entropy), or floats for a continuous parameter: the
    head then regresses the standardised value (mean squared error). Views are drawn by
    the same augmentations as self-supervised training; the returned embedder yields the
    backbone's representations.
    """
    torch.manual_seed(seed)
    device = embedder.device
    byol = build_model(embedder.card).to(device)
    backbone = byol.online_encoder.backbone
    if np.asarray(labels).dtype.kind == "f":
        values = np.asarray(labels, dtype=np.float64)
        scaled = (values - values.mean()) / (values.std() or 1.0)
        targets = torch.as_tensor(scaled, dtype=torch.float32, device=device)
        head = torch.nn.Linear(byol.representation_size, 1).to(device)

        def loss_of(outputs: torch.Tensor, wanted: torch.Tensor) -> torch.Tensor:
            return F.mse_loss(outputs.squeeze(1), wanted)
    else:
        classes, codes = np.unique(labels, return_inverse=True)
        targets = torch.as_tensor(codes, device=device)
        head = torch.nn.Linear(byol.representation_size, len(classes)).to(device)
        loss_of = F.cross_entropy
    parameters = [*backbone.parameters(), *head.parameters()]
    optimiser = torch.optim.AdamW(parameters, lr=learning_rate, weight_decay=1e-4)
    bank = ObjectBank(arrays, [str(i) for i in range(len(arrays))], embedder.bank_size)
    augmenter = Augmenter(
        AugmentSettings(view_size=embedder.view_size, view_mode=embedder.view_mode)
    )
    generator = torch.Generator().manual_seed(seed)
    steps_per_epoch = max(1, len(arrays) // batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimiser, learning_rate, total_steps=epochs * steps_per_epoch
    )
    backbone.train()
    for _ in range(epochs):
        order = torch.randperm(len(arrays), generator=generator)
        for step in range(steps_per_epoch):
            index = order[step * batch_size : (step + 1) * batch_size]
            views = augmenter(bank.images[index].to(device), bank.extents[index])
            loss = loss_of(head(backbone(views)), targets[index.to(device)])
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            schedule.step()
    return whitened_like(embedder, byol, arrays)
