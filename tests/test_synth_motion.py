"""Motion loaders: BVH (CMU MotionBuilder / 3dsMax / DAZ), ASF/AMC, Panoptic JSON, NPZ."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from closecap.errors import InputError
from closecap.skeleton import BODY25, COCO17
from closecap.synth.motion import (CMU_UNIT_M, Motion, euler_to_matrix, load_asf_amc, load_bvh, load_motions,
                                   load_npz, load_panoptic)

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
MOCAP = SHARED / "mocap"
SAMPLES = MOCAP / "samples"
needs_mocap = pytest.mark.skipif(not SAMPLES.exists(), reason="../shared/mocap not available")
I = COCO17.index


def _bone(j, a, b):
    return np.linalg.norm(j[:, I(a)] - j[:, I(b)], axis=-1)


def _check_plausible(m: Motion, thigh=(0.35, 0.5), upper_arm=(0.22, 0.34), height=(1.4, 1.9)):
    j = m.joints_world
    assert np.isfinite(j).all()
    for side in ("left", "right"):
        assert thigh[0] < np.median(_bone(j, f"{side}_hip", f"{side}_knee")) < thigh[1]
        assert upper_arm[0] < np.median(_bone(j, f"{side}_shoulder", f"{side}_elbow")) < upper_arm[1]
    # standing height: floor to nose + ~0.1 m, at the frame where the nose is highest
    ankles = j[:, COCO17.indices(["left_ankle", "right_ankle"]), 2].min(1)
    top = j[:, I("nose"), 2] + 0.1
    assert height[0] < np.max(top - ankles + 0.07) < height[1]
    # feet near the floor (z up): the lowest ankle is within a few centimetres of z = 0
    assert -0.05 < np.percentile(ankles, 5) < 0.15
    # head above the hips above the ankles: z is up
    assert np.all(j[:, I("nose"), 2] > j[:, I("left_hip"), 2])
    assert np.all(j[:, I("left_hip"), 2] > j[:, I("left_ankle"), 2])
    _check_left_right(j)


def _check_left_right(j: np.ndarray):
    """Left hip on the body's left: left = up x forward, forward = nose - mid-hip (horizontal)."""
    mid_hip = j[:, COCO17.indices(["left_hip", "right_hip"])].mean(1)
    forward = j[:, I("nose")] - mid_hip
    forward[:, 2] = 0
    left_dir = np.cross(np.array([0.0, 0.0, 1.0]), forward)
    dots = np.einsum("ti,ti->t", j[:, I("left_hip")] - mid_hip, left_dir)
    assert np.mean(dots > 0) > 0.75  # a swap gives < 0.25; dancers turn their heads
    shoulder_dots = np.einsum("ti,ti->t", j[:, I("left_shoulder")] - j[:, I("right_shoulder")], left_dir)
    assert np.mean(shoulder_dots > 0) > 0.75


@needs_mocap
def test_bvh_3dsmax_matches_shared_npz():
    m = load_bvh(SAMPLES / "cmu_max_131_01_first150.bvh")
    assert m.num_frames == 150 and abs(m.fps - 120) < 0.01
    _check_plausible(m)
    ref = np.load(MOCAP / "cmu_131_01.npz")["coco17"]  # 30 fps, every 4th source frame from 0
    mine = m.joints_world[::4]
    err = np.linalg.norm(mine - ref[:len(mine)], axis=-1)
    assert err.max() < 0.03, err.max()


@needs_mocap
@pytest.mark.parametrize("asf,amc,npz", [("35.asf", "35_01_first150.amc", "cmu_35_01.npz"),
                                         ("55.asf", "55_02_first150.amc", "cmu_55_02_lambada.npz")])
def test_asf_amc_matches_shared_npz(asf, amc, npz):
    m = load_asf_amc(SAMPLES / asf, SAMPLES / amc)
    assert m.num_frames == 150 and m.fps == 120.0
    _check_plausible(m)
    ref = np.load(MOCAP / npz)["coco17"]
    mine = m.joints_world[::4]
    err = np.linalg.norm(mine - ref[:len(mine)], axis=-1)
    assert err.max() < 0.03, err.max()


