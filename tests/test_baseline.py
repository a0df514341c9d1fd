"""Geometric baseline: association + triangulation + tracking on synthetic multi-person scenes."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

from closecap.baseline import BaselineConfig, reconstruct_baseline, reconstruct_frame
from closecap.cameras import ring_rig
from closecap.errors import InputError
from closecap.poses import Detections2D
from closecap.skeleton import COCO17
from closecap.track import TrackConfig

# A standing COCO-17 person, metres, z up, facing +y, feet at z = 0 (~1.7 m tall).
_TEMPLATE = {
    "nose": (0.0, 0.09, 1.60), "left_eye": (0.03, 0.07, 1.64), "right_eye": (-0.03, 0.07, 1.64),
    "left_ear": (0.07, 0.0, 1.62), "right_ear": (-0.07, 0.0, 1.62),
    "left_shoulder": (0.18, 0.0, 1.42), "right_shoulder": (-0.18, 0.0, 1.42),
    "left_elbow": (0.22, 0.03, 1.12), "right_elbow": (-0.22, 0.03, 1.12),
    "left_wrist": (0.24, 0.10, 0.86), "right_wrist": (-0.24, 0.10, 0.86),
    "left_hip": (0.10, 0.0, 0.93), "right_hip": (-0.10, 0.0, 0.93),
    "left_knee": (0.11, 0.03, 0.50), "right_knee": (-0.11, 0.03, 0.50),
    "left_ankle": (0.11, -0.02, 0.08), "right_ankle": (-0.11, -0.02, 0.08),
}
TEMPLATE = np.array([_TEMPLATE[n] for n in COCO17.joint_names])  # (J, 3)
ARMS = COCO17.indices(["left_elbow", "left_wrist", "right_elbow", "right_wrist"])
NO_TRACK_FILTER = TrackConfig(smoothing="none", min_track_len=1)


def person(position_xy, yaw_rad: float) -> np.ndarray:
    """The template turned by ``yaw_rad`` about z and placed at ``position_xy``: ``(J, 3)`` metres."""
    c, s = np.cos(yaw_rad), np.sin(yaw_rad)
    rot = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    return TEMPLATE @ rot.T + np.array([position_xy[0], position_xy[1], 0.0])


def scene(starts_xy, yaws, num_frames: int = 60, speed: float = 1.0) -> np.ndarray:
    """People moving together along a smooth loop and turning slowly: ``(T, P, J, 3)`` metres."""
    out = []
    for t in range(num_frames):
        phase = 2 * np.pi * t / 90.0 * speed
        offset = 0.25 * np.array([np.sin(phase), np.sin(2 * phase) / 2])
        out.append([person(np.asarray(p) + offset, yaw + 0.3 * np.sin(phase)) for p, yaw in zip(starts_xy, yaws)])
    return np.array(out)


def detect(rig, gt, rng, noise_px: float = 0.0, shuffle: bool = True):
    """Project ``gt (T, P, J, 3)``: per frame, per view ``(P, J, 3)`` arrays (u, v, score 1), order shuffled."""
    uv, depth = rig.project(gt)  # (V, T, P, J, 2)
    uv = uv + rng.normal(scale=noise_px, size=uv.shape) if noise_px else uv
    frames = []
    for t in range(gt.shape[0]):
        views = []
        for v in range(len(rig)):
            arr = np.concatenate([uv[v, t], np.ones(uv.shape[2:4] + (1,))], axis=-1)  # (P, J, 3)
            views.append(arr[rng.permutation(len(arr))] if shuffle else arr)
        frames.append(views)
    return frames


def to_detections(rig, frames) -> Detections2D:
    return Detections2D(rig.names, tuple(range(len(frames))), tuple(tuple(v) for v in frames))


def match_people(gt: np.ndarray, estimate: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Hungarian match of ``gt (P, J, 3)`` to ``estimate (Q, J, 3)`` on MPJPE: per gt the index (-1 none) and MPJPE (m)."""
    diff = np.linalg.norm(gt[:, None] - estimate[None], axis=-1)  # (P, Q, J)
    cost = np.nanmean(np.where(np.isfinite(diff), diff, np.nan), axis=-1) if estimate.size else np.zeros((len(gt), 0))
    cost = np.where(np.isfinite(cost), cost, 1e3)
    index, error = np.full(len(gt), -1), np.full(len(gt), np.inf)
    rows, cols = linear_sum_assignment(cost)
    index[rows], error[rows] = cols, cost[rows, cols]
    return index, error


