"""Tests of the detector-noise model (closecap.synth.noise)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from closecap.cameras import Camera, Rig, ring_rig
from closecap.errors import InputError
from closecap.skeleton import COCO17
from closecap.synth.noise import (EFFECTS, JointStatus, NoiseConfig, head_top, occlusion_masks, peak_interference,
                                  per_joint, simulate_detections)

SHARED = Path(__file__).resolve().parents[1].parent / "shared"

# a standing person facing -y (towards a camera at negative y), metres, z up
_STANDING = {
    "nose": (0.0, -0.10, 1.60), "left_eye": (0.03, -0.08, 1.63), "right_eye": (-0.03, -0.08, 1.63),
    "left_ear": (0.075, 0.0, 1.60), "right_ear": (-0.075, 0.0, 1.60),
    "left_shoulder": (0.18, 0.0, 1.40), "right_shoulder": (-0.18, 0.0, 1.40),
    "left_elbow": (0.22, 0.0, 1.10), "right_elbow": (-0.22, 0.0, 1.10),
    "left_wrist": (0.24, 0.0, 0.85), "right_wrist": (-0.24, 0.0, 0.85),
    "left_hip": (0.10, 0.0, 0.90), "right_hip": (-0.10, 0.0, 0.90),
    "left_knee": (0.10, 0.0, 0.50), "right_knee": (-0.10, 0.0, 0.50),
    "left_ankle": (0.10, 0.0, 0.08), "right_ankle": (-0.10, 0.0, 0.08),
}


def standing(x: float = 0.0, y: float = 0.0) -> np.ndarray:
    """``(17, 3)`` metres."""
    return np.array([_STANDING[n] for n in COCO17.joint_names]) + np.array([x, y, 0.0])


def front_back_rig(width: int = 1032, height: int = 776) -> Rig:
    """Camera 'front' at y = -4 and 'back' at y = +4, both looking at the origin."""
    return Rig((Camera.look_at("front", [0, -4, 1.2], [0, 0, 1.0], focal_px=900.0, width=width, height=height),
                Camera.look_at("back", [0, 4, 1.2], [0, 0, 1.0], focal_px=900.0, width=width, height=height)))


def static_scene(T: int, *people: np.ndarray) -> np.ndarray:
    return np.broadcast_to(np.stack(people), (T, len(people), 17, 3)).copy()


def test_same_seed_same_output_and_different_seed_differs():
    rig = ring_rig(4, radius_m=4.0, width=800, height=600, focal_px=600.0)
    scene = static_scene(20, standing(-0.3), standing(0.3, 0.2))
    a, _ = simulate_detections(scene, rig, NoiseConfig(), np.random.default_rng(7))
    b, _ = simulate_detections(scene, rig, NoiseConfig(), np.random.default_rng(7))
    c, _ = simulate_detections(scene, rig, NoiseConfig(), np.random.default_rng(8))
    flat = lambda d: np.concatenate([k.ravel() for views in d.keypoints for k in views])  # noqa: E731
    assert np.array_equal(flat(a), flat(b))
    assert flat(a).shape != flat(c).shape or not np.array_equal(flat(a), flat(c))


def test_none_gives_exact_projections():
    rig = ring_rig(3, radius_m=4.0, width=800, height=600, focal_px=600.0)
    rng = np.random.default_rng(0)
    scene = static_scene(5, standing(-0.4), standing(0.4)) + rng.normal(0, 0.02, (5, 2, 17, 3))
    det, trace = simulate_detections(scene, rig, NoiseConfig.none(), rng, frames=range(10, 15))
    uv, _ = rig.project(scene)  # (V, T, P, J, 2)
    assert det.frames == tuple(range(10, 15))
    for t in range(5):
        for v in range(3):
            kp = det.keypoints[t][v]
            assert kp.shape == (2, 17, 3)
            np.testing.assert_allclose(kp[..., :2], uv[v, t], atol=1e-9)
            assert np.all(kp[..., 2] == 1.0)
            assert np.array_equal(trace.source_person[t][v], [0, 1])


def test_occluded_wrist_hidden_in_front_view_visible_in_back_view():
    front = standing(0.0, 0.0)
    behind = standing(0.5, 0.8)  # half hidden behind the front person, seen from the front camera
    wrist = COCO17.index("right_wrist")
    behind[wrist] = (0.0, 0.7, 1.2)  # exactly behind the front person's chest, seen from the front camera
    scene = static_scene(3, front, behind)
    rig = front_back_rig()
    other, own = occlusion_masks(scene, rig.centers_world)
    assert other[:, 0, 1, wrist].all() and not other[:, 1, 1, wrist].any()
    assert not other[:, 0, 0].any()  # nothing hides the front person from the front camera
    # dropped when occlusion-drop probability is 1
    cfg = NoiseConfig.only("occlusion", "joint_miss").replace(joint_miss_prob=(0.0,) * 17,
                                                              joint_miss_prob_occluded=(1.0,) * 17)
    det, trace = simulate_detections(scene, rig, cfg, np.random.default_rng(0))
    for t in range(3):
        kp_front = det.keypoints[t][0][trace.detection_index[t, 0, 1]]
        kp_back = det.keypoints[t][1][trace.detection_index[t, 1, 1]]
        assert kp_front[wrist, 2] == 0.0
        assert trace.joint_status[t][0][trace.detection_index[t, 0, 1], wrist] == JointStatus.MISSED
        assert kp_back[wrist, 2] > 0.0
    # down-weighted when kept
    cfg = NoiseConfig.only("occlusion").replace(occluded_score_scale=0.5)
    det, trace = simulate_detections(scene, rig, cfg, np.random.default_rng(0))
    assert det.keypoints[0][0][trace.detection_index[0, 0, 1], wrist, 2] == pytest.approx(0.5)
    assert det.keypoints[0][1][trace.detection_index[0, 1, 1], wrist, 2] == pytest.approx(1.0)


def test_occluded_joint_snaps_onto_the_occluder_when_gross_errors_certain():
    front, behind = standing(0.0, 0.0), standing(0.0, 0.8)
    wrist = COCO17.index("right_wrist")
    behind[wrist] = (-0.05, 0.7, 1.35)  # behind the front person's right shoulder
    scene = static_scene(4, front, behind)
    rig = front_back_rig()
    cfg = NoiseConfig.only("occlusion", "gross").replace(gross_prob_occluded=1.0, gross_mix_occluded=(0, 1, 0, 0),
                                                          other_person_relation=(0, 0, 1))
    det, trace = simulate_detections(scene, rig, cfg, np.random.default_rng(0))
    row = trace.detection_index[0, 0, 1]
    assert trace.joint_status[0][0][row, wrist] == JointStatus.ON_OTHER_PERSON
    p, j = trace.source_joint[0][0][row, wrist]
    assert p == 0
    np.testing.assert_allclose(det.keypoints[0][0][row, wrist, :2], trace.uv_gt_px[0, 0, 0, j], atol=1e-9)


def test_jitter_scales_with_person_size():
    rig = front_back_rig()
    near = static_scene(200, standing(0.0, 0.0))
    far = static_scene(200, standing(0.0, 0.0))
    far[..., 1] += 3.0  # 3 m further from the front camera
    cfg = NoiseConfig.only("jitter")
    det_n, tr_n = simulate_detections(near, rig, cfg, np.random.default_rng(3))
    det_f, tr_f = simulate_detections(far, rig, cfg, np.random.default_rng(3))
    size_n, size_f = tr_n.person_size_px[0, 0, 0], tr_f.person_size_px[0, 0, 0]
    assert size_n > 1.5 * size_f
    err_n = np.stack([det_n.keypoints[t][0][0, :, :2] for t in range(200)]) - tr_n.uv_gt_px[:, 0, 0]
    err_f = np.stack([det_f.keypoints[t][0][0, :, :2] for t in range(200)]) - tr_f.uv_gt_px[:, 0, 0]
    ratio = err_n.std() / err_f.std()
    assert ratio == pytest.approx(size_n / size_f, rel=0.01)
    # and its magnitude is the configured one: median radial error ~ 1.1774 sigma (per joint, heavy-tailed)
    radial = np.linalg.norm(tr_n.jitter_px, axis=-1) / tr_n.person_size_px[..., None]  # (T, V, P, J)
    expected = 1.1774 * np.asarray(cfg.jitter_sigma_frac)
    assert np.median(radial / expected) == pytest.approx(1.0, abs=0.35)
    wrist, shoulder = COCO17.index("left_wrist"), COCO17.index("left_shoulder")
    assert cfg.jitter_sigma_frac[wrist] > cfg.jitter_sigma_frac[shoulder]


def test_border_truncation_drops_outside_joints_and_mostly_outside_people():
    rig = front_back_rig(width=400, height=300)  # narrow image: the person fills it
    person = standing(0.0, 0.0)
    cfg = NoiseConfig.only("truncation")
    det, trace = simulate_detections(static_scene(1, person), rig, cfg, np.random.default_rng(0))
    inside = trace.in_image[0, 0, 0]
    assert inside.any() and not inside.all()
    kp = det.keypoints[0][0][0]
    assert np.all(kp[~inside, 2] == 0) and np.all(kp[inside, 2] == 1)
    assert np.all(trace.joint_status[0][0][0][~inside] == JointStatus.OUT_OF_IMAGE)
    # a person whose body is mostly off to the side is dropped
    det, trace = simulate_detections(static_scene(1, standing(1.6, 0.0)), rig, cfg, np.random.default_rng(0))
    assert trace.in_image[0, 0, 0].sum() < 17 / 2
    assert trace.detection_index[0, 0, 0] == -1


def test_person_mirror_swaps_every_left_right_pair_and_limb_swap_only_limbs():
    rig = front_back_rig()
    scene = static_scene(3, standing())
    uv = rig.project(scene)[0][0, 0, 0]  # (J, 2) front view
    flip = COCO17.flip_permutation
    det, trace = simulate_detections(scene, rig, NoiseConfig.none().replace(person_mirror_prob=1.0), np.random.default_rng(0))
    np.testing.assert_allclose(det.keypoints[0][0][0, :, :2], uv[flip], atol=1e-9)
    assert trace.mirrored.all()
    det, trace = simulate_detections(scene, rig, NoiseConfig.none().replace(limb_swap_prob=1.0), np.random.default_rng(0))
    kp = det.keypoints[0][0][0, :, :2]
    for a, b in (("left_elbow", "right_elbow"), ("left_wrist", "right_wrist"), ("left_knee", "right_knee"),
                 ("left_ankle", "right_ankle")):
        np.testing.assert_allclose(kp[COCO17.index(a)], uv[COCO17.index(b)], atol=1e-9)
    for name in ("left_shoulder", "left_hip", "nose", "left_ear"):
        np.testing.assert_allclose(kp[COCO17.index(name)], uv[COCO17.index(name)], atol=1e-9)
    status = trace.joint_status[0][0][0]
    assert status[COCO17.index("left_wrist")] == JointStatus.SWAP
    assert status[COCO17.index("left_shoulder")] == JointStatus.CORRECT


def test_jitter_persists_over_frames():
    rig = ring_rig(4, radius_m=4.0, width=1032, height=776, focal_px=900.0)
    scene = static_scene(300, standing())
    det, trace = simulate_detections(scene, rig, NoiseConfig(), np.random.default_rng(11))
    corr = []
    for v in range(4):
        err = np.full((300, 17, 2), np.nan)
        for t in range(300):
            row = trace.detection_index[t, v, 0]
            if row >= 0:
                ok = trace.joint_status[t][v][row] == JointStatus.CORRECT
                err[t, ok] = det.keypoints[t][v][row, ok, :2] - trace.uv_gt_px[t, v, 0, ok]
        for j in range(17):
            for k in range(2):
                a, b = err[:-1, j, k], err[1:, j, k]
                both = np.isfinite(a) & np.isfinite(b)
                if both.sum() > 50:
                    corr.append(np.corrcoef(a[both], b[both])[0, 1])
    assert len(corr) > 40
    assert np.mean(corr) > 0.5


def test_correct_joints_are_ground_truth_plus_jitter_and_bookkeeping_is_consistent():
    path = SHARED / "mocap" / "pair_cmu_60_61_01.npz"
    if not path.exists():
        pytest.skip("../shared/mocap is absent")
    joints = np.moveaxis(np.load(path)["coco17"].astype(float), 0, 1)[300:330]  # (T, 2, 17, 3), close contact
    joints[..., :2] -= np.nanmean(joints[..., :2], axis=(0, 1, 2))
    rig = ring_rig(5, radius_m=4.0, width=1032, height=776, focal_px=1000.0)
    det, trace = simulate_detections(joints, rig, NoiseConfig.occlusion_heavy(), np.random.default_rng(5))
    seen = set()
    for t in range(det.num_frames):
        for v in range(5):
            kp, src = det.keypoints[t][v], trace.source_person[t][v]
            status, sj = trace.joint_status[t][v], trace.source_joint[t][v]
            assert len(src) == len(kp) == len(status)
            seen.update(np.unique(status).tolist())
            assert np.all((kp[..., 2] > 0) == ((status >= JointStatus.CORRECT)))
            rows, joints_ok = np.nonzero(status == JointStatus.CORRECT)
            p = src[rows]
            np.testing.assert_array_equal(sj[rows, joints_ok, 0], p)
            expected = (trace.uv_gt_px[t, v, p, joints_ok] + trace.pull_px[t, v, p, joints_ok]
                        + trace.jitter_px[t, v, p, joints_ok])
            np.testing.assert_allclose(kp[rows, joints_ok, :2], expected, atol=1e-9)
            for person in range(2):
                row = trace.detection_index[t, v, person]
                if row >= 0:
                    assert src[row] == person
    assert {JointStatus.CORRECT, JointStatus.MISSED} <= seen
    assert trace.occluded.any()


def test_config_round_trip_only_and_presets():
    cfg = NoiseConfig()
    assert NoiseConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(InputError):
        NoiseConfig.only("teleport")
    with pytest.raises(InputError):
        NoiseConfig(jitter_sigma_frac=(0.1,) * 3)
    for effect in EFFECTS:
        assert NoiseConfig.only(effect) != NoiseConfig.none() or effect == "shuffle"
    g = NoiseConfig.gaussian(3.0)
    assert g.jitter_sigma_px == 3.0 and g.jitter_scale == 0.0 and g.drop_out_of_image
    assert NoiseConfig.occlusion_heavy().joint_miss_prob_occluded[0] > cfg.joint_miss_prob_occluded[0]


def test_gaussian_preset_noise_has_the_requested_sigma():
    rig = front_back_rig()
    det, trace = simulate_detections(static_scene(400, standing()), rig, NoiseConfig.gaussian(2.0), np.random.default_rng(1))
    err = np.stack([det.keypoints[t][0][0, :, :2] for t in range(400)]) - trace.uv_gt_px[:, 0, 0]
    assert err.std() == pytest.approx(2.0, rel=0.05)


def test_defaults_match_stats_json():
    path = SHARED / "detector-noise" / "stats.json"
    if not path.exists():
        pytest.skip("../shared/detector-noise is absent")
    stats = json.loads(path.read_text())
    recipe = stats["synthesis_recipe"]
    cfg = NoiseConfig()
    groups = ("head", "shoulders", "elbows", "wrists", "hips", "knees", "ankles")
    assert cfg.jitter_sigma_frac == per_joint({g: recipe["jitter_sigma_frac_of_person_size"][g] for g in groups})
    assert cfg.joint_miss_prob == per_joint({g: recipe["joint_miss_prob"][g]["not_occluded"] for g in groups})
    assert cfg.joint_miss_prob_occluded == per_joint({g: recipe["joint_miss_prob"][g]["occluded_by_nearer_person"] for g in groups})
    assert cfg.gross_prob == per_joint({g: recipe["gross_error_prob"][g] for g in groups})
    assert cfg.joint_miss_persist == recipe["missing_joint_markov"]["p_miss_to_miss"]
    assert cfg.gross_persist == recipe["gross_error_markov"]["p_gross_to_gross"]
    fpp = stats["openpose_body25_shelf"]["false_positives"]["people"]
    assert cfg.false_people_per_view == pytest.approx(
        fpp["false_positive_people_per_view_frame"] + fpp["fragment_or_duplicate_people_per_view_frame"], abs=1e-5)
    assert cfg.person_miss_prob == tuple(v["miss_rate"] for v in recipe["person_miss_prob"].values())
    conf = stats["openpose_body25_shelf"]["confidence"]["person_level_joints"]["correct"]
    assert cfg.score_correct[1:6] == tuple(conf[k] for k in ("p10", "p25", "p50", "p75", "p90"))


def test_bad_input_is_reported():
    rig = front_back_rig()
    with pytest.raises(InputError):
        simulate_detections(np.zeros((3, 1, 14, 3)), rig, NoiseConfig(), np.random.default_rng(0))
    with pytest.raises(InputError):
        simulate_detections(np.zeros((3, 1, 17, 3)), rig, NoiseConfig(), np.random.default_rng(0), frames=[1, 2])


def test_absent_people_and_joints_are_handled():
    rig = front_back_rig()
    scene = static_scene(6, standing(-0.4), standing(0.4))
    scene[:3, 1] = np.nan  # person 1 absent in the first frames
    scene[:, 0, COCO17.index("left_wrist")] = np.nan
    det, trace = simulate_detections(scene, rig, NoiseConfig(), np.random.default_rng(2))
    assert np.all(trace.detection_index[:3, :, 1] == -1)
    for t in range(6):
        for v in range(2):
            row = trace.detection_index[t, v, 0]
            if row >= 0:
                assert trace.joint_status[t][v][row, COCO17.index("left_wrist")] in (JointStatus.ABSENT, JointStatus.MERGED)


# ----------------------------------------------------------------------------- fast paths: same results as before


def _three_people_close_contact() -> np.ndarray | None:
    path = SHARED / "mocap" / "pair_cmu_60_61_01.npz"
    if not path.exists():
        return None
    joints = np.moveaxis(np.load(path)["coco17"].astype(float), 0, 1)[300:340]  # (40, 2, 17, 3)
    joints[..., :2] -= np.nanmean(joints[..., :2], axis=(0, 1, 2))
    third = joints[:, :1].copy()
    third[..., 0] += 0.6
    return np.concatenate([joints, third], 1)  # (40, 3, 17, 3)


@pytest.mark.parametrize("preset", ["default", "occlusion_heavy"])
def test_fast_paths_reproduce_the_previous_implementation_bit_for_bit(preset):
    """Pinned outputs of commit 0efb857 (before the pair-distance, Markov-scan, false-person and output-loop
    rewrites): same seed, same detections, same bookkeeping. Occlusion is off here because its head-sphere
    test was fixed since (the pruned occlusion test is checked against brute force below); the jitter size and the
    peak interference are set to that commit's model (bbox-scaled jitter, no interference), and so are the gross rate
    by the person's occluded fraction and merges of people without occluded joints: they draw no random numbers, so
    everything else must be unchanged."""
    joints = _three_people_close_contact()
    if joints is None:
        pytest.skip("../shared/mocap is absent")
    rig = ring_rig(5, radius_m=4.0, width=1032, height=776, focal_px=1000.0)
    cfg = (NoiseConfig() if preset == "default" else NoiseConfig.occlusion_heavy()).replace(
        occlusion=False, jitter_body_scale=False, heatmap_sigma_frac=0.0, gross_person_occlusion_scale=(1.0,) * 4,
        merge_needs_occlusion=False)
    det, tr = simulate_detections(joints, rig, cfg, np.random.default_rng(123))
    kp = np.concatenate([k.reshape(-1, 3) for views in det.keypoints for k in views])
    status = np.concatenate([s.ravel() for views in tr.joint_status for s in views])
    expected = {
        "default": (8871305.850853674, 7056.361134041803, 10897, [681, 0, 680, 8846, 18, 45, 16, 19, 134, 458], 26, 77),
        "occlusion_heavy": (8889378.742503863, 7057.05726177904, 10897, [681, 0, 661, 8763, 18, 43, 15, 19, 239, 458],
                            26, 148),
    }[preset]
    got = (float(kp[:, :2].sum()), float(kp[:, 2].sum()), len(kp), np.bincount(status, minlength=10).tolist(),
           int(tr.person_missed.sum()), int((tr.merged_with >= 0).sum()))
    assert got[0] == pytest.approx(expected[0], rel=1e-12) and got[1] == pytest.approx(expected[1], rel=1e-12)
    assert got[2:] == expected[2:]


def test_head_sphere_hides_what_is_behind_it():
    """The head is a sphere (a zero-length capsule): it must occlude too (it did not before 0efb857's fix)."""
    front, behind = standing(0.0, 0.0), standing(0.0, 0.8)
    nose = COCO17.index("nose")
    behind[nose] = (0.0, 0.7, 1.60)  # right behind the front person's head, seen from the front camera
    other, _ = occlusion_masks(static_scene(2, front, behind), front_back_rig().centers_world)
    assert other[:, 0, 1, nose].all() and not other[:, 1, 1, nose].any()


def _occlusion_brute_force(joints, centers, radius_scale=1.0, margin_m=0.03):
    """Every camera-to-joint segment against every capsule with closecap.synth.scenes.segment_distance."""
    from closecap.synth.noise import _capsule_tables
    from closecap.synth.scenes import segment_distance

    A, B, radius, adjacent = _capsule_tables()
    T, P, J, _ = joints.shape
    present = np.isfinite(joints).all(-1)
    pts = np.where(present[..., None], joints, 0.0)
    cap_a, cap_b = np.einsum("cj,tpjk->tpck", A, pts), np.einsum("cj,tpjk->tpck", B, pts)  # (T, P, C, 3)
    cap_ok = np.einsum("cj,tpj->tpc", ((A != 0) | (B != 0)).astype(float), (~present).astype(float)) == 0
    ray = pts[:, None] - centers[None, :, None, None]  # (T, V, P, J, 3)
    length = np.linalg.norm(ray, axis=-1, keepdims=True)
    end = centers[None, :, None, None] + ray * np.clip(1 - margin_m / length, 0, None)
    dist = segment_distance(np.broadcast_to(centers[None, :, None, None, None, None], end.shape[:4] + (1, 1, 3)),
                            end[..., None, None, :], cap_a[:, None, None, None], cap_b[:, None, None, None])  # (T,V,P,J,P2,C)
    radius_m = radius * radius_scale
    hit = (dist < radius_m) & cap_ok[:, None, None, None] & present[:, None, :, :, None, None]
    same = np.eye(P, dtype=bool)[:, None, :, None]
    hit &= ~(same & adjacent[None, :, None, :])[None, None]
    near_boundary = np.abs(dist - radius_m) < 1e-9
    return (hit & ~same[None, None]).any((-2, -1)), (hit & same[None, None]).any((-2, -1)), near_boundary.any((-2, -1))


def test_pruned_occlusion_test_equals_brute_force_on_random_crowds():
    rng = np.random.default_rng(4)
    centers = ring_rig(5, radius_m=4.0, width=640, height=480, focal_px=500.0).centers_world
    for trial in range(6):
        P = 2 + trial % 3
        people = np.stack([standing(*rng.uniform(-0.6, 0.6, 2)) for _ in range(P)])  # (P, J, 3)
        joints = people[None] + rng.normal(0, 0.08, (8, P, 17, 3))  # (T, P, J, 3) jittered poses, overlapping
        joints[rng.random((8, P, 17)) < 0.03] = np.nan
        scale = 1.0 + 0.3 * (trial % 2)
        other, own = occlusion_masks(joints, centers, radius_scale=scale, frames_per_chunk=3)
        ref_other, ref_own, tie = _occlusion_brute_force(joints, centers, radius_scale=scale)
        assert other.any() and own.any()
        np.testing.assert_array_equal(other[~tie], ref_other[~tie])
        np.testing.assert_array_equal(own[~tie], ref_own[~tie])


def test_markov_chains_drawn_all_frames_at_once_equal_the_frame_by_frame_chain():
    from closecap.synth.noise import _entry_and_stay, _markov

    rng = np.random.default_rng(0)
    for T in (1, 2, 7, 33):
        pi = rng.choice([0.0, 0.01, 0.3, 0.7, 0.95, 1.0], size=(T, 6, 5))  # incl. entry > stay and always-on
        for p_stay in (0.0, 0.5, 0.88):
            u = rng.random((T, 6, 5))
            enter, stay = _entry_and_stay(pi, p_stay)
            stay = np.where(pi > 0, stay, 0.0)
            state = u[0] < pi[0]
            expected = [state]
            for t in range(1, T):
                state = u[t] < np.where(state, stay[t], enter[t])
                expected.append(state)
            np.testing.assert_array_equal(_markov(pi, p_stay, u), np.stack(expected))


def test_same_seed_same_trace_and_heatmaps():
    from closecap.heatmaps import HeatmapRenderer

    rig = ring_rig(3, radius_m=4.0, width=640, height=480, focal_px=500.0)
    scene = static_scene(10, standing(-0.2), standing(0.2, 0.1), standing(0.0, -0.3))
    runs = [simulate_detections(scene, rig, NoiseConfig(), np.random.default_rng(21)) for _ in range(2)]
    for name in ("occluded", "self_occluded", "jitter_px", "person_missed", "merged_with", "detection_index"):
        np.testing.assert_array_equal(getattr(runs[0][1], name), getattr(runs[1][1], name))
    renderer = HeatmapRenderer(3, 17, (640, 480))
    first = [renderer.render(runs[0][0].keypoints[t]).copy() for t in range(10)]
    for t in range(10):
        np.testing.assert_array_equal(renderer.render(runs[1][0].keypoints[t]), first[t])


def test_body_scaled_jitter_ignores_the_pose_spread():
    rig = front_back_rig()
    down = standing()
    spread = standing()
    for side, sign in (("left", 1.0), ("right", -1.0)):
        spread[COCO17.index(f"{side}_elbow")] = (sign * 0.50, 0.0, 1.40)
        spread[COCO17.index(f"{side}_wrist")] = (sign * 0.80, 0.0, 1.40)
    jitter = {}
    for body in (False, True):
        cfg = NoiseConfig.only("jitter").replace(jitter_body_scale=body)
        for name, person in (("down", down), ("spread", spread)):
            _, trace = simulate_detections(static_scene(5, person), rig, cfg, np.random.default_rng(9))
            jitter[body, name] = trace.jitter_px
    np.testing.assert_allclose(jitter[True, "down"], jitter[True, "spread"], rtol=0.01)  # same body and distance
    assert np.abs(jitter[False, "spread"]).mean() > 1.2 * np.abs(jitter[False, "down"]).mean()  # bbox: spread arms, more


# ----------------------------------------------------------------------------- peak interference


def three_view_rig() -> Rig:
    """:func:`front_back_rig` and a camera looking down from above: people side by side along x never overlap."""
    top = Camera.look_at("top", [0, -1.5, 5.0], [0, 0, 1.0], focal_px=900.0, width=1032, height=776)
    return Rig(front_back_rig().cameras + (top,))


def _two_wrists(offset_m: np.ndarray) -> np.ndarray:
    """``(3, 2, 17, 3)``: person 0 standing at the origin, person 1 0.5 m to its left whose right wrist is moved to
    person 0's right wrist + ``offset_m``."""
    first, second = standing(0.0, 0.0), standing(0.5, 0.0)
    wrist = COCO17.index("right_wrist")
    second[wrist] = first[wrist] + offset_m
    return static_scene(3, first, second)


def test_wrists_1cm_apart_merge_into_one_peak_in_every_view():
    """Two people's same-type joints 1 cm apart in 3D are near in every image: one heatmap peak, half way, that one
    person keeps (the other loses the joint), in every view at once: triangulation cannot outvote it."""
    rig = three_view_rig()
    wrist = COCO17.index("right_wrist")
    det, trace = simulate_detections(_two_wrists(np.array([0.01, 0.0, 0.0])), rig, NoiseConfig.only("peak_interference"),
                                     np.random.default_rng(0))
    for v in range(len(rig)):
        lost = trace.peak_lost[0, v, :, wrist]
        assert lost.sum() == 1  # one peak for two wrists
        keeper = int(np.flatnonzero(~lost)[0])
        row = trace.detection_index[0, v, keeper]
        midpoint = trace.uv_gt_px[0, v, :, wrist].mean(0)
        np.testing.assert_allclose(det.keypoints[0][v][row, wrist, :2], midpoint, atol=0.05)
        lost_row = trace.detection_index[0, v, 1 - keeper]
        assert det.keypoints[0][v][lost_row, wrist, 2] == 0  # reported missing
        assert trace.joint_status[0][v][lost_row, wrist] == JointStatus.MISSED
    # every other joint is untouched
    other = np.ones(17, dtype=bool)
    other[wrist] = False
    assert not trace.peak_lost[..., other].any() and not np.any(trace.pull_px[..., other, :])


def test_wrists_near_are_pulled_together_and_far_are_untouched():
    rig = three_view_rig()
    wrist = COCO17.index("right_wrist")
    cfg = NoiseConfig.only("peak_interference", "scores")  # unequal amplitudes (scores): two peaks, both pulled
    _, near = simulate_detections(_two_wrists(np.array([0.0, 0.0, 0.13])), rig, cfg, np.random.default_rng(1))
    gap = near.uv_gt_px[:, :, 1, wrist] - near.uv_gt_px[:, :, 0, wrist]  # (T, V, 2) from person 0 to person 1
    size = np.linalg.norm(gap, axis=-1)
    towards0 = np.einsum("tvk,tvk->tv", near.pull_px[:, :, 0, wrist], gap) / size
    towards1 = -np.einsum("tvk,tvk->tv", near.pull_px[:, :, 1, wrist], gap) / size
    kept = ~near.peak_lost[:, :, :, wrist]  # a lost peak has no pull of its own
    assert np.all((towards0 > 0.5) | ~kept[..., 0]) and np.all((towards1 > 0.5) | ~kept[..., 1])  # px, every view
    assert np.all(towards0 < size) and np.all(towards1 < size)  # never past the other wrist
    _, far = simulate_detections(_two_wrists(np.array([0.0, 0.0, 1.0])), rig, cfg, np.random.default_rng(1))
    assert not np.any(far.pull_px) and not far.peak_lost.any()
    # switched off: nothing
    _, off = simulate_detections(_two_wrists(np.array([0.01, 0.0, 0.0])), rig, NoiseConfig.none(), np.random.default_rng(1))
    assert not np.any(off.pull_px) and not off.peak_lost.any()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(-30, 30), st.floats(-30, 30), st.floats(0.2, 1.0), st.floats(6.0, 14.0)),
                min_size=2, max_size=4))