@needs_mocap
@pytest.mark.parametrize("person,subject", [(0, "60"), (1, "61")])
def test_bvh_daz_segment_directions_match_pair_file(person, subject):
    path = SAMPLES / f"daz_{subject}_01_first150.bvh"
    assert abs(load_bvh(path).fps - 120) < 0.1  # what the header claims
    m = load_bvh(path, fps=60.0)
    assert m.fps == 60.0
    # the DAZ figure of this conversion is scaled to about 1.3 m (thigh 0.29 m): plausible but small
    _check_plausible(m, thigh=(0.25, 0.5), upper_arm=(0.18, 0.32), height=(1.1, 1.9))
    # the pair file re-attached the dancers' own skeletons to the DAZ segment orientations, from source
    # frame 30 on, every 2nd frame: the limbs point the same way (up to the two rest poses' differences)
    ref = np.load(MOCAP / "pair_cmu_60_61_01.npz")["coco17"][person]
    mine = m.joints_world[30::2]
    ref = ref[:len(mine)]
    for a, b in [("left_hip", "left_knee"), ("right_hip", "right_knee"), ("left_knee", "left_ankle"),
                 ("left_shoulder", "left_elbow"), ("right_shoulder", "right_elbow"), ("right_hip", "left_hip")]:
        u = mine[:, I(b)] - mine[:, I(a)]
        v = ref[:, I(b)] - ref[:, I(a)]
        cos = np.einsum("ti,ti->t", u, v) / np.linalg.norm(u, axis=-1) / np.linalg.norm(v, axis=-1)
        assert np.degrees(np.arccos(np.clip(cos, -1, 1))).max() < 15, (a, b)
    # same world frame (after the figure's scale): hip centres within 0.3 m
    hips = COCO17.indices(["left_hip", "right_hip"])
    assert np.linalg.norm(mine[:, hips].mean(1) - ref[:, hips].mean(1) / 1.25, axis=-1).max() < 0.3


@needs_mocap
def test_bvh_scale_argument_and_unit_detection():
    path = SAMPLES / "cmu_max_131_01_first150.bvh"
    auto = load_bvh(path)
    explicit = load_bvh(path, scale=CMU_UNIT_M)
    doubled = load_bvh(path, scale=2 * CMU_UNIT_M, fps=30.0, name="x")
    np.testing.assert_allclose(auto.joints_world, explicit.joints_world)
    body = slice(5, 17)  # face points are fixed offsets in metres from the head, not scaled
    np.testing.assert_allclose(doubled.joints_world[:, body], 2 * auto.joints_world[:, body], atol=1e-9)
    assert doubled.fps == 30.0 and doubled.name == "x"


def test_bvh_errors(tmp_path):
    bad = tmp_path / "bad.bvh"
    bad.write_text("HIERARCHY\nROOT Hips\n{ OFFSET 0 0 0 CHANNELS 3 Xposition Yposition Zposition }\n")
    with pytest.raises(InputError, match="MOTION"):
        load_bvh(bad)
    bad.write_text("HIERARCHY\nROOT Foo\n{ OFFSET 0 0 0 CHANNELS 3 Xposition Yposition Zposition }\n"
                   "MOTION\nFrames: 1\nFrame Time: 0.01\n0 0 0\n")
    with pytest.raises(InputError, match="unknown joint names"):
        load_bvh(bad)


@needs_mocap
def test_panoptic_folder():
    folder = SHARED / "datasets/panoptic/160906_band1/hdPose3d_stage1_coco19"
    people = load_panoptic(folder)
    assert len(people) == 3 and all(p.num_frames == 2 for p in people)
    assert people[0].name == "160906_band1/body0" and abs(people[0].fps - 29.97) < 1e-6
    j = np.stack([p.joints_world for p in people])  # (P, T, 17, 3)
    # metres, z up: ankles near the Panoptic floor, heads above hips
    ankles = j[..., COCO17.indices(["left_ankle", "right_ankle"]), 2]
    assert np.nanmax(np.abs(ankles)) < 0.3
    assert np.all(j[:, :, I("nose"), 2] > np.nanmax(j[:, :, COCO17.indices(["left_hip", "right_hip"]), 2], axis=-1))
    # raw check of the rotation: z = -y / 100
    import json
    raw = np.array(json.loads((folder / "body3DScene_00000168.json").read_text())["bodies"][1]["joints19"]).reshape(19, 4)
    np.testing.assert_allclose(people[1].joints_world[0, I("nose")], [raw[1, 0] / 100, raw[1, 2] / 100, -raw[1, 1] / 100])
    assert np.isnan(people[0].joints_world[0, I("left_ankle")]).all()  # confidence -1 -> missing
    assert load_motions(folder)[2].name == people[2].name


