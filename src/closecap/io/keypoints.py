"""Keypoint files: 2D detections in and out, 3D poses out and back in.

2D detections (:class:`~closecap.poses.Detections2D`, COCO-17, raw-image pixels):

* **OpenPose JSON** — a folder with one sub-folder per camera, named as in the calibration or
  ``<cam>_json`` (Pose2Sim), each holding ``*<frame>_keypoints.json`` files. ``pose_keypoints_2d`` is
  BODY_25 (75 values) or COCO-18 (54 values); it is mapped to COCO-17 with
  :func:`closecap.skeleton.convert`. Read by :func:`read_detections`, written by :func:`write_openpose`.
* **COCO results JSON** (MMPose / Detectron style) — a folder with one ``<cam>.json`` per camera, or one
  ``.json`` file holding ``{cam_name: [results]}``; each result is
  ``{"image_id" or "frame": int, "keypoints": [x, y, v] x 17, "score": float, "category_id": 1}``.
  Read by :func:`read_detections`, written by :func:`write_coco`.

3D poses (:class:`~closecap.poses.Poses3D`, metres, world frame of the calibration):

* ``.json`` closecap-3d (read and write), ``.npz`` (read and write), ``.csv`` and ``.trc`` (write only);
  see :func:`write_poses` and :func:`read_poses`.

Conventions shared by every reader and writer:

* A missing 2D joint is ``(0, 0, 0)`` (OpenPose's own convention): readers set ``u_px, v_px`` of every
  joint with score 0 to 0, and drop a person left with no detected joint.
* Scores above 1 are clipped to 1; negative scores, NaN, infinities and non-numbers raise
  :class:`~closecap.errors.InputError` (``file: field: problem``).
* Writers serialise everything in memory first and then write each file atomically (temporary name,
  then rename): a failure while serialising leaves no output at all.

Example:
    >>> import tempfile
    >>> kp = np.zeros((1, 17, 3)); kp[0, :, :2] = 100.0; kp[0, :, 2] = 0.9
    >>> det = Detections2D(("cam1", "cam2"), (7,), ((kp, np.zeros((0, 17, 3))),))
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     _ = write_openpose(det, tmp)
    ...     back = read_detections(tmp, ["cam1", "cam2"])
    >>> back.frames, [a.shape for a in back.for_frame(7)]
    ((7,), [(1, 17, 3), (0, 17, 3)])
"""
from __future__ import annotations

import io
import json
import math
import re
import zipfile
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from closecap.config import Config, atomic_write_bytes, atomic_write_text
from closecap.errors import InputError
from closecap.poses import Detections2D, Poses3D
from closecap.skeleton import BODY25, COCO17, COCO18, PANOPTIC19, JointSet, convert, get_joint_set

__all__ = [
    "read_detections",
    "write_openpose",
    "write_coco",
    "write_poses",
    "read_poses",
    "openpose_frame_number",
    "POSES_FORMAT",
    "POSES_VERSION",
]

POSES_FORMAT = "closecap-3d"
"""Value of the ``format`` field of closecap's 3D pose files."""
POSES_VERSION = 1
"""Schema version of closecap's 3D pose files."""
POSES_CONVENTION = "world frame of the calibration"
"""Value of the ``convention`` field: joints are in the calibration's world frame (x_cam = R x_world + t)."""

_FRAME_RE = re.compile(r"(\d+)_keypoints\.json$")
_OPENPOSE_SETS = {75: BODY25, 54: COCO18}  # number of values in pose_keypoints_2d -> joint set
_OPENPOSE_EMPTY_FIELDS = (
    "face_keypoints_2d", "hand_left_keypoints_2d", "hand_right_keypoints_2d",
    "pose_keypoints_3d", "face_keypoints_3d", "hand_left_keypoints_3d", "hand_right_keypoints_3d",
)
_JSON_ROUND_DECIMALS = 6  # closecap-3d JSON: metres and confidences rounded to 1e-6
_JOINTS_2D = COCO17.num_joints


# ============================================================================ 2D detections: reading


def openpose_frame_number(file_name: str) -> int:
    """The frame number of an OpenPose output file: the integer right before ``_keypoints.json``.

    Args:
        file_name: a file name (or path); the prefix before the number is arbitrary.

    Returns:
        The frame number (``int``, >= 0).

    Raises:
        InputError: the name does not end in ``<digits>_keypoints.json``.

    Example:
        >>> [openpose_frame_number(n) for n in
        ...  ("cam1_000000000012_keypoints.json", "12_keypoints.json", "video_0012_keypoints.json")]
        [12, 12, 12]
    """
    name = Path(file_name).name
    match = _FRAME_RE.search(name)
    if match is None:
        raise InputError(file_name, None, "expected a name ending in <frame number>_keypoints.json")
    return int(match.group(1))


