"""Tests of closecap.model: shapes, the unconditional ablation, anchors matter, temporal mask, config checks."""
from __future__ import annotations

import pytest
import torch

from closecap.centers import anchor_volumes
from closecap.errors import InputError
from closecap.model import HEM, KLM, ModelConfig, UNet3d, VolumetricNet
from closecap.volumes import VoxelGrid


@pytest.fixture(autouse=True)
def one_thread_no_grad(one_torch_thread):
    """One torch thread (tests/conftest.py) and no gradients here."""
    with torch.no_grad():
        yield


TINY = ModelConfig(grid=VoxelGrid(2.0, 8), widths=(4, 8))


def test_unet_keeps_the_resolution_and_checks_divisibility():
    net = UNet3d(3, 5, widths=(4, 8, 8))
    assert net(torch.rand(2, 3, 8, 8, 8)).shape == (2, 5, 8, 8, 8)
    with pytest.raises(InputError, match="divisible"):
        net(torch.rand(1, 3, 6, 6, 6))
    with pytest.raises(InputError, match="norm"):
        UNet3d(3, 5, norm="layer")


def test_forward_shapes_and_joints_inside_the_cube():
    torch.manual_seed(0)
    net = VolumetricNet(TINY).eval()
    centers = torch.tensor([[0.0, 0.0, 1.0], [3.0, -1.0, 0.9], [0.5, 0.5, 1.2]])
    out = net(torch.rand(3, 17, 8, 8, 8), torch.rand(3, 2, 8, 8, 8), centers)
    assert out.hem_logits.shape == out.klm_logits.shape == out.heatmaps.shape == (3, 17, 8, 8, 8)
    assert out.joints_world.shape == (3, 17, 3)
    assert bool(((out.joints_world - centers[:, None]).abs() <= 1.0).all())  # soft-argmax stays in the cube
    assert float(out.heatmaps.min()) >= 0.0 and float(out.heatmaps.max()) <= 1.0


def test_hem_starts_near_the_prior_and_klm_depends_on_the_anchors():
    torch.manual_seed(1)
    hem = HEM(17, (4, 8)).eval()
    p = torch.sigmoid(hem(torch.zeros(1, 17, 8, 8, 8)))
    assert abs(float(p.mean()) - 0.1) < 0.05
    klm = KLM(17, (4, 8)).eval()
    heat = torch.rand(1, 17, 8, 8, 8)
    a, b = torch.zeros(1, 2, 8, 8, 8), torch.rand(1, 2, 8, 8, 8)
    assert not torch.allclose(klm(heat, a), klm(heat, b))
    with pytest.raises(InputError, match="anchors"):
        klm(heat, None)


def test_unconditional_ablation_ignores_anchors_and_has_fewer_inputs():
    torch.manual_seed(2)
    net = VolumetricNet(TINY.replace(unconditional=True)).eval()
    conditional = VolumetricNet(TINY)
    assert net.klm.net.down[0][0][0].in_channels == 17 and conditional.klm.net.down[0][0][0].in_channels == 19
    x, c = torch.rand(2, 17, 8, 8, 8), torch.zeros(2, 3)
    torch.testing.assert_close(net(x, None, c).joints_world, net(x, torch.rand(2, 2, 8, 8, 8), c).joints_world)


def test_temporal_mask_multiplies_the_heatmaps_klm_sees():
    torch.manual_seed(3)
    net = VolumetricNet(TINY).eval()
    x, a, c = torch.rand(1, 17, 8, 8, 8), torch.rand(1, 2, 8, 8, 8), torch.zeros(1, 3)
    mask = (torch.rand(1, 17, 8, 8, 8) > 0.5).float()
    free, masked = net(x, a, c), net(x, a, c, temporal_mask=mask)
    torch.testing.assert_close(masked.heatmaps, free.heatmaps * mask)
    torch.testing.assert_close(masked.hem_logits, free.hem_logits)