def test_interfered_peak_is_a_maximum_of_the_summed_heatmap(blobs):
    """The peak returned for each blob is a stationary point of the sum of Gaussians, no lower than the heatmap at
    the blob's own centre (ascent from it)."""
    centres = np.array([[b[:2]] for b in blobs])  # (P, 1, 2)
    amplitude = np.array([[b[2]] for b in blobs])  # (P, 1)
    sigma = np.array([b[3] for b in blobs])  # (P,)
    pull, _ = peak_interference(centres, amplitude, sigma, iterations=400)

    def heat(x):  # (2,) -> value, gradient
        r = x - centres[:, 0]
        e = amplitude[:, 0] * np.exp(-0.5 * (r * r).sum(-1) / sigma**2)
        return e.sum(), -(e[:, None] * r / sigma[:, None] ** 2).sum(0)

    for p in range(len(blobs)):
        peak = centres[p, 0] + pull[p, 0]
        value, grad = heat(peak)
        assert value >= heat(centres[p, 0])[0] - 1e-9
        reach = (np.linalg.norm(centres[:, 0] - centres[p, 0], axis=-1) < 3.0 * np.maximum(sigma, sigma[p])).sum() > 1
        if reach:  # interacting: at a maximum (gradient ~ 0 relative to the blob's scale)
            assert np.linalg.norm(grad) < 1e-3 * value / sigma.min()
        else:
            assert not pull[p].any()


