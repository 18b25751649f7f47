"""Models: backbones, which map (B, C, H, W) images of any size >= 16 px to (B, D) vectors,
and a trained model's files.

Name a backbone with a short spec string:

- ``"astro_cnn"``: a small CNN for astronomical images (default);
- ``"resnet18"``, ``"resnet34"``, ``"resnet50"``: torchvision ResNets, randomly initialised;
- ``"resnet18:layer2"``: the same, cut after ``layer1`` … ``layer4`` (astromorph's
  ``n_layer_resnet``);
- ``"c4resnet18:layer2"``: ResNet-18's layout with group convolutions over the four 90°
  rotations, invariant to them (:mod:`morphospace.models.equivariant`);
- ``"amm"``: astromorph's AstroMorphologyModel, for its settings files;
- ``"timm:NAME"``: any timm model, when timm is installed.

A trained model's files (``model.safetensors`` and its typed card ``model.json``) are
written and read by :mod:`morphospace.models.store`; :class:`FramedEncoder` runs the
network as inference and the whitening fit (:func:`fit_whitening`) feed it, on the device
a setting names (:func:`resolve_device`). :mod:`morphospace.models.signals` measures an
embedding without labels (effective rank, alignment, uniformity, weight drift).
"""

from morphospace._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "morphospace.models.backbones": ["BACKBONES", "build_backbone", "parse_backbone"],
        "morphospace.models.devices": ["resolve_device"],
        "morphospace.models.inference": ["FramedEncoder", "dihedral", "fit_whitening"],
        "morphospace.models.paths": ["model_card_path"],
        "morphospace.models.signals": [
            "alignment",
            "effective_rank",
            "uniformity",
            "weight_distance",
        ],
        "morphospace.models.store": [
            "ModelCard",
            "build_model",
            "load_model",
            "read_model_card",
            "save_model",
            "weights_sha256",
        ],
    },
)
