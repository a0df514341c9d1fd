"""Optional built-in 2D detector: MediaPipe BlazePose (full) run offline, several people per image.

Needs the optional packages ``mediapipe==0.10.14`` (only for the two ``.tflite`` files its wheel ships)
and ``ai-edge-litert`` (the TFLite interpreter); nothing is downloaded at run time.

How one image is processed (:meth:`BlazePoseDetector.detect`):

1. **Person detector** (``pose_detection.tflite``): the image is letterboxed into a 224 x 224 square
   (RGB in [-1, 1]); the network scores 2254 SSD anchors (feature maps 28², 14², 7² with 2, 2, 6 anchors
   per cell, MediaPipe's anchor options: 5 layers, strides 8 16 32 32 32, fixed unit-size anchors
   centred in their cells) and regresses per anchor a box and 4 alignment keypoints (hip centre, a
   point on the full-body circle, shoulder centre, a point on the upper-body circle), as offsets in
   input pixels from the anchor centre. Anchors above ``min_person_score`` are merged by weighted
   non-maximum suppression (IoU > ``nms_iou``: score-weighted average of the overlapping candidates).
2. **Region of interest** per person, as MediaPipe does: a square centred on the hip centre, side
   2 x |hip centre - full-body point| x ``roi_scale``, rotated so that the hip -> full-body-point
   direction points up in the crop. Crops may also come from ``crops_hint`` (axis-aligned boxes, e.g.
   the previous frame's people): a hinted box becomes an upright square ROI (side ``max(w, h) x
   hint_scale``) and detector ROIs whose centre lies inside a hinted box are dropped.
3. **Landmarks** (``pose_landmark_full.tflite``): each ROI is warped to 256 x 256 (RGB in [0, 1]);
   the network gives 39 landmarks (33 body + 6 auxiliary) as x, y (crop pixels), z, visibility and
   presence logits, a person-presence probability, and 64 x 64 heatmaps. The 17 COCO joints are taken from the
   33 body landmarks (eye centres for the eyes) and mapped back into image pixels.
4. **Scores**: sigmoid(visibility) x person presence. People with presence below
   ``min_presence`` are dropped, and two people whose joints nearly coincide (median distance below
   ``duplicate_fraction`` of the person's size) are one person: the lower-scored is dropped.

Coordinates follow closecap: pixel (0, 0) is the centre of the top-left pixel.
"""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from closecap.config import Config
from closecap.errors import CloseCapError, InputError
from closecap.skeleton import COCO17

DETECTOR_INPUT = 224
LANDMARK_INPUT = 256

BLAZEPOSE33 = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye", "right_eye_outer",
    "left_ear", "right_ear", "mouth_left", "mouth_right", "left_shoulder", "right_shoulder", "left_elbow",
    "right_elbow", "left_wrist", "right_wrist", "left_pinky", "right_pinky", "left_index", "right_index",
    "left_thumb", "right_thumb", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
    "left_heel", "right_heel", "left_foot_index", "right_foot_index",
)
"""The 33 BlazePose body landmarks in model order (left/right are the person's)."""

BLAZEPOSE_TO_COCO17 = np.array([BLAZEPOSE33.index(name) for name in COCO17.joint_names], dtype=np.int64)
"""``(17,)`` BlazePose landmark index of each COCO-17 joint (every COCO joint has a same-named landmark;
``left_eye`` / ``right_eye`` are the eye centres)."""


@runtime_checkable
class Detector(Protocol):
    """A 2D multi-person keypoint detector.

    ``detect(image_bgr, crops_hint=None)`` takes one ``(H, W, 3)`` uint8 BGR image and optional
    ``(P_hint, 4)`` boxes ``(u_min, v_min, u_max, v_max)`` pixels where people probably are, and returns
    ``(P, 17, 3)`` COCO-17 ``(u_px, v_px, score)`` in image pixels, score in [0, 1] (0 = missing).
    """

    def detect(self, image_bgr: np.ndarray, crops_hint: np.ndarray | None = None) -> np.ndarray: ...