def test_config_round_trip_and_validation():
    cfg = ModelConfig(widths=(8, 16, 16), unconditional=True)
    assert ModelConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(InputError, match="divisible"):
        ModelConfig(grid=VoxelGrid(2.0, 30), widths=(8, 16, 16))
    with pytest.raises(InputError, match="unknown key"):
        ModelConfig.from_dict({"width": [8]})
    with pytest.raises(InputError, match="unprojected"):
        VolumetricNet(TINY)(torch.rand(1, 16, 8, 8, 8), None, torch.zeros(1, 3))


def test_fresh_klm_soft_argmax_starts_at_the_heatmap_peak_not_the_cube_centre():
    # the residual on HEM's heatmaps: without it the soft-argmax of 8**3 near-equal logits is the cube centre
    torch.manual_seed(4)
    config = TINY
    net = VolumetricNet(config).eval()
    heat = torch.full((1, 17, 8, 8, 8), 0.05)
    heat[:, :, 6, 1, 2] = 1.0  # one clean peak per joint
    anchors = torch.zeros(1, 2, 8, 8, 8)
    centre = torch.zeros(1, 3)
    from closecap.volumes import soft_argmax

    joints = soft_argmax(net.klm(heat, anchors), centre, config.grid)
    peak = config.grid.voxel_centers(centre)[0, 6, 1, 2]
    assert float((joints[0] - peak).norm(dim=-1).max()) < 0.25 * config.grid.voxel_size_m * 8 / 2
    assert float((joints[0] - peak).norm(dim=-1).max()) < float((centre[0] - peak).norm()) / 3


def test_a_mask_that_keeps_no_strong_response_is_dropped():
    torch.manual_seed(0)
    net = VolumetricNet(TINY).eval()
    x = torch.zeros(1, 17, 8, 8, 8)
    x[:, :, 6, 6, 6] = 1.0  # every joint's evidence in one corner voxel
    anchors, centers = torch.zeros(1, 2, 8, 8, 8), torch.zeros(1, 3)
    wrong = torch.zeros(1, 17, 8, 8, 8)
    wrong[:, :, :3, :3, :3] = 1.0  # a previous estimate in the opposite corner
    right = torch.zeros_like(wrong)
    right[:, :, 5:, 5:, 5:] = 1.0
    with torch.no_grad():
        free = net(x, anchors, centers)
        locked = net(x, anchors, centers, wrong)
        fallback = net(x, anchors, centers, wrong, mask_keep_ratio=0.5)
        kept = net(x, anchors, centers, right, mask_keep_ratio=0.5)
    assert not torch.allclose(locked.heatmaps, free.heatmaps)
    assert torch.equal(fallback.heatmaps, free.heatmaps)  # the wrong mask is dropped
    assert torch.equal(kept.heatmaps, free.heatmaps * right)  # the right one is kept


def test_folding_batch_norms_keeps_the_networks_outputs(one_torch_thread):
    from closecap.model.blocks import fuse_batch_norms

    torch.manual_seed(0)
    net = VolumetricNet(ModelConfig(grid=VoxelGrid(2.0, 8), widths=(4, 8)))
    for m in net.modules():  # non-trivial running statistics, as after training
        if isinstance(m, torch.nn.BatchNorm3d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
    net.eval()
    fused = fuse_batch_norms(net)
    assert not any(isinstance(m, torch.nn.BatchNorm3d) for m in fused.modules())
    assert any(isinstance(m, torch.nn.BatchNorm3d) for m in net.modules())  # the original is untouched
    volumes = torch.rand(2, 17, 8, 8, 8)
    centers = torch.tensor([[0.0, 0.0, 1.0], [0.3, 0.0, 1.0]])
    anchors = anchor_volumes(centers, net.config.grid, net.config.anchor_sigma_m)
    with torch.no_grad():
        a, b = net(volumes, anchors, centers), fused(volumes, anchors, centers)
    torch.testing.assert_close(b.joints_world, a.joints_world, atol=1e-4, rtol=0)
    torch.testing.assert_close(b.heatmaps, a.heatmaps, atol=1e-4, rtol=0)