def test_head_top_and_pose_independent_size():
    """The top of head extends the shoulder-ear line (stats.json's person size includes it); the jitter's size does
    not shrink when the arms come in (``jitter_body_scale``, the default) and is ~ the README size of a standing pose."""
    person = standing()
    np.testing.assert_allclose(head_top(person), [0.0, 0.0, 1.40 + 1.6 * 0.20], atol=1e-12)
    rig = front_back_rig()
    _, trace = simulate_detections(static_scene(400, person), rig, NoiseConfig.only("jitter"), np.random.default_rng(4))
    uv, _ = rig.project(np.concatenate([person, head_top(person)[None]]))  # (V, 18, 2)
    readme_size = np.linalg.norm(uv.max(-2) - uv.min(-2), axis=-1)  # (V,)
    radial = np.linalg.norm(trace.jitter_px[:, :, 0], axis=-1)  # (T, V, J)
    sigma = np.asarray(NoiseConfig().jitter_sigma_frac)
    implied = np.median(radial / (1.1774 * sigma), axis=(0, 2))  # (V,) the size the jitter was scaled by, px
    np.testing.assert_allclose(implied, readme_size, rtol=0.15)
    with pytest.raises(InputError, match="heatmap_sigma_frac"):
        NoiseConfig(heatmap_sigma_frac=-0.1)