def score_poses(poses, gt):
    """Per frame and gt person: MPJPE (m) and matched track id, plus the fraction of gt joints reconstructed."""
    T, P = gt.shape[:2]
    errors, ids, found = np.full((T, P), np.inf), np.full((T, P), -1), []
    for t in range(T):
        pid, joints, _ = poses.frame_people(t)
        index, err = match_people(gt[t], joints)
        errors[t] = err
        ids[t] = np.where(index >= 0, pid[np.maximum(index, 0)] if len(pid) else -1, -1)
        found.append(np.isfinite(joints).all(-1).mean() if len(joints) else 0.0)
    return errors, ids, np.array(found)


def assert_stable_ids(ids):
    assert np.all(ids >= 0)
    assert np.all(ids == ids[0]), "a track id switched"
    assert len(set(ids[0].tolist())) == ids.shape[1], "two people share one id"


@pytest.fixture(scope="module")
def rig5():
    return ring_rig(5)


CLOSE_SCENE = dict(starts_xy=[(-0.1, 0.0), (0.1, 0.0), (0.9, 0.9)], yaws=[-np.pi / 2, np.pi / 2, 0.3])  # 0.2 m face to face
SPREAD_SCENE = dict(starts_xy=[(-0.7, -0.3), (0.6, -0.4), (0.0, 0.8)], yaws=[0.0, 1.0, 2.5])  # >= 1 m apart


def test_exact_keypoints_close_contact_everyone_found_ids_stable(rig5):
    rng = np.random.default_rng(0)
    gt = scene(**CLOSE_SCENE)
    poses = reconstruct_baseline(to_detections(rig5, detect(rig5, gt, rng)), rig5,
                                 BaselineConfig(track=TrackConfig(smoothing="none")))
    errors, ids, found = score_poses(poses, gt)
    assert poses.num_people == 3
    assert errors.max() < 1e-3
    assert found.min() == 1.0
    assert_stable_ids(ids)
    assert np.all(poses.confidence[poses.present] > 0.99)


def test_offline_smoothing_keeps_exact_scene_accurate(rig5):
    rng = np.random.default_rng(1)
    gt = scene(**CLOSE_SCENE)
    poses = reconstruct_baseline(to_detections(rig5, detect(rig5, gt, rng)), rig5, BaselineConfig())
    errors, ids, _ = score_poses(poses, gt)
    assert errors.max() < 5e-3
    assert_stable_ids(ids)


def test_noise_3px_spread_people_within_30mm(rig5):
    rng = np.random.default_rng(2)
    gt = scene(**SPREAD_SCENE)
    det = to_detections(rig5, detect(rig5, gt, rng, noise_px=3.0))
    raw = reconstruct_baseline(det, rig5, BaselineConfig(track=TrackConfig(smoothing="none")))
    smooth = reconstruct_baseline(det, rig5, BaselineConfig())
    err_raw, ids, _ = score_poses(raw, gt)
    err_smooth, _, _ = score_poses(smooth, gt)
    assert err_raw.mean() < 0.03 and err_raw.max() < 0.05
    assert err_smooth.mean() < err_raw.mean()
    assert_stable_ids(ids)


def test_noise_3px_close_contact_still_everyone(rig5):
    rng = np.random.default_rng(3)
    gt = scene(**CLOSE_SCENE)
    poses = reconstruct_baseline(to_detections(rig5, detect(rig5, gt, rng, noise_px=3.0)), rig5, BaselineConfig())
    errors, ids, _ = score_poses(poses, gt)
    assert errors.mean() < 0.03
    assert_stable_ids(ids)


def _frames_with(rig, gt, rng, edit):
    frames = detect(rig, gt, rng, shuffle=False)
    for t, views in enumerate(frames):
        edit(t, views)
    return to_detections(rig, frames)


def test_view_without_detections(rig5):
    gt = scene(**CLOSE_SCENE, num_frames=20)

    def drop_view(t, views):
        views[2] = np.zeros((0, 17, 3))

    poses = reconstruct_baseline(_frames_with(rig5, gt, np.random.default_rng(4), drop_view), rig5,
                                 BaselineConfig(track=NO_TRACK_FILTER))
    errors, ids, _ = score_poses(poses, gt)
    assert errors.max() < 1e-3
    assert_stable_ids(ids)


def test_person_seen_in_only_two_views(rig5):
    gt = scene(**SPREAD_SCENE, num_frames=20)

    def hide(t, views):
        for v in (1, 2, 4):
            views[v] = np.delete(views[v], 2, axis=0)  # person 2 only in views 0 and 3

    poses = reconstruct_baseline(_frames_with(rig5, gt, np.random.default_rng(5), hide), rig5,
                                 BaselineConfig(track=NO_TRACK_FILTER))
    errors, ids, _ = score_poses(poses, gt)
    assert poses.num_people == 3
    assert errors.max() < 1e-3
    assert_stable_ids(ids)


