"""Adapters for the public multi-person benchmarks: Shelf, Campus (VoxelPose layout) and CMU Panoptic.

Readers turn the datasets' own files into closecap's containers; :func:`evaluate_dataset` scores a
closecap prediction with the published protocol (:mod:`closecap.protocols`); :func:`dataset_to_closecap`
writes a dataset as closecap files so that ``closecap reconstruct`` can run on it.

Layouts read (``root`` is the dataset folder):

* **Shelf / Campus** (VoxelPose): ``<root>/actorsGT.mat``, ``<root>/calibration_<ds>.json`` and
  ``<root>/pred_<ds>_maskrcnn_hrnet_coco.pkl``.

  - ``actorsGT.mat`` (MATLAB v5): ``actor3D`` is a (1, A) cell array, one cell per actor, each (F, 1) with a
    (14, 3) array per frame (metres, the calibration's world, z up) or an empty array where the actor is
    not annotated. :func:`read_actors_gt` returns it as :class:`Poses3D` in the 14-joint Shelf set
    (:data:`closecap.skeleton.SHELF14`), ids 1..A (= "Actor 1".."Actor A"), frame numbers 0..F-1 (the
    images ``img_000300.png`` / ``campus4-c0-00350.png`` of frame 300 / 350). A COCO-17 version has the
    12 body joints and no face (:func:`closecap.protocols.shelf14_to_coco17`).
  - The detection pickle is a ``collections.defaultdict``: key ``"<view>_<frame>"``, value a list of
    ``{"pred": (17, 3) array}`` (COCO-17 ``x, y, score``, image pixels). :func:`read_voxelpose_detections`
    unpickles it with an allow-list (``collections.defaultdict`` and numpy's array / dtype
    reconstructors only): a pickle naming any other global is refused *before* anything is called.
    Camera names are the view numbers as strings (``"0"``..``"4"``), as in the calibration.

* **CMU Panoptic**: ``<root>/<seq>/hdPose3d_stage1_coco19/body3DScene_<frame:08d>.json`` (``bodies``: ``id`` and
  ``joints19`` = 19 x (x, y, z, confidence), centimetres, Panoptic's world with y down) and
  ``<root>/<seq>/calibration_<seq>.json``. :func:`read_panoptic_gt` converts centimetres to metres and
  **keeps Panoptic's world frame** (no axis change), exactly as :func:`closecap.io.calibration.load_rig`
  does for the calibration, so a prediction reconstructed with that calibration is comparable without
  any transform. (VoxelPose rotates both into a z-up world; MPJPE, and so AP, does not change.) VoxelPose's
  GT filters are applied: a joint with confidence <= 0.1 is ignored (NaN), a body whose root (mid-hip) is
  ignored is dropped, frames left without bodies are dropped, and ``interval`` keeps every n-th file.

Example:
    >>> import tempfile, scipy.io
    >>> cells = np.empty((1, 1), dtype=object)
    >>> cells[0, 0] = np.array([[np.ones((14, 3))], [np.zeros((1, 0))]], dtype=object)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     scipy.io.savemat(Path(tmp) / "actorsGT.mat", {"actor3D": cells})
    ...     gt = read_actors_gt(Path(tmp) / "actorsGT.mat")
    >>> gt.frames.tolist(), gt.ids.tolist(), gt.present.tolist(), gt.joint_set.name
    ([0, 1], [1], [[True], [False]], 'shelf14')
"""
from __future__ import annotations

import collections
import io
import json
import pickle
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from closecap.cameras import Rig
from closecap.config import Config
from closecap.errors import InputError
from closecap.io.calibration import load_rig, save_rig
from closecap.io.keypoints import read_poses, write_openpose, write_poses
from closecap.poses import Detections2D, Poses3D
from closecap.protocols import (PANOPTIC_CAMERAS, PCPConfig, PanopticConfig, PanopticResult, PCPResult,
                                format_panoptic_table, format_pcp_table, panoptic_ap, shelf14_to_coco17,
                                shelf_campus_pcp)
