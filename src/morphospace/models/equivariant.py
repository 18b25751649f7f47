"""A rotation-equivariant ResNet: group convolutions over the four 90° rotations (C4).

A sky image has no preferred orientation. An ordinary convolution must learn a rotated
copy of every filter it needs; a group convolution (Cohen & Welling 2016) shares one
filter across the four rotations, so a lobe or a jet is detected the same way whichever
way it points, and the network's deeper layers see the *relative* orientation of parts.

- The lifting convolution applies each filter rotated by 0°, 90°, 180° and 270° (exact
  ``rot90`` copies, no interpolation): a feature map gets a rotation axis of length 4.
- A group convolution acts on such maps: the filter for output rotation ``r`` is the
  filter rotated by ``r`` with its input-rotation axis cyclically shifted by ``r``.
- BatchNorm shares its statistics over the rotation axis; pooling over the rotation axis
  at the end makes the features invariant to 90° rotations of the input.

Both are one ordinary ``conv2d`` with an expanded weight, so the network runs on any
device torch does, with no extra dependency. Stride-2 layers sample a grid that rotations
map onto itself only when its side is odd, so an even input is first resampled, corners
aligned, to the next odd side: the network's features are then exactly invariant to 90°
rotations of its input. The layout follows ResNet-18 (``c4resnet18:layer2`` is cut after layer2);
``width`` rotation-channels per stage start make it as costly as the plain network at 16
(4 rotations x 16 = 64 channels).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["C4ResNet", "GroupConv", "LiftingConv"]

ROTATIONS = 4


def _kaiming(shape: tuple[int, ...], fan_in: int) -> nn.Parameter:
    return nn.Parameter(torch.randn(shape) * (2.0 / fan_in) ** 0.5)


class LiftingConv(nn.Module):
    """Image (B, C, H, W) -> rotation feature map (B, C_out * 4, H', W'), rotation fastest."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, padding: int = 0):
        super().__init__()
        self.weight = _kaiming((cout, cin, kernel, kernel), cin * kernel * kernel)
        self.stride, self.padding = stride, padding

    def expanded(self) -> torch.Tensor:
        rotated = [torch.rot90(self.weight, r, dims=(-2, -1)) for r in range(ROTATIONS)]
        return torch.stack(rotated, dim=1).flatten(0, 1)  # (cout * 4, cin, k, k)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.expanded(), stride=self.stride, padding=self.padding)


class GroupConv(nn.Module):
    """Rotation feature map (B, C_in * 4, H, W) -> (B, C_out * 4, H', W')."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, padding: int = 0):
        super().__init__()
        fan_in = cin * ROTATIONS * kernel * kernel
        # stored 4-D, (cout, cin * 4, k, k), so that memory-format conversions apply
        self.weight = _kaiming((cout, cin * ROTATIONS, kernel, kernel), fan_in)
        self.stride, self.padding = stride, padding

    def expanded(self) -> torch.Tensor:
        cout, channels, k, _ = self.weight.shape
        weight = self.weight.reshape(cout, channels // ROTATIONS, ROTATIONS, k, k)
        out = []
        for r in range(ROTATIONS):
            shifted = torch.roll(weight, shifts=r, dims=2)  # input rotation s -> s + r
            out.append(torch.rot90(shifted, r, dims=(-2, -1)))
        weight = torch.stack(out, dim=1)  # (cout, 4, cin, 4, k, k)
        return weight.flatten(2, 3).flatten(0, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.expanded(), stride=self.stride, padding=self.padding)


class GroupBatchNorm(nn.BatchNorm3d):
    """BatchNorm with one mean and variance per channel, shared over the 4 rotations."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        grouped = x.reshape(b, c // ROTATIONS, ROTATIONS, h, w)
        return super().forward(grouped).reshape(b, c, h, w)


class _Block(nn.Module):
    """ResNet's basic block, with group convolutions."""

    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.conv1 = GroupConv(cin, cout, 3, stride, 1)
        self.bn1 = GroupBatchNorm(cout)
        self.conv2 = GroupConv(cout, cout, 3, 1, 1)
        self.bn2 = GroupBatchNorm(cout)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(GroupConv(cin, cout, 1, stride), GroupBatchNorm(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class C4ResNet(nn.Module):
    """ResNet-18's layout with C4 group convolutions, cut after ``last_layer``, pooled over
    rotations and space to (B, D) with D = ``width`` x 2^(layers - 1)."""

    def __init__(self, in_channels: int = 1, last_layer: str = "layer2", width: int = 16):
        super().__init__()
        layers = int(last_layer.removeprefix("layer"))
        self.stem = nn.Sequential(
            LiftingConv(in_channels, width, 7, stride=2, padding=3),
            GroupBatchNorm(width),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(3, stride=2, padding=1),
        )
        stages, cin = [], width
        for index in range(layers):
            cout = width * 2**index
            stride = 1 if index == 0 else 2
            stages.append(nn.Sequential(_Block(cin, cout, stride), _Block(cout, cout, 1)))
            cin = cout
        self.layers = nn.Sequential(*stages)
        self.features = cin

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        height, width = x.shape[-2:]
        if height % 2 == 0 or width % 2 == 0:
            # Stride-2 layers keep rotations exact only on odd grids (their samples then map
            # onto each other); corner-aligned resampling to the next odd size is symmetric.
            size = (height | 1, width | 1)
            x = F.interpolate(x, size=size, mode="bilinear", align_corners=True)
        x = self.layers(self.stem(x))
        b, c, h, w = x.shape
        x = x.reshape(b, c // ROTATIONS, ROTATIONS, h, w).mean(dim=(2, 3, 4))
        return x
