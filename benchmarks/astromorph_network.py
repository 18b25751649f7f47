"""The network both astromorph harnesses build. Runs inside the astromorph benchmark venv.

astromorph's ``n_layer_resnet`` cut after ``layer2``, in a ``ByolTrainer`` with
``MinMaxNorm``, with one forced change: the first convolution takes 1 channel instead of
3, so astromorph runs the same 1-channel network as morphospace.
"""

import torch
from astromorph.byol import ByolTrainer, MinMaxNorm
from astromorph.models import DEFAULT_MODELS
from torch import nn
from torchvision import transforms as T


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


def training_trainer() -> ByolTrainer:
    """The trainer both training harnesses run: ``ByolTrainer``'s default augmentation
    (flip, any rotation, blur with p = 0.2), with ``RandomApply`` given the list torchvision
    requires, and the learning rate of astromorph's example config."""
    return one_channel_trainer(
        augmentation_function=nn.Sequential(
            T.RandomHorizontalFlip(),
            T.RandomRotation(degrees=(0, 360)),
            T.RandomApply([T.GaussianBlur((3, 3), (1.0, 2.0))], p=0.2),
        ),
        learning_rate=1e-4,
    )