def read_detections(path: str | Path, camera_names: Sequence[str], *, frames: Sequence[int] | None = None,
                    min_score: float = 0.0) -> Detections2D:
    """Read 2D detections of several cameras (OpenPose JSON folders or COCO results JSON).

    The format is detected from ``path``:

    * a folder with sub-folders -> **OpenPose**: one sub-folder per camera, named ``<cam>`` or
      ``<cam>_json``, holding ``*<frame>_keypoints.json`` (other files are ignored, as are hidden
      entries). ``people[i].pose_keypoints_2d`` is BODY_25 (75 values) or COCO-18 (54 values), raw-image
      pixels; a joint with ``c == 0`` is missing. A sub-folder that names no camera raises; a camera
      without a folder, or a frame file missing in one view, means no detections there (``P_v = 0``).
      The frames are the union of the frame numbers over views.
    * a folder with ``.json`` files and no sub-folder -> **COCO results**, one ``<cam>.json`` per camera
      (a ``.json`` whose stem is no camera raises);
    * a ``.json`` file -> **COCO results** of all cameras as one object ``{cam_name: [results]}``.

    COCO results: a list of ``{"image_id" or "frame": int, "keypoints": [x, y, v] x 17, "score": float,
    "category_id": int}``; ``image_id`` is taken as the frame number (if both keys are given they must
    agree); results with a ``category_id`` other than 1 (person) are skipped. Per-joint score rule:
    if every ``v`` of a result is 0, 1 or 2 and either one of them is 2 or all are written as JSON
    integers, they are COCO visibility flags: 0 -> missing, 1 or 2 -> the result's ``score`` (1.0 if
    absent); otherwise ``v`` is the joint's score (0 = missing). Scores above 1 are clipped to 1.

    Args:
        path: folder or file, as above.
        camera_names: ``V`` camera names of the calibration; the output follows this order.
        frames: frame numbers to read (others are skipped); each must exist in at least one view.
            Default: every frame found.
        min_score: joints scoring below this become missing (0, 0, 0); people left with no joint are
            dropped.

    Returns:
        :class:`Detections2D` in COCO-17: per frame, ``V`` arrays ``(P_v, 17, 3)`` of ``u_px, v_px, score``.

    Raises:
        InputError: ``file: field: problem`` for a file that is not JSON, a wrong joint count, NaN or
            non-numeric values, an unknown camera folder, no camera matching, no frames, etc.

    Example:
        >>> import json, tempfile
        >>> person = [0.0] * 75; person[0:3] = [320.5, 200.25, 0.8]   # BODY_25 nose
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     _ = (Path(tmp) / "cam0_json").mkdir()
        ...     _ = (Path(tmp) / "cam0_json" / "run_000042_keypoints.json").write_text(
        ...         json.dumps({"people": [{"pose_keypoints_2d": person}]}))
        ...     det = read_detections(tmp, ["cam0", "cam1"])
        >>> det.frames, det.for_frame(42)[0][0, COCO17.index("nose")].tolist(), det.for_frame(42)[1].shape
        ((42,), [320.5, 200.25, 0.8], (0, 17, 3))
    """
    path = Path(path)
    camera_names = tuple(str(n) for n in camera_names)
    if not camera_names:
        raise InputError(path, "camera_names", "no cameras given")
    if len(set(camera_names)) != len(camera_names):
        raise InputError(path, "camera_names", f"duplicate camera names in {list(camera_names)}")
    if not (isinstance(min_score, (int, float)) and math.isfinite(min_score) and min_score >= 0):
        raise InputError(path, "min_score", f"expected a number >= 0, got {min_score!r}")
    wanted = None if frames is None else sorted({int(f) for f in frames})

    if path.is_file():
        if path.suffix.lower() != ".json":
            raise InputError(path, None, "expected a folder of OpenPose camera folders, a folder of "
                                         "<camera>.json COCO results, or one COCO results .json file")
        per_view = _read_coco_file(path, camera_names)
    elif path.is_dir():
        entries = [p for p in sorted(path.iterdir()) if not p.name.startswith(".")]
        subdirs = [p for p in entries if p.is_dir()]
        json_files = [p for p in entries if p.is_file() and p.suffix.lower() == ".json"]
        if subdirs:
            per_view = _read_openpose_folder(path, subdirs, camera_names, wanted)
        elif json_files:
            per_view = _read_coco_folder(path, json_files, camera_names)
        else:
            raise InputError(path, None, "no detections: expected one sub-folder of OpenPose JSON per camera "
                                         "or one <camera>.json of COCO results per camera")
    else:
        raise InputError(path, None, "no such file or folder")
    return _assemble(path, camera_names, per_view, wanted, float(min_score))


def _read_openpose_folder(folder: Path, subdirs: list[Path], camera_names: tuple[str, ...],
                          wanted: list[int] | None) -> list[dict[int, np.ndarray]]:
    """``V`` dicts frame -> ``(P, 17, 3)`` from OpenPose camera sub-folders."""
    dirs: dict[str, Path] = {}
    for sub in subdirs:
        if sub.name in camera_names:
            cam = sub.name
        elif sub.name.endswith("_json") and sub.name[: -len("_json")] in camera_names:
            cam = sub.name[: -len("_json")]
        else:
            raise InputError(sub, None, f"keypoint folder {sub.name!r} is not a camera of the calibration "
                                        f"(cameras: {', '.join(camera_names)})")
        if cam in dirs:
            raise InputError(sub, None, f"two keypoint folders for camera {cam!r}: {dirs[cam].name} and {sub.name}")
        dirs[cam] = sub
    wanted_set = None if wanted is None else set(wanted)
    per_view: list[dict[int, np.ndarray]] = []
    for cam in camera_names:
        view: dict[int, np.ndarray] = {}
        if cam in dirs:
            names: dict[int, Path] = {}
            for file in sorted(dirs[cam].iterdir()):
                if file.name.startswith(".") or not file.name.endswith("_keypoints.json") or not file.is_file():
                    continue
                frame = openpose_frame_number(str(file))
                if frame in names:
                    raise InputError(file, None, f"frame {frame} also in {names[frame].name}")
                names[frame] = file
            for frame, file in names.items():
                # frames not asked for are only listed (for the 'not found' check), never parsed
                view[frame] = _read_openpose_file(file) if wanted_set is None or frame in wanted_set else None
        per_view.append(view)
    return per_view