def test_false_partial_person_is_rejected(rig5):
    gt = scene(**CLOSE_SCENE, num_frames=20)
    rng = np.random.default_rng(6)

    def add_false(t, views):
        fake = np.zeros((1, 17, 3))
        fake[0, :7, :2] = rng.uniform([100, 100], [1800, 1000], size=(7, 2))  # 7 joints, off any person
        fake[0, :7, 2] = 0.9
        views[1] = np.concatenate([views[1], fake])
        views[3] = np.concatenate([views[3], fake + [[[5.0, 3.0, 0.0]]] * (fake[..., 2:] > 0)])

    poses = reconstruct_baseline(_frames_with(rig5, gt, rng, add_false), rig5, BaselineConfig(track=NO_TRACK_FILTER))
    errors, ids, _ = score_poses(poses, gt)
    assert poses.num_people == 3
    assert errors.max() < 1e-3
    assert_stable_ids(ids)


def test_detection_with_another_persons_arms(rig5):
    gt = scene(**CLOSE_SCENE, num_frames=20)

    def mix(t, views):
        for v in (0, 3):
            views[v] = views[v].copy()
            views[v][0, ARMS] = views[v][1, ARMS]  # person 0's detection carries person 1's arms

    poses = reconstruct_baseline(_frames_with(rig5, gt, np.random.default_rng(7), mix), rig5,
                                 BaselineConfig(track=NO_TRACK_FILTER))
    errors, ids, found = score_poses(poses, gt)
    assert errors.max() < 1e-3
    assert found.min() == 1.0
    assert_stable_ids(ids)


def test_six_people_ten_cameras():
    rig = ring_rig(10)
    starts = [(-1.2, -0.8), (-0.2, -0.9), (0.1, -0.9), (1.1, 0.1), (-0.8, 1.0), (0.6, 1.1)]  # one pair 0.3 m apart
    gt = scene(starts, yaws=[0.0, 0.5, -2.5, 1.5, 3.0, -1.0], num_frames=15)
    poses = reconstruct_baseline(to_detections(rig, detect(rig, gt, np.random.default_rng(8), noise_px=2.0)), rig,
                                 BaselineConfig(track=NO_TRACK_FILTER))
    errors, ids, _ = score_poses(poses, gt)
    assert poses.num_people == 6
    assert errors.max() < 0.03
    assert_stable_ids(ids)


def test_two_people_three_cameras():
    rig = ring_rig(3)
    gt = scene([(-0.4, 0.0), (0.4, 0.1)], yaws=[0.2, 2.0], num_frames=15)
    poses = reconstruct_baseline(to_detections(rig, detect(rig, gt, np.random.default_rng(9))), rig,
                                 BaselineConfig(track=NO_TRACK_FILTER))
    errors, ids, _ = score_poses(poses, gt)
    assert poses.num_people == 2
    assert errors.max() < 1e-3
    assert_stable_ids(ids)


def test_reconstruct_frame_with_previous_people_and_no_detections(rig5):
    gt = scene(**SPREAD_SCENE, num_frames=1)[0]
    views = detect(rig5, gt[None], np.random.default_rng(10))[0]
    joints, confidence = reconstruct_frame(views, rig5, previous_world=gt + 0.05)
    index, error = match_people(gt, joints)
    assert len(joints) == 3 and error.max() < 1e-6 and np.all(confidence == 1.0)
    nothing = reconstruct_frame([np.zeros((0, 17, 3))] * 5, rig5, previous_world=gt)
    assert nothing[0].shape == (0, 17, 3)


def test_single_view_detections_give_nobody(rig5):
    gt = scene(**SPREAD_SCENE, num_frames=1)[0]
    views = detect(rig5, gt[None], np.random.default_rng(11))[0]
    views = [views[0]] + [np.zeros((0, 17, 3))] * 4
    assert reconstruct_frame(views, rig5)[0].shape == (0, 17, 3)


def test_config_round_trip_and_validation(rig5):
    cfg = BaselineConfig(match_threshold_m=0.2, track=TrackConfig(smoothing="online"))
    assert BaselineConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(InputError, match="min_views"):
        BaselineConfig(min_views=1)
    with pytest.raises(InputError, match="keypoints"):
        reconstruct_frame([np.zeros((0, 17, 3))] * 4, rig5)
    det = Detections2D(("nope",) * 1, (0,), ((np.zeros((0, 17, 3)),),))
    with pytest.raises(InputError, match="nope"):
        reconstruct_baseline(det, rig5)
