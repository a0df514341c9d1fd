"""Dataset adapters (Shelf, Campus, Panoptic) and their published protocols (VoxelPose's PCP and AP)."""
from __future__ import annotations

import json
import os
import pickle
import subprocess
from pathlib import Path

import numpy as np
import pytest
import scipy.io
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.transform import Rotation

from closecap.errors import InputError
from closecap.io.calibration import load_rig
from closecap.io.datasets import (dataset_to_closecap, evaluate_dataset, load_panoptic_sequence, load_shelf_campus,
                                  parse_frame_ranges, read_actors_gt, read_panoptic_gt, read_voxelpose_detections,
                                  restricted_unpickle)
from closecap.io.keypoints import read_detections, read_poses, write_poses
from closecap.poses import Poses3D
from closecap.protocols import (CAMPUS_FRAMES, PCP_GROUPS, SHELF_FRAMES, PanopticConfig, coco_to_shelf14,
                                format_panoptic_table, format_pcp_table, panoptic_ap, shelf14_to_coco17,
                                shelf_campus_pcp)
from closecap.skeleton import COCO17, PANOPTIC15, PANOPTIC19, SHELF14, convert

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
DATA = SHARED / "datasets"
PANOPTIC_CALIB = SHARED / "calibrations/cmu_panoptic_160906/calibration_160906_band1.json"


def need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"{path} is absent")
    return path


def coco_poses(gt: Poses3D, head: str | None) -> Poses3D:
    """SHELF14 ground truth as a COCO-17 prediction (face joints fitted to the head when ``head`` is given)."""
    joints = shelf14_to_coco17(gt.joints, head)
    return Poses3D(gt.frames, gt.ids, joints, np.isfinite(joints).all(-1).astype(float))


def shelf_pose(rng: np.random.Generator) -> np.ndarray:
    """A plausible (14, 3) standing person, metres, z up, at a random place."""
    base = np.array([[-0.1, 0, 0.05], [-0.1, 0, 0.5], [-0.1, 0, 0.95], [0.1, 0, 0.95], [0.1, 0, 0.5], [0.1, 0, 0.05],
                     [-0.25, 0, 0.9], [-0.22, 0, 1.15], [-0.18, 0, 1.42], [0.18, 0, 1.42], [0.22, 0, 1.15],
                     [0.25, 0, 0.9], [0, 0, 1.5], [0, 0, 1.72]])
    return base + rng.normal(scale=0.01, size=base.shape) + [*rng.uniform(-2, 2, size=2), 0]


def write_actors_mat(path: Path, joints: np.ndarray) -> None:
    """``actorsGT.mat`` in VoxelPose's layout from ``(F, A, 14, 3)`` metres, NaN = not annotated."""
    F, A = joints.shape[:2]
    cells = np.empty((1, A), dtype=object)
    for a in range(A):
        frames = np.empty((F, 1), dtype=object)
        for t in range(F):
            frames[t, 0] = joints[t, a] if np.isfinite(joints[t, a]).all() else np.zeros((1, 0))
        cells[0, a] = frames
    scipy.io.savemat(path, {"actor3D": cells})


# ----------------------------------------------------------------------------- Shelf / Campus readers


@pytest.mark.parametrize("dataset, actors, annotated", [("shelf", 4, [1, 3]), ("campus", 3, [1])])
def test_actors_gt_sample(dataset, actors, annotated):
    gt = read_actors_gt(need(DATA / dataset / "actorsGT.mat"))
    assert gt.joint_set is SHELF14 and gt.joints.shape == (3, actors, 14, 3)
    assert gt.frames.tolist() == [0, 1, 2] and gt.ids.tolist() == list(range(1, actors + 1))
    assert gt.ids[gt.present.all(0)].tolist() == annotated and not gt.present[:, ~np.isin(gt.ids, annotated)].any()
    j = gt.joints[gt.present]  # (N, 14, 3) metres
    shin = np.linalg.norm(j[:, SHELF14.index("left_knee")] - j[:, SHELF14.index("left_ankle")], axis=-1)
    head = np.linalg.norm(j[:, SHELF14.index("bottom_head")] - j[:, SHELF14.index("top_head")], axis=-1)
    height = j[:, SHELF14.index("top_head"), 2] - j[:, SHELF14.index("left_ankle"), 2]  # z up
    assert np.all((shin > 0.3) & (shin < 0.55)) and np.all((head > 0.1) & (head < 0.35))
    assert np.all((height > 1.4) & (height < 2.1)) and np.abs(j).max() < 20


