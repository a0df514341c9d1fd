"""Tests of closecap.volumetric: inference on tiny scenes with a fresh tiny model returns well-formed Poses3D."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from closecap.cameras import ring_rig
from closecap.errors import InputError
from closecap.model import ModelConfig, VolumetricNet
from closecap.poses import Detections2D, Poses3D
from closecap.synth.generate import SynthConfig, make_scene
from closecap.synth.noise import NoiseConfig
from closecap.synth.scenes import SceneConfig
from closecap.track import TrackConfig
from closecap.train import TrainConfig, save_checkpoint
from closecap.volumes import VoxelGrid
from closecap.volumetric import VolumetricConfig, VolumetricReconstructor, reconstruct_volumetric, refine_with_detections


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py


RIG = ring_rig(4, width=480, height=360, focal_px=380.0)
TINY = ModelConfig(grid=VoxelGrid(2.0, 8), widths=(4, 8))


def _tiny_model(seed: int = 0) -> VolumetricNet:
    torch.manual_seed(seed)
    return VolumetricNet(TINY).eval()


def test_tiny_scene_gives_well_formed_poses(tmp_path):
    gt, detections = make_scene(RIG, SynthConfig(scene=SceneConfig(num_people=(2, 2), num_frames=6, fps=30.0),
                                                 noise=NoiseConfig.none(), seed=2))
    config = VolumetricConfig(track=TrackConfig(min_track_len=1, smoothing="none"))
    poses = reconstruct_volumetric(detections, RIG, _tiny_model(), config)
    assert isinstance(poses, Poses3D)
    assert poses.joints.shape == (6, poses.num_people, 17, 3) and poses.num_people >= 2
    present = poses.present
    assert present.sum(1).min() >= 2  # both people in every frame (exact detections)
    # an untrained network still answers inside each person's cube, around the person
    for t in range(6):
        centres = np.nanmean(poses.joints[t, present[t]], axis=1)  # (P, 3)
        gt_hips = gt.joints[t][:, [11, 12]].mean(1)
        dist = np.linalg.norm(centres[:, None] - gt_hips[None], axis=-1)
        assert dist.min(1).max() < 1.0
    assert ((poses.confidence >= 0) & (poses.confidence <= 1)).all()
    # the same through a checkpoint path
    path = tmp_path / "m.pt"
    save_checkpoint(path, _tiny_model(), TrainConfig(model=TINY), RIG, step=0)
    again = reconstruct_volumetric(detections, RIG, path, config)
    np.testing.assert_allclose(again.joints, poses.joints, atol=1e-5)


RAW = {"refine_radius_m": 0.0, "soft_argmax_window": 0, "mask_keep_ratio": 0.0}  # the network alone, mask always on


def test_temporal_filter_masks_with_the_previous_frame_only_for_known_tracks():
    person = np.random.default_rng(0).normal(size=(17, 3)) * 0.2 + [0.0, 0.0, 1.0]
    uv, _ = RIG.project(person)
    frame = [np.concatenate([uv[v], np.ones((17, 1))], -1)[None] for v in range(len(RIG))]
    model = _tiny_model(1)
    on = VolumetricReconstructor(model, RIG, VolumetricConfig(temporal_filter=True, temporal_radius_m=0.2, **RAW))
    off = VolumetricReconstructor(model, RIG, VolumetricConfig(temporal_filter=False, **RAW))
    first_on, first_off = on.step(frame), off.step(frame)
    np.testing.assert_allclose(first_on.joints_world, first_off.joints_world, atol=1e-6)  # new track: no mask
    second_on, second_off = on.step(frame), off.step(frame)
    assert second_on.ids.tolist() == first_on.ids.tolist()
    assert not np.allclose(second_on.joints_world, second_off.joints_world)  # masked by frame 1's joints
    np.testing.assert_allclose(second_off.joints_world, first_off.joints_world, atol=1e-6)


def test_empty_frames_and_bad_input():
    empty = tuple(np.zeros((0, 17, 3)) for _ in range(len(RIG)))
    det = Detections2D(RIG.names, (0, 1), (empty, empty))
    poses = reconstruct_volumetric(det, RIG, _tiny_model(), VolumetricConfig(track=TrackConfig(min_track_len=1)))
    assert poses.joints.shape == (2, 0, 17, 3)
    other = ring_rig(4, name_format="other{:02d}")
    with pytest.raises(InputError, match="not in the calibration"):
        reconstruct_volumetric(det, other, _tiny_model())
    with pytest.raises(InputError, match="temporal_radius_m"):
        VolumetricConfig(temporal_radius_m=0.0)


def _two_people_in_contact(rng):
    """``me`` and ``other`` ``(17, 3)`` metres, every joint of ``other`` 12 cm above mine (seen in every view of the
    ring), and each view's exact detections of both: ``V`` arrays ``(2, 17, 3)``."""
    me = rng.normal(size=(17, 3)) * 0.2 + [0.0, 0.0, 1.0]
    other = me + [0.0, 0.0, 0.12]
    uv_me, _ = RIG.project(me)
    uv_other, _ = RIG.project(other)
    views = [np.stack([np.concatenate([uv_me[v], np.ones((17, 1))], -1),
                       np.concatenate([uv_other[v], np.ones((17, 1))], -1)]) for v in range(len(RIG))]
    return me, other, views