@needs_mocap
def test_npz_shared_layout_single_and_pair():
    (single,) = load_npz(MOCAP / "cmu_35_01.npz")
    assert single.fps == 30.0 and single.source == "35_01"
    _check_plausible(single)
    pair = load_npz(MOCAP / "pair_cmu_60_61_01.npz")
    assert [p.name for p in pair] == ["pair_cmu_60_61_01/p0", "pair_cmu_60_61_01/p1"]
    assert pair[0].num_frames == pair[1].num_frames == 1106
    for person in pair:
        _check_left_right(person.joints_world)
    # one shared world frame: the dancers touch (joint centres within 5 cm) at some frame
    diff = pair[0].joints_world[:, :, None] - pair[1].joints_world[:, None]
    assert np.linalg.norm(diff, axis=-1).min() < 0.05


def test_npz_closecap_layout(tmp_path):
    joints = np.random.default_rng(0).normal(size=(2, 6, 17, 3))
    path = tmp_path / "two.npz"
    np.savez(path, joints=joints, fps=np.float32(25), joint_names=np.array(COCO17.joint_names))
    people = load_npz(path)
    assert len(people) == 2 and people[1].fps == 25.0
    np.testing.assert_allclose(people[1].joints_world, joints[1])
    body = np.random.default_rng(1).normal(size=(4, 25, 3))
    path25 = tmp_path / "body25.npz"
    np.savez(path25, joints=body, fps=30.0, joint_names=np.array(BODY25.joint_names))
    (m,) = load_motions(path25)
    np.testing.assert_allclose(m.joints_world[:, I("left_wrist")], body[:, BODY25.index("left_wrist")])


@pytest.mark.parametrize("keys,missing", [({"fps": 30.0}, "joints"),
                                          ({"joints": np.zeros((2, 17, 3)), "fps": 30.0}, "joint_names"),
                                          ({"joints": np.zeros((2, 17, 3)), "joint_names": np.array(COCO17.joint_names)}, "fps")])
def test_npz_missing_key_is_named(tmp_path, keys, missing):
    path = tmp_path / "bad.npz"
    np.savez(path, **keys)
    with pytest.raises(InputError, match=f"bad.npz: {missing}"):
        load_npz(path)


def test_npz_unknown_joint_names(tmp_path):
    path = tmp_path / "odd.npz"
    np.savez(path, joints=np.zeros((2, 3, 3)), fps=30.0, joint_names=np.array(["a", "b", "c"]))
    with pytest.raises(InputError, match="joint_names"):
        load_npz(path)


def test_motion_validation_and_resample():
    with pytest.raises(InputError, match="joints_world"):
        Motion(np.zeros((3, 16, 3)), 30.0, "x", "y")
    j = np.random.default_rng(0).normal(size=(31, 17, 3))
    m = Motion(j, 30.0, "x", "y")
    np.testing.assert_allclose(m.resample(15.0).joints_world, j[::2])
    np.testing.assert_allclose(m.resample(30.0).joints_world, j)
    assert m.resample(60.0).num_frames == 61
    np.testing.assert_allclose(m.resample(60.0).joints_world[1], 0.5 * (j[0] + j[1]))


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(-360, 360), min_size=3, max_size=3), st.permutations("xyz"))
def test_euler_is_rotation_and_composes(angles, order):
    axes = "".join(order)
    R = euler_to_matrix(np.array([angles]), axes)[0]
    np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-9)
    assert abs(np.linalg.det(R) - 1) < 1e-9
    parts = [euler_to_matrix(np.array([[a]]), ax)[0] for a, ax in zip(angles, axes)]
    np.testing.assert_allclose(R, parts[0] @ parts[1] @ parts[2], atol=1e-9)
