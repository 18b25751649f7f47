"""Models: backbones, which map (B, C, H, W) images of any size >= 16 px to (B, D) vectors,
and a trained model's files.

Name a backbone with a short spec string:

- ``"astro_cnn"``: a small CNN for astronomical images (default);
- ``"resnet18"``, ``"resnet34"``, ``"resnet50"``: torchvision ResNets, randomly initialised;
- ``"resnet18:layer2"``: the same, cut after ``layer1`` … ``layer4`` (astromorph's
  ``n_layer_resnet``);
- ``"amm"``: astromorph's AstroMorphologyModel, for its settings files;
- ``"timm:NAME"``: any timm model, when timm is installed.

A trained model's files (``model.safetensors`` and its typed card ``model.json``) are
written and read by :mod:`morphospace.models.store`; :class:`FramedEncoder` runs the
network as inference and the whitening fit feed it.
"""

from morphospace.models.backbones import BACKBONES, build_backbone, parse_backbone
from morphospace.models.inference import FramedEncoder, dihedral
from morphospace.models.store import (
    ModelCard,
    build_model,
    load_model,
    read_model_card,
    save_model,
)

__all__ = [
    "BACKBONES",
    "FramedEncoder",
    "ModelCard",
    "build_backbone",
    "build_model",
    "dihedral",
    "load_model",
    "parse_backbone",
    "read_model_card",
    "save_model",
]
