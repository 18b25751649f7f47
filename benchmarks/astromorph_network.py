"""The network both astromorph harnesses build. Runs inside the astromorph benchmark venv.

astromorph's ``n_layer_resnet`` cut after ``layer2``, in a ``ByolTrainer`` with
``MinMaxNorm``, with one forced change: the first convolution takes 1 channel instead of
3, so astromorph runs the same 1-channel network as morphospace.
"""

import torch
from astromorph.byol import ByolTrainer, MinMaxNorm
from astromorph.models import DEFAULT_MODELS
from torch import nn


def one_channel_trainer(**options) -> ByolTrainer:
    """A seeded ``ByolTrainer`` around the 1-channel ResNet-18 cut after ``layer2``."""
    torch.manual_seed(0)
    network = DEFAULT_MODELS["n_layer_resnet"](last_layer="layer2")
    network.conv1 = nn.Conv2d(1, 64, kernel_size=7, stride=2, padding=3, bias=False)
    return ByolTrainer(
        network=network,
        hidden_layer="avgpool",
        representation_size=128,  # the value that matches layer2
        normalization_function=MinMaxNorm(),
        device="cpu",
        **options,
    )
