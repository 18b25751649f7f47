"""Bootstrap Your Own Latent (Grill et al. 2020) as one ``nn.Module``.

The online network (encoder = backbone + projector, then a predictor) learns to predict the
target network's projection of another view of the same object. The target encoder is an
exponential moving average (EMA) of the online encoder, with the EMA rate tau rising from
``base_tau`` to 1 on a cosine schedule. The loss is symmetric in the two views.

    byol = BYOL(build_backbone("resnet18:layer2"), in_channels=1)
    loss = byol(view_1, view_2)           # two augmented views of the same batch
    loss.backward(); optimizer.step()
    byol.update_target(cosine_tau(step, total_steps, byol.base_tau))
    embeddings = byol.embed(images)       # (B, representation_size)

After training, :class:`Whitening` is fitted on the representations of the training
objects, so that every direction of the embedding carries unit variance: cosine
similarity then weighs all learned features alike instead of the few with the largest
activations (PCA whitening of descriptors, as in image retrieval).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from copy import deepcopy

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "BYOL",
    "Encoder",
    "HiddenLayer",
    "Whitening",
    "cosine_tau",
    "mlp",
    "regression_loss",
    "variance_loss",
]


def mlp(in_features: int, hidden_features: int, out_features: int) -> nn.Sequential:
    """The BYOL projector/predictor: Linear, BatchNorm, ReLU, Linear."""
    return nn.Sequential(
        nn.Linear(in_features, hidden_features),
        nn.BatchNorm1d(hidden_features),
        nn.ReLU(inplace=True),
        nn.Linear(hidden_features, out_features),
    )


def regression_loss(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """BYOL's normalised MSE, ``2 - 2 cos(p, z)``, per sample."""
    return 2 - 2 * F.cosine_similarity(prediction, target.detach(), dim=-1)


def variance_loss(projections: torch.Tensor) -> torch.Tensor:
    """VICReg's variance term (Bardes et al. 2022) on unit vectors: the mean shortfall of
    each dimension's batch standard deviation below ``1 / sqrt(D)``, in units of it.

    On the unit sphere the per-dimension variances sum to at most 1, so the term is zero
    only when the batch spreads evenly over every dimension; scaling cannot satisfy it.
    """
    unit = F.normalize(projections.float(), dim=-1) * math.sqrt(projections.shape[-1])
    std = torch.sqrt(unit.var(dim=0) + 1e-4)
    return F.relu(1 - std).mean()


def cosine_tau(step: int, total_steps: int, base_tau: float = 0.99) -> float:
    """EMA rate at ``step``: ``1 - (1 - base_tau) (cos(pi k / K) + 1) / 2``, from base_tau to 1."""
    progress = min(max(step / max(total_steps, 1), 0.0), 1.0)
    return 1.0 - (1.0 - base_tau) * (math.cos(math.pi * progress) + 1.0) / 2.0


