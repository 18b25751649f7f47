"""Backbone construction from a spec string; every backbone ends in global pooling."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from morphospace.errors import InputError

__all__ = [
    "BACKBONES",
    "RESNET_LAYERS",
    "AstroCNN",
    "AstroMorphologyModel",
    "TruncatedResNet",
    "build_backbone",
    "parse_backbone",
]

RESNET_LAYERS = ("layer1", "layer2", "layer3", "layer4")


class AstroCNN(nn.Module):
    """A small all-convolutional network: four stride-2 stages of two 3x3 convolutions.

    Widths 32-64-128-256, batch norm, ReLU, then global average pooling to 256 features.
    About 1.2 M parameters: quick to train on a CPU, and any input of 16 px or more works.
    """

    def __init__(self, in_channels: int = 1, widths: tuple[int, ...] = (32, 64, 128, 256)):
        super().__init__()
        layers: list[nn.Module] = []
        previous = in_channels
        for width in widths:
            layers += [
                nn.Conv2d(previous, width, 3, stride=2, padding=1, bias=False),
                nn.BatchNorm2d(width),
                nn.ReLU(inplace=True),
                nn.Conv2d(width, width, 3, padding=1, bias=False),
                nn.BatchNorm2d(width),
                nn.ReLU(inplace=True),
            ]
            previous = width
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.features(x)).flatten(1)


class AstroMorphologyModel(nn.Module):
    """astromorph 0.1.2's ``amm`` network up to its pooling layer (its hooked representation)."""

    def __init__(self, in_channels: int = 1):
        super().__init__()

        def conv_bn(cin: int, cout: int, stride: int = 1) -> list[nn.Module]:
            return [nn.Conv2d(cin, cout, 3, stride=stride, padding=1), nn.BatchNorm2d(cout)]

        self.conv1 = nn.Conv2d(in_channels, 32, kernel_size=7, stride=2, padding=3)
        self.bn1 = nn.BatchNorm2d(32)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = nn.Sequential(*conv_bn(32, 32), nn.ReLU(inplace=True), *conv_bn(32, 32))
        self.layer2 = nn.Sequential(*conv_bn(32, 64, 2), nn.ReLU(inplace=True), *conv_bn(64, 128))
        self.avgpool = nn.AdaptiveAvgPool2d(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        return self.avgpool(self.layer2(self.layer1(x))).flatten(1)


class TruncatedResNet(nn.Module):
    """A torchvision ResNet with ``in_channels`` inputs, cut after ``last_layer``, pooled."""

    def __init__(self, depth: int = 18, in_channels: int = 1, last_layer: str = "layer4"):
        super().__init__()
        from torchvision import models

        if last_layer not in RESNET_LAYERS:
            raise ValueError(f"last layer must be one of {', '.join(RESNET_LAYERS)}")
        resnet = getattr(models, f"resnet{depth}")(weights=None)
        if in_channels != 3:
            resnet.conv1 = nn.Conv2d(
                in_channels, 64, kernel_size=7, stride=2, padding=3, bias=False
            )
        self.stem = nn.Sequential(resnet.conv1, resnet.bn1, resnet.relu, resnet.maxpool)
        keep = RESNET_LAYERS[: RESNET_LAYERS.index(last_layer) + 1]
        self.layers = nn.Sequential(*(getattr(resnet, name) for name in keep))
        self.pool = nn.AdaptiveAvgPool2d(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.layers(self.stem(x))).flatten(1)


def _c4resnet(in_channels: int, last_layer: str) -> nn.Module:
    from morphospace.models.equivariant import C4ResNet

    return C4ResNet(in_channels, last_layer)


def _timm_model(name: str, in_channels: int) -> nn.Module:
    try:
        import timm
    except ImportError:
        raise InputError(
            f"timm:{name}",
            "timm is not installed; install it with: pip install 'morphospace[timm]'",
        ) from None
    try:
        # num_classes=0 keeps timm's own global pooling and drops the classifier: (B, D) out.
        return timm.create_model(name, pretrained=False, num_classes=0, in_chans=in_channels)
    except RuntimeError as exc:
        raise InputError(f"timm:{name}", str(exc)) from None


BACKBONES: dict[str, Callable[..., nn.Module]] = {
    "astro_cnn": lambda in_channels, variant: AstroCNN(in_channels),
    "amm": lambda in_channels, variant: AstroMorphologyModel(in_channels),
    "resnet18": lambda in_channels, variant: TruncatedResNet(18, in_channels, variant or "layer4"),
    "resnet34": lambda in_channels, variant: TruncatedResNet(34, in_channels, variant or "layer4"),
    "resnet50": lambda in_channels, variant: TruncatedResNet(50, in_channels, variant or "layer4"),
    "c4resnet18": lambda in_channels, variant: _c4resnet(in_channels, variant or "layer4"),
    "timm": lambda in_channels, variant: _timm_model(variant, in_channels),
}


def parse_backbone(spec: str) -> tuple[str, str | None]:
    """Split ``"resnet18:layer2"`` into ``("resnet18", "layer2")``; check the name exists."""
    name, _, variant = spec.strip().partition(":")
    name = name.lower()
    if name not in BACKBONES:
        raise InputError(spec, f"unknown backbone; choose from {', '.join(BACKBONES)}")
    if "resnet" in name and variant and variant not in RESNET_LAYERS:
        raise InputError(spec, f"ResNets can be cut after {', '.join(RESNET_LAYERS)}")
    if name == "timm" and not variant:
        raise InputError(spec, "name the timm model, e.g. 'timm:resnet18'")
    if name in ("astro_cnn", "amm") and variant:
        raise InputError(spec, f"'{name}' takes no ':' variant")
    return name, variant or None


def build_backbone(spec: str, in_channels: int = 1) -> nn.Module:
    """Build a randomly initialised backbone from its spec string (see the module docstring)."""
    name, variant = parse_backbone(spec)
    return BACKBONES[name](in_channels, variant)
