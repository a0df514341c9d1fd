"""Tests of closecap.metrics: known values, identities and invariances of the evaluation metrics."""
from __future__ import annotations

import json
import math
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.transform import Rotation

from closecap.errors import InputError
from closecap.metrics import (
    EvalConfig,
    evaluate,
    format_table,
    nearest_other_distance,
    pairwise_mpjpe,
    procrustes_align,
    voxelpose_ap,
)
from closecap.poses import Poses3D
from closecap.skeleton import COCO17, SHELF14

J = COCO17.num_joints


def make_scene(rng: np.random.Generator, T: int = 6, P: int = 2, spacing_m: float = 1.5) -> np.ndarray:
    """``(T, P, J, 3)`` metres: P body-sized point clouds ``spacing_m`` apart, moving a little over frames."""
    bodies = rng.normal(scale=0.25, size=(1, P, J, 3))  # (1, P, J, 3)
    offsets = np.arange(P)[None, :, None, None] * np.array([spacing_m, 0.0, 0.0])
    drift = np.cumsum(rng.normal(scale=0.01, size=(T, 1, 1, 3)), axis=0)
    return bodies + offsets + drift


def poses(joints: np.ndarray, ids=None, confidence=None, frames=None) -> Poses3D:
    T, P = joints.shape[:2]
    return Poses3D(
        frames=np.arange(T) if frames is None else frames,
        ids=np.arange(P) if ids is None else ids,
        joints=joints,
        confidence=np.ones((T, P, J)) if confidence is None else confidence,
    )


def flat_numbers(obj, prefix=""):
    """All numbers of a ``to_dict`` tree as {path: value} (None -> nan)."""
    out = {}
    if isinstance(obj, dict):
        for k, v in obj.items():
            out.update(flat_numbers(v, f"{prefix}/{k}"))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out.update(flat_numbers(v, f"{prefix}/{i}"))
    elif obj is None:
        out[prefix] = math.nan
    elif isinstance(obj, (int, float)) and not isinstance(obj, bool):
        out[prefix] = float(obj)
    return out


def reference_ap(mpjpe_mm, gt_index, score, total_gt, threshold_mm):
    """Plain-loop rendering of VoxelPose's AP algorithm (as documented in voxelpose_ap), for cross-checking."""
    order = sorted(range(len(score)), key=lambda i: -score[i])  # Python's sort is stable
    claimed: set[int] = set()
    tp, fp = [], []
    for i in order:
        if mpjpe_mm[i] < threshold_mm and gt_index[i] not in claimed:
            claimed.add(gt_index[i])
            tp.append(1.0)
            fp.append(0.0)
        else:
            tp.append(0.0)
            fp.append(1.0)
    tp_c = np.cumsum(tp)
    fp_c = np.cumsum(fp)
    rec = list(tp_c / (total_gt + 1e-5))
    prec = list(tp_c / (tp_c + fp_c + 1e-5))
    for n in range(len(prec) - 2, -1, -1):
        prec[n] = max(prec[n], prec[n + 1])
    prec = [0.0] + prec + [0.0]
    rec = [0.0] + rec + [1.0]
    ap = sum((rec[i + 1] - rec[i]) * prec[i + 1] for i in range(len(rec) - 1) if rec[i + 1] != rec[i])
    return ap, rec[-2]


# ----------------------------------------------------------------------------------------- known values

def test_identical_prediction_is_perfect():
    rng = np.random.default_rng(0)
    gt = poses(make_scene(rng, T=8, P=3))
    r = evaluate(gt, gt)
    assert r.num_gt == r.num_matched == 24 and r.num_missed == 0
    assert r.mpjpe_mm == 0.0
    assert r.pa_mpjpe_mm == pytest.approx(0.0, abs=1e-6)
    assert all(v == 1.0 for v in r.pck.values())
    assert r.ap_percent[25.0] == pytest.approx(100.0, abs=1e-2)
    assert all(v == pytest.approx(100.0, abs=1e-2) for v in r.ap_percent.values())
    assert r.recall_500mm == 1.0
    assert r.id_switches == 0 and r.num_false_positives == 0 and r.false_positives_per_frame == 0.0
    assert r.pcp_mean == 1.0 and all(v == 1.0 for v in r.pcp.values())
    assert r.joints_missing == 0.0 and r.mota == 1.0
    assert all(v == 1.0 for v in r.identity_purity.values())