from closecap.skeleton import COCO17, PANOPTIC19, SHELF14, convert

try:  # numpy >= 2
    from numpy._core import multiarray as _np_multiarray
    from numpy._core import numeric as _np_numeric
except ImportError:  # pragma: no cover - numpy 1.x
    from numpy.core import multiarray as _np_multiarray
    from numpy.core import numeric as _np_numeric

__all__ = [
    "DATASETS", "Recording", "read_actors_gt", "read_voxelpose_detections", "restricted_unpickle",
    "read_panoptic_gt", "load_shelf_campus", "load_panoptic_sequence", "evaluate_dataset",
    "dataset_to_closecap", "parse_frame_ranges",
]

DATASETS = ("shelf", "campus", "panoptic")
"""Datasets :func:`evaluate_dataset` and :func:`dataset_to_closecap` know."""

PANOPTIC_POSE_FOLDER = "hdPose3d_stage1_coco19"
_CM_TO_M = 0.01
_PKL_ALLOWED: dict[tuple[str, str], Any] = {
    ("collections", "defaultdict"): collections.defaultdict,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("numpy.core.multiarray", "_reconstruct"): _np_multiarray._reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _np_multiarray._reconstruct,
    ("numpy.core.numeric", "_frombuffer"): _np_numeric._frombuffer,
    ("numpy._core.numeric", "_frombuffer"): _np_numeric._frombuffer,
}


# ============================================================================ containers


@dataclass(frozen=True)
class Recording:
    """One dataset recording as closecap sees it.

    Attributes:
        name: ``"shelf"``, ``"campus"`` or the Panoptic sequence name.
        rig: the cameras (metres, the dataset's world frame).
        gt: ground truth in the dataset's joint set (SHELF14 or PANOPTIC19), metres, same world frame.
        detections: COCO-17 2D detections per view of ``rig`` (Shelf/Campus pickle; views the calibration
            lacks are dropped when empty), or ``None``.
    """

    name: str
    rig: Rig
    gt: Poses3D
    detections: Detections2D | None = None


# ============================================================================ Shelf / Campus


def read_actors_gt(path: str | Path) -> Poses3D:
    """Read a Shelf/Campus ``actorsGT.mat`` (its ``actor3D`` cell array) as ground truth.

    Args:
        path: the ``.mat`` file (MATLAB v5).

    Returns:
        :class:`Poses3D` in SHELF14: frames ``0..F-1``, ids ``1..A``, joints ``(F, A, 14, 3)`` metres (NaN where
        the actor is not annotated), confidence 1 where annotated.

    Raises:
        InputError: unreadable file, no ``actor3D``, cells of unequal length or arrays other than (14, 3).

    Example:
        >>> from pathlib import Path
        >>> p = Path(__file__).resolve().parents[4] / "shared/datasets/shelf/actorsGT.mat"
        >>> gt = read_actors_gt(p) if p.exists() else None
        >>> gt is None or (gt.joints.shape, gt.ids.tolist()) == ((3, 4, 14, 3), [1, 2, 3, 4])
        True
    """
    import scipy.io

    path = Path(path)
    try:
        data = scipy.io.loadmat(path)
    except (OSError, ValueError, NotImplementedError, TypeError, scipy.io.matlab.MatReadError) as err:
        raise InputError(path, None, f"cannot read MATLAB file: {err}") from None
    if "actor3D" not in data:
        raise InputError(path, "actor3D", "missing (expected a 1 x A cell array)")
    cells = np.asarray(data["actor3D"])
    if cells.dtype != object or cells.ndim != 2 or cells.shape[0] != 1 or cells.shape[1] == 0:
        raise InputError(path, "actor3D", f"expected a 1 x A cell array, got {cells.dtype} {cells.shape}")
    actors = [np.asarray(c, dtype=object).reshape(-1) for c in cells[0]]
    num_frames = {len(a) for a in actors}
    if len(num_frames) != 1:
        raise InputError(path, "actor3D", f"actors have different frame counts {sorted(num_frames)}")
    F, A = num_frames.pop(), len(actors)
    joints = np.full((F, A, SHELF14.num_joints, 3), np.nan)
    for a, frames in enumerate(actors):  # one cell per actor and frame: MATLAB's layout, not a hot path
        for t, entry in enumerate(frames):
            arr = np.asarray(entry, dtype=float)
            if arr.size == 0:
                continue
            if arr.shape != (SHELF14.num_joints, 3) or not np.isfinite(arr).all():
                raise InputError(path, f"actor3D{{{a + 1}}}{{{t + 1}}}",
                                 f"expected a finite 14 x 3 array, got {arr.shape}")
            joints[t, a] = arr
    confidence = np.isfinite(joints).all(-1).astype(float)
    return Poses3D(np.arange(F), np.arange(1, A + 1), joints, confidence, SHELF14)