@pytest.mark.parametrize("dataset, tol_px", [("shelf", 0.1), ("campus", 3.0)])  # Campus views 0, 1 store whole pixels
def test_gt_and_calibration_share_a_world(dataset, tol_px):
    """Projecting actor3D with the loaded rig gives the file's own 2D annotations (actor2D)."""
    rec = load_shelf_campus(dataset, need(DATA / dataset), detections=False)
    actor2d = scipy.io.loadmat(DATA / dataset / "actorsGT.mat")["actor2D"]
    checked = 0
    for t, a in zip(*np.nonzero(rec.gt.present)):
        uv, depth = rec.rig.project(rec.gt.joints[t, a])  # (V, 14, 2), (V, 14)
        annotated = np.stack([np.asarray(actor2d[0, a][t, 0][0, v], dtype=float) for v in range(len(rec.rig))])
        assert np.all(depth > 0) and np.abs(uv - annotated).max() < tol_px
        checked += 1
    assert checked == rec.gt.present.sum() > 0


def test_actors_gt_rejects_bad_files(tmp_path):
    scipy.io.savemat(tmp_path / "other.mat", {"something": np.zeros(3)})
    with pytest.raises(InputError, match="actor3D: missing"):
        read_actors_gt(tmp_path / "other.mat")
    joints = np.full((2, 1, 14, 3), 1.0)
    write_actors_mat(tmp_path / "ok.mat", joints)
    cells = scipy.io.loadmat(tmp_path / "ok.mat")["actor3D"]
    cells[0, 0][1, 0] = np.zeros((13, 3))
    scipy.io.savemat(tmp_path / "bad.mat", {"actor3D": cells})
    with pytest.raises(InputError, match=r"actor3D\{1\}\{2\}: expected a finite 14 x 3"):
        read_actors_gt(tmp_path / "bad.mat")
    (tmp_path / "junk.mat").write_bytes(b"not matlab")
    with pytest.raises(InputError, match="junk.mat"):
        read_actors_gt(tmp_path / "junk.mat")


def test_voxelpose_pickle_sample():
    det = read_voxelpose_detections(need(DATA / "shelf/pred_shelf_maskrcnn_hrnet_coco.pkl"))
    assert det.camera_names == ("0", "1", "2", "3", "4") and det.frames == (0, 1, 2)
    assert [a.shape[0] for a in det.for_frame(0)] == [3, 3, 5, 4, 4]
    kp = np.concatenate([a for views in det.keypoints for a in views])  # (N, 17, 3)
    assert kp.shape[1:] == (17, 3) and np.all((kp[..., 2] >= 0) & (kp[..., 2] <= 1))
    assert np.all((kp[..., 0] >= -50) & (kp[..., 0] < 1032 + 50) & (kp[..., 1] >= -50) & (kp[..., 1] < 776 + 50))
    raw = restricted_unpickle(DATA / "shelf/pred_shelf_maskrcnn_hrnet_coco.pkl")
    np.testing.assert_allclose(det.for_frame(1)[2][0, :, :2], np.asarray(raw["2_1"][0]["pred"]).reshape(17, 3)[:, :2])
    # the Campus sample lists 5 views (all empty) for a 3-camera rig: the extra empty views are dropped
    rec = load_shelf_campus("campus", need(DATA / "campus"))
    assert rec.detections.camera_names == rec.rig.names == ("0", "1", "2")
    assert all(len(a) == 0 for views in rec.detections.keypoints for a in views)