def test_constant_offset_of_30mm():
    rng = np.random.default_rng(1)
    gt_joints = make_scene(rng, T=5, P=2)
    r = evaluate(poses(gt_joints + np.array([0.0, 0.03, 0.0])), poses(gt_joints))
    assert r.mpjpe_mm == pytest.approx(30.0, abs=1e-9)
    assert r.pa_mpjpe_mm == pytest.approx(0.0, abs=1e-6)
    assert r.ap_percent[25.0] == 0.0
    assert r.ap_percent[50.0] == pytest.approx(100.0, abs=1e-2)
    assert r.pck[50.0] == 1.0
    assert r.voxelpose_mpjpe_mm == pytest.approx(30.0)


def test_offset_beyond_match_threshold_is_missed_and_false_positive():
    rng = np.random.default_rng(2)
    gt_joints = make_scene(rng, T=3, P=1)
    r = evaluate(poses(gt_joints + np.array([0.6, 0.0, 0.0])), poses(gt_joints))
    assert r.num_matched == 0 and r.num_missed == 3 and r.num_false_positives == 3
    assert r.false_positives_per_frame == 1.0
    assert math.isnan(r.mpjpe_mm) and r.pck[150.0] == 0.0 and r.pcp_mean == 0.0
    # a looser threshold matches them
    loose = evaluate(poses(gt_joints + np.array([0.6, 0.0, 0.0])), poses(gt_joints), EvalConfig(match_threshold_m=0.7))
    assert loose.num_matched == 3 and loose.mpjpe_mm == pytest.approx(600.0)


def test_hungarian_matching_is_global_not_greedy():
    # GT a at x=0, b at x=0.3; predictions at 0.15 and 0.5. Greedy (nearest first) would pair b with 0.15 and
    # leave a with 0.5 (too far); the optimal assignment pairs a-0.15, b-0.5.
    base = np.zeros((1, 1, J, 3))
    gt = np.concatenate([base, base + [0.3, 0, 0]], axis=1)
    pred = np.concatenate([base + [0.15, 0, 0], base + [0.5, 0, 0]], axis=1)
    r = evaluate(poses(pred, ids=[5, 6]), poses(gt))
    assert r.num_matched == 2 and r.mpjpe_mm == pytest.approx(175.0)


def test_swapped_ids_halfway_gives_one_switch_per_track():
    rng = np.random.default_rng(3)
    gt_joints = make_scene(rng, T=10, P=3)
    pred_joints = gt_joints.copy()
    pred_joints[5:, [0, 1]] = gt_joints[5:, [1, 0]]  # tracks 10 and 11 swap people at frame 5
    r = evaluate(poses(pred_joints, ids=[10, 11, 12]), poses(gt_joints))
    assert r.id_switches_per_track == {0: 1, 1: 1, 2: 0}
    assert r.id_switches == 2
    assert r.identity_purity == {0: 0.5, 1: 0.5, 2: 1.0}
    assert r.mpjpe_mm == 0.0  # the poses themselves are right
    assert r.mota == pytest.approx(1.0 - 2 / 30)


def test_id_switch_ignores_gaps_but_counts_change_across_them():
    rng = np.random.default_rng(4)
    gt_joints = make_scene(rng, T=7, P=1)
    pred_joints = np.full((7, 2, J, 3), np.nan)
    pred_joints[[0, 1], 0] = gt_joints[[0, 1], 0]  # id 20 on frames 0-1
    pred_joints[[4, 5], 0] = gt_joints[[4, 5], 0]  # gap 2-3, id 20 again: no switch
    pred_joints[6, 1] = gt_joints[6, 0]  # id 21 on frame 6: one switch
    r = evaluate(poses(pred_joints, ids=[20, 21]), poses(gt_joints))
    assert r.id_switches == 1
    assert r.num_missed == 2
    assert r.identity_purity[0] == pytest.approx(4 / 5)


