"""Optimisers and the learning-rate schedule."""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["LARS", "build_optimizer", "learning_rate_at", "parameter_groups"]


class LARS(torch.optim.Optimizer):
    """Layer-wise Adaptive Rate Scaling (You et al. 2017) with momentum, as used by BYOL.

    Each parameter's step is scaled by ``trust * ||w|| / ||g + wd w||``; parameter groups
    with ``lars=False`` (biases, norms) take a plain momentum step.
    """

    def __init__(
        self,
        params,
        lr: float,
        momentum: float = 0.9,
        weight_decay: float = 0.0,
        trust: float = 1e-3,
    ):
        super().__init__(
            params,
            {
                "lr": lr,
                "momentum": momentum,
                "weight_decay": weight_decay,
                "trust": trust,
                "lars": True,
            },
        )

    @torch.no_grad()
    def step(self, closure=None):
        loss = closure() if closure is not None else None
        for group in self.param_groups:
            for param in group["params"]:
                if param.grad is None:
                    continue
                update = param.grad.add(param, alpha=group["weight_decay"])
                if group["lars"]:
                    weight_norm, update_norm = param.norm(), update.norm()
                    ratio = torch.where(
                        (weight_norm > 0) & (update_norm > 0),
                        group["trust"] * weight_norm / update_norm,
                        torch.ones_like(weight_norm),
                    )
                    update = update * ratio
                state = self.state[param]
                buffer = state.setdefault("momentum_buffer", torch.zeros_like(param))
                buffer.mul_(group["momentum"]).add_(update)
                param.add_(buffer, alpha=-group["lr"])
        return loss


def parameter_groups(module: nn.Module, weight_decay: float) -> list[dict]:
    """Weight decay (and LARS scaling) on weights only: biases and norm layers are exempt."""
    decay, exempt = [], []
    for param in module.parameters():
        if param.requires_grad:
            (decay if param.ndim > 1 else exempt).append(param)
    return [
        {"params": decay, "weight_decay": weight_decay},
        {"params": exempt, "weight_decay": 0.0, "lars": False},
    ]


def build_optimizer(
    module: nn.Module, name: str, learning_rate: float, weight_decay: float
) -> torch.optim.Optimizer:
    groups = parameter_groups(module, weight_decay)
    if name == "lars":
        return LARS(groups, lr=learning_rate)
    for group in groups:
        group.pop("lars", None)
    return torch.optim.AdamW(groups, lr=learning_rate)


def learning_rate_at(
    step: int,
    *,
    base: float,
    total_steps: int,
    warmup_steps: int,
    schedule: str = "cosine",
    steps_per_epoch: int = 1,
    gamma: float = 0.99,
) -> float:
    """Linear warm-up, then cosine decay to zero, per-epoch exponential decay, or constant."""
    if step < warmup_steps:
        return base * (step + 1) / warmup_steps
    if schedule == "constant":
        return base
    if schedule == "exponential":
        return base * gamma ** (step // max(steps_per_epoch, 1))
    progress = (step - warmup_steps) / max(total_steps - warmup_steps, 1)
    return base * 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0)))