class _AllowListUnpickler(pickle.Unpickler):
    """Unpickler resolving only the globals of :data:`_PKL_ALLOWED`; anything else raises before any call."""

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _PKL_ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"refusing global {module}.{name}") from None


def restricted_unpickle(path: str | Path) -> Any:
    """Unpickle a VoxelPose-style file allowing only ``collections.defaultdict`` and numpy array / dtype
    reconstructors (``numpy.ndarray``, ``numpy.dtype``, ``_reconstruct``, ``_frombuffer``); never a plain
    ``pickle.load``.

    Args:
        path: the pickle file.

    Returns:
        The unpickled object (plain containers, strings, numbers, numpy arrays, defaultdicts).

    Raises:
        InputError: unreadable, corrupt, or naming any other global (e.g. ``os.system``).

    Example:
        >>> import pickle, tempfile
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     _ = (Path(tmp) / "ok.pkl").write_bytes(pickle.dumps({"0_1": [{"pred": np.zeros((17, 3))}]}))
        ...     restricted_unpickle(Path(tmp) / "ok.pkl")["0_1"][0]["pred"].shape
        (17, 3)
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as err:
        raise InputError(path, None, f"cannot read: {err.strerror or err}") from None
    try:
        return _AllowListUnpickler(io.BytesIO(data)).load()
    except pickle.UnpicklingError as err:
        raise InputError(path, None, f"unsafe or corrupt pickle: {err}") from None
    except (EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError, MemoryError) as err:
        raise InputError(path, None, f"corrupt pickle: {type(err).__name__}: {err}") from None


_PKL_KEY = re.compile(r"^(\d+)_(\d+)$")


def read_voxelpose_detections(path: str | Path, *, frames: Sequence[int] | None = None) -> Detections2D:
    """Read VoxelPose's ``pred_<ds>_maskrcnn_hrnet_coco.pkl`` (restricted unpickling) as 2D detections.

    Args:
        path: the pickle; keys ``"<view>_<frame>"``, values lists of ``{"pred": (17, 3) or (1, 17, 3)}``
            COCO-17 ``x, y, score`` (image pixels).
        frames: keep these frames (a frame absent from the file has no detections); default all frames found.

    Returns:
        COCO-17 :class:`Detections2D`, cameras ``"0".."V-1"`` (the views found, numeric order), scores
        clipped to [0, 1], joints with score 0 set to ``(0, 0, 0)``.

    Raises:
        InputError: unsafe or corrupt pickle, unexpected keys or arrays.

    Example:
        >>> import pickle, tempfile
        >>> kp = np.full((17, 3), 0.5)
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     _ = (Path(tmp) / "p.pkl").write_bytes(pickle.dumps({"0_4": [{"pred": kp}], "1_4": []}))
        ...     det = read_voxelpose_detections(Path(tmp) / "p.pkl")
        >>> det.camera_names, det.frames, [a.shape for a in det.for_frame(4)]
        (('0', '1'), (4,), [(1, 17, 3), (0, 17, 3)])
    """
    path = Path(path)
    data = restricted_unpickle(path)
    if not isinstance(data, dict):
        raise InputError(path, None, f"expected a dict of detections, got {type(data).__name__}")
    per_key: dict[tuple[int, int], np.ndarray] = {}
    for key, people in data.items():
        match = _PKL_KEY.match(str(key))
        if match is None:
            raise InputError(path, repr(key), "expected keys '<view>_<frame>'")
        if not isinstance(people, (list, tuple)):
            raise InputError(path, str(key), f"expected a list of people, got {type(people).__name__}")
        arrays = []
        for i, person in enumerate(people):
            if not isinstance(person, dict) or "pred" not in person:
                raise InputError(path, f"{key}[{i}]", "expected a dict with 'pred'")
            arr = np.asarray(person["pred"], dtype=float)
            if arr.size % (COCO17.num_joints * 3) or arr.reshape(-1, COCO17.num_joints, 3).shape[0] != 1:
                raise InputError(path, f"{key}[{i}].pred", f"expected (17, 3), got {arr.shape}")
            arr = arr.reshape(COCO17.num_joints, 3)
            if not np.isfinite(arr).all() or (arr[:, 2] < 0).any():
                raise InputError(path, f"{key}[{i}].pred", "expected finite values and scores >= 0")
            arrays.append(arr)
        stacked = np.stack(arrays) if arrays else np.zeros((0, COCO17.num_joints, 3))
        score = np.minimum(stacked[..., 2], 1.0)  # (P, 17)
        per_key[(int(match.group(1)), int(match.group(2)))] = np.where(
            (score > 0)[..., None], np.concatenate([stacked[..., :2], score[..., None]], -1), 0.0)
    if not per_key:
        raise InputError(path, None, "no detections")
    views = sorted({v for v, _ in per_key})
    frame_list = sorted({f for _, f in per_key}) if frames is None else sorted({int(f) for f in frames})
    empty = np.zeros((0, COCO17.num_joints, 3))
    keypoints = tuple(tuple(per_key.get((v, f), empty) for v in views) for f in frame_list)
    return Detections2D(tuple(str(v) for v in views), tuple(frame_list), keypoints)


def load_shelf_campus(dataset: str, root: str | Path, *, detections: bool = True) -> Recording:
    """Read a Shelf or Campus folder (VoxelPose layout): calibration, ground truth and (optionally) detections.

    Args:
        dataset: ``"shelf"`` or ``"campus"``.
        root: folder with ``actorsGT.mat``, ``calibration_<ds>.json`` and ``pred_<ds>_maskrcnn_hrnet_coco.pkl``.
        detections: also read the detection pickle.

    Returns:
        :class:`Recording` (rig cameras ``"0"``.., GT in SHELF14, detections COCO-17 or ``None``).

    Example:
        >>> from pathlib import Path
        >>> root = Path(__file__).resolve().parents[4] / "shared/datasets/campus"
        >>> rec = load_shelf_campus("campus", root) if root.exists() else None
        >>> rec is None or (rec.rig.names, rec.detections.camera_names) == (("0", "1", "2"), ("0", "1", "2"))
        True
    """
    if dataset not in ("shelf", "campus"):
        raise InputError(None, "dataset", f"expected 'shelf' or 'campus', got {dataset!r}")
    root = Path(root)
    rig = load_rig(_need(root / f"calibration_{dataset}.json"))
    gt = read_actors_gt(_need(root / "actorsGT.mat"))
    det = None
    if detections:
        det = read_voxelpose_detections(_need(root / f"pred_{dataset}_maskrcnn_hrnet_coco.pkl"))
        # views the calibration lacks are dropped if they hold nobody (the Campus pickle lists 5 empty views)
        unknown = [v for v, n in enumerate(det.camera_names) if n not in rig.names]
        used = [det.camera_names[v] for v in unknown if any(len(views[v]) for views in det.keypoints)]
        if used:
            raise InputError(root, "detections", f"views {used} have detections but are not in the calibration "
                                                 f"{list(rig.names)}")
        det = det.reorder([n for n in rig.names if n in det.camera_names])
    return Recording(dataset, rig, gt, det)


def _need(path: Path) -> Path:
    if not path.exists():
        raise InputError(path, None, "no such file or folder")
    return path


# ============================================================================ Panoptic


def _frame_number(path: Path) -> int:
    digits = re.findall(r"\d+", path.stem)
    if not digits:
        raise InputError(path, None, "expected a frame number in the file name")
    return int(digits[-1])


def read_panoptic_gt(folder: str | Path, *, interval: int = 1, min_joint_confidence: float = 0.1,
                     root_joint: str = "mid_hip") -> Poses3D:
    """Read a Panoptic ``hdPose3d_stage1_coco19`` folder as ground truth, with VoxelPose's filters.

    Args:
        folder: the folder of ``body3DScene_<frame>.json`` files.
        interval: keep every ``interval``-th file in name order (VoxelPose's validation: 12).
        min_joint_confidence: joints with Panoptic confidence <= this are NaN (VoxelPose: 0.1).
        root_joint: a body whose root joint is dropped by that rule is dropped (VoxelPose: mid-hip).

    Returns:
        :class:`Poses3D` in PANOPTIC19, metres, **Panoptic world (y down)**, ids = Panoptic body ids,
        frames = the numbers in the file names; confidence = Panoptic's, 0 where dropped. Frames left
        without bodies are not listed.

    Raises:
        InputError: no files, unreadable JSON, malformed ``joints19``, or no frame with a valid body.

    Example:
        >>> from pathlib import Path
        >>> d = Path(__file__).resolve().parents[4] / "shared/datasets/panoptic/160906_band1/hdPose3d_stage1_coco19"
        >>> gt = read_panoptic_gt(d) if d.exists() else None
        >>> gt is None or (gt.frames.tolist(), gt.joint_set.name) == ([168, 169], "panoptic19")
        True
    """
    folder = Path(folder)
    if not (isinstance(interval, int) and interval >= 1):
        raise InputError(folder, "interval", f"expected an integer >= 1, got {interval!r}")
    root_index = PANOPTIC19.index(root_joint)
    files = sorted(folder.glob("body3DScene_*.json"))
    if not files:
        raise InputError(folder, None, "no body3DScene_*.json files")
    frames, people = [], []
    for f in files[::interval]:
        try:
            bodies = json.loads(f.read_text())["bodies"]
            parsed = [(int(b["id"]), np.asarray(b["joints19"], dtype=float)) for b in bodies]
        except (OSError, json.JSONDecodeError, KeyError, TypeError, ValueError) as err:
            raise InputError(f, "bodies", f"cannot read Panoptic bodies: {err}") from None
        kept = []
        for body_id, raw in parsed:
            if raw.size != 4 * PANOPTIC19.num_joints or not np.isfinite(raw).all():
                raise InputError(f, f"bodies[id={body_id}].joints19", f"expected 76 finite numbers, got {raw.size}")
            raw = raw.reshape(PANOPTIC19.num_joints, 4)
            valid = raw[:, 3] > min_joint_confidence  # (19,)
            if not valid[root_index]:
                continue
            kept.append((body_id, np.where(valid[:, None], raw[:, :3] * _CM_TO_M, np.nan),
                         np.where(valid, raw[:, 3], 0.0)))
        if kept:
            frames.append(_frame_number(f))
            people.append(kept)
    if not frames:
        raise InputError(folder, None, "no frame with a valid body")
    return Poses3D.from_frame_lists(frames, people, PANOPTIC19)


def load_panoptic_sequence(root: str | Path, sequence: str, *, calibration: str | Path | None = None,
                           cameras: Sequence[str] = PANOPTIC_CAMERAS, interval: int = 1,
                           min_joint_confidence: float = 0.1) -> Recording:
    """Read a Panoptic sequence: HD calibration of ``cameras`` and filtered ground truth.

    Args:
        root: the Panoptic root; the sequence is ``<root>/<sequence>/``.
        sequence: e.g. ``"160906_pizza1"``.
        calibration: calibration JSON; default ``<root>/<sequence>/calibration_<sequence>.json``.
        cameras: HD camera names kept, in this order (VoxelPose's five by default).
        interval, min_joint_confidence: see :func:`read_panoptic_gt`.

    Returns:
        :class:`Recording` (rig metres, Panoptic world; GT PANOPTIC19 in the same world; no detections).

    Example:
        >>> from pathlib import Path
        >>> shared = Path(__file__).resolve().parents[4] / "shared"
        >>> calib = shared / "calibrations/cmu_panoptic_160906/calibration_160906_band1.json"
        >>> rec = (load_panoptic_sequence(shared / "datasets/panoptic", "160906_band1", calibration=calib)
        ...        if calib.exists() else None)
        >>> rec is None or rec.rig.names == ("00_03", "00_06", "00_12", "00_13", "00_23")
        True
    """
    seq_dir = Path(root) / sequence
    calibration = Path(calibration) if calibration is not None else seq_dir / f"calibration_{sequence}.json"
    rig = load_rig(_need(calibration), camera_type="hd", names=list(cameras))
    gt = read_panoptic_gt(_need(seq_dir / PANOPTIC_POSE_FOLDER), interval=interval,
                          min_joint_confidence=min_joint_confidence)
    return Recording(sequence, rig, gt, None)


# ============================================================================ evaluation and conversion


def parse_frame_ranges(text: str) -> tuple[int, ...]:
    """Frame numbers from ``"300-600"`` or ``"350-470,650-750"`` (inclusive ranges, comma separated).

    Example:
        >>> parse_frame_ranges("1-3,7")
        (1, 2, 3, 7)
    """
    frames: list[int] = []
    for part in str(text).split(","):
        match = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", part)
        if match is None:
            raise InputError(None, "frames", f"expected ranges like '300-600,650-750', got {text!r}")
        lo = int(match.group(1))
        hi = int(match.group(2)) if match.group(2) else lo
        if hi < lo:
            raise InputError(None, "frames", f"empty range {part.strip()!r}")
        frames.extend(range(lo, hi + 1))
    return tuple(frames)


def _config_from(cls: type[Config], options: dict[str, Any], dataset: str) -> Any:
    clean = {k: v for k, v in options.items() if v is not None}
    if isinstance(clean.get("frames"), str):
        clean["frames"] = parse_frame_ranges(clean["frames"])
    if isinstance(clean.get("sequences"), str):
        clean["sequences"] = tuple(s.strip() for s in clean["sequences"].split(",") if s.strip())
    return cls.from_dict(clean, source=f"{dataset} options")


def evaluate_dataset(dataset: str, pred_path: str | Path, root: str | Path,
                     **options: Any) -> tuple[PCPResult | PanopticResult, str, dict[str, Any]]:
    """Score a closecap prediction on Shelf, Campus or Panoptic with the published (VoxelPose) protocol.

    The prediction is a closecap-3d ``.json`` / ``.npz`` (:func:`closecap.io.keypoints.read_poses`): COCO-17
    (or the dataset's own joint set), metres, in the dataset's world frame (the frame of its calibration
    as :func:`closecap.io.calibration.load_rig` reads it), frame numbers as in the dataset.

    CLI options (``closecap eval --dataset shelf|campus|panoptic --pred P --root R ...``); an option given as
    ``None`` takes its default, unknown options raise :class:`InputError` naming them:

    * Shelf / Campus (:class:`closecap.protocols.PCPConfig`):
      ``frames`` (``"300-600"`` text or ints; default the protocol's), ``alpha`` (0.5), ``num_actors`` (3),
      ``recall_threshold_mm`` (500), ``head`` (``"shelf"`` / ``"campus"``; default the dataset's).
      ``pred_path`` is one file; ``root`` holds ``actorsGT.mat``.
    * Panoptic (:class:`closecap.protocols.PanopticConfig`):
      ``sequences`` (comma text or list; default the four validation sequences), ``interval`` (12),
      ``min_joint_confidence`` (0.1), ``root_joint`` (``"mid_hip"``), ``ap_thresholds_mm`` (25..150),
      ``recall_threshold_mm`` (500). ``pred_path`` is a folder with ``<sequence>.json`` or ``.npz`` per
      sequence, or one file when exactly one sequence is given; ``root`` holds ``<sequence>/hdPose3d_stage1_coco19``.

    Args:
        dataset: ``"shelf"``, ``"campus"`` or ``"panoptic"``.
        pred_path: prediction file (or folder, Panoptic).
        root: the dataset folder.
        **options: the protocol options above.

    Returns:
        ``(result, table_text, result_dict)``: :class:`~closecap.protocols.PCPResult` or
        :class:`~closecap.protocols.PanopticResult`, the papers' table as text, and a JSON-ready dict
        (``dataset``, ``pred``, ``root`` and the result's fields).

    Raises:
        InputError: unknown dataset or option, missing files, wrong joint sets.

    Example:
        >>> import tempfile
        >>> from closecap.io.keypoints import write_poses
        >>> root = Path(__file__).resolve().parents[4] / "shared/datasets/campus"
        >>> if root.exists():
        ...     gt = read_actors_gt(root / "actorsGT.mat")
        ...     with tempfile.TemporaryDirectory() as tmp:
        ...         _ = write_poses(gt, Path(tmp) / "pred.json")
        ...         result, table, d = evaluate_dataset("campus", Path(tmp) / "pred.json", root, frames="0-2")
        ...     print(round(float(result.actor_pcp[0]), 3), d["dataset"])
        ... else:
        ...     print(1.0, "campus")
        1.0 campus
    """
    if dataset not in DATASETS:
        raise InputError(None, "dataset", f"expected one of {list(DATASETS)}, got {dataset!r}")
    root, pred_path = Path(root), Path(pred_path)
    result: PCPResult | PanopticResult
    if dataset in ("shelf", "campus"):
        config = _config_from(PCPConfig, options, dataset)
        gt = read_actors_gt(_need(root / "actorsGT.mat"))
        result = shelf_campus_pcp(read_poses(pred_path), gt, dataset, config)
        table = format_pcp_table(result)
    else:
        config = _config_from(PanopticConfig, options, dataset)
        if pred_path.is_dir():
            pred_files = []
            for seq in config.sequences:
                found = [pred_path / f"{seq}{ext}" for ext in (".json", ".npz") if (pred_path / f"{seq}{ext}").exists()]
                if not found:
                    raise InputError(pred_path, seq, f"no prediction file {seq}.json or {seq}.npz")
                pred_files.append(found[0])
        elif len(config.sequences) == 1:
            pred_files = [pred_path]
        else:
            raise InputError(pred_path, "sequences", f"one prediction file for {len(config.sequences)} sequences; "
                                                     "give one sequence or a folder of <sequence>.json files")
        gts = [read_panoptic_gt(_need(root / seq / PANOPTIC_POSE_FOLDER), interval=config.interval,
                                min_joint_confidence=config.min_joint_confidence, root_joint=config.root_joint)
               for seq in config.sequences]
        result = panoptic_ap([read_poses(f) for f in pred_files], gts, config)
        table = format_panoptic_table(result)
    return result, table, {"dataset": dataset, "pred": str(pred_path), "root": str(root), **result.to_dict()}


def dataset_to_closecap(dataset: str, root: str | Path, out_dir: str | Path, *, sequence: str | None = None,
                        calibration: str | Path | None = None, frames: Sequence[int] | str | None = None) -> list[Path]:
    """Write a dataset as closecap files, ready for ``closecap reconstruct`` and ``closecap eval``.

    Written into ``out_dir``:

    * ``calibration.json`` — closecap calibration JSON (metres, the dataset's world frame; Panoptic: the five
      VoxelPose HD cameras ``00_03``...).
    * ``gt.json`` — ground truth, closecap-3d, COCO-17, metres. Shelf/Campus have no face joints: nose, eyes
      and ears are missing (``null``), so closecap's own head PCP is not counted on it; score with
      :func:`evaluate_dataset` for the published numbers. Panoptic: the COCO-17 joints of its 19.
    * ``gt_shelf14.json`` / ``gt_panoptic19.json`` — the same ground truth in the dataset's own joint set.
    * ``detections/<cam>/<cam>_<frame:012d>_keypoints.json`` — Shelf/Campus only: the VoxelPose detection
      pickle as OpenPose BODY_25 JSON (one file per camera and frame).

    Args:
        dataset: ``"shelf"``, ``"campus"`` or ``"panoptic"``.
        root: the dataset folder (Panoptic: the root holding ``<sequence>/``).
        out_dir: output folder (created).
        sequence: Panoptic sequence name (required for Panoptic).
        calibration: Panoptic calibration file; default ``<root>/<sequence>/calibration_<sequence>.json``.
        frames: keep these frame numbers (ints or ``"300-600"`` text); default every frame of the dataset.

    Returns:
        The files written.

    Example:
        >>> import tempfile
        >>> root = Path(__file__).resolve().parents[4] / "shared/datasets/shelf"
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     names = sorted(p.name for p in dataset_to_closecap("shelf", root, tmp))[-3:] if root.exists() else \\
        ...         ["calibration.json", "gt.json", "gt_shelf14.json"]
        >>> names
        ['calibration.json', 'gt.json', 'gt_shelf14.json']
    """
    if dataset not in DATASETS:
        raise InputError(None, "dataset", f"expected one of {list(DATASETS)}, got {dataset!r}")
    out_dir = Path(out_dir)
    wanted = parse_frame_ranges(frames) if isinstance(frames, str) else frames
    source = {"dataset": dataset, "source": str(root)}
    if dataset == "panoptic":
        if not sequence:
            raise InputError(None, "sequence", "a Panoptic sequence name is required")
        rec = load_panoptic_sequence(root, sequence, calibration=calibration)
        native = rec.gt
        coco = Poses3D(native.frames, native.ids, *convert(native.joints, PANOPTIC19, COCO17, native.confidence))
        source["sequence"] = sequence
    else:
        rec = load_shelf_campus(dataset, root)
        native = rec.gt
        coco_joints = shelf14_to_coco17(native.joints)  # (T, A, 17, 3), face joints missing
        coco = Poses3D(native.frames, native.ids, coco_joints, np.isfinite(coco_joints).all(-1).astype(float))
    if wanted is not None:
        native, coco = _select_frames(native, wanted), _select_frames(coco, wanted)
    written = []
    save_rig(rec.rig, out_dir / "calibration.json")
    written.append(out_dir / "calibration.json")
    written += write_poses(coco, out_dir / "gt.json", config=source)
    written += write_poses(native, out_dir / f"gt_{native.joint_set.name}.json", config=source)
    if rec.detections is not None:
        det = rec.detections
        if wanted is not None:
            keep = set(int(f) for f in wanted)
            idx = [i for i, f in enumerate(det.frames) if f in keep]
            det = Detections2D(det.camera_names, tuple(det.frames[i] for i in idx),
                               tuple(det.keypoints[i] for i in idx))
        if det.num_frames:
            written += write_openpose(det, out_dir / "detections")
    return written


def _select_frames(poses: Poses3D, frames: Sequence[int]) -> Poses3D:
    keep = np.isin(poses.frames, np.asarray(list(frames), dtype=np.int64))
    return Poses3D(poses.frames[keep], poses.ids, poses.joints[keep], poses.confidence[keep], poses.joint_set)