class HiddenLayer(nn.Module):
    """Use a named inner layer of a network as the representation (globally pooled if 2-D)."""

    def __init__(self, network: nn.Module, layer: str):
        super().__init__()
        modules = dict(network.named_modules())
        if layer not in modules:
            names = ", ".join(name for name in modules if name)
            raise ValueError(f"no layer {layer!r} in the backbone (layers: {names})")
        self.network = network
        self.layer = layer
        self._captured: torch.Tensor | None = None
        modules[layer].register_forward_hook(self._capture)

    def _capture(self, module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        self._captured = output

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._captured = None
        self.network(x)
        hidden, self._captured = self._captured, None
        if hidden is None:
            raise RuntimeError(f"layer {self.layer!r} was not used in the forward pass")
        if hidden.ndim == 4:
            hidden = F.adaptive_avg_pool2d(hidden, 1)
        return hidden.flatten(1)


class Whitening(nn.Module):
    """A fixed affine map ``(x - mean) @ matrix``: the identity until :meth:`fit` is called."""

    def __init__(self, size: int):
        super().__init__()
        self.register_buffer("mean", torch.zeros(size))
        self.register_buffer("matrix", torch.eye(size))

    @property
    def fitted(self) -> bool:
        """False while the map is the identity."""
        identity = torch.eye(len(self.mean), device=self.matrix.device)
        return bool(self.mean.any()) or not torch.equal(self.matrix, identity)

    @torch.no_grad()
    def reset(self) -> Whitening:
        """Back to the identity (no whitening)."""
        self.mean.zero_()
        self.matrix.copy_(torch.eye(len(self.mean)))
        return self

    @torch.no_grad()
    def fit(self, features: torch.Tensor, shrinkage: float | None = None) -> Whitening:
        """PCA-whiten ``features`` (N, D) through a shrunk covariance ``(1 - a) C + a mu I``.

        ``a`` is Ledoit & Wolf's (2004) estimate unless given: near 0 for many more objects
        than dimensions, larger for few. It keeps directions the objects hardly vary in
        (estimation noise, dead units) from being blown up into the largest differences.
        """
        from sklearn.covariance import ledoit_wolf_shrinkage

        x = features.double()
        if shrinkage is None:
            shrinkage = float(ledoit_wolf_shrinkage(x.numpy())) if len(x) > 1 else 1.0
        mean = x.mean(dim=0)
        covariance = torch.cov((x - mean).T).reshape(x.shape[1], x.shape[1])
        eigenvalues, eigenvectors = torch.linalg.eigh(covariance)
        eigenvalues = eigenvalues.clamp(min=0)
        average = eigenvalues.mean().clamp(min=1e-12)
        scale = ((1 - shrinkage) * eigenvalues + shrinkage * average).rsqrt()
        order = torch.argsort(eigenvalues, descending=True)  # principal directions first
        self.mean.copy_(mean.float())
        self.matrix.copy_((eigenvectors * scale)[:, order].float())
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean.to(x.dtype)) @ self.matrix.to(x.dtype)


class Encoder(nn.Module):
    """Backbone (the representation used for embeddings) followed by the projector MLP."""

    def __init__(self, backbone: nn.Module, projector: nn.Module):
        super().__init__()
        self.backbone = backbone
        self.projector = projector

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.projector(self.backbone(x))


