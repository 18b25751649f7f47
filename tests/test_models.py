"""The CPU inference copy of a backbone: same outputs, or the plain network when unsure."""

from __future__ import annotations

import torch

from morphospace.byol import HiddenLayer
from morphospace.models import build_backbone
from morphospace.models.inference import for_inference


def _trained_like(network: torch.nn.Module) -> torch.nn.Module:
    # BatchNorm statistics away from their (0, 1) start, as after training
    generator = torch.Generator().manual_seed(0)
    for module in network.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.normal_(0.0, 0.2, generator=generator)
            module.running_var.uniform_(0.5, 2.0, generator=generator)
            module.weight.data.uniform_(0.5, 1.5, generator=generator)
    return network.eval()


def test_prepared_backbone_gives_the_same_embeddings_at_any_size_and_orientation():
    torch.manual_seed(0)
    network = _trained_like(build_backbone("resnet18:layer2", 1))
    prepared = for_inference(network, 1)
    assert prepared is not network  # this backbone can be prepared
    images = torch.randn(5, 1, 40, 40)
    views = [images, torch.rot90(images, 1, dims=(-2, -1)), images[..., :32, :24]]
    with torch.inference_mode():
        for view in views:
            expected = network(view)
            torch.testing.assert_close(prepared(view), expected, rtol=1e-4, atol=1e-4)
    assert network.training is False and all(p.requires_grad for p in network.parameters())


def test_untraceable_or_diverged_networks_are_used_as_they_are():
    hooked = HiddenLayer(build_backbone("resnet18", 1), "layers.1")  # hooks: FX cannot trace
    assert for_inference(hooked, 1) is hooked
    blown_up = build_backbone("resnet18:layer2", 1).eval()
    with torch.no_grad():
        blown_up.stem[0].weight.fill_(float("inf"))
    assert for_inference(blown_up, 1) is blown_up
