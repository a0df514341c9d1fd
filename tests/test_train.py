"""Tests of closecap.train: targets, losses, a one-batch overfit, samples from a scene, checkpoint round trip, resume."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from closecap.cameras import ring_rig
from closecap.errors import InputError
from closecap.model import ModelConfig, VolumetricNet
from closecap.synth.scenes import SceneConfig
from closecap.train import (TrainConfig, checkpoint_rig, compute_losses, focal_loss, frame_samples, heatmap_targets,
                            distribution_loss, joint_l1_loss, learning_rate, load_checkpoint, load_model, sample_stream,
                            save_checkpoint, scene_samples, train)
from closecap.volumes import VoxelGrid, gaussian_volume


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py


TINY = TrainConfig(model=ModelConfig(grid=VoxelGrid(2.0, 8), widths=(8, 8), heatmap_sigma_px=6.0), lr=2e-2,
                   target_sigma_m=0.25, temporal_mask_fraction=0.0, batch_size=2, seed=0,
                   scene=SceneConfig(num_people=(2, 2), num_frames=4, fps=30.0), frames_per_scene=1)
SMALL_RIG = ring_rig(4, width=320, height=240, focal_px=250.0)


def _two_people(seed: int = 0) -> tuple[list[np.ndarray], np.ndarray]:
    rng = np.random.default_rng(seed)
    people = rng.normal(size=(2, 17, 3)) * 0.25 + np.array([[[0.0, 0.0, 1.0]], [[0.5, 0.0, 1.0]]])
    uv, _ = SMALL_RIG.project(people)
    return [np.concatenate([uv[v], np.ones((2, 17, 1))], -1) for v in range(len(SMALL_RIG))], people


def test_heatmap_targets_cover_everyone_and_mark_the_nearest_voxels():
    grid = VoxelGrid(2.0, 16)
    people = torch.full((1, 6, 17, 3), float("nan"))
    people[0, 0] = 0.1
    people[0, 1] = -0.4
    people[0, 1, 3] = 5.0  # outside the cube: no positive
    target, positive = heatmap_targets(people, torch.zeros(1, 3), grid, 0.08)
    assert target.shape == positive.shape == (1, 17, 16, 16, 16)
    assert int(positive.sum()) == 2 * 17 - 1
    assert float(target.max()) == 1.0 and bool((target[positive] == 1).all())
    coords = grid.voxel_centers(torch.zeros(1, 3))[0]  # (X, Y, Z, 3)
    nearest = (coords - 0.1).norm(dim=-1).argmin()
    assert bool(positive[0, 0].reshape(-1)[nearest])


def test_losses_prefer_the_right_answer():
    t = torch.zeros(1, 1, 4, 4, 4)
    pos = torch.zeros_like(t, dtype=torch.bool)
    pos[0, 0, 1, 2, 3] = True
    right = torch.where(pos, torch.tensor(6.0), torch.tensor(-6.0))
    assert float(focal_loss(right, t, pos)) < 0.01 < float(focal_loss(-right, t, pos))
    grid = VoxelGrid()
    target = torch.tensor([[[0.1, 0.2, 0.3], [float("nan")] * 3, [5.0, 0.0, 0.0]]])
    pred = torch.tensor([[[0.0, 0.2, 0.3], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]])
    assert float(joint_l1_loss(pred, target, torch.zeros(1, 3), grid)) == pytest.approx(0.1)  # only joint 0 counts


def test_one_batch_overfit_drops_the_loss_five_fold():
    torch.manual_seed(0)
    views, people = _two_people()
    batch = frame_samples(views, people, SMALL_RIG, TINY, np.random.default_rng(0))
    model = VolumetricNet(TINY.model)
    optimizer = torch.optim.Adam(model.parameters(), lr=TINY.lr)
    first = None
    for _ in range(100):
        losses = compute_losses(model, batch, TINY)
        optimizer.zero_grad()
        losses.total.backward()
        optimizer.step()
        first = float(losses.total.detach()) if first is None else first
    last = float(compute_losses(model, batch, TINY).total.detach())
    assert last < first / 5


def test_scene_samples_give_one_cube_per_person_with_ground_truth_inside():
    batch = scene_samples(TINY, np.random.default_rng(1), SMALL_RIG)
    assert len(batch) == 2  # 2 people x 1 frame
    R = TINY.model.grid.resolution
    assert batch.unprojected.shape == (2, 17, R, R, R) and batch.anchors.shape == (2, 2, R, R, R)
    assert float(batch.unprojected.max()) > 0.3  # the 2D evidence lands in the cubes
    hips = batch.person_joints[:, [11, 12]].mean(1)
    assert float((hips - batch.centers_world).norm(dim=-1).max()) < 0.3  # cube centred near the mid-hip
    assert int(torch.isfinite(batch.people_joints).all(-1).all(-1).sum()) == 2 * 2  # everyone, in every cube
    with pytest.raises(InputError, match="rig"):
        scene_samples(TINY, np.random.default_rng(1), None)


def test_checkpoint_round_trip_weights_only(tmp_path):
    torch.manual_seed(0)
    model = VolumetricNet(TINY.model)
    optimizer = torch.optim.Adam(model.parameters())
    views, people = _two_people()
    batch = frame_samples(views, people, SMALL_RIG, TINY, np.random.default_rng(0))
    compute_losses(model, batch, TINY).total.backward()
    optimizer.step()
    path = tmp_path / "m.pt"
    save_checkpoint(path, model, TINY, SMALL_RIG, step=7, optimizer=optimizer)
    raw = torch.load(path, weights_only=True)
    assert set(raw) >= {"state_dict", "config", "rig", "version"} and raw["step"] == 7
    assert json.loads((tmp_path / "m.config.json").read_text())["train"] == TINY.to_dict()
    loaded, config = load_model(path)
    assert config.to_dict() == TINY.to_dict()
    model.eval()
    with torch.no_grad():
        a = model(batch.unprojected, batch.anchors, batch.centers_world).joints_world
        b = loaded(batch.unprojected, batch.anchors, batch.centers_world).joints_world
    torch.testing.assert_close(a, b)
    rig = checkpoint_rig(path)
    assert rig.names == SMALL_RIG.names and np.allclose(rig.K, SMALL_RIG.K)
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(InputError):
        load_checkpoint(tmp_path / "bad.pt")


def test_train_writes_and_resumes(tmp_path):
    path = tmp_path / "run.pt"
    config = TINY.replace(steps=2, checkpoint_every=1)
    result = train(config, path, SMALL_RIG, progress=False)
    assert result.steps == 2 and np.isfinite(result.hem_loss) and path.exists()
    resumed = train(config.replace(steps=3), path, SMALL_RIG, resume=True, progress=False)
    assert resumed.steps == 3 and load_checkpoint(path)["step"] == 3
    with pytest.raises(InputError, match="differs"):
        train(config.replace(steps=4, lr=0.5), path, SMALL_RIG, resume=True, progress=False)


def test_distribution_loss_is_zero_at_the_target_and_prefers_the_right_person():
    grid, c = VoxelGrid(2.0, 8), torch.zeros(1, 3)
    own, other = torch.tensor([[[0.25, 0.0, 0.0]]]), torch.tensor([[[-0.5, 0.25, 0.0]]])
    at_own = torch.log(gaussian_volume(own, c, grid, 0.2))
    at_other = torch.log(gaussian_volume(other, c, grid, 0.2))
    assert float(distribution_loss(at_own, own, c, grid, 0.2)) < 1e-5
    assert float(distribution_loss(at_other, own, c, grid, 0.2)) > 1.0
    # a joint outside the cube or missing does not count
    assert float(distribution_loss(at_other, torch.tensor([[[5.0, 0.0, 0.0]]]), c, grid, 0.2)) == 0.0
    assert float(distribution_loss(at_other, torch.full((1, 1, 3), float("nan")), c, grid, 0.2)) == 0.0


def test_cosine_schedule_decays_to_zero_and_resumes_where_it_was():
    config = TINY.replace(lr=0.01, steps=10)
    rates = [learning_rate(config, s) for s in range(11)]
    assert rates[0] == 0.01 and rates[-1] < 1e-12 and all(a >= b for a, b in zip(rates, rates[1:]))
    with pytest.raises(InputError, match="lr_schedule"):
        TINY.replace(lr_schedule="step")


def test_ray_workers_feed_the_trainer_the_same_batches_as_the_serial_stream():
    ray = pytest.importorskip("ray")
    serial = sample_stream(TINY, SMALL_RIG, start_step=3)
    expected = [next(serial) for _ in range(2)]
    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        remote = sample_stream(TINY, SMALL_RIG, start_step=3, workers=1)
        got = [next(remote) for _ in range(2)]
    finally:
        ray.shutdown()
    for a, b in zip(expected, got):
        assert torch.equal(a.unprojected, b.unprojected) and torch.equal(a.centers_world, b.centers_world)