def test_false_extra_prediction_counts_and_lowers_ap_when_ranked_first():
    rng = np.random.default_rng(5)
    T = 4
    gt_joints = make_scene(rng, T=T, P=2)
    ghost = gt_joints[:, :1] + np.array([0.0, 3.0, 0.0])  # far from everyone
    pred_joints = np.concatenate([gt_joints, ghost], axis=1)
    conf = np.ones((T, 3, J))
    conf[:, :2] = 0.5
    r = evaluate(poses(pred_joints, confidence=conf), poses(gt_joints))  # ghost scores highest
    assert r.num_false_positives == T and r.false_positives_per_frame == 1.0
    assert r.num_matched == 2 * T and r.mpjpe_mm == 0.0
    for th in (25.0, 50.0, 150.0):
        assert r.ap_percent[th] < 90.0
        assert r.ap_recall[th] == pytest.approx(1.0, abs=1e-4)
    assert r.recall_500mm == 1.0
    # ranked last, the same ghost leaves AP at 100 (the precision envelope covers all recall before it)
    conf[:, 2] = 0.1
    low = evaluate(poses(pred_joints, confidence=conf), poses(gt_joints))
    assert low.num_false_positives == T
    assert low.ap_percent[25.0] == pytest.approx(100.0, abs=1e-2)


def test_missed_person_lowers_recall():
    rng = np.random.default_rng(6)
    T = 6
    gt_joints = make_scene(rng, T=T, P=2)
    pred_joints = gt_joints[:, :1]  # person 1 never predicted
    r = evaluate(poses(pred_joints), poses(gt_joints))
    assert r.num_missed == T and r.num_matched == T
    assert r.recall_500mm == pytest.approx(0.5)
    assert r.pck[100.0] == pytest.approx(0.5)
    assert r.pcp_mean == pytest.approx(0.5)
    assert r.ap_percent[50.0] == pytest.approx(50.0, abs=1e-2)
    assert r.identity_purity[1] != r.identity_purity[1]  # NaN: never matched
    assert r.mota == pytest.approx(0.5)


def test_gt_frame_without_prediction_frame_counts_as_missed():
    rng = np.random.default_rng(7)
    gt_joints = make_scene(rng, T=4, P=2)
    gt = poses(gt_joints, frames=[10, 11, 12, 13])
    pred = poses(gt_joints[[0, 2, 3]], frames=[10, 12, 13])
    extra = poses(gt_joints, frames=[20, 21, 22, 23])  # frames GT lacks are ignored
    r = evaluate(pred, gt)
    assert r.num_frames == 4 and r.num_missed == 2 and r.num_matched == 6 and r.num_false_positives == 0
    assert r.recall_500mm == pytest.approx(0.75)
    r2 = evaluate(extra, gt)
    assert r2.num_pred == 0 and r2.num_missed == 8 and r2.ap_percent[150.0] == 0.0


def test_missing_predicted_joints_are_counted_apart_from_mpjpe():
    rng = np.random.default_rng(8)
    gt_joints = make_scene(rng, T=2, P=1)
    pred_joints = gt_joints + np.array([0.0, 0.0, 0.02])
    wrists = COCO17.indices(["left_wrist", "right_wrist"])
    pred_joints[:, :, wrists] = np.nan
    r = evaluate(poses(pred_joints), poses(gt_joints))
    assert r.joints_missing == pytest.approx(2 / J)
    assert r.mpjpe_mm == pytest.approx(20.0)
    assert r.pck[50.0] == pytest.approx((J - 2) / J)
    assert r.pcp["left_lower_arm"] == 0.0 and r.pcp["left_upper_arm"] == 1.0