def _read_openpose_file(path: Path) -> np.ndarray:
    """One OpenPose JSON -> ``(P, 17, 3)`` COCO-17 ``u_px, v_px, score`` (missing joints are zeros)."""
    data = _load_json(path)
    if not isinstance(data, dict):
        raise InputError(path, None, f"expected an object with 'people', got {type(data).__name__}")
    if "people" not in data:
        raise InputError(path, "people", "missing")
    people = data["people"]
    if not isinstance(people, list):
        raise InputError(path, "people", f"expected a list, got {type(people).__name__}")
    out = np.zeros((len(people), _JOINTS_2D, 3))
    for i, person in enumerate(people):
        field = f"people[{i}].pose_keypoints_2d"
        if not isinstance(person, dict) or "pose_keypoints_2d" not in person:
            raise InputError(path, field, "missing")
        values = _numbers(person["pose_keypoints_2d"], path, field)
        joint_set = _OPENPOSE_SETS.get(values.size)
        if joint_set is None:
            raise InputError(path, field, f"expected 75 or 54 values (25 or 18 joints x 3), got {values.size}")
        keypoints = values.reshape(joint_set.num_joints, 3)
        if np.any(keypoints[:, 2] < 0):
            raise InputError(path, field, f"negative score {keypoints[:, 2].min()}")
        out[i] = _to_coco17(keypoints, joint_set)
    return out


def _to_coco17(keypoints: np.ndarray, joint_set: JointSet) -> np.ndarray:
    """``(..., J, 3)`` of ``joint_set`` -> ``(..., 17, 3)`` COCO-17; missing joints become ``(0, 0, 0)``."""
    uv_px, score = convert(keypoints[..., :2], joint_set, COCO17, keypoints[..., 2])  # (..., 17, 2), (..., 17)
    return np.concatenate([np.nan_to_num(uv_px, nan=0.0), score[..., None]], axis=-1)


def _read_coco_folder(folder: Path, json_files: list[Path], camera_names: tuple[str, ...]
                      ) -> list[dict[int, np.ndarray]]:
    """``V`` dicts frame -> ``(P, 17, 3)`` from ``<cam>.json`` COCO results files."""
    files: dict[str, Path] = {}
    for file in json_files:
        if file.stem not in camera_names:
            raise InputError(file, None, f"{file.name!r} is not <camera>.json for a camera of the calibration "
                                         f"(cameras: {', '.join(camera_names)})")
        files[file.stem] = file
    return [_coco_results(_load_json(files[cam]), files[cam], "") if cam in files else {} for cam in camera_names]


def _read_coco_file(path: Path, camera_names: tuple[str, ...]) -> list[dict[int, np.ndarray]]:
    """``V`` dicts frame -> ``(P, 17, 3)`` from one ``{cam_name: [results]}`` JSON file."""
    data = _load_json(path)
    if not isinstance(data, dict):
        raise InputError(path, None, f"expected an object {{camera name: [results]}}, got {type(data).__name__}")
    for cam in data:
        if cam not in camera_names:
            raise InputError(path, cam, f"not a camera of the calibration (cameras: {', '.join(camera_names)})")
    return [_coco_results(data[cam], path, cam) if cam in data else {} for cam in camera_names]


def _coco_results(results: Any, path: Path, prefix: str) -> dict[int, np.ndarray]:
    """A COCO results list -> dict frame -> ``(P, 17, 3)``; see :func:`read_detections` for the score rule."""
    if not isinstance(results, list):
        raise InputError(path, prefix or None, f"expected a list of results, got {type(results).__name__}")
    per_frame: dict[int, list[np.ndarray]] = {}
    for i, entry in enumerate(results):
        field = f"{prefix}[{i}]"
        if not isinstance(entry, dict):
            raise InputError(path, field, f"expected an object, got {type(entry).__name__}")
        if "category_id" in entry and entry["category_id"] != 1:
            continue  # not a person
        frame = _coco_frame(entry, path, field)
        if "keypoints" not in entry:
            raise InputError(path, f"{field}.keypoints", "missing")
        raw = entry["keypoints"]
        values = _numbers(raw, path, f"{field}.keypoints")
        if values.size != 3 * _JOINTS_2D:
            raise InputError(path, f"{field}.keypoints",
                             f"expected {3 * _JOINTS_2D} values ({_JOINTS_2D} joints x 3), got {values.size}")
        keypoints = values.reshape(_JOINTS_2D, 3)
        v = keypoints[:, 2]
        if np.any(v < 0):
            raise InputError(path, f"{field}.keypoints", f"negative score or visibility {v.min()}")
        is_flags = bool(np.all(np.isin(v, (0.0, 1.0, 2.0)))) and (
            bool(np.any(v == 2.0)) or all(type(x) is int for x in raw[2::3]))
        if is_flags:
            person_score = _number_field(entry, "score", path, field, default=1.0)
            keypoints[:, 2] = np.where(v > 0, person_score, 0.0)
        per_frame.setdefault(frame, []).append(keypoints)
    return {frame: np.stack(people) for frame, people in per_frame.items()}


def _coco_frame(entry: dict, path: Path, field: str) -> int:
    """The frame number of a COCO result (``frame``, else ``image_id``)."""
    found = {}
    for key in ("frame", "image_id"):
        if key in entry:
            value = entry[key]
            if type(value) is not int or value < 0:
                raise InputError(path, f"{field}.{key}", f"expected an integer frame number >= 0, got {value!r}")
            found[key] = value
    if not found:
        raise InputError(path, field, "missing 'image_id' or 'frame'")
    if len(set(found.values())) > 1:
        raise InputError(path, field, f"'frame' {found['frame']} and 'image_id' {found['image_id']} disagree")
    return next(iter(found.values()))


def _number_field(entry: dict, key: str, path: Path, field: str, *, default: float) -> float:
    """A finite non-negative number ``entry[key]``, ``default`` if the key is absent."""
    if key not in entry:
        return default
    value = entry[key]
    if type(value) not in (int, float) or not math.isfinite(value) or value < 0:
        raise InputError(path, f"{field}.{key}", f"expected a finite number >= 0, got {value!r}")
    return float(value)