def test_refinement_triangulates_the_detections_near_the_network_joint_only():
    rng = np.random.default_rng(3)
    me, other, views = _two_people_in_contact(rng)
    guess = me + rng.normal(size=me.shape) * 0.01  # the network: 1-3 cm off, nearer to me than to the other
    joints, refined = refine_with_detections(guess[None], views, RIG, radius_m=0.08)
    assert refined.all()
    np.testing.assert_allclose(joints[0], me, atol=1e-6)
    # a joint with no detection near it keeps the network's estimate
    far = guess.copy()
    far[5] += [0.0, 0.0, 0.5]
    joints, refined = refine_with_detections(far[None], views, RIG, radius_m=0.08)
    assert not refined[0, 5] and np.array_equal(joints[0, 5], far[5])
    with pytest.raises(InputError):
        refine_with_detections(guess[None], views[:-1], RIG)


def test_exclusive_refinement_does_not_let_a_joint_steal_the_other_persons_keypoints():
    rng = np.random.default_rng(4)
    me, other, views = _two_people_in_contact(rng)
    guesses = np.stack([me + [0.0, 0.0, 0.08], other])  # my joints guessed nearer to the other's keypoints
    shared, _ = refine_with_detections(guesses, views, RIG, radius_m=0.1, exclusive=False)
    np.testing.assert_allclose(shared[0], other, atol=1e-6)  # both people end on the other's keypoints
    exclusive, refined = refine_with_detections(guesses, views, RIG, radius_m=0.1)
    assert refined.all()
    np.testing.assert_allclose(exclusive[0], me, atol=1e-6)
    np.testing.assert_allclose(exclusive[1], other, atol=1e-6)


def test_person_level_refinement_corrects_a_grossly_wrong_network_joint():
    rng = np.random.default_rng(6)
    me, other, views = _two_people_in_contact(rng)
    guesses = np.stack([me + rng.normal(size=me.shape) * 0.01, other])
    guesses[0, 9] = me[9] + [0.35, 0.0, 0.0]  # the network's wrist of mine is 35 cm off: no keypoint within 0.2 m
    per_joint, refined = refine_with_detections(guesses, views, RIG, radius_m=0.2)
    assert not refined[0, 9] and np.array_equal(per_joint[0, 9], guesses[0, 9])
    whole, refined = refine_with_detections(guesses, views, RIG, radius_m=0.2, person_radius_m=0.8)
    assert refined.all()  # the rest of my body identifies my detections, and their wrist is mine
    np.testing.assert_allclose(whole[0], me, atol=1e-6)
    np.testing.assert_allclose(whole[1], other, atol=1e-6)
    # a wrist detected in one view only cannot be triangulated: it stays the network's, flagged not refined
    for v in range(1, len(RIG)):
        views[v][0, 9, 2] = 0.0
    _, refined = refine_with_detections(guesses, views, RIG, radius_m=0.2, person_radius_m=0.8)
    assert not refined[0, 9] and refined[0, np.arange(17) != 9].all()


def test_volumetric_config_rejects_a_negative_person_radius():
    with pytest.raises(InputError, match="refine_person_radius_m"):
        VolumetricConfig(refine_person_radius_m=-0.1)