def test_pcp_follows_half_limb_length_rule():
    # one person; move the left wrist so the left lower arm's mean endpoint error crosses 0.5 * length
    gt_joints = make_scene(np.random.default_rng(9), T=1, P=1)
    elbow, wrist = COCO17.index("left_elbow"), COCO17.index("left_wrist")
    length = np.linalg.norm(gt_joints[0, 0, elbow] - gt_joints[0, 0, wrist])
    for factor, expect in ((0.9, 1.0), (1.1, 0.0)):
        pred = gt_joints.copy()
        pred[0, 0, wrist, 2] += factor * length  # mean endpoint error = factor * length / 2
        r = evaluate(poses(pred), poses(gt_joints))
        assert r.pcp["left_lower_arm"] == expect
        assert r.pcp["right_lower_arm"] == 1.0
    assert len(r.pcp) == 10 and set(r.pcp_groups) == {"head", "torso", "upper_arms", "lower_arms",
                                                        "upper_legs", "lower_legs"}
    assert SHELF14.num_joints == 14


# ----------------------------------------------------------------------------------------- closeness bins

def test_nearest_other_distance_is_min_over_all_joint_pairs():
    a = np.zeros((J, 3))
    b = np.zeros((J, 3)) + [2.0, 0.0, 0.0]
    b[COCO17.index("left_ankle")] = [0.0, 0.25, 0.0]  # B's foot near A's (any) joint
    joints = np.stack([a, b])[None]  # (1, 2, J, 3)
    np.testing.assert_allclose(nearest_other_distance(joints), [[0.25, 0.25]])


def test_distance_bins_on_hand_made_two_person_scene():
    # frame 0: 0.2 m apart; 1: exactly 0.3 m (left-closed -> middle bin); 2: 0.6 m; 3: 2 m; 4: A alone
    a = np.zeros((J, 3))
    a[:, 2] = np.linspace(0.0, 1.6, J)  # a vertical body at x = 0
    gaps = [0.2, 0.3, 0.6, 2.0]
    gt_joints = np.full((5, 2, J, 3), np.nan)
    gt_joints[:, 0] = a
    for t, gap in enumerate(gaps):
        gt_joints[t, 1] = a + [gap, 0.0, 0.0]
    expected = np.array([[0.2, 0.2], [0.3, 0.3], [0.6, 0.6], [2.0, 2.0], [np.inf, np.inf]])
    np.testing.assert_allclose(nearest_other_distance(gt_joints), expected)
    pred_joints = gt_joints + np.array([0.01, 0.0, 0.0])
    pred_joints[0, 1] = np.nan  # the closest pair loses one person
    r = evaluate(poses(pred_joints), poses(gt_joints))
    counts = [b.count for b in r.distance_bins]
    assert [b.label for b in r.distance_bins] == ["< 0.3 m", "0.3-1 m", ">= 1 m"]
    assert counts == [2, 4, 3]  # the person alone in frame 4 goes to the last bin
    assert r.distance_bins[0].recall == 0.5 and r.distance_bins[1].recall == 1.0
    assert r.distance_bins[0].pck == 0.5
    assert r.distance_bins[2].mpjpe_mm == pytest.approx(10.0)
    custom = evaluate(poses(pred_joints), poses(gt_joints), EvalConfig(distance_bins_m=(0.5,)))
    assert [b.count for b in custom.distance_bins] == [4, 5]


# ----------------------------------------------------------------------------------------- properties

