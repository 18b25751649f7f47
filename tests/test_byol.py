"""The BYOL module and the backbones."""

from __future__ import annotations

import itertools

import pytest
import torch
from torch import nn

from morphospace.byol import BYOL, cosine_tau, variance_loss
from morphospace.errors import InputError
from morphospace.models import build_backbone, parse_backbone


@pytest.mark.parametrize(
    ("spec", "size"),
    [
        ("astro_cnn", 256),
        ("amm", 128),
        ("resnet18:layer1", 64),
        ("resnet18:layer2", 128),
        ("resnet34:layer3", 256),
    ],
)
def test_representation_size_is_found_by_running_the_backbone(spec, size):
    byol = BYOL(build_backbone(spec, in_channels=2), in_channels=2, projection_hidden_size=32)
    assert byol.representation_size == size
    assert byol.embed(torch.randn(3, 2, 40, 40)).shape == (3, size)


@pytest.mark.parametrize("shape", [(16, 16), (17, 41), (100, 23)])
def test_backbones_take_any_size_from_16_px(shape):
    for spec in ("astro_cnn", "resnet18:layer3", "amm"):
        out = build_backbone(spec, in_channels=1).eval()(torch.randn(2, 1, *shape))
        assert out.ndim == 2 and out.shape[0] == 2


def test_named_hidden_layer_and_bad_backbones():
    resnet = build_backbone("resnet18", 1)
    byol = BYOL(resnet, 1, hidden_layer="layers.1", projection_hidden_size=32)
    assert byol.representation_size == 128  # layer2 width, pooled
    with pytest.raises(ValueError, match="no layer 'nope'"):
        BYOL(build_backbone("resnet18", 1), 1, hidden_layer="nope")
    with pytest.raises(ValueError, match="must return \\(batch, features\\)"):
        BYOL(nn.Conv2d(1, 4, 3), 1)
    with pytest.raises(InputError, match="unknown backbone"):
        parse_backbone("vgg16")
    with pytest.raises(InputError, match="cut after"):
        parse_backbone("resnet18:layer9")


def test_any_timm_model_with_any_channels():
    byol = BYOL(build_backbone("timm:resnet18", in_channels=3), 3, projection_hidden_size=32)
    assert byol.representation_size == 512
    assert byol.embed(torch.randn(2, 3, 20, 33)).shape == (2, 512)
    with pytest.raises(InputError, match="timm:no_such_model"):
        build_backbone("timm:no_such_model", 1)


def test_tau_schedule_rises_from_base_to_one():
    taus = [cosine_tau(step, 100, 0.99) for step in range(101)]
    assert taus[0] == pytest.approx(0.99) and taus[50] == pytest.approx(0.995) and taus[100] == 1.0
    assert all(b >= a for a, b in itertools.pairwise(taus))


def test_ema_update_and_buffer_copy():
    torch.manual_seed(0)
    byol = BYOL(build_backbone("amm", 1), 1, projection_hidden_size=32)
    online = [p.detach().clone() for p in byol.online_encoder.parameters()]
    with torch.no_grad():
        for p in byol.online_encoder.parameters():
            p.add_(1.0)
        byol.online_encoder.backbone.bn1.running_mean.fill_(3.0)
    byol.update_target(0.9)
    for target, before, now in zip(
        byol.target_encoder.parameters(), online, byol.online_encoder.parameters(), strict=True
    ):
        torch.testing.assert_close(target, 0.9 * before + 0.1 * now)
    assert torch.all(byol.target_encoder.backbone.bn1.running_mean == 3.0)
    assert not any(p.requires_grad for p in byol.target_encoder.parameters())


def test_without_momentum_the_target_is_the_online_encoder():
    byol = BYOL(build_backbone("amm", 1), 1, projection_hidden_size=32, use_momentum=False)
    before = [p.clone() for p in byol.target_encoder.parameters()]
    with torch.no_grad():
        next(byol.online_encoder.parameters()).add_(1.0)
    byol.update_target(0.5)
    assert all(
        torch.equal(a, b) for a, b in zip(before, byol.target_encoder.parameters(), strict=True)
    )


def test_loss_is_symmetric_and_bounded():
    torch.manual_seed(1)
    byol = BYOL(build_backbone("amm", 1), 1, projection_hidden_size=32)
    a, b = torch.randn(6, 1, 32, 32), torch.randn(6, 1, 32, 32)
    forward, backward = byol(a, b), byol(b, a)
    torch.testing.assert_close(forward, backward)
    assert 0.0 <= float(forward.detach()) <= 8.0
    forward.backward()
    assert all(p.grad is None for p in byol.target_encoder.parameters())
    assert byol.online_predictor[0].weight.grad is not None


def test_variance_term_penalises_collapse_not_scale():
    torch.manual_seed(2)
    spread = torch.randn(256, 16)
    collapsed = torch.ones(256, 16) + 0.01 * torch.randn(256, 16)
    assert float(variance_loss(spread)) < 0.05
    assert float(variance_loss(collapsed)) > 0.9
    torch.testing.assert_close(variance_loss(100 * collapsed), variance_loss(collapsed))


def test_variance_weight_adds_the_term_and_zero_is_the_papers_byol():
    a, b = torch.randn(6, 1, 32, 32), torch.randn(6, 1, 32, 32)
    losses = []
    for weight in (0.0, 1.0):
        torch.manual_seed(1)
        byol = BYOL(build_backbone("amm", 1), 1, projection_hidden_size=32, variance_weight=weight)
        losses.append(float(byol(a, b).detach()))
    assert losses[1] > losses[0]