@dataclass(frozen=True)
class BlazePoseConfig(Config):
    """Settings of :class:`BlazePoseDetector`."""

    min_person_score: float = 0.5
    """Person-detector anchors scoring below this (sigmoid, 0..1) are ignored (MediaPipe: 0.5)."""
    nms_iou: float = 0.3
    """Candidate boxes overlapping more than this (IoU) are one person (MediaPipe: 0.3)."""
    max_people: int = 8
    """At most this many people per image (the best-scored)."""
    roi_scale: float = 1.25
    """The landmark crop is this times the person detector's full-body circle (MediaPipe: 1.25)."""
    hint_scale: float = 1.3
    """A hinted box (``crops_hint``) becomes an upright square crop of ``max(w, h)`` times this."""
    min_presence: float = 0.5
    """People whose landmark model presence (sigmoid, 0..1) is below this are dropped (MediaPipe: 0.5)."""
    duplicate_fraction: float = 0.1
    """Two people whose joints are, at the median, closer than this fraction of the larger one's box
    diagonal are the same person; the lower-scored one is dropped."""
    num_threads: int = 2
    """CPU threads of the TFLite interpreters."""

    def __post_init__(self) -> None:
        for name in ("min_person_score", "nms_iou", "min_presence"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise InputError(None, f"BlazePoseConfig.{name}", f"expected a value in [0, 1], got {value}")
        for name in ("roi_scale", "hint_scale", "duplicate_fraction"):
            if not getattr(self, name) > 0:
                raise InputError(None, f"BlazePoseConfig.{name}", f"must be > 0, got {getattr(self, name)}")
        if int(self.max_people) < 1 or int(self.num_threads) < 1:
            raise InputError(None, "BlazePoseConfig", "max_people and num_threads must be >= 1")


@dataclass(frozen=True)
class BlazePoseResult:
    """Everything :meth:`BlazePoseDetector.detect_full` found in one image.

    Attributes:
        keypoints: ``(P, 17, 3)`` COCO-17 ``(u_px, v_px, score)`` image pixels.
        landmarks: ``(P, 33, 3)`` all BlazePose body landmarks ``(u_px, v_px, score)`` image pixels.
        presence: ``(P,)`` person presence in [0, 1].
        rois: ``(P, 4)`` crop squares ``(center_u_px, center_v_px, side_px, rotation_rad)``.
        heatmaps: ``(P, 33, 64, 64)`` the landmark model's heatmaps over each crop (``None`` unless asked).
        crop_to_image: ``(P, 2, 3)`` affine maps from crop pixels (256 x 256 grid) to image pixels; a
            heatmap pixel ``(x, y)`` is the crop pixel ``(4 x + 1.5, 4 y + 1.5)``.
    """

    keypoints: np.ndarray
    landmarks: np.ndarray
    presence: np.ndarray
    rois: np.ndarray
    heatmaps: np.ndarray | None
    crop_to_image: np.ndarray


def model_paths() -> tuple[Path, Path]:
    """Paths of ``pose_detection.tflite`` and ``pose_landmark_full.tflite`` inside the installed ``mediapipe`` wheel.

    Raises:
        CloseCapError: mediapipe (0.10.14, which ships the files) is not installed, or lacks the files.
    """
    spec = importlib.util.find_spec("mediapipe")
    if spec is None or not spec.submodule_search_locations:
        raise CloseCapError("the built-in detector needs the optional packages: pip install 'mediapipe==0.10.14' ai-edge-litert")
    root = Path(list(spec.submodule_search_locations)[0])
    paths = (root / "modules/pose_detection/pose_detection.tflite", root / "modules/pose_landmark/pose_landmark_full.tflite")
    for path in paths:
        if not path.is_file():
            raise CloseCapError(f"{path}: missing; the BlazePose models ship in mediapipe==0.10.14 (newer wheels lack them)")
    return paths


def ssd_anchors(input_size: int = DETECTOR_INPUT, strides: tuple[int, ...] = (8, 16, 32, 32, 32),
                anchors_per_cell: int = 2) -> np.ndarray:
    """Centres of BlazePose's SSD anchors, normalised to [0, 1] of the detector input.

    MediaPipe's options (fixed anchor size, aspect ratio 1 plus one interpolated scale = 2 anchors per
    layer): consecutive layers with the same stride share one feature map, so strides 8, 16, 32, 32, 32
    give 28², 14² and 7² cells with 2, 2 and 6 anchors per cell, in row-major cell order.

    Returns:
        ``(N, 2)`` anchor centres ``(x, y)`` in [0, 1] (``N = 2254`` for the defaults).

    Example:
        >>> anchors = ssd_anchors()
        >>> anchors.shape, anchors[0].tolist(), anchors[1].tolist()
        ((2254, 2), [0.017857142857142856, 0.017857142857142856], [0.017857142857142856, 0.017857142857142856])
    """
    centres = []
    layer = 0
    while layer < len(strides):
        stride = strides[layer]
        count = 0
        while layer < len(strides) and strides[layer] == stride:
            count += anchors_per_cell
            layer += 1
        cells = int(np.ceil(input_size / stride))
        grid = (np.arange(cells) + 0.5) / cells
        yy, xx = np.meshgrid(grid, grid, indexing="ij")
        cell_centres = np.stack([xx.ravel(), yy.ravel()], -1)  # (cells², 2)
        centres.append(np.repeat(cell_centres, count, axis=0))
    return np.concatenate(centres)


def decode_person_detections(raw_boxes: np.ndarray, raw_logits: np.ndarray, anchors: np.ndarray,
                             min_score: float, input_size: int = DETECTOR_INPUT
                             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Candidate people from the person detector's outputs.

    Args:
        raw_boxes: ``(N, 12)`` per anchor: box centre x, y, width, height, then 4 keypoints x, y, as
            offsets in input pixels (box centre and keypoints relative to the anchor centre).
        raw_logits: ``(N,)`` or ``(N, 1)`` score logits.
        anchors: ``(N, 2)`` anchor centres in [0, 1].
        min_score: keep candidates whose sigmoid score is at least this.
        input_size: detector input side (pixels).

    Returns:
        ``boxes (C, 4)`` ``(x_min, y_min, x_max, y_max)``, ``keypoints (C, 4, 2)``, ``scores (C,)``, all
        coordinates normalised to [0, 1] of the detector input.

    Example:
        >>> raw = np.zeros((2, 12)); raw[:, 2:4] = 22.4   # boxes 0.1 x 0.1 at the anchors
        >>> boxes, kps, scores = decode_person_detections(raw, np.array([3.0, -3.0]), np.array([[.5, .5], [.2, .2]]), 0.5)
        >>> np.round(boxes, 3).tolist(), kps.shape, np.round(scores, 3).tolist()
        ([[0.45, 0.45, 0.55, 0.55]], (1, 4, 2), [0.953])
    """
    logits = np.clip(np.asarray(raw_logits, dtype=float).reshape(-1), -100.0, 100.0)
    scores = 1.0 / (1.0 + np.exp(-logits))  # (N,)
    keep = scores >= min_score
    raw = np.asarray(raw_boxes, dtype=float)[keep] / input_size  # (C, 12)
    centres = anchors[keep]  # (C, 2)
    box_centre = raw[:, 0:2] + centres
    half = raw[:, 2:4] / 2
    boxes = np.concatenate([box_centre - half, box_centre + half], axis=1)
    keypoints = raw[:, 4:12].reshape(-1, 4, 2) + centres[:, None, :]
    return boxes, keypoints, scores[keep]


def box_iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """IoU of one ``(4,)`` box with ``(C, 4)`` boxes, all ``(x_min, y_min, x_max, y_max)``; returns ``(C,)``.

    Example:
        >>> box_iou(np.array([0, 0, 2, 2.]), np.array([[1, 0, 3, 2.], [5, 5, 6, 6.]])).round(3).tolist()
        [0.333, 0.0]
    """
    lo = np.maximum(box[:2], boxes[:, :2])
    hi = np.minimum(box[2:], boxes[:, 2:])
    inter = np.prod(np.clip(hi - lo, 0, None), axis=1)
    area = lambda b: np.prod(np.clip(b[..., 2:] - b[..., :2], 0, None), axis=-1)  # noqa: E731
    return inter / np.maximum(area(box) + area(boxes) - inter, 1e-12)


def weighted_nms(boxes: np.ndarray, keypoints: np.ndarray, scores: np.ndarray, iou_threshold: float,
                 max_people: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """MediaPipe's weighted non-maximum suppression: each cluster (IoU > threshold with its best candidate)
    becomes the score-weighted mean of its boxes and keypoints, scored by the best.

    Args:
        boxes: ``(C, 4)``; keypoints: ``(C, K, 2)``; scores: ``(C,)``.
        iou_threshold: overlap above which candidates merge.
        max_people: keep at most this many clusters.

    Returns:
        ``boxes (P, 4)``, ``keypoints (P, K, 2)``, ``scores (P,)`` best first.

    Example:
        >>> b = np.array([[0, 0, 1, 1.], [0, 0, 1, 1.2], [3, 3, 4, 4.]])
        >>> out_b, out_k, out_s = weighted_nms(b, np.zeros((3, 1, 2)), np.array([.9, .6, .8]), 0.3, 5)
        >>> np.round(out_b, 2).tolist(), out_s.tolist()
        ([[0.0, 0.0, 1.0, 1.08], [3.0, 3.0, 4.0, 4.0]], [0.9, 0.8])
    """
    order = np.argsort(-scores)
    boxes, keypoints, scores = boxes[order], keypoints[order], scores[order]
    remaining = np.ones(len(scores), bool)
    out_boxes, out_kps, out_scores = [], [], []
    while remaining.any() and len(out_scores) < max_people:
        best = int(np.argmax(remaining))  # first remaining = highest score
        members = remaining & (box_iou(boxes[best], boxes) > iou_threshold)
        members[best] = True
        w = scores[members] / scores[members].sum()
        out_boxes.append(np.einsum("c,cd->d", w, boxes[members]))
        out_kps.append(np.einsum("c,ckd->kd", w, keypoints[members]))
        out_scores.append(scores[best])
        remaining &= ~members
    K = keypoints.shape[1] if keypoints.ndim == 3 else 0
    return (np.array(out_boxes).reshape(-1, 4), np.array(out_kps).reshape(-1, K, 2), np.array(out_scores))


def rois_from_alignment(hip_px: np.ndarray, scale_px: np.ndarray, roi_scale: float) -> np.ndarray:
    """Rotated square crops from the person detector's alignment keypoints (MediaPipe's rule).

    Args:
        hip_px: ``(P, 2)`` hip centre, image pixels.
        scale_px: ``(P, 2)`` the point on the full-body circle, image pixels.
        roi_scale: enlargement of the circle's diameter.

    Returns:
        ``(P, 4)`` ``(center_u_px, center_v_px, side_px, rotation_rad)``; rotation 0 = upright, positive
        turns the crop clockwise on screen.

    Example:
        >>> rois_from_alignment(np.array([[100., 200.]]), np.array([[100., 100.]]), 1.25).tolist()
        [[100.0, 200.0, 250.0, 0.0]]
    """
    delta = scale_px - hip_px  # (P, 2)
    side = 2.0 * np.linalg.norm(delta, axis=-1) * roi_scale
    rotation = np.pi / 2 - np.arctan2(-delta[:, 1], delta[:, 0])
    rotation = (rotation + np.pi) % (2 * np.pi) - np.pi
    return np.concatenate([hip_px, side[:, None], rotation[:, None]], axis=1)


def crop_to_image_affine(rois: np.ndarray, crop_size: int = LANDMARK_INPUT) -> np.ndarray:
    """Affine maps from crop pixels to image pixels for rotated square ROIs.

    A crop pixel ``(x, y)`` (pixel-centre convention, 0 .. ``crop_size - 1``) sits at the normalised ROI
    position ``a = (x + 0.5) / crop_size - 0.5`` (and ``b`` for ``y``) and maps to
    ``center + side * R(rotation) @ (a, b)``.

    Args:
        rois: ``(P, 4)`` ``(center_u_px, center_v_px, side_px, rotation_rad)``.
        crop_size: crop side in pixels.

    Returns:
        ``(P, 2, 3)`` matrices ``M``: ``uv_image = M[:, :2] @ (x, y) + M[:, 2]``.

    Example:
        >>> M = crop_to_image_affine(np.array([[50., 60., 256., 0.]]))
        >>> (M[0, :, :2] @ [127.5, 127.5] + M[0, :, 2]).tolist()
        [50.0, 60.0]
    """
    rois = np.asarray(rois, dtype=float).reshape(-1, 4)
    cos, sin = np.cos(rois[:, 3]), np.sin(rois[:, 3])
    rotation = np.stack([np.stack([cos, -sin], -1), np.stack([sin, cos], -1)], -2)  # (P, 2, 2)
    linear = rotation * (rois[:, 2] / crop_size)[:, None, None]
    offset = rois[:, :2] + np.einsum("pij,j->pi", rotation, np.full(2, 0.5 / crop_size - 0.5)) * rois[:, 2:3]
    return np.concatenate([linear, offset[:, :, None]], axis=2)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -60.0, 60.0)))


def _boxes_of(keypoints: np.ndarray) -> np.ndarray:
    """``(P, J, 3)`` -> ``(P, 4)`` boxes of the joints with score > 0 (NaN if none)."""
    valid = keypoints[..., 2] > 0  # (P, J)
    lo = np.where(valid[..., None], keypoints[..., :2], np.inf).min(axis=1)  # (P, 2)
    hi = np.where(valid[..., None], keypoints[..., :2], -np.inf).max(axis=1)
    boxes = np.concatenate([lo, hi], axis=1).reshape(-1, 4)
    return np.where(valid.any(-1)[:, None], boxes, np.nan)


def remove_duplicates(keypoints: np.ndarray, fraction: float) -> np.ndarray:
    """Indices of the people to keep: a person whose joints lie (median distance) within ``fraction`` of the
    larger box diagonal of a better-scored person is dropped.

    Args:
        keypoints: ``(P, J, 3)`` ``(u_px, v_px, score)``.
        fraction: duplicate distance as a fraction of the person's box diagonal.

    Returns:
        ``(P_keep,)`` int indices, best (mean score) first.

    Example:
        >>> a = np.concatenate([np.random.default_rng(0).uniform(0, 100, (17, 2)), np.ones((17, 1))], -1)
        >>> b = a.copy(); b[:, :2] += 2.0; b[:, 2] = 0.5
        >>> remove_duplicates(np.stack([b, a, a + [300, 0, 0]]), 0.1).tolist()
        [1, 2]
    """
    if len(keypoints) == 0:
        return np.zeros(0, np.int64)
    order = np.argsort(-keypoints[..., 2].mean(-1), kind="stable")
    boxes = _boxes_of(keypoints)
    diag = np.nan_to_num(np.linalg.norm(boxes[:, 2:] - boxes[:, :2], axis=-1))  # (P,)
    kept: list[int] = []
    for p in order:
        if kept:
            both = (keypoints[kept, :, 2] > 0) & (keypoints[p, :, 2] > 0)  # (K, J)
            dist = np.linalg.norm(keypoints[kept, :, :2] - keypoints[p, :, :2], axis=-1)  # (K, J)
            median = np.array([np.median(d[m]) if m.any() else np.inf for d, m in zip(dist, both)])
            if np.any(median < fraction * np.maximum(diag[kept], diag[p])):
                continue
        kept.append(int(p))
    return np.array(kept, dtype=np.int64)


class BlazePoseDetector:
    """Multi-person COCO-17 keypoints from MediaPipe BlazePose (full), offline (see the module docstring).

    Args:
        config: thresholds and crop sizes.
        model_dir: folder holding ``pose_detection.tflite`` and ``pose_landmark_full.tflite``; default: the
            installed ``mediapipe`` wheel's.

    Raises:
        CloseCapError: the optional packages or the model files are missing.

    Example:
        >>> detector = BlazePoseDetector()  # doctest: +SKIP
        >>> detector.detect(np.zeros((480, 640, 3), np.uint8)).shape  # doctest: +SKIP
        (0, 17, 3)
    """

    name = "blazepose-full"

    def __init__(self, config: BlazePoseConfig = BlazePoseConfig(), model_dir: str | Path | None = None):
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError:
            raise CloseCapError("the built-in detector needs the optional packages: "
                                "pip install 'mediapipe==0.10.14' ai-edge-litert") from None
        if model_dir is None:
            detector_path, landmark_path = model_paths()
        else:
            detector_path = Path(model_dir) / "pose_detection.tflite"
            landmark_path = Path(model_dir) / "pose_landmark_full.tflite"
            for path in (detector_path, landmark_path):
                if not path.is_file():
                    raise InputError(path, None, "missing model file")
        self.config = config
        self._detector = Interpreter(model_path=str(detector_path), num_threads=config.num_threads)
        self._landmarks = Interpreter(model_path=str(landmark_path), num_threads=config.num_threads)
        self._detector.allocate_tensors()
        self._landmarks.allocate_tensors()
        self._det_in = self._detector.get_input_details()[0]["index"]
        det_out = {tuple(o["shape"][1:]): o["index"] for o in self._detector.get_output_details()}
        self._det_boxes, self._det_scores = det_out[(2254, 12)], det_out[(2254, 1)]
        self._lm_in = self._landmarks.get_input_details()[0]["index"]
        lm_out = {tuple(o["shape"][1:]): o["index"] for o in self._landmarks.get_output_details()}
        self._lm_points, self._lm_flag, self._lm_heatmaps = lm_out[(195,)], lm_out[(1,)], lm_out[(64, 64, 39)]
        self._anchors = ssd_anchors()

    # ------------------------------------------------------------------ person detector
    def person_rois(self, image_bgr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Rotated square crops of the people the person detector finds.

        Args:
            image_bgr: ``(H, W, 3)`` uint8 BGR.

        Returns:
            ``rois (P, 4)`` ``(center_u_px, center_v_px, side_px, rotation_rad)`` and ``scores (P,)``.
        """
        import cv2

        H, W = image_bgr.shape[:2]
        scale = DETECTOR_INPUT / max(H, W)
        new_w, new_h = max(1, round(W * scale)), max(1, round(H * scale))
        pad_x, pad_y = (DETECTOR_INPUT - new_w) // 2, (DETECTOR_INPUT - new_h) // 2
        canvas = np.zeros((DETECTOR_INPUT, DETECTOR_INPUT, 3), np.float32)
        resized = cv2.resize(image_bgr, (new_w, new_h), interpolation=cv2.INTER_AREA)
        canvas[pad_y:pad_y + new_h, pad_x:pad_x + new_w] = resized[..., ::-1] / 127.5 - 1.0
        self._detector.set_tensor(self._det_in, canvas[None])
        self._detector.invoke()
        raw_boxes = self._detector.get_tensor(self._det_boxes)[0]
        raw_logits = self._detector.get_tensor(self._det_scores)[0]
        boxes, keypoints, scores = decode_person_detections(raw_boxes, raw_logits, self._anchors,
                                                            self.config.min_person_score)
        boxes, keypoints, scores = weighted_nms(boxes, keypoints, scores, self.config.nms_iou, self.config.max_people)
        # detector input [0, 1] (corner convention) -> image pixels (centre convention)
        kps_px = (keypoints * DETECTOR_INPUT - [pad_x, pad_y]) / scale - 0.5  # (P, 4, 2)
        return rois_from_alignment(kps_px[:, 0], kps_px[:, 1], self.config.roi_scale), scores

    # ------------------------------------------------------------------ landmarks
    def _landmarks_in(self, image_bgr: np.ndarray, rois: np.ndarray, heatmaps: bool):
        import cv2

        M = crop_to_image_affine(rois)  # (P, 2, 3)
        landmarks, flags, maps = [], [], []
        for matrix in M:
            crop = cv2.warpAffine(image_bgr, matrix, (LANDMARK_INPUT, LANDMARK_INPUT),
                                  flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_CONSTANT)
            self._landmarks.set_tensor(self._lm_in, (crop[None, ..., ::-1] / 255.0).astype(np.float32))
            self._landmarks.invoke()
            landmarks.append(self._landmarks.get_tensor(self._lm_points)[0].reshape(39, 5))
            flags.append(float(self._landmarks.get_tensor(self._lm_flag).reshape(-1)[0]))
            if heatmaps:
                maps.append(np.moveaxis(self._landmarks.get_tensor(self._lm_heatmaps)[0, :, :, :33], -1, 0))
        P = len(M)
        raw = np.array(landmarks).reshape(P, 39, 5)[:, :33]  # (P, 33, 5): x, y (crop px, corner conv.), z, vis, pres
        crop_xy = raw[..., :2] - 0.5  # centre convention
        uv = np.einsum("pij,pkj->pki", M[:, :, :2], crop_xy) + M[:, None, :, 2]  # (P, 33, 2)
        presence = np.clip(np.array(flags).reshape(P), 0.0, 1.0)  # the model outputs a probability already
        score = _sigmoid(raw[..., 3]) * presence[:, None]  # (P, 33)
        all_landmarks = np.concatenate([uv, score[..., None]], axis=-1)
        return all_landmarks, presence, M, (np.array(maps).reshape(P, 33, 64, 64) if heatmaps else None)

    def detect_full(self, image_bgr: np.ndarray, crops_hint: np.ndarray | None = None, *,
                    heatmaps: bool = False) -> BlazePoseResult:
        """Detect every person: COCO-17 keypoints plus the raw landmarks, crops and (optionally) heatmaps.

        Args:
            image_bgr: ``(H, W, 3)`` uint8 BGR image.
            crops_hint: optional ``(P_hint, 4)`` boxes ``(u_min, v_min, u_max, v_max)`` pixels where people
                probably are (e.g. the previous frame's people in this view); used as extra crops.
            heatmaps: also return the ``(P, 33, 64, 64)`` landmark heatmaps.

        Returns:
            :class:`BlazePoseResult`, people ordered best first.
        """
        image_bgr = np.asarray(image_bgr)
        if image_bgr.ndim != 3 or image_bgr.shape[2] != 3 or image_bgr.dtype != np.uint8:
            raise InputError(None, "image_bgr", f"expected (H, W, 3) uint8, got {image_bgr.shape} {image_bgr.dtype}")
        rois, _ = self.person_rois(image_bgr)
        if crops_hint is not None and len(crops_hint):
            hints = np.asarray(crops_hint, dtype=float).reshape(-1, 4)
            hints = hints[np.isfinite(hints).all(-1) & (hints[:, 2] > hints[:, 0]) & (hints[:, 3] > hints[:, 1])]
            inside = ((rois[:, None, 0] >= hints[None, :, 0]) & (rois[:, None, 0] <= hints[None, :, 2])
                      & (rois[:, None, 1] >= hints[None, :, 1]) & (rois[:, None, 1] <= hints[None, :, 3])).any(-1)
            side = np.max(hints[:, 2:] - hints[:, :2], axis=1) * self.config.hint_scale
            hint_rois = np.concatenate([(hints[:, :2] + hints[:, 2:]) / 2, side[:, None], np.zeros((len(hints), 1))], 1)
            rois = np.concatenate([hint_rois, rois[~inside]])
        rois = rois[rois[:, 2] > 4.0]
        landmarks, presence, M, maps = self._landmarks_in(image_bgr, rois, heatmaps)
        H, W = image_bgr.shape[:2]
        outside = ((landmarks[..., 0] < -0.5) | (landmarks[..., 0] > W - 0.5)
                   | (landmarks[..., 1] < -0.5) | (landmarks[..., 1] > H - 0.5))
        landmarks[..., 2] = np.where(outside, 0.0, landmarks[..., 2])
        keep = np.flatnonzero(presence >= self.config.min_presence)
        coco = landmarks[keep][:, BLAZEPOSE_TO_COCO17]  # (P, 17, 3)
        keep = keep[remove_duplicates(coco, self.config.duplicate_fraction)][: self.config.max_people]
        return BlazePoseResult(
            keypoints=landmarks[keep][:, BLAZEPOSE_TO_COCO17], landmarks=landmarks[keep], presence=presence[keep],
            rois=rois[keep], heatmaps=None if maps is None else maps[keep], crop_to_image=M[keep])

    def detect(self, image_bgr: np.ndarray, crops_hint: np.ndarray | None = None) -> np.ndarray:
        """``(P, 17, 3)`` COCO-17 ``(u_px, v_px, score)`` of every person in a BGR image (see :meth:`detect_full`)."""
        return self.detect_full(image_bgr, crops_hint).keypoints


def keypoint_boxes(keypoints: np.ndarray, min_score: float = 0.3) -> np.ndarray:
    """Axis-aligned boxes of people's confident joints, usable as ``crops_hint``.

    Args:
        keypoints: ``(P, J, 3)`` ``(u_px, v_px, score)``.
        min_score: joints at or below this score are ignored.

    Returns:
        ``(P', 4)`` ``(u_min, v_min, u_max, v_max)`` of the people with at least 3 confident joints.

    Example:
        >>> kp = np.array([[[0, 0, 1], [10, 20, 1], [5, 5, 1], [99, 99, 0]]], float)
        >>> keypoint_boxes(kp).tolist()
        [[0.0, 0.0, 10.0, 20.0]]
    """
    keypoints = np.asarray(keypoints, dtype=float)
    confident = keypoints[..., 2] > min_score
    boxes = _boxes_of(np.where(confident[..., None], keypoints, 0.0))
    return boxes[confident.sum(-1) >= 3]


def make_detector(name: str = "blazepose", config: BlazePoseConfig | None = None) -> Detector:
    """The built-in detector by name (``"blazepose"``).

    Raises:
        InputError: unknown name. CloseCapError: optional packages missing.
    """
    if name == "blazepose":
        return BlazePoseDetector(config or BlazePoseConfig())
    raise InputError(None, "detector", f"unknown detector {name!r}; choose 'blazepose'")
