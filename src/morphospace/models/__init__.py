"""Backbones: networks that map (B, C, H, W) images of any size >= 16 px to (B, D) vectors.

Name a backbone with a short spec string:

- ``"astro_cnn"``: a small CNN for astronomical images (default);
- ``"resnet18"``, ``"resnet34"``, ``"resnet50"``: torchvision ResNets, randomly initialised;
- ``"resnet18:layer2"``: the same, cut after ``layer1`` … ``layer4`` (astromorph's
  ``n_layer_resnet``);
- ``"amm"``: astromorph's AstroMorphologyModel, for its settings files;
- ``"timm:NAME"``: any timm model, when timm is installed.
"""

from morphospace.models.backbones import BACKBONES, build_backbone, parse_backbone

__all__ = ["BACKBONES", "build_backbone", "parse_backbone"]