class _Evil:
    """Unpickling this would run a shell command."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


class _EvilExec:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return exec, (f"open({str(self.marker)!r}, 'w').close()",)


class _EvilPopen:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return subprocess.Popen, (["touch", str(self.marker)],)


@pytest.mark.parametrize("evil", [_Evil, _EvilExec, _EvilPopen])
def test_restricted_unpickler_refuses_code(tmp_path, evil):
    marker = tmp_path / "pwned"
    payload = {"0_0": [{"pred": np.zeros((17, 3))}], "x": evil(marker)}  # hidden inside valid-looking data
    (tmp_path / "evil.pkl").write_bytes(pickle.dumps(payload))
    with pytest.raises(InputError, match="refusing global"):
        read_voxelpose_detections(tmp_path / "evil.pkl")
    assert not marker.exists()


def test_voxelpose_pickle_rejects_bad_content(tmp_path):
    (tmp_path / "trunc.pkl").write_bytes(pickle.dumps({"0_0": []})[:-3])
    with pytest.raises(InputError, match="corrupt pickle"):
        read_voxelpose_detections(tmp_path / "trunc.pkl")
    (tmp_path / "key.pkl").write_bytes(pickle.dumps({"cam0-12": []}))
    with pytest.raises(InputError, match="<view>_<frame>"):
        read_voxelpose_detections(tmp_path / "key.pkl")
    (tmp_path / "shape.pkl").write_bytes(pickle.dumps({"0_0": [{"pred": np.zeros((18, 3))}]}))
    with pytest.raises(InputError, match=r"0_0\[0\].pred: expected \(17, 3\)"):
        read_voxelpose_detections(tmp_path / "shape.pkl")


# ----------------------------------------------------------------------------- Panoptic reader


def test_panoptic_gt_sample():
    folder = need(DATA / "panoptic/160906_band1/hdPose3d_stage1_coco19")
    gt = read_panoptic_gt(folder)
    assert gt.joint_set is PANOPTIC19 and gt.frames.tolist() == [168, 169] and gt.ids.tolist() == [0, 1, 2]
    raw = np.asarray(json.loads((folder / "body3DScene_00000168.json").read_text())["bodies"][0]["joints19"])
    raw = raw.reshape(19, 4)
    keep = raw[:, 3] > 0.1
    np.testing.assert_allclose(gt.joints[0, 0][keep], raw[keep, :3] / 100.0)  # cm -> m, axes kept (y down)
    assert np.isnan(gt.joints[0, 0][~keep]).all() and (~keep).sum() == 1  # l_ankle has confidence -1
    assert np.isfinite(gt.joints).all(-1).sum(-1).tolist() == [[18, 19, 16], [18, 19, 16]]
    rec = load_panoptic_sequence(DATA / "panoptic", "160906_band1", calibration=need(PANOPTIC_CALIB))
    assert rec.rig.names == ("00_03", "00_06", "00_12", "00_13", "00_23")
    uv, depth = rec.rig.project(rec.gt.joints[0, 0, PANOPTIC19.index("neck")])  # same world: in front, in view
    assert np.all(depth > 1.0) and np.all((uv >= 0) & (uv < [1920, 1080]))


def test_panoptic_filters_and_interval(tmp_path):
    folder = tmp_path / "seq" / "hdPose3d_stage1_coco19"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i, frame in enumerate([10, 11, 12, 13]):
        bodies = []
        for body_id in (3, 5):
            j = np.concatenate([rng.normal(scale=50, size=(19, 3)), np.full((19, 1), 0.5)], 1)
            if body_id == 5 and frame == 12:
                j[PANOPTIC19.index("mid_hip"), 3] = 0.05  # root below 0.1: body dropped
            if body_id == 3:
                j[PANOPTIC19.index("nose"), 3] = 0.1  # <= 0.1: joint ignored
            bodies.append({"id": body_id, "joints19": j.reshape(-1).tolist()})
        if frame == 13:
            bodies = []  # empty frame: not evaluated
        (folder / f"body3DScene_{frame:08d}.json").write_text(json.dumps({"version": 0.7, "bodies": bodies}))
    gt = read_panoptic_gt(folder)
    assert gt.frames.tolist() == [10, 11, 12] and gt.ids.tolist() == [3, 5]
    assert gt.present.tolist() == [[True, True], [True, True], [True, False]]
    assert np.isnan(gt.joints[:, 0, PANOPTIC19.index("nose")]).all()
    assert read_panoptic_gt(folder, interval=2).frames.tolist() == [10, 12]
    assert read_panoptic_gt(folder, interval=3).frames.tolist() == [10]  # file 13 is empty
    (folder / "body3DScene_00000014.json").write_text('{"bodies": [{"id": 1, "joints19": [1, 2]}]}')
    with pytest.raises(InputError, match="expected 76 finite numbers"):
        read_panoptic_gt(folder)


# ----------------------------------------------------------------------------- protocols on the samples


@pytest.mark.parametrize("dataset", ["shelf", "campus"])
def test_gt_against_itself_through_coco(dataset):
    gt = read_actors_gt(need(DATA / dataset / "actorsGT.mat"))
    native = shelf_campus_pcp(gt, gt, dataset, frames=[0, 1, 2])
    fitted = shelf_campus_pcp(coco_poses(gt, dataset), gt, dataset, frames=[0, 1, 2])
    no_face = shelf_campus_pcp(coco_poses(gt, None), gt, dataset, frames=[0, 1, 2])
    print("\n" + format_pcp_table(fitted))
    annotated = gt.present.any(0)
    for result in (native, fitted):
        assert np.all(result.actor_pcp[annotated] == 1.0) and np.isnan(result.actor_pcp[~annotated]).all()
        assert all(np.all(result.group_pcp[label][annotated] == 1.0) for label, _ in PCP_GROUPS)
        assert result.average_pcp == 1.0 and result.recall_500mm == 1.0
    # without face joints COCO has no head: head and torso (which ends at the head bottom) all fail
    assert np.all(no_face.group_pcp["Head"][annotated] == 0) and np.all(no_face.group_pcp["Torso"][annotated] == 0)
    assert np.allclose(no_face.actor_pcp[annotated], 0.8)
    # the head formula is dataset-specific: faces fitted for the other dataset's formula fail the head
    other = "campus" if dataset == "shelf" else "shelf"
    mixed = shelf_campus_pcp(coco_poses(gt, other), gt, dataset, frames=[0, 1, 2])
    assert np.all(mixed.group_pcp["Head"][annotated] == 0) and np.all(mixed.group_pcp["Upper arms"][annotated] == 1)


def test_panoptic_gt_against_itself():
    folder = need(DATA / "panoptic/160906_band1/hdPose3d_stage1_coco19")
    gt = read_panoptic_gt(folder)
    config = PanopticConfig(interval=1)
    exact = panoptic_ap(gt, gt, config)
    coco = Poses3D(gt.frames, gt.ids, *convert(gt.joints, PANOPTIC19, COCO17, gt.confidence))
    via_coco = panoptic_ap(coco, gt, config)  # neck and mid-hip re-derived from shoulders and hips
    print("\n" + format_panoptic_table(via_coco))
    assert exact.num_gt == 6 and exact.mpjpe_mm == 0.0 and exact.recall_500mm == 1.0
    for result in (exact, via_coco):
        assert all(ap > 99.99 for ap in result.ap_percent.values())
    assert 0 < via_coco.mpjpe_mm < 5.0


# ----------------------------------------------------------------------------- protocols on made-up data


def test_protocol_frame_ranges():
    assert len(SHELF_FRAMES) == 301 and SHELF_FRAMES[0] == 300 and SHELF_FRAMES[-1] == 600
    assert len(CAMPUS_FRAMES) == 222 and {350, 470, 650, 750} <= set(CAMPUS_FRAMES)
    assert not {349, 471, 649, 751} & set(CAMPUS_FRAMES)
    assert parse_frame_ranges("350-470,650-750") == CAMPUS_FRAMES
    with pytest.raises(InputError, match="frames"):
        parse_frame_ranges("5-3")


def test_frame_range_handling_on_own_mat(tmp_path):
    rng = np.random.default_rng(3)
    F, A = 8, 4
    joints = np.stack([np.stack([shelf_pose(rng) for _ in range(A)]) for _ in range(F)])  # (F, A, 14, 3)
    joints[:, 3] = np.nan  # actor 4 never annotated
    joints[5, 1] = np.nan  # actor 2 missing in frame 5
    write_actors_mat(tmp_path / "actorsGT.mat", joints)
    gt = read_actors_gt(tmp_path / "actorsGT.mat")
    np.testing.assert_allclose(gt.joints, joints)
    pred = Poses3D(gt.frames[2:4], [7, 8, 9], gt.joints[2:4, :3], gt.confidence[2:4, :3], SHELF14)  # frames 2, 3
    r = shelf_campus_pcp(pred, gt, "shelf", frames=parse_frame_ranges("2-5"))
    assert r.frames.tolist() == [2, 3, 4, 5] and r.annotated.tolist() == [4, 3, 4, 0]
    np.testing.assert_allclose(r.actor_pcp[:3], [0.5, 2 / 3, 0.5])  # frames 4, 5 have no prediction
    assert np.isnan(r.actor_pcp[3]) and r.average_pcp == pytest.approx((0.5 + 2 / 3 + 0.5) / 3)
    assert r.recall_500mm == pytest.approx(6 / 11)
    with pytest.raises(InputError, match="ground truth lacks 2 evaluated frames"):
        shelf_campus_pcp(pred, gt, "shelf", frames=[7, 8, 9])
    with pytest.raises(InputError, match="ground truth lacks"):
        shelf_campus_pcp(pred, gt, "campus")  # the protocol's frames 350.. are not in an 8-frame file
    # the same through files and evaluate_dataset (frames as CLI text)
    write_poses(coco_poses(gt, "shelf"), tmp_path / "pred.npz")
    result, table, d = evaluate_dataset("shelf", tmp_path / "pred.npz", tmp_path, frames="1-3,6")
    print("\n" + table)
    assert result.frames.tolist() == [1, 2, 3, 6] and np.all(result.actor_pcp[:3] == 1.0)
    assert "| Total      |  100.0  |  100.0  |  100.0  |  100.0  |" in table
    json.dumps(d, allow_nan=False)
    with pytest.raises(InputError, match="unknown key 'alpah'"):
        evaluate_dataset("shelf", tmp_path / "pred.npz", tmp_path, alpah=0.4)


def test_nearest_prediction_per_actor_not_hungarian():
    rng = np.random.default_rng(5)
    a = shelf_pose(rng)
    gt = Poses3D([0], [1, 2], np.stack([a, a + [0.05, 0, 0]])[None], np.ones((1, 2, 14)), SHELF14)
    pred = Poses3D([0], [1], (a + [0.025, 0, 0])[None, None], np.ones((1, 1, 14)), SHELF14)  # one for two actors
    r = shelf_campus_pcp(pred, gt, "shelf", frames=[0], num_actors=2)
    assert r.actor_pcp.tolist() == [1.0, 1.0]  # both actors use the same prediction (Hungarian would miss one)


def test_pcp_part_threshold():
    rng = np.random.default_rng(0)
    gt_j = shelf_pose(rng)
    gt = Poses3D([0], [1], gt_j[None, None], np.ones((1, 1, 14)), SHELF14)
    wrist, elbow = SHELF14.index("right_wrist"), SHELF14.index("right_elbow")
    length = np.linalg.norm(gt_j[wrist] - gt_j[elbow])
    for factor, ok in ((0.99, True), (1.01, False)):  # moving one endpoint by d: mean error d / 2 vs 0.5 L
        moved = gt_j.copy()
        moved[wrist] += [factor * length, 0, 0]
        r = shelf_campus_pcp(Poses3D([0], [1], moved[None, None], np.ones((1, 1, 14)), SHELF14), gt, "shelf",
                             frames=[0], num_actors=1)
        assert r.correct[0, r.parts.index("right_lower_arm")] == ok
        assert r.correct[0].sum() == 9 + ok


def _voxelpose_shelf_head_reference(coco: np.ndarray) -> np.ndarray:
    """Step-by-step transcription of the published Shelf head rule for one (17, 3) pose (bottom, top)."""
    mid_sho = (coco[5] + coco[6]) / 2
    centre = (coco[3] + coco[4]) / 2
    bottom0 = (mid_sho + centre) / 2
    top0 = bottom0 + (centre - bottom0) * 2
    top = mid_sho + (coco[0] - mid_sho) * np.array([0.75, 0.75, 1.5])
    bottom = mid_sho + (coco[0] - mid_sho) * 0.5
    return np.stack([bottom * 0.75 + bottom0 * 0.25, top * 0.75 + top0 * 0.25])


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**31 - 1))
def test_coco_to_shelf14_matches_reference(seed):
    coco = np.random.default_rng(seed).normal(size=(17, 3))
    out = coco_to_shelf14(coco, "shelf")
    np.testing.assert_allclose(out[SHELF14.indices(["bottom_head", "top_head"])], _voxelpose_shelf_head_reference(coco))
    body = [n for n in SHELF14.joint_names if n in COCO17.joint_names]
    np.testing.assert_array_equal(out[SHELF14.indices(body)], coco[COCO17.indices(body)])


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 2**31 - 1))
def test_protocols_invariant_to_world_frame(seed):
    """Both protocols use distances only: a rigid change of world (e.g. Panoptic's y-down vs z-up) changes nothing."""
    rng = np.random.default_rng(seed)
    rot = Rotation.random(random_state=seed).as_matrix()
    shift = rng.normal(size=3)
    gt_j = np.stack([np.stack([shelf_pose(rng) for _ in range(2)]) for _ in range(3)])  # (3, 2, 14, 3)
    pred_j = gt_j + rng.normal(scale=0.06, size=gt_j.shape)
    conf = rng.uniform(0.2, 1, size=gt_j.shape[:3])
    moved = lambda j: j @ rot.T + shift  # noqa: E731
    gt, pred = (Poses3D([0, 1, 2], [1, 2], j, np.ones((3, 2, 14)), SHELF14) for j in (gt_j, pred_j))
    gt2, pred2 = (Poses3D([0, 1, 2], [1, 2], moved(j), np.ones((3, 2, 14)), SHELF14) for j in (gt_j, pred_j))
    a, b = (shelf_campus_pcp(p, g, "shelf", frames=[0, 1, 2], num_actors=2) for p, g in ((pred, gt), (pred2, gt2)))
    np.testing.assert_array_equal(a.correct, b.correct)
    def pan(j, c):  # 14 Shelf joints + one more stand in for Panoptic's 15
        j15 = np.concatenate([j, j[..., :1, :] + 0.1], axis=-2)
        return Poses3D([0, 1, 2], [1, 2], j15, np.concatenate([c, c[..., :1]], axis=-1), PANOPTIC15)

    r1 = panoptic_ap(pan(pred_j, conf), pan(gt_j, np.ones_like(conf)))
    r2 = panoptic_ap(pan(moved(pred_j), conf), pan(moved(gt_j), np.ones_like(conf)))
    assert r1.ap_percent == pytest.approx(r2.ap_percent) and r1.mpjpe_mm == pytest.approx(r2.mpjpe_mm)


# ----------------------------------------------------------------------------- evaluate_dataset, conversion


def test_evaluate_dataset_panoptic(tmp_path):
    root = need(DATA / "panoptic")
    gt = read_panoptic_gt(root / "160906_band1/hdPose3d_stage1_coco19")
    coco = Poses3D(gt.frames, gt.ids, *convert(gt.joints, PANOPTIC19, COCO17, gt.confidence))
    write_poses(coco, tmp_path / "160906_band1.json")
    result, table, d = evaluate_dataset("panoptic", tmp_path, root, sequences="160906_band1", interval=1)
    assert result.ap_percent[25.0] > 99.99 and result.num_frames == 2 and "| AP           | 100.00 |" in table
    single, _, _ = evaluate_dataset("panoptic", tmp_path / "160906_band1.json", root, sequences=["160906_band1"])
    assert single.num_frames == 1  # the protocol's interval 12 keeps the first file of two
    json.dumps(d, allow_nan=False)
    with pytest.raises(InputError, match="one prediction file for 4 sequences"):
        evaluate_dataset("panoptic", tmp_path / "160906_band1.json", root)
    with pytest.raises(InputError, match="no prediction file 160906_pizza1"):
        evaluate_dataset("panoptic", tmp_path, root)


def test_dataset_to_closecap_shelf(tmp_path):
    root = need(DATA / "shelf")
    files = dataset_to_closecap("shelf", root, tmp_path, frames="1-2")
    assert {p.name for p in files} >= {"calibration.json", "gt.json", "gt_shelf14.json"}
    rig = load_rig(tmp_path / "calibration.json")
    original = load_shelf_campus("shelf", root)
    np.testing.assert_allclose(rig.t, original.rig.t) and np.testing.assert_allclose(rig.K, original.rig.K)
    gt = read_poses(tmp_path / "gt.json")
    assert gt.joint_set is COCO17 and gt.frames.tolist() == [1, 2]
    assert np.isnan(gt.joints[..., COCO17.index("nose"), :]).all()  # Shelf has no face joints
    native = read_poses(tmp_path / "gt_shelf14.json")
    np.testing.assert_allclose(native.joints, original.gt.joints[1:], atol=1e-6)
    det = read_detections(tmp_path / "detections", rig.names)
    assert det.frames == (1, 2)
    for t, frame in enumerate(det.frames):
        for v in range(len(rig.names)):
            np.testing.assert_allclose(det.keypoints[t][v], original.detections.for_frame(frame)[v], atol=1e-3)


def test_dataset_to_closecap_panoptic(tmp_path):
    root = need(DATA / "panoptic")
    dataset_to_closecap("panoptic", root, tmp_path, sequence="160906_band1", calibration=need(PANOPTIC_CALIB))
    assert load_rig(tmp_path / "calibration.json").names == ("00_03", "00_06", "00_12", "00_13", "00_23")
    gt = read_poses(tmp_path / "gt.json")
    native = read_poses(tmp_path / "gt_panoptic19.json")
    np.testing.assert_allclose(gt.joints[..., COCO17.index("nose"), :], native.joints[..., PANOPTIC19.index("nose"), :])
    with pytest.raises(InputError, match="sequence"):
        dataset_to_closecap("panoptic", root, tmp_path)