def test_whitening_gives_unit_covariance_and_starts_as_identity():
    from morphospace.byol import Whitening

    whitening = Whitening(6)
    x = torch.randn(50, 6)
    torch.testing.assert_close(whitening(x), x)
    mixing = torch.randn(6, 6) * torch.tensor([10.0, 5, 1, 1, 0.5, 0.1])
    features = torch.randn(4000, 6) @ mixing + 3.0
    out = whitening.fit(features, shrinkage=0.0)(features)
    torch.testing.assert_close(out.mean(0), torch.zeros(6), atol=1e-4, rtol=0)
    torch.testing.assert_close(torch.cov(out.T), torch.eye(6), atol=2e-2, rtol=0)
    # Shrinkage damps only the weakest directions: the strongest keep unit variance.
    shrunk = torch.linalg.eigvalsh(torch.cov(Whitening(6).fit(features, 0.01)(features).T))
    assert shrunk.max() > 0.9 and shrunk.min() < 0.5
    few = Whitening(6).fit(features[:8])  # few objects: Ledoit-Wolf shrinks hard
    assert torch.linalg.cond(few.matrix) < 0.5 * torch.linalg.cond(whitening.matrix)
    dead = torch.cat([features, torch.zeros(4000, 1)], dim=1)  # a unit that never fires
    assert torch.isfinite(Whitening(7).fit(dead)(dead)).all()


def test_neighbour_targets_come_from_the_queue_of_earlier_objects():
    torch.manual_seed(0)
    byol = BYOL(build_backbone("amm", 1), 1, projection_hidden_size=32, neighbour_queue=8)
    a, b = torch.randn(6, 1, 32, 32), torch.randn(6, 1, 32, 32)
    byol(a, b)  # empty queue: the plain BYOL target; then the first view's projections queued
    assert int(byol.queue_count) == 6
    torch.testing.assert_close(byol.queue[:6].norm(dim=1), torch.ones(6))
    byol(a, b)
    assert int(byol.queue_count) == 12  # wrapped round: the oldest entries overwritten
    # each target is one of the queued unit vectors, the nearest one
    found = byol.nearest(byol.queue[:3] * 5)
    torch.testing.assert_close(found, byol.queue[:3])
    byol.neighbours = 8
    torch.testing.assert_close(byol.nearest(byol.queue[:1]), byol.queue.mean(0, keepdim=True))


def test_the_neighbour_queue_resumes_from_a_checkpoint_and_is_left_alone_in_eval():
    torch.manual_seed(0)
    byol = BYOL(build_backbone("amm", 1), 1, projection_hidden_size=32, neighbour_queue=16)
    byol(torch.randn(4, 1, 32, 32), torch.randn(4, 1, 32, 32))
    again = BYOL(build_backbone("amm", 1), 1, projection_hidden_size=32, neighbour_queue=16)
    again.load_state_dict(byol.state_dict())
    torch.testing.assert_close(again.queue, byol.queue)
    assert int(again.queue_count) == 4
    again.eval()
    again(torch.randn(4, 1, 32, 32), torch.randn(4, 1, 32, 32))
    assert int(again.queue_count) == 4


def test_local_views_add_their_predictions_to_the_loss_on_byols_scale():
    a, b = torch.randn(6, 1, 32, 32), torch.randn(6, 1, 32, 32)
    local = [torch.randn(6, 1, 16, 16) for _ in range(4)]
    torch.manual_seed(0)
    byol = BYOL(build_backbone("resnet18:layer2", 1), 1, projection_hidden_size=32)
    plain, none = float(byol(a, b)), float(byol(a, b, []))
    assert plain == none
    with_local = byol(a, b, local)
    assert 0 < float(with_local) <= 8 and float(with_local) != plain
    with_local.backward()  # the local views train the online network
    first = next(byol.online_encoder.backbone.parameters())
    assert first.grad is not None and float(first.grad.abs().sum()) > 0


def test_the_c4_backbone_is_invariant_to_quarter_turns_and_its_layers_equivariant():
    from morphospace.models.equivariant import GroupConv, LiftingConv

    torch.manual_seed(0)
    lift, group = LiftingConv(1, 3, 5, padding=2), GroupConv(3, 2, 3, padding=1)
    x = torch.randn(2, 1, 17, 17)

    def maps(images):
        return group(torch.relu(lift(images))).reshape(2, 2, 4, 17, 17)

    turned = maps(torch.rot90(x, 1, dims=(-2, -1)))
    # a quarter turn of the image turns each map and moves it one step along the rotations
    expected = torch.roll(torch.rot90(maps(x), 1, dims=(-2, -1)), 1, dims=2)
    torch.testing.assert_close(turned, expected, atol=1e-4, rtol=1e-4)
    network = build_backbone("c4resnet18:layer2", 1).eval()
    for side in (32, 33, 40):  # even sides too: stride 2 stays exact
        images = torch.randn(3, 1, side, side)
        features = network(images)
        assert features.shape == (3, 32)
        for k in (1, 2, 3):
            rotated = network(torch.rot90(images, k, dims=(-2, -1)))
            torch.testing.assert_close(rotated, features, atol=1e-4, rtol=1e-4)
    assert not torch.allclose(network(torch.flip(images, dims=(-1,))), features, atol=1e-3)
    with pytest.raises(InputError, match="cut after"):
        parse_backbone("c4resnet18:layer9")


def test_the_c4_backbone_trains_in_channels_last_layout():
    byol = BYOL(build_backbone("c4resnet18:layer2", 1), 1, projection_hidden_size=32)
    byol = byol.to(memory_format=torch.channels_last)
    views = [torch.randn(4, 1, 32, 32).contiguous(memory_format=torch.channels_last)] * 2
    byol(*views).backward()
