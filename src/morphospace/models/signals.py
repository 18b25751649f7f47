"""Label-free signals of an embedding's quality, computed from the embeddings alone.

- :func:`effective_rank` (RankMe, Garrido et al. 2023): ``exp`` of the entropy of the
  normalised singular values of the (N, D) embedding matrix. It counts how many directions
  the objects really spread along; a representation that collapses loses rank.
- :func:`alignment` and :func:`uniformity` (Wang & Isola 2020), on unit vectors: how close
  two views of the same object land (lower is closer), and how evenly the objects cover the
  sphere (lower is more even).
- :func:`weight_distance`: how far a network's weights have moved from a reference (its
  initial weights), relative to the reference's norm.

These are the quantities ``benchmarks/learning_curve.py`` follows during training.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["alignment", "effective_rank", "uniformity", "weight_distance"]


def effective_rank(embeddings: torch.Tensor, eps: float = 1e-7) -> float:
    """RankMe of ``embeddings`` (N, D): between 1 (collapsed) and ``min(N, D)``."""
    x = torch.as_tensor(embeddings).double()
    singular = torch.linalg.svdvals(x)
    p = singular / singular.sum().clamp(min=eps) + eps
    return float(torch.exp(-(p * torch.log(p)).sum()))


def _unit(x: torch.Tensor, centre: bool) -> torch.Tensor:
    x = torch.as_tensor(x).double()
    return F.normalize(x - x.mean(dim=0) if centre else x, dim=1)


def alignment(first: torch.Tensor, second: torch.Tensor, *, centre: bool = True) -> float:
    """Mean squared distance between unit embeddings of two views of the same objects.

    ``centre`` subtracts the objects' mean first (the first view's mean from both), so
    that post-ReLU features, which share one orthant, are measured by how they differ.
    """
    first = torch.as_tensor(first).double()
    second = torch.as_tensor(second).double()
    if centre:
        mean = first.mean(dim=0)
        first, second = first - mean, second - mean
    a, b = F.normalize(first, dim=1), F.normalize(second, dim=1)
    return float((a - b).pow(2).sum(dim=1).mean())


def uniformity(embeddings: torch.Tensor, *, t: float = 2.0, centre: bool = True) -> float:
    """``log E exp(-t |u - v|^2)`` over pairs of distinct unit embeddings (lower is more even)."""
    x = _unit(embeddings, centre)
    squared = torch.pdist(x).pow(2)
    return float(torch.log(torch.exp(-t * squared).mean()))


def weight_distance(network: nn.Module, reference: dict[str, torch.Tensor]) -> float:
    """``|w - w0| / |w0|`` over the floating-point parameters ``reference`` names."""
    moved = total = 0.0
    for name, value in network.state_dict().items():
        if name in reference and value.is_floating_point() and name.endswith("weight"):
            start = reference[name].to(value.device, torch.float64)
            moved += float((value.double() - start).pow(2).sum())
            total += float(start.pow(2).sum())
    return (moved / total) ** 0.5 if total else 0.0