@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_rigid_transform_of_both_leaves_every_metric_unchanged(seed):
    rng = np.random.default_rng(seed)
    T, P = 4, 3
    gt_joints = make_scene(rng, T=T, P=P, spacing_m=rng.uniform(0.2, 1.5))
    gt_joints[rng.uniform(size=(T, P, J)) < 0.1] = np.nan
    pred_joints = gt_joints + rng.normal(scale=0.05, size=gt_joints.shape)
    pred_joints[rng.uniform(size=(T, P, J)) < 0.1] = np.nan
    pred_joints = pred_joints[:, rng.permutation(P)]
    conf = rng.uniform(size=(T, P, J))
    rot = Rotation.random(random_state=rng).as_matrix()
    shift = rng.normal(scale=3.0, size=3)
    before = evaluate(poses(pred_joints, confidence=conf), poses(gt_joints)).to_dict()
    after = evaluate(poses(pred_joints @ rot.T + shift, confidence=conf), poses(gt_joints @ rot.T + shift)).to_dict()
    a, b = flat_numbers(before), flat_numbers(after)
    assert a.keys() == b.keys()
    for key in a:
        assert a[key] == pytest.approx(b[key], rel=1e-6, abs=1e-6, nan_ok=True), key


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_procrustes_never_increases_squared_error(seed):
    # Procrustes is the least-squares optimum over similarity transforms, identity included, so the *squared*
    # error can only drop. (Mean *distance*, i.e. MPJPE, can rise: see the next test.)
    rng = np.random.default_rng(seed)
    gt = rng.normal(scale=0.3, size=(8, J, 3))
    pred = gt + rng.normal(scale=rng.uniform(0.001, 0.3), size=gt.shape)
    valid = rng.uniform(size=(8, J)) > 0.3
    valid[:, :3] = True
    aligned = procrustes_align(pred, gt, valid)
    sq_before = np.where(valid, ((pred - gt) ** 2).sum(-1), 0.0).sum(-1)
    sq_after = np.where(valid, ((aligned - gt) ** 2).sum(-1), 0.0).sum(-1)
    assert np.all(sq_after <= sq_before + 1e-12)
    # and a similarity transform of gt is undone exactly
    rot = Rotation.random(random_state=rng).as_matrix()
    moved = 1.7 * gt @ rot.T + rng.normal(size=3)
    np.testing.assert_allclose(np.where(valid[..., None], procrustes_align(moved, gt, valid), 0.0),
                               np.where(valid[..., None], gt, 0.0), atol=1e-9)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_pa_mpjpe_not_above_mpjpe_when_error_is_mostly_a_similarity(seed):
    rng = np.random.default_rng(seed)
    gt_joints = make_scene(rng, T=3, P=2)
    offset = rng.normal(size=3)
    offset *= rng.uniform(0.05, 0.3) / np.linalg.norm(offset)
    pred_joints = gt_joints * rng.uniform(0.95, 1.05) + offset + rng.normal(scale=0.005, size=gt_joints.shape)
    r = evaluate(poses(pred_joints), poses(gt_joints), EvalConfig(match_threshold_m=1.0))
    assert r.pa_mpjpe_mm <= r.mpjpe_mm


def test_pa_mpjpe_can_exceed_mpjpe_with_one_outlier_joint():
    # Least squares spreads one large error over all joints, so mean distance after alignment grows:
    # "PA-MPJPE <= MPJPE" is not an identity.
    gt_joints = make_scene(np.random.default_rng(10), T=1, P=1)
    pred_joints = gt_joints.copy()
    pred_joints[0, 0, 0] += [0.4, 0.0, 0.0]
    r = evaluate(poses(pred_joints), poses(gt_joints))
    assert r.mpjpe_mm == pytest.approx(400.0 / J)
    assert r.pa_mpjpe_mm > r.mpjpe_mm


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(0, 25),
    total_gt=st.integers(1, 12),
    seed=st.integers(0, 2**32 - 1),
    threshold_mm=st.sampled_from([25.0, 50.0, 150.0]),
)
def test_vectorized_ap_matches_loop_reference(n, total_gt, seed, threshold_mm):
    rng = np.random.default_rng(seed)
    mpjpe = rng.uniform(0.0, 200.0, size=n)
    mpjpe[rng.uniform(size=n) < 0.1] = np.inf
    gt_index = rng.integers(0, total_gt, size=n)
    score = rng.integers(0, 4, size=n) / 4.0  # many ties: the ranking must be stable
    ap, rec = voxelpose_ap(mpjpe, gt_index, score, total_gt, threshold_mm)
    ref_ap, ref_rec = reference_ap(list(mpjpe), list(gt_index), list(score), total_gt, threshold_mm)
    assert ap == pytest.approx(ref_ap, abs=1e-12)
    assert rec == pytest.approx(ref_rec, abs=1e-12)