# ----------------------------------------------------------------------------- contact: person-level occlusion


def _gross_rows(det, trace, person: int, joints: np.ndarray, views=None) -> np.ndarray:
    """``(n, len(joints))`` bool per view-frame where the person is detected: its detected joint is a gross error."""
    out = []
    for t in range(det.num_frames):
        for v in range(det.num_views) if views is None else views:
            row = trace.detection_index[t, v, person]
            if row >= 0:
                status = trace.joint_status[t][v][row, joints]
                out.append(np.isin(status, [int(c) for c in (JointStatus.SWAP, JointStatus.ON_OTHER_PERSON,
                                                             JointStatus.ON_OWN_OTHER_JOINT, JointStatus.ELSEWHERE)]))
    return np.concatenate(out)


def test_visible_joints_of_a_partly_hidden_person_err_more():
    """stats.json: the gross rate of a person's detected joints rises with the fraction of its joints hidden behind
    another person (0.0077 at none hidden, 0.079 at a quarter to a half), its visible joints included. The person
    behind (partly hidden from the front camera) gets gross errors on its *visible* joints there at the scaled rate,
    and none from the back camera (where nothing hides it) when that bin's scale is 0."""
    front, behind = standing(0.0, 0.0), standing(0.3, 0.8)
    scene = static_scene(400, front, behind)
    rig = front_back_rig()
    other, _ = occlusion_masks(scene[:1], rig.centers_world)
    hidden = other[0, 0, 1]  # (J,) hidden from the front camera
    frac = hidden.sum() / 17
    assert 0.0 < frac <= 0.5 and not other[0, 1, 1].any()
    visible = np.flatnonzero(~hidden)
    b = 1 if frac <= 0.25 else 2
    scale = [0.0, 0.0, 0.0, 0.0]
    scale[b] = 20.0
    cfg = NoiseConfig.only("occlusion", "gross").replace(gross_person_occlusion_scale=tuple(scale), gross_persist=0.0)
    det, trace = simulate_detections(scene, rig, cfg, np.random.default_rng(3))
    front_view = _gross_rows(det, trace, 1, visible, views=[0])
    back_view = _gross_rows(det, trace, 1, visible, views=[1])
    expected = float(np.mean(np.minimum(np.asarray(cfg.gross_prob)[visible] * cfg.gross_not_occluded_scale * 20.0, 1)))
    assert not back_view.any()
    assert abs(front_view.mean() - expected) < 0.25 * expected  # errors where the person is partly hidden only
    assert not _gross_rows(det, trace, 0, np.arange(17), views=[0]).any()  # nothing hides the front person there