def _assemble(source: Path, camera_names: tuple[str, ...], per_view: list[dict[int, np.ndarray | None]],
              wanted: list[int] | None, min_score: float) -> Detections2D:
    """Per-view frame dicts -> :class:`Detections2D` (frames = union over views, or ``wanted``)."""
    found = sorted(set().union(*per_view))
    if wanted is None:
        frame_list = found
    else:
        found_set = set(found)
        missing = [f for f in wanted if f not in found_set]
        if missing:
            raise InputError(source, "frames", f"{len(missing)} requested frame(s) found in no view, "
                                               f"first: {', '.join(map(str, missing[:5]))}")
        frame_list = wanted
    if not frame_list:
        raise InputError(source, None, "no frames found")
    empty = np.zeros((0, _JOINTS_2D, 3))
    keypoints = []
    for frame in frame_list:
        views = []
        for view in per_view:
            people = view.get(frame)
            views.append(empty if people is None else _clean_people(people, min_score))
        keypoints.append(tuple(views))
    return Detections2D(camera_names, tuple(frame_list), tuple(keypoints))


def _clean_people(keypoints: np.ndarray, min_score: float) -> np.ndarray:
    """``(P, J, 3)``: scores clipped to 1, joints below ``min_score`` or at 0 zeroed, empty people dropped."""
    score = np.minimum(keypoints[..., 2], 1.0)  # (P, J)
    keep = (score > 0) & (score >= min_score)
    cleaned = np.where(keep[..., None], np.concatenate([keypoints[..., :2], score[..., None]], -1), 0.0)
    return cleaned[keep.any(-1)]


# ============================================================================ 2D detections: writing


def write_openpose(detections: Detections2D, folder: str | Path, *, joint_set: str = "body25") -> list[Path]:
    """Write detections as OpenPose JSON: ``<folder>/<cam>/<cam>_<frame:012d>_keypoints.json``.

    One file per camera and frame (also when nobody was detected: ``"people": []``), in OpenPose's
    layout (``version`` 1.3, ``person_id`` ``[-1]``, empty face / hand arrays). From COCO-17:
    ``neck`` = mid-shoulders and ``mid_hip`` = mid-hips (score = the lower of the two; missing if either
    is), feet joints missing; missing joints are written ``0, 0, 0``; people without any detected joint
    are not written. :func:`read_detections` gives the detections back exactly (missing joints read
    as zeros). Files of other frames already in the folders are left alone.

    Args:
        detections: COCO-17 detections.
        folder: output folder (created).
        joint_set: ``"body25"`` (75 values per person) or ``"coco18"`` (54 values).

    Returns:
        The files written.

    Example:
        >>> import json, tempfile
        >>> kp = np.zeros((1, 17, 3))
        >>> kp[0, COCO17.indices(["left_shoulder", "right_shoulder"])] = [[10, 0, .9], [20, 0, .8]]
        >>> det = Detections2D(("c",), (3,), ((kp,),))
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     files = write_openpose(det, tmp)
        ...     doc = json.loads(files[0].read_text())
        >>> files[0].name, doc["people"][0]["pose_keypoints_2d"][3:6]   # BODY_25 neck
        ('c_000000000003_keypoints.json', [15.0, 0.0, 0.8])
    """
    target = {"body25": BODY25, "coco18": COCO18}.get(joint_set)
    if target is None:
        raise InputError(None, "joint_set", f"expected 'body25' or 'coco18', got {joint_set!r}")
    _check_detections(detections)
    folder = Path(folder)
    texts: dict[Path, str] = {}
    for t, frame in enumerate(detections.frames):
        for v, cam in enumerate(detections.camera_names):
            pose = _from_coco17(_clean_people(detections.keypoints[t][v], 0.0), target)  # (P, J, 3)
            people = [{"person_id": [-1], "pose_keypoints_2d": row,
                       **{key: [] for key in _OPENPOSE_EMPTY_FIELDS}}
                      for row in pose.reshape(len(pose), 3 * target.num_joints).tolist()]
            texts[folder / cam / f"{cam}_{frame:012d}_keypoints.json"] = json.dumps(
                {"version": 1.3, "people": people}, allow_nan=False)
    for file, text in texts.items():
        atomic_write_text(file, text)
    return list(texts)


def _from_coco17(keypoints: np.ndarray, target: JointSet) -> np.ndarray:
    """``(P, 17, 3)`` COCO-17 -> ``(P, J, 3)`` of ``target``; neck / mid_hip from the mid-points, missing = 0."""
    keypoints = np.asarray(keypoints, dtype=float).reshape(-1, _JOINTS_2D, 3)
    # COCO-17 -> Panoptic-19 adds neck and mid_hip as mid-points (confidence = min of the two)
    uv_px, score = convert(keypoints[..., :2], COCO17, PANOPTIC19, keypoints[..., 2])  # (P, 19, 2), (P, 19)
    names = [n for n in PANOPTIC19.joint_names if n in target.joint_names]
    src, dst = PANOPTIC19.indices(names), target.indices(names)
    out = np.zeros((len(keypoints), target.num_joints, 3))
    out[:, dst, :2] = np.nan_to_num(uv_px[:, src], nan=0.0)
    out[:, dst, 2] = score[:, src]
    return out