def test_pairwise_mpjpe_uses_joints_valid_in_both():
    a = np.zeros((1, 1, J, 3))
    b = np.zeros((1, 2, J, 3))
    b[0, 0, :, 0] = 0.1
    b[0, 0, 0, 0] = 5.0
    a[0, 0, 0] = np.nan  # joint 0 missing in a: b's outlier is ignored
    b[0, 1] = np.nan  # nobody: inf
    np.testing.assert_allclose(pairwise_mpjpe(a, b), [[[0.1, np.inf]]])


# ----------------------------------------------------------------------------------------- boundary & output

def test_rejects_other_joint_sets_and_bad_config():
    rng = np.random.default_rng(11)
    gt = poses(make_scene(rng, T=1, P=1))
    shelf = Poses3D([0], [0], np.zeros((1, 1, 14, 3)), np.ones((1, 1, 14)), joint_set=SHELF14)
    with pytest.raises(InputError, match="coco17"):
        evaluate(shelf, gt)
    with pytest.raises(InputError, match="distance_bins_m"):
        EvalConfig(distance_bins_m=(1.0, 0.3))
    with pytest.raises(InputError, match="match_threshold_m"):
        EvalConfig(match_threshold_m=-1.0)
    with pytest.raises(InputError, match="unknown key"):
        EvalConfig.from_dict({"match_threshold": 0.5})
    cfg = EvalConfig(pck_thresholds_mm=(30, 60))
    assert EvalConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg


def test_empty_inputs_give_nan_not_errors():
    empty = Poses3D(np.zeros(0, dtype=int), np.zeros(0, dtype=int), np.zeros((0, 0, J, 3)), np.zeros((0, 0, J)))
    gt = poses(make_scene(np.random.default_rng(12), T=2, P=2))
    r = evaluate(empty, gt)
    assert r.num_missed == 4 and r.recall_500mm == 0.0 and r.ap_percent[150.0] == 0.0
    r2 = evaluate(gt, empty)
    assert r2.num_frames == 0 and math.isnan(r2.mpjpe_mm) and math.isnan(r2.recall_500mm)
    json.dumps(r2.to_dict(), allow_nan=False)
    format_table(r2)


def test_to_dict_is_strict_json_and_table_mentions_every_block():
    rng = np.random.default_rng(13)
    gt_joints = make_scene(rng, T=5, P=2, spacing_m=0.5)
    pred_joints = gt_joints + rng.normal(scale=0.02, size=gt_joints.shape)
    r = evaluate(poses(pred_joints), poses(gt_joints))
    d = json.loads(json.dumps(r.to_dict(), allow_nan=False))
    assert d["pck"].keys() == {"50", "100", "150"}
    assert d["ap_percent"].keys() == {"25", "50", "75", "100", "125", "150"}
    assert d["config"]["distance_bins_m"] == [0.3, 1.0]
    assert d["distance_bins"][2]["high_m"] is None  # inf
    table = format_table(r)
    for word in ("MPJPE", "PA-MPJPE", "PCK", "AP", "PCP", "recall@500", "ID switches", "< 0.3 m", ">= 1 m"):
        assert word in table


def test_evaluate_300_frames_4_people_under_a_second():
    rng = np.random.default_rng(14)
    T, P = 300, 4
    gt_joints = make_scene(rng, T=T, P=P, spacing_m=0.6)
    pred_joints = gt_joints + rng.normal(scale=0.03, size=gt_joints.shape)
    pred, gt = poses(pred_joints, confidence=rng.uniform(size=(T, P, J))), poses(gt_joints)
    evaluate(pred, gt)  # warm-up (imports, caches)
    start = time.perf_counter()
    r = evaluate(pred, gt)
    elapsed = time.perf_counter() - start
    assert r.num_gt == T * P
    assert elapsed < 1.0, f"evaluate took {elapsed:.2f} s"
