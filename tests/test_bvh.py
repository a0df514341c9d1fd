"""BVH export: the file parses, forward kinematics of the file gives back the bone ends (observed
directions, median lengths), load_bvh reads it, rotations round-trip, missing joints are held."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from closecap.errors import InputError
from closecap.io.bvh import (BVH_SKELETON, bvh_text, matrix_to_euler_zxy, swing_rotation, write_bvh)
from closecap.poses import Poses3D
from closecap.skeleton import COCO17
from closecap.synth.motion import _bvh_forward_kinematics, _parse_bvh, euler_to_matrix, load_bvh

J = COCO17.index
SHARED = Path(__file__).resolve().parents[1].parent / "shared"

# tree edges of the BVH skeleton as (from point, to point); the midpoints are derived
_EDGES = (("mid_hip", "mid_shoulder"), ("left_hip", "left_knee"), ("left_knee", "left_ankle"),
          ("right_hip", "right_knee"), ("right_knee", "right_ankle"), ("left_shoulder", "left_elbow"),
          ("left_elbow", "left_wrist"), ("right_shoulder", "right_elbow"), ("right_elbow", "right_wrist"),
          ("mid_shoulder", "nose"))
_LENGTHS = {"hip": 0.1, "shoulder": 0.18, "mid_shoulder": 0.5, "left_knee": 0.42, "left_ankle": 0.4,
            "right_knee": 0.41, "right_ankle": 0.39, "left_elbow": 0.28, "left_wrist": 0.25,
            "right_elbow": 0.29, "right_wrist": 0.24, "nose": 0.25}


def _unit(rng: np.random.Generator, n: int) -> np.ndarray:
    v = rng.normal(size=(n, 3))
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def rigid_person(rng: np.random.Generator, T: int) -> np.ndarray:
    """``(T, 17, 3)`` metres, z up: fixed bone lengths, random directions (the BVH's skeleton is exact for it)."""
    out = np.full((T, 17, 3), np.nan)
    mid_hip = rng.uniform(-2, 2, size=(T, 3)) + [0, 0, 1]
    side = _unit(rng, T)
    out[:, J("left_hip")] = mid_hip + _LENGTHS["hip"] * side
    out[:, J("right_hip")] = mid_hip - _LENGTHS["hip"] * side
    mid_sh = mid_hip + _LENGTHS["mid_shoulder"] * _unit(rng, T)
    side = _unit(rng, T)
    out[:, J("left_shoulder")] = mid_sh + _LENGTHS["shoulder"] * side
    out[:, J("right_shoulder")] = mid_sh - _LENGTHS["shoulder"] * side
    out[:, J("nose")] = mid_sh + _LENGTHS["nose"] * _unit(rng, T)
    for a, b in _EDGES[1:-1]:
        out[:, J(b)] = out[:, J(a)] + _LENGTHS[b] * _unit(rng, T)
    for name in ("left_eye", "right_eye", "left_ear", "right_ear"):
        out[:, J(name)] = out[:, J("nose")] + rng.normal(scale=0.05, size=(T, 3))
    return out


def _points(joints: np.ndarray) -> dict[str, np.ndarray]:
    pts = {n: joints[..., i, :] for i, n in enumerate(COCO17.joint_names)}
    pts["mid_hip"] = 0.5 * (pts["left_hip"] + pts["right_hip"])
    pts["mid_shoulder"] = 0.5 * (pts["left_shoulder"] + pts["right_shoulder"])
    return pts


def fk_points(path: Path, scale: float = 1.0) -> dict[str, np.ndarray]:
    """A tiny FK over the written file: the positions ``(T, 3)`` metres **world z up** of the BVH joints
    that sit on COCO points, keyed by the COCO point name (end sites: ``Head_end`` -> nose)."""
    joints, values, _ = _parse_bvh(path)
    positions, _ = _bvh_forward_kinematics(joints, values)
    positions = positions / scale @ np.array([[1.0, 0, 0], [0, 0, -1], [0, 1, 0]]).T  # file y up -> world z up
    index = {j.name: i for i, j in enumerate(joints)}
    out = {}
    for bone in BVH_SKELETON:
        out.setdefault(bone.at, positions[:, index[bone.name]])
    out["nose"] = positions[:, index["Head_end"]]
    return out


def test_rigid_person_round_trips_exactly(tmp_path):
    rng = np.random.default_rng(3)
    joints = rigid_person(rng, 40)
    poses = Poses3D(np.arange(40), np.array([2]), joints[:, None], np.ones((40, 1, 17)))
    (path,) = write_bvh(poses, tmp_path / "take.bvh", fps=25)
    assert path.name == "take_id2.bvh"
    back = fk_points(path)
    want = _points(joints)
    for name, value in back.items():
        np.testing.assert_allclose(value, want[name], atol=2e-5, err_msg=name)  # 6 decimals in the file
    text = path.read_text()
    assert "Frame Time: 0.04000000" in text and "Frames: 40" in text


def test_centimetres_scale_by_100(tmp_path):
    rng = np.random.default_rng(4)
    joints = rigid_person(rng, 5)
    poses = Poses3D(np.arange(5), np.array([0]), joints[:, None], np.ones((5, 1, 17)))
    (path,) = write_bvh(poses, tmp_path / "cm.bvh", unit="cm")
    back = fk_points(path, scale=100.0)
    np.testing.assert_allclose(back["left_wrist"], joints[:, J("left_wrist")], atol=1e-6 * 100)


def test_real_mocap_directions_exact_lengths_median(tmp_path):
    files = sorted((SHARED / "mocap").glob("*.npz")) if SHARED.exists() else []
    if not files:
        pytest.skip("../shared/mocap is absent")
    from closecap.synth.motion import load_npz

    joints = load_npz(files[0])[0].joints_world[:120]  # (T, 17, 3) metres, z up
    T = len(joints)
    poses = Poses3D(np.arange(T), np.array([0]), joints[:, None], np.ones((T, 1, 17)))
    (path,) = write_bvh(poses, tmp_path / "real.bvh")
    back = fk_points(path)
    want = _points(joints)
    for a, b in _EDGES:
        got_vec, want_vec = back[b] - back[a], want[b] - want[a]
        got_len, want_len = np.linalg.norm(got_vec, axis=-1), np.linalg.norm(want_vec, axis=-1)
        np.testing.assert_allclose(got_vec / got_len[:, None], want_vec / want_len[:, None], atol=1e-4,
                                   err_msg=f"{a}->{b} direction")
        np.testing.assert_allclose(got_len, np.median(want_len), atol=2e-5, err_msg=f"{a}->{b} length")
    # the limbs of mocap are rigid: the bone ends land within a few mm
    for name in ("left_wrist", "right_ankle", "left_knee", "right_elbow"):
        assert np.abs(back[name] - want[name]).max() < 0.005, name


def test_load_bvh_reads_the_export(tmp_path):
    rng = np.random.default_rng(5)
    joints = rigid_person(rng, 6)
    poses = Poses3D(np.arange(6), np.array([1]), joints[:, None], np.ones((6, 1, 17)))
    (path,) = write_bvh(poses, tmp_path / "x.bvh")
    motion = load_bvh(path, scale=1.0)
    assert motion.fps == pytest.approx(30.0)
    body = [J(n) for n in ("left_shoulder", "right_elbow", "left_wrist", "right_hip", "left_knee", "right_ankle")]
    np.testing.assert_allclose(motion.joints_world[:, body], joints[:, body], atol=2e-5)


def test_missing_joints_hold_last_valid_rotation(tmp_path):
    rng = np.random.default_rng(6)
    joints = rigid_person(rng, 10)
    holed = joints.copy()
    holed[4:7, J("left_wrist")] = np.nan  # the forearm direction is unknown in frames 4-6
    holed[0:2, J("right_knee")] = np.nan  # unknown at the start: takes the first known
    holed[8, :] = np.nan  # the person vanishes for a frame: everything holds
    poses = Poses3D(np.arange(10), np.array([0]), holed[:, None], np.ones((10, 1, 17)))
    (path,) = write_bvh(poses, tmp_path / "h.bvh")
    back = fk_points(path)
    assert all(np.isfinite(v).all() for v in back.values())
    forearm = back["left_wrist"] - back["left_elbow"]
    upper = back["left_elbow"] - back["left_shoulder"]
    # a held local rotation keeps the forearm's angle to the upper arm of frame 3
    cos = np.sum(forearm * upper, -1) / np.linalg.norm(forearm, axis=-1) / np.linalg.norm(upper, axis=-1)
    np.testing.assert_allclose(cos[4:7], cos[3], atol=1e-5)
    np.testing.assert_allclose(back["mid_hip"][8], back["mid_hip"][7], atol=1e-6)
    np.testing.assert_allclose(back["left_wrist"][9], joints[9, J("left_wrist")], atol=2e-5)


def test_frame_gaps_are_filled_and_absent_people_skipped(tmp_path):
    rng = np.random.default_rng(7)
    joints = np.stack([rigid_person(rng, 3), np.full((3, 17, 3), np.nan)], axis=1)
    poses = Poses3D(np.array([10, 11, 14]), np.array([0, 1]), joints, np.ones((3, 2, 17)))
    files = write_bvh(poses, tmp_path / "g.bvh")
    assert [f.name for f in files] == ["g_id0.bvh"]
    assert "Frames: 5" in files[0].read_text()


def test_bad_arguments_raise_input_error(tmp_path):
    poses = Poses3D(np.arange(2), np.array([0]), rigid_person(np.random.default_rng(0), 2)[:, None],
                    np.ones((2, 1, 17)))
    with pytest.raises(InputError, match="bvh"):
        write_bvh(poses, tmp_path / "x.json")
    with pytest.raises(InputError, match="unit"):
        write_bvh(poses, tmp_path / "x.bvh", unit="inch")
    with pytest.raises(InputError, match="world_up"):
        bvh_text(poses.joints[:, 0], world_up="up")
    with pytest.raises(InputError, match="fps"):
        write_bvh(poses, tmp_path / "x.bvh", fps=0)


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_euler_zxy_round_trip(seed):
    rng = np.random.default_rng(seed)
    R = swing_rotation(_unit(rng, 8), _unit(rng, 8)) @ swing_rotation(_unit(rng, 8), _unit(rng, 8))
    back = euler_to_matrix(matrix_to_euler_zxy(R), "zxy")
    np.testing.assert_allclose(back, R, atol=1e-9)


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_swing_aligns_and_is_a_rotation(seed):
    rng = np.random.default_rng(seed)
    a, b = _unit(rng, 16), _unit(rng, 16)
    b[0] = -a[0]  # the opposite case
    b[1] = a[1]
    R = swing_rotation(a, b)
    np.testing.assert_allclose(np.einsum("nij,nj->ni", R, a), b, atol=1e-9)
    np.testing.assert_allclose(R @ np.swapaxes(R, 1, 2), np.broadcast_to(np.eye(3), R.shape), atol=1e-9)
    np.testing.assert_allclose(np.linalg.det(R), 1.0, atol=1e-9)
    # a swing leaves the common normal fixed
    n = np.cross(a[2:], b[2:])
    np.testing.assert_allclose(np.einsum("nij,nj->ni", R[2:], n), n, atol=1e-9)