def write_coco(detections: Detections2D, folder: str | Path) -> list[Path]:
    """Write detections as COCO results JSON, one ``<folder>/<cam>.json`` per camera.

    Each file is a list of ``{"image_id": frame, "category_id": 1, "keypoints": [x, y, score] x 17,
    "score": mean score of the detected joints}`` sorted by frame; missing joints are ``0, 0, 0`` and
    people without any detected joint are not written.
    Scores are written as JSON floats, so :func:`read_detections` reads them back as scores, exactly.
    A frame where no camera detected anybody cannot be represented and is not read back.

    Args:
        detections: COCO-17 detections.
        folder: output folder (created).

    Returns:
        The files written.

    Example:
        >>> import tempfile
        >>> kp = np.zeros((1, 17, 3)); kp[0, :, :2] = 5.5; kp[0, :, 2] = 0.5
        >>> det = Detections2D(("c",), (0, 9), ((kp,), (kp,)))
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     files = write_coco(det, tmp)
        ...     back = read_detections(tmp, ["c"])
        >>> files[0].name, back.frames, bool(np.array_equal(back.for_frame(9)[0], kp))
        ('c.json', (0, 9), True)
    """
    _check_detections(detections)
    folder = Path(folder)
    texts: dict[Path, str] = {}
    for v, cam in enumerate(detections.camera_names):
        results = []
        for t, frame in enumerate(detections.frames):
            keypoints = _clean_people(detections.keypoints[t][v], 0.0)  # (P, 17, 3), people with a joint
            person_score = keypoints[..., 2].sum(-1) / (keypoints[..., 2] > 0).sum(-1)  # (P,) mean detected score
            for row, score in zip(keypoints.reshape(len(keypoints), 3 * _JOINTS_2D).tolist(), person_score.tolist()):
                results.append({"image_id": frame, "category_id": 1, "keypoints": row, "score": score})
        texts[folder / f"{cam}.json"] = json.dumps(results, allow_nan=False)
    for file, text in texts.items():
        atomic_write_text(file, text)
    return list(texts)


def _check_detections(detections: Detections2D) -> None:
    if detections.joint_set.name != COCO17.name:
        raise InputError(None, "detections", f"expected COCO-17 detections, got {detections.joint_set.name}")
    if any(frame < 0 for frame in detections.frames):
        raise InputError(None, "detections.frames",
                         f"frame numbers must be >= 0 in files, got {min(detections.frames)}")
    for cam in detections.camera_names:
        if not cam or cam in (".", "..") or "/" in cam or "\\" in cam:
            raise InputError(None, "camera_names", f"{cam!r} cannot be used as a file or folder name")


# ============================================================================ 3D poses


def write_poses(poses: Poses3D, path: str | Path, *, config: dict | Config | None = None, fps: float = 30.0,
                trc_axes: str = "xyz") -> list[Path]:
    """Write 3D poses; the format follows the suffix of ``path``.

    * ``.json`` — closecap-3d: ``{"format": "closecap-3d", "version": 1, "units": "m", "skeleton",
      "joint_names", "convention": "world frame of the calibration", "ids": [all P ids, in order],
      "config": {...} (only if given), "frames": [{"frame", "people": [{"id", "joints": [[x, y, z] or
      null] x J, "confidence": [J floats]}]}]}``. Joints and confidences are rounded to 1e-6 (1 µm); a
      joint not reconstructed is ``null`` (confidence 0); a person absent in a frame is not listed.
    * ``.npz`` — arrays ``frames (T,)``, ``ids (P,)``, ``joints (T, P, J, 3)`` metres with NaN,
      ``confidence (T, P, J)``, ``joint_names (J,)``, and scalars ``format``, ``version``, ``units``,
      ``skeleton``, ``convention``, ``config`` (JSON text, ``""`` if none). Exact.
    * ``.csv`` — header ``frame,id,joint,x_m,y_m,z_m,confidence``, one row per frame x present person x
      joint, metres to 1e-6; a joint not reconstructed has empty ``x_m,y_m,z_m`` and confidence 0.
    * ``.trc`` — OpenSim / Pose2Sim TRC, **one file per person**: ``<stem>_id<id>.trc`` beside ``path``
      (``path`` itself is not written), markers named after the joints, metres, ``DataRate`` = ``fps``,
      ``Frame#`` = frame number, ``Time`` = frame / fps, every frame listed (empty cells where the joint is
      missing). ``trc_axes`` picks the world axes stored as the file's X, Y, Z: ``"xyz"`` (default) keeps
      them, ``"yzx"`` is Pose2Sim's order (a Z-up world becomes OpenSim's Y-up).

    CSV and TRC cannot hold the config: write ``config.json`` beside them.

    Args:
        poses: the 3D poses (metres, world frame of the calibration).
        path: output file; suffix ``.json``, ``.npz``, ``.csv`` or ``.trc``.
        config: configuration that produced the poses (a dict or :class:`~closecap.config.Config`),
            stored in ``.json`` and ``.npz``.
        fps: frame rate for ``.trc`` (frames per second).
        trc_axes: permutation of ``"xyz"`` for ``.trc``.

    Returns:
        The files written.

    Example:
        >>> import tempfile
        >>> joints = np.full((2, 1, 17, 3), np.nan); joints[0, 0] = 1.0
        >>> poses = Poses3D(np.array([0, 1]), np.array([4]), joints, np.where(np.isnan(joints[..., 0]), 0, 0.5))
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     files = [write_poses(poses, Path(tmp) / f"poses.{ext}")[0].name
        ...              for ext in ("json", "npz", "csv", "trc")]
        ...     back = read_poses(Path(tmp) / "poses.json")
        >>> files, back.ids.tolist(), back.present.tolist()
        (['poses.json', 'poses.npz', 'poses.csv', 'poses_id4.trc'], [4], [[True], [False]])
    """
    path = Path(path)
    config_dict = _config_dict(config)
    suffix = path.suffix.lower()
    if suffix == ".json":
        outputs = {path: _poses_json_text(poses, config_dict).encode("utf-8")}
    elif suffix == ".npz":
        outputs = {path: _poses_npz_bytes(poses, config_dict)}
    elif suffix == ".csv":
        outputs = {path: _poses_csv_text(poses).encode("utf-8")}
    elif suffix == ".trc":
        if not (isinstance(fps, (int, float)) and math.isfinite(fps) and fps > 0):
            raise InputError(None, "fps", f"expected a frame rate > 0, got {fps!r}")
        if sorted(trc_axes) != ["x", "y", "z"]:
            raise InputError(None, "trc_axes", f"expected a permutation of 'xyz', got {trc_axes!r}")
        axes = ["xyz".index(a) for a in trc_axes]
        outputs = {path.with_name(f"{path.stem}_id{pid}.trc"): _poses_trc_text(poses, p, float(fps), axes, path)
                   .encode("utf-8") for p, pid in enumerate(poses.ids.tolist())}
    else:
        raise InputError(path, None, f"unknown pose format {path.suffix!r}; expected .json, .npz, .csv or .trc")
    for file, data in outputs.items():
        atomic_write_bytes(file, data)
    return list(outputs)


