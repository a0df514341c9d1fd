import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from closecap.config import Config
from closecap.errors import InputError
from closecap.poses import Detections2D, Poses3D
from closecap.skeleton import BODY25, COCO17, COCO18, PANOPTIC15, SHELF14, convert, mapping_matrix


def test_every_mapping_is_affine():
    for src, dst in [("body25", "coco17"), ("coco18", "coco17"), ("coco17", "panoptic15"), ("coco17", "panoptic19"),
                     ("coco17", "shelf14"), ("panoptic19", "coco17")]:
        w = mapping_matrix(src, dst)
        sums = w.sum(1)
        assert np.all((np.abs(sums - 1) < 1e-12) | (np.abs(w).sum(1) == 0)), (src, dst)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**31 - 1))
def test_body25_and_coco18_convert_by_name(seed):
    rng = np.random.default_rng(seed)
    coco = rng.normal(size=(17, 3))
    for src in (BODY25, COCO18):
        pts = np.zeros((src.num_joints, 3))
        for i, name in enumerate(src.joint_names):
            if name in COCO17.joint_names:
                pts[i] = coco[COCO17.index(name)]
        out, conf = convert(pts, src, COCO17)
        np.testing.assert_allclose(out, coco)
        assert (conf == 1).all()


def test_convert_propagates_missing_joints_and_min_confidence():
    pts = np.arange(17 * 2, dtype=float).reshape(17, 2)
    conf = np.full(17, 0.9)
    conf[COCO17.index("left_shoulder")] = 0.4
    conf[COCO17.index("left_hip")] = 0.0
    out, c = convert(pts, COCO17, PANOPTIC15, conf)
    neck = PANOPTIC15.index("neck")
    assert c[neck] == pytest.approx(0.4)
    np.testing.assert_allclose(out[neck], (pts[5] + pts[6]) / 2)
    assert c[PANOPTIC15.index("mid_hip")] == 0 and np.isnan(out[PANOPTIC15.index("mid_hip")]).all()


def test_shelf_head_from_coco_follows_voxelpose():
    pts = np.zeros((17, 3))
    pts[COCO17.indices(["left_shoulder", "right_shoulder"])] = [0, 0, 1.4]
    pts[COCO17.indices(["left_ear", "right_ear"])] = [0, 0, 1.6]
    out, _ = convert(pts, COCO17, SHELF14)
    assert out[SHELF14.index("bottom_head"), 2] == pytest.approx(1.5)
    assert out[SHELF14.index("top_head"), 2] == pytest.approx(1.7)


def test_flip_permutation_is_an_involution():
    perm = COCO17.flip_permutation
    assert (perm[perm] == np.arange(17)).all()
    assert COCO17.joint_names[perm[COCO17.index("left_wrist")]] == "right_wrist"


def test_wrong_joint_count_is_an_input_error():
    with pytest.raises(InputError, match="expected 25 joints, got 17"):
        convert(np.zeros((17, 2)), BODY25, COCO17)


def test_poses_containers_validate_and_mask():
    joints = np.zeros((2, 1, 17, 3))
    joints[1, 0, 3] = np.nan
    poses = Poses3D([0, 1], [7], joints, np.ones((2, 1, 17)))
    assert poses.confidence[1, 0, 3] == 0 and poses.present.all()
    with pytest.raises(InputError, match="joints"):
        Poses3D([0], [1], np.zeros((1, 1, 16, 3)), np.zeros((1, 1, 16)))
    with pytest.raises(InputError, match="unique"):
        Poses3D([0], [1, 1], np.zeros((1, 2, 17, 3)), np.zeros((1, 2, 17)))
    with pytest.raises(InputError, match="NaN"):
        Detections2D(("a",), (0,), ((np.full((1, 17, 3), np.nan),),))
    built = Poses3D.from_frame_lists([3, 5], [[(2, np.ones((17, 3)), np.ones(17))], []])
    assert built.ids.tolist() == [2] and built.present.tolist() == [[True], [False]]


def test_config_round_trip_and_unknown_keys():
    from dataclasses import dataclass

    @dataclass(frozen=True)
    class Inner(Config):
        sigma_px: float = 2.0

    @dataclass(frozen=True)
    class Outer(Config):
        inner: Inner = Inner()
        bins_m: tuple = (0.3, 1.0)

    cfg = Outer(inner=Inner(3.0), bins_m=(0.1, 0.2))
    assert Outer.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(InputError, match="unknown key 'sigma'"):
        Outer.from_dict({"inner": {"sigma": 1}})