def test_merges_need_a_partly_hidden_person():
    """Side by side (joints close in the image, nothing hidden) people are not merged unless
    ``merge_needs_occlusion=False``; one behind the other is."""
    rig = front_back_rig()
    side = static_scene(200, standing(-0.3), standing(0.3))  # hands 12 cm apart, nothing hidden
    assert not occlusion_masks(side[:1], rig.centers_world)[0].any()
    for needs, expect in ((True, False), (False, True)):
        cfg = NoiseConfig.only("occlusion", "merge").replace(merge_prob=0.5, merge_needs_occlusion=needs)
        _, trace = simulate_detections(side, rig, cfg, np.random.default_rng(0))
        assert bool((trace.merged_with >= 0).any()) == expect
    behind = static_scene(200, standing(0.0, 0.0), standing(0.3, 0.8))
    cfg = NoiseConfig.only("occlusion", "merge").replace(merge_prob=0.5)
    _, trace = simulate_detections(behind, rig, cfg, np.random.default_rng(0))
    hidden = occlusion_masks(behind[:1], rig.centers_world)[0][0].any(-1)  # (V, P) has a joint hidden
    assert hidden[0, 1] and not hidden[0, 0] and not hidden[1, 1]
    assert (trace.merged_with[:, 0, 1] == 0).any()  # the person behind, in the front view
    assert not (trace.merged_with[:, 0, 0] >= 0).any() and not (trace.merged_with[:, 1, 1] >= 0).any()
