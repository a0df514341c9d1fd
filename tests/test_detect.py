"""closecap.detect (BlazePose decoding, crops, COCO-17 mapping) and closecap.video_pipeline (videos -> 3D, cache)."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from closecap.detect import (BLAZEPOSE33, BLAZEPOSE_TO_COCO17, Detector, box_iou, crop_to_image_affine,
                             decode_person_detections, keypoint_boxes, remove_duplicates, rois_from_alignment,
                             ssd_anchors, weighted_nms)
from closecap.skeleton import COCO17

REAL = Path(__file__).resolve().parents[1].parent / "shared" / "real" / "pose2sim-demo-multiperson"


# ----------------------------------------------------------------------------- pure parts


def test_anchors_match_mediapipe_layout():
    anchors = ssd_anchors()
    assert anchors.shape == (2254, 2) == (28 * 28 * 2 + 14 * 14 * 2 + 7 * 7 * 6, 2)
    # first layer: cell (row 0, col 1) holds anchors 2 and 3; last: 6 anchors in the bottom-right 7x7 cell
    assert np.allclose(anchors[2], [1.5 / 28, 0.5 / 28]) and np.allclose(anchors[-6:], 6.5 / 7)
    assert np.all((anchors > 0) & (anchors < 1))


def test_decode_puts_boxes_and_keypoints_at_anchor_offsets():
    anchors = ssd_anchors()
    raw = np.zeros((2254, 12))
    logits = np.full(2254, -10.0)
    raw[100] = [22.4, -11.2, 44.8, 89.6, 0, 0, 0, -22.4, 0, 0, 0, 0]  # offsets in 224-pixel units
    logits[100] = 2.0
    boxes, kps, scores = decode_person_detections(raw, logits, anchors, 0.5)
    centre = anchors[100] + [0.1, -0.05]
    assert np.allclose(boxes, [[centre[0] - 0.1, centre[1] - 0.2, centre[0] + 0.1, centre[1] + 0.2]])
    assert np.allclose(kps[0, 0], anchors[100]) and np.allclose(kps[0, 1], anchors[100] + [0, -0.1])
    assert np.allclose(scores, 1 / (1 + np.exp(-2.0)))


def test_weighted_nms_merges_overlaps_and_keeps_separate_people():
    boxes = np.array([[0, 0, 1, 2.], [0.05, 0, 1.05, 2], [3, 0, 4, 2], [3, 0, 4, 2.1]])
    kps = boxes[:, None, :2].copy()
    out_boxes, out_kps, out_scores = weighted_nms(boxes, kps, np.array([0.9, 0.3, 0.6, 0.6]), 0.3, 10)
    assert len(out_boxes) == 2 and out_scores.tolist() == [0.9, 0.6]
    assert np.allclose(out_boxes[0], 0.75 * boxes[0] + 0.25 * boxes[1])  # score-weighted mean
    assert np.allclose(box_iou(out_boxes[1], boxes[2:3]), 0.9762, atol=1e-3)
    assert len(weighted_nms(boxes, kps, np.array([0.9, 0.3, 0.6, 0.6]), 0.3, 1)[0]) == 1


@given(st.floats(50, 2000), st.floats(50, 2000), st.floats(20, 3000), st.floats(-np.pi, np.pi))
@settings(max_examples=60, deadline=None)
def test_crop_affine_is_a_similarity_centred_on_the_roi(cx, cy, side, rotation):
    M = crop_to_image_affine(np.array([[cx, cy, side, rotation]]))[0]
    corners = np.array([[-0.5, -0.5], [255.5, -0.5], [255.5, 255.5], [-0.5, 255.5]])  # outer edges of the crop
    uv = corners @ M[:, :2].T + M[:, 2]
    assert np.allclose(uv.mean(0), [cx, cy])
    sides = np.linalg.norm(np.roll(uv, -1, 0) - uv, axis=1)
    assert np.allclose(sides, side)
    up = uv[0] - uv[3]  # crop "up" (top-left minus bottom-left) in the image
    expected = side * np.array([np.sin(rotation), -np.cos(rotation)])
    assert np.allclose(up, expected, atol=1e-6 * side)


@given(st.floats(-np.pi + 0.01, np.pi - 0.01), st.floats(10, 500))
@settings(max_examples=40, deadline=None)
def test_roi_rotation_turns_hip_to_scale_point_upright(angle, radius):
    hip = np.array([[400.0, 300.0]])
    scale_point = hip + radius * np.array([[np.sin(angle), -np.cos(angle)]])  # angle 0 = straight up on screen
    roi = rois_from_alignment(hip, scale_point, 1.25)[0]
    assert np.allclose(roi[:2], hip[0]) and np.isclose(roi[2], 2.5 * radius)
    assert np.isclose(np.cos(roi[3] - angle), 1.0)


def test_coco17_mapping_uses_same_named_landmarks():
    assert BLAZEPOSE_TO_COCO17.shape == (17,) and len(BLAZEPOSE33) == 33
    for coco_name, index in zip(COCO17.joint_names, BLAZEPOSE_TO_COCO17):
        assert BLAZEPOSE33[index] == coco_name
    assert BLAZEPOSE33[BLAZEPOSE_TO_COCO17[COCO17.index("left_eye")]] == "left_eye"  # the centre, not inner / outer


def test_duplicates_and_hint_boxes():
    rng = np.random.default_rng(3)
    a = np.concatenate([rng.uniform(100, 300, (17, 2)), np.full((17, 1), 0.9)], -1)
    near = a + [3.0, -2.0, -0.2]
    other = a + [250.0, 0.0, 0.0]
    assert remove_duplicates(np.stack([near, a, other]), 0.1).tolist() == [1, 2]
    boxes = keypoint_boxes(np.stack([a, np.zeros((17, 3))]))
    assert boxes.shape == (1, 4) and np.allclose(boxes[0], [*a[:, :2].min(0), *a[:, :2].max(0)])


# ----------------------------------------------------------------------------- video pipeline with a stand-in detector


class ProjectingDetector:
    """Returns the exact projections of known 3D people; the image says which view and frame it is."""

    def __init__(self, uv_px):
        self.uv_px = uv_px  # (V, T, P, J, 2)
        self.calls = 0
        self.hints = []

    def detect(self, image_bgr, crops_hint=None):
        self.calls += 1
        self.hints.append(None if crops_hint is None else np.asarray(crops_hint).shape)
        v, t = int(image_bgr[0, 0, 0]) // 10, int(image_bgr[0, 0, 1]) // 10
        uv = self.uv_px[v, t]  # (P, J, 2)
        return np.concatenate([uv, np.ones(uv.shape[:-1] + (1,))], -1)


def test_reconstruct_videos_end_to_end_and_cache(tmp_path):
    from closecap.cameras import ring_rig
    from closecap.io.calibration import save_rig
    from closecap.io.keypoints import read_poses
    from closecap.video_pipeline import cache_folder, reconstruct_videos

    rig = ring_rig(3, radius_m=4.0, height_m=2.0, target_world=(0, 0, 1), focal_px=400, width=320, height=240)
    save_rig(rig, tmp_path / "calib.json")
    T = 8
    rng = np.random.default_rng(0)
    base = rng.normal(scale=0.25, size=(2, 17, 3)) + [[[-0.5, 0, 1]], [[0.5, 0, 1]]]
    people = base[None] + np.linspace(0, 0.1, T)[:, None, None, None] * [1, 0, 0]  # (T, P, J, 3)
    uv, _ = rig.project(people)  # (V, T, P, J, 2)
    videos = tmp_path / "videos"
    for v, name in enumerate(rig.names):
        folder = videos / name.upper().replace("CAM", "Cam-")  # spelled differently: Cam-00 for cam00
        folder.mkdir(parents=True)
        for t in range(T):
            image = np.zeros((240, 320, 3), np.uint8)
            image[0, 0] = (10 * v, 10 * t, 0)
            cv2.imwrite(str(folder / f"{t}.png"), image)
    detector = ProjectingDetector(uv)
    assert isinstance(detector, Detector)
    out = tmp_path / "out" / "pred.json"
    poses = reconstruct_videos(tmp_path / "calib.json", videos, out, detector=detector, progress=False, fps=30.0)
    assert detector.calls == 3 * T
    assert detector.hints[0] is None and detector.hints[-1] == (2, 4)  # previous-frame boxes passed as hints
    assert poses.num_frames == T and poses.num_people == 2
    order = np.argsort(poses.joints[0, :, 0, 0])
    assert np.abs(poses.joints[:, order] - people).max() < 0.02  # exact detections -> near-exact 3D
    assert read_poses(out).num_people == 2
    config = json.loads((tmp_path / "out" / "pred.config.json").read_text())
    assert config["cameras"] == list(rig.names) and config["fps"] == 30.0
    manifest = json.loads((cache_folder(out) / "cache.json").read_text())
    assert manifest["num_frames"] == T and manifest["sources"] == ["Cam-00", "Cam-01", "Cam-02"]
    # rerun: detections come from the cache
    again = ProjectingDetector(uv)
    poses2 = reconstruct_videos(tmp_path / "calib.json", videos, out, detector=again, progress=False, fps=30.0)
    assert again.calls == 0 and np.allclose(poses2.joints, poses.joints, equal_nan=True)
    # a different frame count invalidates the cache
    from closecap.video_pipeline import VideoConfig

    third = ProjectingDetector(uv)
    poses3 = reconstruct_videos(tmp_path / "calib.json", videos, out, detector=third, progress=False, fps=30.0,
                                video=VideoConfig(max_frames=6))
    assert third.calls == 3 * 6 and poses3.num_frames == 6


def test_missing_camera_video_is_an_input_error(tmp_path):
    from closecap.cameras import ring_rig
    from closecap.errors import InputError
    from closecap.io.calibration import save_rig
    from closecap.video_pipeline import reconstruct_videos

    save_rig(ring_rig(2), tmp_path / "calib.json")
    (tmp_path / "videos").mkdir()
    with pytest.raises(InputError, match="cam00: no video file"):
        reconstruct_videos(tmp_path / "calib.json", tmp_path / "videos", tmp_path / "p.json",
                           detector=ProjectingDetector(None), progress=False)
    with pytest.raises(InputError, match="must end in"):
        reconstruct_videos(tmp_path / "calib.json", tmp_path / "videos", tmp_path / "p.txt", progress=False)


# ----------------------------------------------------------------------------- the real detector on a real frame


@pytest.fixture(scope="module")
def real_frame():
    pytest.importorskip("ai_edge_litert")
    from closecap.detect import model_paths
    from closecap.errors import CloseCapError

    try:
        model_paths()
    except CloseCapError:
        pytest.skip("mediapipe==0.10.14 (BlazePose models) not installed")
    video = REAL / "videos" / "cam02.mp4"
    if not video.is_file():
        pytest.skip("../shared/real missing")
    capture = cv2.VideoCapture(str(video))
    for _ in range(30):
        ok, image = capture.read()
    capture.release()
    assert ok
    return image


def test_blazepose_finds_both_people_on_a_real_frame(real_frame):
    from closecap.detect import BlazePoseDetector

    detector = BlazePoseDetector()
    result = detector.detect_full(real_frame, heatmaps=True)
    keypoints = result.keypoints
    H, W = real_frame.shape[:2]
    assert keypoints.shape[1:] == (17, 3) and result.landmarks.shape[1:] == (33, 3)
    assert result.heatmaps.shape[1:] == (33, 64, 64)
    confident = keypoints[..., 2] > 0.5
    people = keypoints[confident.sum(-1) >= 10]
    assert len(people) == 2
    for person in people:
        ok = person[:, 2] > 0.5
        assert np.all((person[ok, 0] >= 0) & (person[ok, 0] < W) & (person[ok, 1] >= 0) & (person[ok, 1] < H))
        shoulders = person[COCO17.indices(["left_shoulder", "right_shoulder"]), 1].mean()
        hips = person[COCO17.indices(["left_hip", "right_hip"]), 1].mean()
        ankles = person[COCO17.indices(["left_ankle", "right_ankle"]), 1].mean()
        assert person[COCO17.index("nose"), 1] < shoulders < hips < ankles  # upright people, image v grows down
    centres = people[:, :, :2].mean(1)
    assert np.linalg.norm(centres[0] - centres[1]) > 100  # two different people
    # hints: the same people found again from their own boxes
    again = detector.detect(real_frame, keypoint_boxes(people))
    assert len(again[(again[..., 2] > 0.5).sum(-1) >= 10]) == 2