def _config_dict(config: dict | Config | None) -> dict | None:
    if config is None:
        return None
    if isinstance(config, Config):
        config = config.to_dict()
    if not isinstance(config, dict):
        raise InputError(None, "config", f"expected a dict or Config, got {type(config).__name__}")
    try:
        json.dumps(config, allow_nan=False)
    except (TypeError, ValueError) as err:
        raise InputError(None, "config", f"not JSON-serialisable: {err}") from None
    return config


def _header(poses: Poses3D) -> dict[str, Any]:
    return {"format": POSES_FORMAT, "version": POSES_VERSION, "units": "m", "skeleton": poses.joint_set.name,
            "joint_names": list(poses.joint_set.joint_names), "convention": POSES_CONVENTION}


def _poses_json_text(poses: Poses3D, config: dict | None) -> str:
    joints = np.round(poses.joints, _JSON_ROUND_DECIMALS).tolist()  # (T, P, J, 3) nested lists, NaN kept
    confidence = np.round(poses.confidence, _JSON_ROUND_DECIMALS).tolist()  # (T, P, J)
    present = poses.present  # (T, P)
    ids = poses.ids.tolist()
    frames = []
    for t, frame in enumerate(poses.frames.tolist()):
        people = [{"id": ids[p],
                   "joints": [None if math.isnan(xyz[0]) else xyz for xyz in joints[t][p]],
                   "confidence": confidence[t][p]}
                  for p in np.flatnonzero(present[t]).tolist()]
        frames.append({"frame": frame, "people": people})
    doc = {**_header(poses), "ids": ids}
    if config is not None:
        doc["config"] = config
    doc["frames"] = frames
    return json.dumps(doc, allow_nan=False) + "\n"


def _poses_npz_bytes(poses: Poses3D, config: dict | None) -> bytes:
    header = _header(poses)
    buffer = io.BytesIO()  # serialised in memory, then written atomically (np.savez would append '.npz')
    np.savez_compressed(
        buffer,
        format=np.array(header["format"]), version=np.array(header["version"]), units=np.array(header["units"]),
        skeleton=np.array(header["skeleton"]), convention=np.array(header["convention"]),
        joint_names=np.array(header["joint_names"]), config=np.array("" if config is None else json.dumps(config)),
        frames=poses.frames, ids=poses.ids, joints=poses.joints, confidence=poses.confidence,
    )
    return buffer.getvalue()


def _poses_csv_text(poses: Poses3D) -> str:
    names = poses.joint_set.joint_names
    lines = ["frame,id,joint,x_m,y_m,z_m,confidence"]
    t_idx, p_idx = np.nonzero(poses.present)
    for t, p in zip(t_idx.tolist(), p_idx.tolist()):
        frame, pid = int(poses.frames[t]), int(poses.ids[p])
        for name, xyz, conf in zip(names, poses.joints[t, p].tolist(), poses.confidence[t, p].tolist()):
            coords = ",," if math.isnan(xyz[0]) else ",".join(f"{c:.6f}" for c in xyz)
            lines.append(f"{frame},{pid},{name},{coords},{conf:.6f}")
    return "\n".join(lines) + "\n"


def _poses_trc_text(poses: Poses3D, p: int, fps: float, axes: list[int], path: Path) -> str:
    names = poses.joint_set.joint_names
    T, J = poses.num_frames, len(names)
    points = poses.joints[:, p][..., axes]  # (T, J, 3) metres, file axis order
    first = int(poses.frames[0]) if T else 0
    lines = [
        f"PathFileType\t4\t(X/Y/Z)\t{path.stem}_id{int(poses.ids[p])}.trc",
        "DataRate\tCameraRate\tNumFrames\tNumMarkers\tUnits\tOrigDataRate\tOrigDataStartFrame\tOrigNumFrames",
        f"{fps:g}\t{fps:g}\t{T}\t{J}\tm\t{fps:g}\t{first}\t{T}",
        "Frame#\tTime\t" + "\t".join(f"{name}\t\t" for name in names).rstrip("\t"),
        "\t\t" + "\t".join(f"X{j + 1}\tY{j + 1}\tZ{j + 1}" for j in range(J)),
        "",
    ]
    for frame, row in zip(poses.frames.tolist(), points.tolist()):
        cells = [f"{c:.6f}" if not math.isnan(c) else "" for xyz in row for c in xyz]
        lines.append(f"{frame}\t{frame / fps:.6f}\t" + "\t".join(cells))
    return "\n".join(lines) + "\n"


