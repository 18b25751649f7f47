"""A backbone prepared for fast inference on the CPU: BatchNorm folded, oneDNN layouts.

In eval mode a BatchNorm after a convolution is a fixed affine map, so it folds into the
convolution's weights; and oneDNN runs a chain of convolutions faster when the tensors
stay in its own blocked layout between them instead of being reordered around each one.
torch's FX ``optimize_for_inference`` does both, and it roughly doubles the CPU speed of
the default ResNet-18 backbone on 32 px inputs. The result is checked against the plain
network once, on a probe batch; a network that FX cannot trace (control flow, hooks) or
whose prepared copy disagrees is used as it is.
"""

from __future__ import annotations

import copy
import warnings

import torch
from torch import nn

# Float32 reassociation differs between the two paths; folded weights agree far closer.
_TOLERANCE = 1e-3


def for_inference(network: nn.Module, in_channels: int, probe_size: int = 32) -> nn.Module:
    """A CPU inference copy of ``network`` (eval mode), or ``network`` itself if none is better.

    Parameters
    ----------
    network : nn.Module
        Maps (B, C, H, W) to (B, D); put in eval mode. Left unchanged.
    in_channels : int
        C, for the probe batch.
    probe_size : int
        Side of the probe batch that checks the prepared copy against the network.
    """
    network.eval()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch's oneDNN modules announce TorchScript's end
            from torch.fx.experimental.optimization import optimize_for_inference

            prepared = optimize_for_inference(copy.deepcopy(network))
        probe = torch.randn(
            4, in_channels, probe_size, probe_size, generator=torch.Generator().manual_seed(0)
        )
        with torch.inference_mode():
            expected, got = network(probe), prepared(probe)
        if got.shape != expected.shape or not _agree(got, expected):
            return network
    except Exception:  # FX cannot trace every network; the plain one always works
        return network
    return prepared


def _agree(got: torch.Tensor, expected: torch.Tensor) -> bool:
    # Non-finite outputs (weights blown up in training) compare as NaN: trust neither copy.
    if not (torch.isfinite(got).all() and torch.isfinite(expected).all()):
        return False
    scale = float(expected.abs().max()) or 1.0
    return float((got - expected).abs().max()) <= _TOLERANCE * scale