class BYOL(nn.Module):
    """BYOL around any backbone mapping (B, C, H, W) to (B, D), or a named hidden layer of it.

    Parameters
    ----------
    backbone : nn.Module
        The network to train.
    in_channels : int
        Input channels, used to probe the representation size.
    hidden_layer : str, optional
        Name of an inner module whose (pooled) output is the representation.
    projection_size, projection_hidden_size : int
        Projector and predictor output and hidden widths.
    base_tau : float
        Starting EMA rate of the target encoder.
    use_momentum : bool
        If False the target is the online encoder itself (no EMA), under stop-gradient.
    variance_weight : float
        Weight of a VICReg-style variance term on the online projections, added to the
        BYOL loss; 0 (the default) is the paper's BYOL.
    neighbour_queue : int
        Nearest-neighbour targets (NNCLR, Dwibedi et al. 2021; MSF, Koohpayegani et al.
        2021): keep the target projections of this many recent objects, and predict the
        nearest of them to the other view's target projection instead of that projection
        itself. Neighbours are other objects that look alike, a variety that augmentations
        of one object cannot give. 0 (the default) is the paper's BYOL.
    neighbours : int
        With a queue, the target is the mean of this many nearest neighbours.
    probe_size : int
        Side of the dummy input used to find the representation size.
    """

    def __init__(
        self,
        backbone: nn.Module,
        in_channels: int = 1,
        *,
        hidden_layer: str | None = None,
        projection_size: int = 256,
        projection_hidden_size: int = 1024,
        base_tau: float = 0.99,
        use_momentum: bool = True,
        variance_weight: float = 0.0,
        neighbour_queue: int = 0,
        neighbours: int = 1,
        probe_size: int = 64,
    ):
        super().__init__()
        if hidden_layer:
            backbone = HiddenLayer(backbone, hidden_layer)
        self.representation_size = _output_size(backbone, in_channels, probe_size)
        projector = mlp(self.representation_size, projection_hidden_size, projection_size)
        self.online_encoder = Encoder(backbone, projector)
        self.online_predictor = mlp(projection_size, projection_hidden_size, projection_size)
        self.target_encoder = deepcopy(self.online_encoder).requires_grad_(False)
        self.whitening = Whitening(self.representation_size)
        self.base_tau = base_tau
        self.use_momentum = use_momentum
        self.variance_weight = variance_weight
        self.neighbours = neighbours
        if neighbour_queue:
            # unit target projections of recent objects, oldest overwritten first; in the
            # state dict, so a checkpoint resumes with the same queue
            self.register_buffer("queue", torch.zeros(neighbour_queue, projection_size))
            self.register_buffer("queue_count", torch.zeros((), dtype=torch.long))

    def forward(
        self,
        view_1: torch.Tensor,
        view_2: torch.Tensor,
        local_views: Sequence[torch.Tensor] = (),
    ) -> torch.Tensor:
        """Symmetric BYOL loss of two views of the same batch (mean over the batch).

        ``local_views`` (multi-crop, all of one size) are predicted against the targets of
        both global views; every pair of views then weighs alike, on BYOL's scale.
        """
        views = torch.cat([view_1, view_2])  # one pass: BatchNorm sees both views
        projections = self.online_encoder(views)
        prediction_1, prediction_2 = self.online_predictor(projections).chunk(2)
        with torch.no_grad():
            target = self.target_encoder if self.use_momentum else self.online_encoder
            projection_1, projection_2 = target(views).chunk(2)
            if hasattr(self, "queue"):
                found_1, found_2 = self.nearest(projection_1), self.nearest(projection_2)
                if self.training:
                    self.enqueue(projection_1)
                projection_1, projection_2 = found_1, found_2
        loss = regression_loss(prediction_1, projection_2) + regression_loss(
            prediction_2, projection_1
        )
        if local_views:
            local = self.online_predictor(self.online_encoder(torch.cat(list(local_views))))
            for prediction in local.chunk(len(local_views)):
                loss = loss + regression_loss(prediction, projection_1)
                loss = loss + regression_loss(prediction, projection_2)
            loss = loss / (1 + len(local_views))  # 2 + 2L pairs, on the scale of 2
        if not self.variance_weight:
            return loss.mean()
        spread = sum(variance_loss(half) for half in projections.chunk(2))
        return loss.mean() + self.variance_weight * spread

    @torch.no_grad()
    def nearest(self, projections: torch.Tensor) -> torch.Tensor:
        """The mean of the ``neighbours`` queued unit projections nearest to each projection
        (the projections themselves while the queue is empty)."""
        filled = int(min(self.queue_count, len(self.queue)))
        if filled == 0:
            return projections
        unit = F.normalize(projections.float(), dim=1)
        bank = self.queue[:filled]
        k = min(self.neighbours, filled)
        index = (unit @ bank.T).topk(k, dim=1).indices
        return bank[index].mean(dim=1).to(projections.dtype)

    @torch.no_grad()
    def enqueue(self, projections: torch.Tensor) -> None:
        """Add unit projections to the queue, over its oldest entries."""
        unit = F.normalize(projections.float(), dim=1)[: len(self.queue)]
        start = int(self.queue_count % len(self.queue))
        positions = (start + torch.arange(len(unit), device=unit.device)) % len(self.queue)
        self.queue[positions] = unit
        self.queue_count += len(unit)

    @torch.no_grad()
    def update_target(self, tau: float) -> None:
        """EMA step: target <- tau * target + (1 - tau) * online; buffers are copied."""
        if not self.use_momentum:
            return
        online, target = self.online_encoder, self.target_encoder
        for target_param, online_param in zip(
            target.parameters(), online.parameters(), strict=True
        ):
            target_param.lerp_(online_param, 1.0 - tau)
        for target_buffer, online_buffer in zip(target.buffers(), online.buffers(), strict=True):
            target_buffer.copy_(online_buffer)

    def represent(self, images: torch.Tensor) -> torch.Tensor:
        """Backbone outputs of a batch, before whitening."""
        return self.online_encoder.backbone(images)

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        """Whitened representations of a batch: the embeddings users get."""
        return self.whitening(self.represent(images))


@torch.no_grad()
def _output_size(network: nn.Module, in_channels: int, probe_size: int) -> int:
    """Run the network once: the representation size can never disagree with a setting."""
    was_training = network.training
    network.eval()
    try:
        output = network(torch.zeros(2, in_channels, probe_size, probe_size))
    finally:
        network.train(was_training)
    if output.ndim != 2:
        raise ValueError(
            f"backbone returns shape {tuple(output.shape)}; it must return (batch, features) "
            "or name a hidden_layer"
        )
    return int(output.shape[1])