def read_poses(path: str | Path) -> Poses3D:
    """Read 3D poses written by :func:`write_poses` (``.json`` closecap-3d or ``.npz``), e.g. ground truth.

    Accepted: ``format`` ``"closecap-3d"``, ``version`` 1, ``units`` ``"m"``, a known ``skeleton``
    whose ``joint_names`` match exactly. In JSON, ``ids`` is optional (default: the sorted ids found in
    the frames) and so is a person's ``confidence`` (default: 1 for every non-null joint); a joint
    is ``null`` or three finite numbers.

    Args:
        path: a ``.json`` or ``.npz`` file.

    Returns:
        :class:`Poses3D` (metres, world frame of the calibration).

    Raises:
        InputError: ``file: field: problem`` for another format or version, mismatching joint names, a
            wrong joint count, NaN in a non-null joint, duplicate frames or ids, etc.

    Example:
        >>> import json, tempfile
        >>> doc = {"format": "closecap-3d", "version": 1, "units": "m", "skeleton": "coco17",
        ...        "joint_names": list(COCO17.joint_names), "convention": "world frame of the calibration",
        ...        "frames": [{"frame": 5, "people": [{"id": 2, "joints": [[0.1, 0.2, 1.5]] + [None] * 16}]}]}
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     _ = (Path(tmp) / "gt.json").write_text(json.dumps(doc))
        ...     gt = read_poses(Path(tmp) / "gt.json")
        >>> gt.frames.tolist(), gt.ids.tolist(), gt.joints[0, 0, 0].tolist(), gt.confidence[0, 0, :2].tolist()
        ([5], [2], [0.1, 0.2, 1.5], [1.0, 0.0])
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".json", ".npz"):
        raise InputError(path, None, f"cannot read poses from {path.suffix!r} files; expected .json or .npz")
    if not path.is_file():
        raise InputError(path, None, "no such file")
    return _read_poses_json(path) if suffix == ".json" else _read_poses_npz(path)


def _check_header(path: Path, get) -> JointSet:
    """Check format / version / units / skeleton / joint_names; ``get(key)`` returns a value or raises."""
    fmt = get("format")
    if fmt != POSES_FORMAT:
        raise InputError(path, "format", f"expected {POSES_FORMAT!r}, got {fmt!r}")
    version = get("version")
    if version != POSES_VERSION:
        raise InputError(path, "version", f"expected {POSES_VERSION}, got {version!r}")
    units = get("units")
    if units != "m":
        raise InputError(path, "units", f"expected 'm', got {units!r}")
    skeleton = get("skeleton")
    try:
        joint_set = get_joint_set(str(skeleton))
    except InputError as err:
        raise InputError(path, "skeleton", err.message) from None
    names = get("joint_names")
    if not isinstance(names, list) or len(names) != joint_set.num_joints:
        count = len(names) if isinstance(names, list) else type(names).__name__
        raise InputError(path, "joint_names", f"expected {joint_set.num_joints} names of {joint_set.name}, got {count}")
    if tuple(names) != joint_set.joint_names:
        bad = next(j for j, (a, b) in enumerate(zip(names, joint_set.joint_names)) if a != b)
        raise InputError(path, f"joint_names[{bad}]", f"expected {joint_set.joint_names[bad]!r} "
                                                      f"({joint_set.name}), got {names[bad]!r}")
    return joint_set


def _read_poses_json(path: Path) -> Poses3D:
    doc = _load_json(path)
    if not isinstance(doc, dict):
        raise InputError(path, None, f"expected an object, got {type(doc).__name__}")

    def get(key: str) -> Any:
        if key not in doc:
            raise InputError(path, key, "missing")
        return doc[key]

    joint_set = _check_header(path, get)
    J = joint_set.num_joints
    frames_doc = get("frames")
    if not isinstance(frames_doc, list):
        raise InputError(path, "frames", f"expected a list, got {type(frames_doc).__name__}")
    frames: list[int] = []
    people_per_frame: list[list[tuple[int, np.ndarray, np.ndarray]]] = []
    for i, entry in enumerate(frames_doc):
        field = f"frames[{i}]"
        if not isinstance(entry, dict):
            raise InputError(path, field, f"expected an object, got {type(entry).__name__}")
        frame = _int_field(entry, "frame", path, field)
        if frames and frame <= frames[-1]:
            raise InputError(path, f"{field}.frame",
                             f"frame numbers must be strictly increasing ({frame} after {frames[-1]})")
        if "people" not in entry:
            raise InputError(path, f"{field}.people", "missing")
        people = entry["people"]
        if not isinstance(people, list):
            raise InputError(path, f"{field}.people", f"expected a list, got {type(people).__name__}")
        seen: set[int] = set()
        parsed = []
        for k, person in enumerate(people):
            pfield = f"{field}.people[{k}]"
            if not isinstance(person, dict):
                raise InputError(path, pfield, f"expected an object, got {type(person).__name__}")
            pid = _int_field(person, "id", path, pfield, minimum=None)
            if pid in seen:
                raise InputError(path, f"{pfield}.id", f"person id {pid} appears twice in frame {frame}")
            seen.add(pid)
            joints, valid = _json_joints(person, J, path, pfield)
            if "confidence" in person:
                confidence = _numbers(person["confidence"], path, f"{pfield}.confidence")
                if confidence.size != J:
                    raise InputError(path, f"{pfield}.confidence", f"expected {J} values, got {confidence.size}")
                if np.any((confidence < 0) | (confidence > 1)):
                    raise InputError(path, f"{pfield}.confidence", "values must be in [0, 1]")
            else:
                confidence = valid.astype(float)
            parsed.append((pid, joints, confidence))
        frames.append(frame)
        people_per_frame.append(parsed)

    found_ids = sorted({pid for people in people_per_frame for pid, _, _ in people})
    if "ids" in doc:
        ids = doc["ids"]
        if not isinstance(ids, list) or any(type(x) is not int for x in ids):
            raise InputError(path, "ids", "expected a list of integers")
        if len(set(ids)) != len(ids):
            raise InputError(path, "ids", "person ids must be unique")
        unknown = sorted(set(found_ids) - set(ids))
        if unknown:
            raise InputError(path, "ids", f"person id(s) {unknown[:5]} appear in frames but not in 'ids'")
    else:
        ids = found_ids
    column = {pid: c for c, pid in enumerate(ids)}
    joints_all = np.full((len(frames), len(ids), J, 3), np.nan)
    confidence_all = np.zeros((len(frames), len(ids), J))
    for t, people in enumerate(people_per_frame):
        for pid, joints, confidence in people:
            joints_all[t, column[pid]] = joints
            confidence_all[t, column[pid]] = confidence
    return Poses3D(np.array(frames, dtype=np.int64), np.array(ids, dtype=np.int64), joints_all, confidence_all,
                   joint_set)


def _json_joints(person: dict, J: int, path: Path, field: str) -> tuple[np.ndarray, np.ndarray]:
    """``person["joints"]`` -> ``(J, 3)`` metres with NaN for ``null``, and ``(J,)`` bool non-null."""
    if "joints" not in person:
        raise InputError(path, f"{field}.joints", "missing")
    rows = person["joints"]
    if not isinstance(rows, list) or len(rows) != J:
        count = len(rows) if isinstance(rows, list) else type(rows).__name__
        raise InputError(path, f"{field}.joints", f"expected {J} joints (null or [x, y, z]), got {count}")
    joints = np.full((J, 3), np.nan)
    for j, row in enumerate(rows):
        if row is None:
            continue
        values = _numbers(row, path, f"{field}.joints[{j}]")
        if values.size != 3:
            raise InputError(path, f"{field}.joints[{j}]", f"expected null or [x, y, z], got {values.size} values")
        joints[j] = values
    return joints, np.isfinite(joints[:, 0])


def _int_field(entry: dict, key: str, path: Path, field: str, *, minimum: int | None = 0) -> int:
    if key not in entry:
        raise InputError(path, f"{field}.{key}", "missing")
    value = entry[key]
    if type(value) is not int or (minimum is not None and value < minimum):
        bound = "" if minimum is None else f" >= {minimum}"
        raise InputError(path, f"{field}.{key}", f"expected an integer{bound}, got {value!r}")
    return value


def _read_poses_npz(path: Path) -> Poses3D:
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
        raise InputError(path, None, f"not a readable .npz file: {err}") from None

    def get(key: str) -> Any:
        if key not in arrays:
            raise InputError(path, key, "missing")
        value = arrays[key]
        return value.tolist() if key == "joint_names" or value.ndim == 0 else value

    joint_set = _check_header(path, get)
    J = joint_set.num_joints
    frames, ids, joints, confidence = (np.asarray(get(k)) for k in ("frames", "ids", "joints", "confidence"))
    for key, arr in (("frames", frames), ("ids", ids)):
        if arr.ndim != 1 or arr.dtype.kind not in "iu":
            raise InputError(path, key, f"expected a 1D integer array, got {arr.dtype} {arr.shape}")
    T, P = len(frames), len(ids)
    for key, arr, shape in (("joints", joints, (T, P, J, 3)), ("confidence", confidence, (T, P, J))):
        if arr.dtype.kind not in "iuf":
            raise InputError(path, key, f"expected numbers, got {arr.dtype}")
        if arr.shape != shape:
            raise InputError(path, key, f"expected shape (T, P, J{', 3' if key == 'joints' else ''}) = {shape}, "
                                        f"got {arr.shape}")
    joints, confidence = joints.astype(float), confidence.astype(float)
    if np.any(np.isinf(joints)):
        raise InputError(path, "joints", "infinite coordinates")
    partial = np.isnan(joints).any(-1) & ~np.isnan(joints).all(-1)  # (T, P, J)
    if partial.any():
        t, p, j = np.argwhere(partial)[0]
        raise InputError(path, f"joints[{t}, {p}, {j}]", "NaN in some but not all coordinates")
    if not np.all(np.isfinite(confidence)) or np.any((confidence < 0) | (confidence > 1)):
        raise InputError(path, "confidence", "values must be finite and in [0, 1]")
    if np.any(np.diff(frames) <= 0):
        raise InputError(path, "frames", "frame numbers must be strictly increasing")
    if len(np.unique(ids)) != P:
        raise InputError(path, "ids", "person ids must be unique")
    return Poses3D(frames, ids, joints, confidence, joint_set)


# ============================================================================ shared helpers


def _load_json(path: Path) -> Any:
    """Parse a JSON file; unreadable or invalid JSON raises :class:`InputError`."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(path, None, f"cannot read: {err}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise InputError(path, None, f"not valid JSON: {err.msg} at line {err.lineno} column {err.colno}") from None


def _numbers(values: Any, path: Path, field: str) -> np.ndarray:
    """A JSON list of finite numbers -> ``(N,)`` float; anything else raises naming the first bad item."""
    if not isinstance(values, list):
        raise InputError(path, field, f"expected a list of numbers, got {type(values).__name__}")
    bad = next((k for k, x in enumerate(values) if type(x) not in (int, float)), None)
    if bad is not None:
        raise InputError(path, f"{field}[{bad}]", f"expected a number, got {values[bad]!r}")
    array = np.array(values, dtype=float)
    finite = np.isfinite(array)
    if not finite.all():
        bad = int(np.flatnonzero(~finite)[0])
        raise InputError(path, f"{field}[{bad}]", f"expected a finite number, got {values[bad]!r}")
    return array
