"""Calibration files <-> :class:`~closecap.cameras.Rig`.

One reader and one writer per format; every reader converts to closecap's one convention,
``x_cam = R @ x_world + t`` with OpenCV camera axes (x right, y down, z forward), metres, and
every malformed input raises :class:`~closecap.errors.InputError` as ``file: field: problem``.

Formats (``load_rig`` detects them from the path; ``save_rig`` picks them from the suffix or
``format=``):

- ``closecap``: ``*.json`` with ``"format": "closecap-calibration"`` (schema below); metres; read/write.
- ``easymocap``: a folder with ``intri.yml`` + ``extri.yml`` (OpenCV YAML); metres (*); read/write.
- ``panoptic``: CMU Panoptic ``calibration_<seq>.json``; centimetres; read/write.
- ``toml``: Anipose / Pose2Sim ``*.toml``; metres (*); read/write.
- ``voxelpose``: VoxelPose Shelf/Campus ``calibration_*.json``; millimetres; read only.
- ``4dassoc``: 4D-Association ``calibration.json``; metres; read only.
- ``qualisys``: Qualisys QTM XML export ``*.qca.txt``; millimetres; read only.

(*) Anipose writes translations in the unit of its calibration board (often mm); pass
``units="mm"``. With the default (``units=None``: metres) a rig whose camera centres lie more than
100 units apart is rejected with a hint, since no real multi-view rig spans 100 m.

closecap JSON schema (version 1)::

    {
      "format": "closecap-calibration",
      "version": 1,
      "units": "m",
      "convention": "x_cam = R x_world + t, OpenCV axes",
      "cameras": [
        {"name": "cam0",                       # str, unique
         "width": 1920, "height": 1080,        # int pixels
         "K": [[fx, s, cx], [0, fy, cy], [0, 0, 1]],   # 3x3 pixels, (0, 0) = centre of top-left pixel
         "dist": [k1, k2, p1, p2, k3],         # OpenCV distortion of normalised coordinates
         "R": [[...], [...], [...]],           # 3x3 rotation, camera-from-world
         "t": [tx, ty, tz]}                    # metres, camera-from-world
      ]
    }

Unknown keys are rejected (an optional top-level ``"metadata"`` object is allowed and ignored).

Format notes (what each reader assumes):

- EasyMocap: ``names`` in both files (the intersection is used, in ``intri.yml`` order); ``K_<c>``
  3x3, ``dist_<c>`` (or ``D_<c>``) 4 or 5 values; ``Rot_<c>`` 3x3 and/or ``R_<c>`` Rodrigues
  (``Rot_`` is preferred; if both exist they must agree within 0.1 degree); ``T_<c>`` 3x1 metres;
  ``H_<c>``/``W_<c>`` image size if present (newer EasyMocap writes them).
- Panoptic: ``cameras`` list with ``name type resolution K distCoef R t`` (``t`` in cm).
- VoxelPose (Shelf/Campus): keys ``"0"``... with ``R``, ``T`` = camera centre in mm (camera
  coordinates are ``R (X - T)``), ``fx fy cx cy``, ``k`` (k1 k2 k3), ``p`` (p1 p2).
- 4D-Association: keys ``"0"``... with ``K`` (9 values), ``RT`` (12 values, ``[R | t]`` metres),
  ``imgSize`` ``[w, h]``.
- Qualisys QTM XML: ``<transform>`` holds the camera position (mm) and ``r11..r33``, the
  camera-to-world rotation stored by columns (so the rows as written are world-to-camera in QTM
  axes); the camera is turned by pi about its x axis to reach OpenCV axes (as Pose2Sim does).
  Intrinsics are in sensor units, 64 per pixel; the ``fov_video`` left/top offset is subtracted
  from the principal point; ``video_resolution="720p"``-style attributes rescale as in Pose2Sim;
  ``skew`` is ignored (as in Pose2Sim). Distortion: ``qualisys_distortion="as-is"`` (default)
  uses the coefficients unchanged, ``"/64"`` divides them by 64 as Pose2Sim's reader does. The
  default is provisional: on the Pose2Sim demo rig the as-is values (k1 = -0.046, k2 = 0.14)
  match an independent scene calibration of the same lenses (k1 = -0.053, k2 = 0.15), while
  ``/64`` makes the lenses distortion-free; a reprojection measurement is to settle it.

Image size where the file does not store it (EasyMocap without ``H_``/``W_``, VoxelPose): pass
``image_size=(width, height)`` (or a ``{name: (width, height)}`` mapping). Without it, VoxelPose's
own file names ``calibration_shelf.json`` and ``calibration_campus.json`` get the datasets' sizes
(Shelf 1032x776, Campus 360x288); anything else is inferred from the rig's median principal point:
``(2 cx + 1, 2 cy + 1)`` snapped to the nearest common video size within 10 %, else rounded.
This is a guess; pass ``image_size`` when you know better.

Example:
    >>> import tempfile, pathlib
    >>> from closecap.cameras import ring_rig
    >>> rig = ring_rig(3)
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> save_rig(rig, folder / "rig.json")
    >>> back = load_rig(folder / "rig.json")
    >>> back.names, bool(np.allclose(back.R, rig.R))
    (('cam00', 'cam01', 'cam02'), True)
"""
from __future__ import annotations

import json
import math
import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from closecap.cameras import Camera, Rig
from closecap.config import atomic_write_text, save_json
from closecap.errors import InputError

try:  # Python >= 3.11
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = ["load_rig", "save_rig", "READ_FORMATS", "WRITE_FORMATS", "SCHEMA_VERSION"]

SCHEMA_VERSION = 1
"""Version of the closecap calibration JSON schema written by :func:`save_rig`."""

READ_FORMATS = ("closecap", "easymocap", "panoptic", "toml", "voxelpose", "4dassoc", "qualisys")
"""Formats :func:`load_rig` reads."""

WRITE_FORMATS = ("closecap", "easymocap", "panoptic", "toml")
"""Formats :func:`save_rig` writes."""

_CONVENTION = "x_cam = R x_world + t, OpenCV axes"
_UNITS_TO_M = {"m": 1.0, "cm": 0.01, "mm": 0.001}
_MAX_RIG_SPAN = 100.0  # camera centres further apart than this (in metres) mean a unit mistake
_ROT_AGREE_DEG = 0.1
_VOXELPOSE_SIZES = (("calibration_shelf.json", (1032, 776)), ("calibration_campus.json", (360, 288)))
_COMMON_SIZES = (
    (320, 240), (352, 288), (360, 288), (640, 360), (640, 480), (720, 480), (720, 576), (800, 600),
    (960, 540), (1024, 768), (1032, 776), (1280, 720), (1280, 800), (1280, 960), (1280, 1024),
    (1440, 1080), (1600, 1200), (1920, 1080), (1920, 1200), (2048, 1536), (2560, 1440),
    (2704, 1520), (2704, 2028), (3840, 2160), (4096, 2160), (1088, 1920),
)
_QUALISYS_DISTORTION = ("as-is", "/64")


# ----------------------------------------------------------------------------- small helpers


def _shape_text(shape: tuple[int, ...]) -> str:
    if shape == (1,):
        return "a number"
    if len(shape) == 1:
        return f"{shape[0]} values"
    return "x".join(str(s) for s in shape)


def _numbers(value: Any, shape: tuple[int, ...], path: Path, field: str, *, flat_ok: bool = False) -> np.ndarray:
    """``value`` as a float array of ``shape``; one-line InputError otherwise.

    ``flat_ok`` also accepts the right number of values in any layout (row-major).
    """
    if isinstance(value, (str, bytes, dict)) or value is None:
        raise InputError(path, field, f"expected {_shape_text(shape)} (numbers), got {type(value).__name__}")
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise InputError(path, field, f"expected {_shape_text(shape)} (numbers), got non-numeric or ragged values") from None
    if arr.shape != shape:
        squeezed = arr.reshape(shape) if arr.size == math.prod(shape) and (flat_ok or _same_up_to_ones(arr.shape, shape)) else None
        if squeezed is None:
            got = _shape_text(arr.shape) if arr.ndim else "a single number"
            raise InputError(path, field, f"expected {_shape_text(shape)}, got {got}")
        arr = squeezed
    if not np.all(np.isfinite(arr)):
        raise InputError(path, field, "contains NaN or infinity")
    return arr


def _same_up_to_ones(a: tuple[int, ...], b: tuple[int, ...]) -> bool:
    """True when the shapes differ only by axes of length 1 (``(3, 1)`` vs ``(3,)``)."""
    return tuple(s for s in a if s != 1) == tuple(s for s in b if s != 1)


def _distortion(value: Any, path: Path, field: str) -> np.ndarray:
    """4, 5 (or more, trailing zeros) OpenCV coefficients -> ``(5,)``."""
    if isinstance(value, (str, bytes, dict)) or value is None:
        raise InputError(path, field, f"expected 4 or 5 numbers, got {type(value).__name__}")
    try:
        arr = np.asarray(value, dtype=float).ravel()
    except (TypeError, ValueError):
        raise InputError(path, field, "expected 4 or 5 numbers, got non-numeric or ragged values") from None
    if arr.size < 4 or (arr.size > 5 and np.any(arr[5:] != 0)):
        raise InputError(path, field, f"expected 4 or 5 coefficients (k1 k2 p1 p2 [k3]), got {arr.size}")
    if not np.all(np.isfinite(arr)):
        raise InputError(path, field, "contains NaN or infinity")
    return np.concatenate([arr, np.zeros(max(0, 5 - arr.size))])[:5]


def _require(mapping: Any, key: str, path: Path, where: str) -> Any:
    field = f"{where}.{key}" if where else key
    if not isinstance(mapping, Mapping):
        raise InputError(path, where or None, f"expected an object/table, got {type(mapping).__name__}")
    if key not in mapping:
        raise InputError(path, field, "missing")
    return mapping[key]


def _size(value: Any, path: Path, field: str) -> tuple[int, int]:
    arr = _numbers(value, (2,), path, field)
    if np.any(arr != np.round(arr)) or np.any(arr <= 0):
        raise InputError(path, field, f"expected two positive whole numbers (width, height), got {arr.tolist()}")
    return int(arr[0]), int(arr[1])


def _scalar(value: Any, path: Path, field: str) -> float:
    return float(_numbers(value, (1,), path, field)[0])


def _rotvec_to_matrix(rotvec: np.ndarray) -> np.ndarray:
    """Rodrigues vector ``(3,)`` radians -> ``(3, 3)`` rotation."""
    from scipy.spatial.transform import Rotation

    return Rotation.from_rotvec(rotvec).as_matrix()


def _matrix_to_rotvec(R: np.ndarray) -> np.ndarray:
    """``(3, 3)`` rotation -> Rodrigues vector ``(3,)`` radians."""
    from scipy.spatial.transform import Rotation

    return Rotation.from_matrix(R).as_rotvec()


def _angle_deg(Ra: np.ndarray, Rb: np.ndarray) -> float:
    cos = (np.trace(Ra @ Rb.T) - 1.0) / 2.0
    return float(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))))


def _camera(path: Path, where: str, field_names: Mapping[str, str], **kwargs: Any) -> Camera:
    """Build a :class:`Camera`, re-raising its validation errors with the file and the format's field names."""
    try:
        return Camera(**kwargs)
    except InputError as err:
        attr = (err.field or "").rsplit(".", 1)[-1]
        name = field_names.get(attr, attr)
        raise InputError(path, f"{where}.{name}" if name else where, err.message) from None


def _image_size_for(image_size: Any, name: str, path: Path) -> tuple[int, int] | None:
    if image_size is None:
        return None
    if isinstance(image_size, Mapping):
        if name not in image_size:
            raise InputError(path, "image_size", f"no size given for camera {name!r}")
        return _size(image_size[name], path, f"image_size[{name!r}]")
    return _size(image_size, path, "image_size")


def _infer_image_size(principal_points: np.ndarray) -> tuple[int, int]:
    """Guess ``(width, height)`` from ``(V, 2)`` principal points (pixels) of one rig.

    ``(2 c + 1)`` of the median principal point, snapped to the nearest common video size when
    within 10 % on both axes, else rounded.

    Example:
        >>> _infer_image_size(np.array([[960.0, 540.0], [1004.2, 535.0]]))
        (1920, 1080)
        >>> _infer_image_size(np.array([[100.0, 900.0]]))
        (201, 1801)
    """
    guess = 2.0 * np.median(principal_points, axis=0) + 1.0  # (2,)
    sizes = np.array(_COMMON_SIZES, dtype=float)
    sizes = np.concatenate([sizes, sizes[:, ::-1]])  # landscape and portrait
    error = np.max(np.abs(sizes - guess) / sizes, axis=1)
    best = int(np.argmin(error))
    if error[best] <= 0.10:
        return int(sizes[best, 0]), int(sizes[best, 1])
    return int(round(guess[0])), int(round(guess[1]))


# ----------------------------------------------------------------------------- public API


def load_rig(path: str | os.PathLike, *, camera_type: str | None = None, names: Sequence[str] | None = None,
             image_size: tuple[int, int] | Mapping[str, tuple[int, int]] | None = None, units: str | None = None,
             qualisys_distortion: str = "as-is") -> Rig:
    """Read a calibration in any supported format (see the module docstring) into a :class:`Rig`.

    Args:
        path: a calibration file, or an EasyMocap folder (or its ``intri.yml``/``extri.yml``).
        camera_type: Panoptic only: keep cameras of this ``type`` (``"hd"``, ``"vga"``,
            ``"kinect-color"``); ``None`` keeps all 520. Most users want ``"hd"``.
        names: keep these cameras, in this order (after ``camera_type``).
        image_size: ``(width, height)`` pixels, or ``{name: (width, height)}``, for formats that do
            not store the size (EasyMocap without ``H_``/``W_``, VoxelPose). Rejected for formats that
            store it.
        units: length unit of the translations in unit-less formats (TOML, EasyMocap): ``"m"``,
            ``"cm"`` or ``"mm"``. ``None`` means metres and rejects rigs whose camera centres are more
            than 100 units apart (likely millimetres). Rejected for formats with a fixed unit.
        qualisys_distortion: Qualisys only: ``"as-is"`` (default, provisional) or ``"/64"``.

    Returns:
        the rig: V cameras, metres, camera-from-world, OpenCV axes.

    Raises:
        InputError: ``file: field: problem`` for every unreadable or malformed input.

    Example:
        >>> import tempfile, pathlib
        >>> from closecap.cameras import ring_rig
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "calib.toml"
        >>> save_rig(ring_rig(4, radius_m=3.0), path)
        >>> rig = load_rig(path, names=["cam02", "cam00"])
        >>> rig.names, np.round(np.linalg.norm(rig.centers_world[:, :2], axis=1), 6).tolist()
        (('cam02', 'cam00'), [3.0, 3.0])
    """
    path = Path(path)
    if qualisys_distortion not in _QUALISYS_DISTORTION:
        raise InputError(path, "qualisys_distortion", f"expected one of {list(_QUALISYS_DISTORTION)}, got {qualisys_distortion!r}")
    if units is not None and units not in _UNITS_TO_M:
        raise InputError(path, "units", f"expected one of {list(_UNITS_TO_M)}, got {units!r}")
    fmt, data = _detect(path)
    _check_options(path, fmt, camera_type=camera_type, image_size=image_size, units=units)
    if fmt == "closecap":
        cameras = _read_closecap(path, data)
    elif fmt == "panoptic":
        cameras = _read_panoptic(path, data, camera_type)
    elif fmt == "voxelpose":
        cameras = _read_voxelpose(path, data, image_size)
    elif fmt == "4dassoc":
        cameras = _read_4dassoc(path, data)
    elif fmt == "toml":
        cameras = _read_toml(path, units)
    elif fmt == "easymocap":
        cameras = _read_easymocap(path, image_size, units)
    else:  # qualisys
        cameras = _read_qualisys(path, qualisys_distortion)
    try:
        rig = Rig(tuple(cameras))
    except InputError as err:
        raise InputError(path, err.field, err.message) from None
    if names is not None:
        if isinstance(names, str):
            raise InputError(path, "names", f"expected a list of camera names, got the string {names!r}")
        try:
            rig = rig.subset(list(names))
        except InputError as err:
            raise InputError(path, "names", err.message) from None
    return rig


def save_rig(rig: Rig, path: str | os.PathLike, *, format: str | None = None) -> None:
    """Write ``rig`` atomically in one of :data:`WRITE_FORMATS`.

    The format comes from ``format=`` or the path: ``*.json`` -> closecap JSON, ``*.toml`` ->
    Anipose/Pose2Sim TOML, a folder (no suffix) -> EasyMocap ``intri.yml`` + ``extri.yml``.
    Panoptic JSON needs ``format="panoptic"``.

    Args:
        rig: the cameras (metres, camera-from-world).
        path: output file, or output folder for EasyMocap.
        format: one of ``"closecap"``, ``"easymocap"``, ``"panoptic"``, ``"toml"``.

    What each writer stores:

    - closecap JSON: the schema in the module docstring.
    - EasyMocap: ``intri.yml`` (``names``, ``K_<c>`` 3x3, ``dist_<c>`` 1x5, ``H_<c>``/``W_<c>`` int)
      and ``extri.yml`` (``names``, ``R_<c>`` Rodrigues 3x1, ``Rot_<c>`` 3x3, ``T_<c>`` 3x1 metres),
      OpenCV FileStorage YAML with EasyMocap's ``%YAML:1.0`` header. Camera names may only use
      ``[A-Za-z0-9_-]`` and spaces (OpenCV key rules).
    - Panoptic: ``{"calibDataSource": "closecap", "cameras": [...]}`` with ``t`` in cm; every camera
      is written as ``type "hd"``, ``panel 0``, ``node`` = its index (how Panoptic tools find HD
      cameras).
    - TOML: ``[cam_0]``... tables with ``name``, ``size [w, h]``, ``matrix``, ``distortions`` (4 values
      when k3 == 0, as Pose2Sim writes, else 5), ``rotation`` (Rodrigues), ``translation`` (metres),
      ``fisheye = false``; then ``[metadata]``.

    Example:
        >>> import tempfile, pathlib
        >>> from closecap.cameras import ring_rig
        >>> folder = pathlib.Path(tempfile.mkdtemp()) / "easymocap"
        >>> save_rig(ring_rig(2), folder)
        >>> sorted(p.name for p in folder.iterdir()), load_rig(folder).names
        (['extri.yml', 'intri.yml'], ('cam00', 'cam01'))
    """
    path = Path(path)
    if not isinstance(rig, Rig):
        raise InputError(path, "rig", f"expected a Rig, got {type(rig).__name__}")
    if format is None:
        suffix = path.suffix.lower()
        if suffix == ".json":
            format = "closecap"
        elif suffix == ".toml":
            format = "toml"
        elif suffix == "" or path.is_dir():
            format = "easymocap"
        else:
            raise InputError(path, "format", f"cannot tell the format from suffix {suffix!r}; "
                             f"use .json, .toml, a folder (EasyMocap) or format= one of {list(WRITE_FORMATS)}")
    if format not in WRITE_FORMATS:
        raise InputError(path, "format", f"cannot write {format!r}; expected one of {list(WRITE_FORMATS)}")
    if format == "closecap":
        save_json(path, _closecap_dict(rig))
    elif format == "panoptic":
        save_json(path, _panoptic_dict(rig))
    elif format == "toml":
        atomic_write_text(path, _toml_text(rig))
    else:
        _write_easymocap(rig, path)


# ----------------------------------------------------------------------------- detection


def _detect(path: Path) -> tuple[str, Any]:
    """Return ``(format, parsed JSON or None)``."""
    if path.is_dir():
        return "easymocap", None
    if not path.exists():
        raise InputError(path, None, "no such file or folder")
    name = path.name.lower()
    if name in ("intri.yml", "extri.yml"):
        return "easymocap", None
    if name.endswith(".toml"):
        return "toml", None
    if name.endswith(".qca.txt") or name.endswith(".qca") or name.endswith(".xml"):
        return "qualisys", None
    try:
        head = path.read_bytes()[:512].lstrip().lower()
    except OSError as err:
        raise InputError(path, None, f"cannot read: {err.strerror or err}") from None
    if name.endswith(".json") or head.startswith(b"{"):
        return _sniff_json(path)
    if head.startswith(b"<?xml") or head.startswith(b"<calibration"):
        return "qualisys", None
    if head.startswith(b"%yaml"):
        raise InputError(path, None, "an EasyMocap calibration is a folder with intri.yml and extri.yml; pass the folder")
    raise InputError(path, None, f"unknown calibration format; expected one of {list(READ_FORMATS)} (see closecap.io.calibration)")


def _read_text(path: Path, kind: str) -> str:
    """A calibration file's UTF-8 text; unreadable or non-text files raise :class:`InputError` naming ``kind``."""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InputError(path, None, f"not a {kind} file (not UTF-8 text)") from None
    except OSError as err:
        raise InputError(path, None, f"cannot read: {err.strerror or err}") from None


def _sniff_json(path: Path) -> tuple[str, Any]:
    text = _read_text(path, "JSON")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise InputError(path, None, f"not valid JSON: {err.msg} at line {err.lineno} column {err.colno}") from None
    if not isinstance(data, dict) or not data:
        raise InputError(path, None, "unknown calibration JSON: expected an object")
    if "format" in data:
        if data["format"] != "closecap-calibration":
            raise InputError(path, "format", f"expected 'closecap-calibration', got {data['format']!r}")
        return "closecap", data
    if "cameras" in data:
        return "panoptic", data
    first = next(iter(data.values()))
    if isinstance(first, dict) and "RT" in first:
        return "4dassoc", data
    if isinstance(first, dict) and "T" in first and "fx" in first:
        return "voxelpose", data
    raise InputError(path, None, "unknown calibration JSON: expected closecap ('format'), Panoptic ('cameras'), "
                     "VoxelPose ('0': {R, T, fx, ...}) or 4D-Association ('0': {K, RT, imgSize})")


def _check_options(path: Path, fmt: str, *, camera_type: Any, image_size: Any, units: Any) -> None:
    if camera_type is not None and fmt != "panoptic":
        raise InputError(path, "camera_type", f"only Panoptic calibrations have camera types; this is {fmt}")
    if image_size is not None and fmt not in ("easymocap", "voxelpose"):
        raise InputError(path, "image_size", f"the {fmt} format stores the image size; do not pass image_size")
    if units is not None and fmt not in ("toml", "easymocap"):
        raise InputError(path, "units", f"the {fmt} format has a fixed length unit; do not pass units")


def _check_span(path: Path, cameras: Sequence[Camera], units: str | None) -> None:
    """Reject rigs that are absurdly large in metres (translations most likely in mm)."""
    if units is not None or len(cameras) < 2:
        return
    centers = np.stack([c.center_world for c in cameras])  # (V, 3)
    span = float(np.max(np.linalg.norm(centers[:, None] - centers[None], axis=-1)))
    if span > _MAX_RIG_SPAN:
        raise InputError(path, "translation", f"camera centres are {span:.0f} m apart, so the translations are "
                         "probably not in metres; pass units='mm' (or 'cm', or 'm' to accept)")


# ----------------------------------------------------------------------------- closecap JSON

_CLOSECAP_KEYS = ("format", "version", "units", "convention", "cameras")
_CLOSECAP_CAMERA_KEYS = ("name", "width", "height", "K", "dist", "R", "t")


def rig_to_dict(rig: Rig) -> dict[str, Any]:
    """A rig as closecap's calibration JSON object (plain lists and numbers; the schema above).

    Example:
        >>> from closecap.cameras import ring_rig
        >>> rig = ring_rig(3)
        >>> rig_from_dict(rig_to_dict(rig)).names == rig.names
        True
    """
    return _closecap_dict(rig)


def rig_from_dict(data: dict, source: str = "calibration") -> Rig:
    """Inverse of :func:`rig_to_dict`, validated like a calibration file (``source`` names it in errors)."""
    if not isinstance(data, dict):
        raise InputError(source, None, "expected a closecap calibration object")
    return Rig(tuple(_read_closecap(Path(source), data)))


def _closecap_dict(rig: Rig) -> dict[str, Any]:
    return {
        "format": "closecap-calibration",
        "version": SCHEMA_VERSION,
        "units": "m",
        "convention": _CONVENTION,
        "cameras": [
            {"name": c.name, "width": c.width, "height": c.height, "K": c.K.tolist(), "dist": c.dist.tolist(),
             "R": c.R.tolist(), "t": c.t.tolist()}
            for c in rig
        ],
    }


def _read_closecap(path: Path, data: dict) -> list[Camera]:
    unknown = sorted(set(data) - set(_CLOSECAP_KEYS) - {"metadata"})
    if unknown:
        raise InputError(path, unknown[0], "unknown key")
    for key in _CLOSECAP_KEYS:
        _require(data, key, path, "")
    if data["version"] != SCHEMA_VERSION:
        raise InputError(path, "version", f"expected {SCHEMA_VERSION}, got {data['version']!r}")
    if data["units"] != "m":
        raise InputError(path, "units", f"expected 'm', got {data['units']!r}")
    if data["convention"] != _CONVENTION:
        raise InputError(path, "convention", f"expected {_CONVENTION!r}, got {data['convention']!r}")
    if not isinstance(data["cameras"], list) or not data["cameras"]:
        raise InputError(path, "cameras", "expected a non-empty list")
    cameras = []
    for i, cam in enumerate(data["cameras"]):
        where = f"cameras[{i}]"
        for key in _CLOSECAP_CAMERA_KEYS:
            _require(cam, key, path, where)
        unknown = sorted(set(cam) - set(_CLOSECAP_CAMERA_KEYS))
        if unknown:
            raise InputError(path, f"{where}.{unknown[0]}", "unknown key")
        if not isinstance(cam["name"], str):
            raise InputError(path, f"{where}.name", f"expected a string, got {type(cam['name']).__name__}")
        width, height = _size([cam["width"], cam["height"]], path, f"{where}.width/height")
        cameras.append(_camera(
            path, where, {"size": "width/height"}, name=cam["name"],
            K=_numbers(cam["K"], (3, 3), path, f"{where}.K"),
            dist=_numbers(cam["dist"], (5,), path, f"{where}.dist"),
            R=_numbers(cam["R"], (3, 3), path, f"{where}.R"),
            t=_numbers(cam["t"], (3,), path, f"{where}.t"), width=width, height=height))
    return cameras


# ----------------------------------------------------------------------------- Panoptic


def _panoptic_dict(rig: Rig) -> dict[str, Any]:
    return {
        "calibDataSource": "closecap",
        "cameras": [
            {"name": c.name, "type": "hd", "resolution": [c.width, c.height], "panel": 0, "node": i,
             "K": c.K.tolist(), "distCoef": c.dist.tolist(), "R": c.R.tolist(), "t": (c.t * 100.0)[:, None].tolist()}
            for i, c in enumerate(rig)
        ],
    }


def _read_panoptic(path: Path, data: dict, camera_type: str | None) -> list[Camera]:
    entries = data["cameras"]
    if not isinstance(entries, list) or not entries:
        raise InputError(path, "cameras", "expected a non-empty list")
    if camera_type is not None:
        types = sorted({str(e.get("type")) for e in entries if isinstance(e, dict)})
        picked = [(i, e) for i, e in enumerate(entries) if isinstance(e, dict) and e.get("type") == camera_type]
        if not picked:
            raise InputError(path, "camera_type", f"no cameras of type {camera_type!r}; the file has types {types}")
    else:
        picked = list(enumerate(entries))
    cameras = []
    for i, cam in picked:
        where = f"cameras[{i}]"
        name = _require(cam, "name", path, where)
        width, height = _size(_require(cam, "resolution", path, where), path, f"{where}.resolution")
        cameras.append(_camera(
            path, where, {"K": "K", "dist": "distCoef", "R": "R", "t": "t", "size": "resolution"}, name=str(name),
            K=_numbers(_require(cam, "K", path, where), (3, 3), path, f"{where}.K"),
            dist=_distortion(_require(cam, "distCoef", path, where), path, f"{where}.distCoef"),
            R=_numbers(_require(cam, "R", path, where), (3, 3), path, f"{where}.R"),
            t=_numbers(_require(cam, "t", path, where), (3,), path, f"{where}.t") * 0.01,  # cm -> m
            width=width, height=height))
    return cameras


# ----------------------------------------------------------------------------- VoxelPose and 4D-Association


def _digit_keys(path: Path, data: dict) -> list[str]:
    keys = list(data)
    return sorted(keys, key=int) if all(k.isdigit() for k in keys) else keys


def _read_voxelpose(path: Path, data: dict, image_size: Any) -> list[Camera]:
    fields = {"K": "fx/fy/cx/cy", "dist": "k/p", "R": "R", "t": "T", "size": "image_size"}
    parsed = []
    for key in _digit_keys(path, data):
        cam = data[key]
        K = np.eye(3)
        K[0, 0], K[1, 1], K[0, 2], K[1, 2] = (
            _scalar(_require(cam, f, path, key), path, f"{key}.{f}") for f in ("fx", "fy", "cx", "cy"))
        k = _numbers(_require(cam, "k", path, key), (3,), path, f"{key}.k")
        p = _numbers(_require(cam, "p", path, key), (2,), path, f"{key}.p")
        R = _numbers(_require(cam, "R", path, key), (3, 3), path, f"{key}.R")
        center_world = _numbers(_require(cam, "T", path, key), (3,), path, f"{key}.T") * 0.001  # mm -> m
        parsed.append((key, K, np.array([k[0], k[1], p[0], p[1], k[2]]), R, -R @ center_world))
    sizes = {key: _image_size_for(image_size, key, path) for key, *_ in parsed}
    if any(s is None for s in sizes.values()):
        known = dict(_VOXELPOSE_SIZES).get(path.name.lower())
        fallback = known or _infer_image_size(np.array([[K[0, 2], K[1, 2]] for _, K, *_ in parsed]))
        sizes = {key: fallback for key in sizes}
    return [_camera(path, key, fields, name=key, K=K, dist=dist, R=R, t=t, width=sizes[key][0], height=sizes[key][1])
            for key, K, dist, R, t in parsed]


def _read_4dassoc(path: Path, data: dict) -> list[Camera]:
    fields = {"K": "K", "R": "RT", "t": "RT", "size": "imgSize"}
    cameras = []
    for key in _digit_keys(path, data):
        cam = data[key]
        RT = _numbers(_require(cam, "RT", path, key), (3, 4), path, f"{key}.RT", flat_ok=True)
        width, height = _size(_require(cam, "imgSize", path, key), path, f"{key}.imgSize")
        cameras.append(_camera(
            path, key, fields, name=key, K=_numbers(_require(cam, "K", path, key), (3, 3), path, f"{key}.K", flat_ok=True),
            dist=np.zeros(5), R=RT[:, :3], t=RT[:, 3], width=width, height=height))
    return cameras


# ----------------------------------------------------------------------------- Anipose / Pose2Sim TOML


def _toml_text(rig: Rig) -> str:
    import tomli_w

    doc: dict[str, Any] = {}
    for i, c in enumerate(rig):
        dist = c.dist[:4] if c.dist[4] == 0 else c.dist
        doc[f"cam_{i}"] = {
            "name": c.name, "size": [c.width, c.height], "matrix": c.K.tolist(), "distortions": dist.tolist(),
            "rotation": _matrix_to_rotvec(c.R).tolist(), "translation": c.t.tolist(), "fisheye": False,
        }
    doc["metadata"] = {"adjusted": False, "error": 0.0}
    return tomli_w.dumps(doc)


def _read_toml(path: Path, units: str | None) -> list[Camera]:
    text = _read_text(path, "TOML")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise InputError(path, None, f"not valid TOML: {err}") from None
    scale = _UNITS_TO_M[units or "m"]
    fields = {"K": "matrix", "dist": "distortions", "R": "rotation", "t": "translation", "size": "size"}
    cameras = []
    for key, cam in data.items():
        if key == "metadata":
            continue
        if not isinstance(cam, dict):
            raise InputError(path, key, f"expected a camera table, got {type(cam).__name__}")
        if cam.get("fisheye", False) is True:
            raise InputError(path, f"{key}.fisheye", "fisheye cameras are not supported")
        name = cam.get("name", key)
        if not isinstance(name, str):
            raise InputError(path, f"{key}.name", f"expected a string, got {type(name).__name__}")
        width, height = _size(_require(cam, "size", path, key), path, f"{key}.size")
        rotvec = _numbers(_require(cam, "rotation", path, key), (3,), path, f"{key}.rotation")
        cameras.append(_camera(
            path, key, fields, name=name, K=_numbers(_require(cam, "matrix", path, key), (3, 3), path, f"{key}.matrix"),
            dist=_distortion(_require(cam, "distortions", path, key), path, f"{key}.distortions"),
            R=_rotvec_to_matrix(rotvec),
            t=_numbers(_require(cam, "translation", path, key), (3,), path, f"{key}.translation") * scale,
            width=width, height=height))
    if not cameras:
        raise InputError(path, None, "no camera tables (expected [cam_0], [cam_1], ...)")
    _check_span(path, cameras, units)
    return cameras


# ----------------------------------------------------------------------------- EasyMocap


def _fs_open(path: Path):
    import cv2

    if not path.is_file():
        raise InputError(path, None, "missing (an EasyMocap calibration needs intri.yml and extri.yml)")
    try:
        fs = cv2.FileStorage(str(path), cv2.FILE_STORAGE_READ)
    except (cv2.error, SystemError) as err:  # a parse error surfaces as SystemError from the constructor
        detail = str(err.__cause__ or err).strip().splitlines() or ["parse error"]
        raise InputError(path, None, f"not an OpenCV YAML file: {detail[-1]}") from None
    if not fs.isOpened():
        raise InputError(path, None, "cannot open as an OpenCV YAML file")
    return fs


def _fs_names(fs, path: Path) -> list[str]:
    node = fs.getNode("names")
    if node.empty() or not node.isSeq():
        raise InputError(path, "names", "missing or not a list")
    names = []
    for i in range(node.size()):
        item = node.at(i)
        if item.isString():
            names.append(item.string())
        elif item.isInt() or item.isReal():  # unquoted numeric names
            value = item.real()
            names.append(str(int(value)) if value == int(value) else str(value))
        else:
            raise InputError(path, f"names[{i}]", "expected a string")
    return names


def _fs_matrix(fs, path: Path, key: str, required: bool = True) -> np.ndarray | None:
    node = fs.getNode(key)
    if node.empty() or node.isNone():
        if required:
            raise InputError(path, key, "missing")
        return None
    if node.isInt() or node.isReal():
        return np.array([[node.real()]])
    mat = node.mat()
    if mat is None:
        raise InputError(path, key, "expected an !!opencv-matrix")
    return np.asarray(mat, dtype=float)


def _read_easymocap(path: Path, image_size: Any, units: str | None) -> list[Camera]:
    folder = path if path.is_dir() else path.parent
    intri_path, extri_path = folder / "intri.yml", folder / "extri.yml"
    intri, extri = _fs_open(intri_path), _fs_open(extri_path)
    extri_names = set(_fs_names(extri, extri_path))
    names = [n for n in _fs_names(intri, intri_path) if n in extri_names]
    if not names:
        raise InputError(folder, "names", "intri.yml and extri.yml share no camera names")
    scale = _UNITS_TO_M[units or "m"]
    parsed = []
    for name in names:
        K = _numbers(_fs_matrix(intri, intri_path, f"K_{name}"), (3, 3), intri_path, f"K_{name}")
        dist_raw = _fs_matrix(intri, intri_path, f"dist_{name}", required=False)
        if dist_raw is None:
            dist_raw = _fs_matrix(intri, intri_path, f"D_{name}", required=False)
        dist = np.zeros(5) if dist_raw is None else _distortion(dist_raw, intri_path, f"dist_{name}")
        rot = _fs_matrix(extri, extri_path, f"Rot_{name}", required=False)
        rvec = _fs_matrix(extri, extri_path, f"R_{name}", required=False)
        if rot is None and rvec is None:
            raise InputError(extri_path, f"Rot_{name}", "missing (and no Rodrigues R_ either)")
        R_from_rvec = None if rvec is None else _rotvec_to_matrix(_numbers(rvec, (3,), extri_path, f"R_{name}"))
        if rot is not None:
            R = _numbers(rot, (3, 3), extri_path, f"Rot_{name}")
            if R_from_rvec is not None:
                _validate_rotation(R, extri_path, f"Rot_{name}")
                angle = _angle_deg(R, R_from_rvec)
                if angle > _ROT_AGREE_DEG:
                    raise InputError(extri_path, f"R_{name}", f"disagrees with Rot_{name} by {angle:.2f} degrees")
        else:
            R = R_from_rvec
        t = _numbers(_fs_matrix(extri, extri_path, f"T_{name}"), (3,), extri_path, f"T_{name}") * scale
        height_node, width_node = intri.getNode(f"H_{name}"), intri.getNode(f"W_{name}")
        size = _image_size_for(image_size, name, intri_path)
        if size is None and not height_node.empty() and not width_node.empty():
            size = _size([width_node.real(), height_node.real()], intri_path, f"W_{name}/H_{name}")
        parsed.append((name, K, dist, R, t, size))
    if any(p[5] is None for p in parsed):
        fallback = _infer_image_size(np.array([[p[1][0, 2], p[1][1, 2]] for p in parsed]))
        parsed = [p[:5] + (p[5] or fallback,) for p in parsed]
    cameras = []
    for name, K, dist, R, t, (width, height) in parsed:
        file_of = {"K": intri_path, "dist": intri_path, "size": intri_path}
        try:
            cameras.append(Camera(name=name, K=K, dist=dist, R=R, t=t, width=width, height=height))
        except InputError as err:
            attr = (err.field or "").rsplit(".", 1)[-1]
            key = {"K": "K", "dist": "dist", "R": "Rot", "t": "T", "size": "H/W"}.get(attr, attr)
            raise InputError(file_of.get(attr, extri_path), f"{key}_{name}", err.message) from None
    _check_span(folder, cameras, units)
    return cameras


def _validate_rotation(R: np.ndarray, path: Path, field: str) -> None:
    if not np.allclose(R @ R.T, np.eye(3), atol=1e-4) or np.linalg.det(R) < 0:
        raise InputError(path, field, "not a rotation matrix")


_EASYMOCAP_NAME = re.compile(r"^[A-Za-z0-9_\- ]+$")


def _write_easymocap(rig: Rig, folder: Path) -> None:
    import cv2

    bad = [c.name for c in rig if not _EASYMOCAP_NAME.match(c.name)]
    if bad:
        raise InputError(folder, "names", f"EasyMocap (OpenCV YAML) keys allow only letters, digits, '_', '-' and "
                         f"spaces; rename cameras {bad}")
    if folder.exists() and not folder.is_dir():
        raise InputError(folder, None, "EasyMocap calibrations are folders, but this is a file")

    def storage_text(write_body) -> str:
        fs = cv2.FileStorage(".yml", cv2.FILE_STORAGE_WRITE | cv2.FILE_STORAGE_MEMORY)
        fs.startWriteStruct("names", cv2.FileNode_SEQ)
        for c in rig:
            fs.write("", c.name)
        fs.endWriteStruct()
        for c in rig:
            write_body(fs, c)
        text = fs.releaseAndGetString()
        header, _, body = text.partition("\n")  # OpenCV >= 5 writes "%YAML 1.2"; EasyMocap files say "%YAML:1.0"
        return "%YAML:1.0\n" + body if header.startswith("%YAML") else text

    def intri_body(fs, c: Camera) -> None:
        fs.write(f"K_{c.name}", c.K)
        fs.write(f"dist_{c.name}", c.dist[None, :])
        fs.write(f"H_{c.name}", int(c.height))
        fs.write(f"W_{c.name}", int(c.width))

    def extri_body(fs, c: Camera) -> None:
        fs.write(f"R_{c.name}", _matrix_to_rotvec(c.R)[:, None])
        fs.write(f"Rot_{c.name}", c.R)
        fs.write(f"T_{c.name}", c.t[:, None])

    intri_text, extri_text = storage_text(intri_body), storage_text(extri_body)
    atomic_write_text(folder / "intri.yml", intri_text)
    atomic_write_text(folder / "extri.yml", extri_text)


# ----------------------------------------------------------------------------- Qualisys QTM


def _read_qualisys(path: Path, distortion: str) -> list[Camera]:
    try:
        root = ET.fromstring(path.read_bytes())
    except ET.ParseError as err:
        raise InputError(path, None, f"not a Qualisys XML file: {err}") from None
    except OSError as err:
        raise InputError(path, None, f"cannot read: {err.strerror or err}") from None
    entries = root.findall("cameras/camera")
    if root.tag != "calibration" or not entries:
        raise InputError(path, "cameras", "no <calibration><cameras><camera> elements")
    flip_x = np.diag([1.0, -1.0, -1.0])  # turn by pi about the camera x axis: QTM axes -> OpenCV axes
    dist_scale = 1.0 if distortion == "as-is" else 1.0 / 64.0
    cameras = []
    for i, cam in enumerate(entries):
        name = cam.get("serial") or f"camera[{i}]"
        where = f"camera[{name}]"

        def attrs(tag: str, keys: Sequence[str]) -> np.ndarray:
            element = cam.find(tag)
            if element is None:
                raise InputError(path, f"{where}.{tag}", "missing")
            values = []
            for key in keys:
                if key not in element.attrib:
                    raise InputError(path, f"{where}.{tag}.{key}", "missing")
                try:
                    values.append(float(element.attrib[key]))
                except ValueError:
                    raise InputError(path, f"{where}.{tag}.{key}", f"expected a number, got {element.attrib[key]!r}") from None
            arr = np.array(values)
            if not np.all(np.isfinite(arr)):
                raise InputError(path, f"{where}.{tag}", "contains NaN or infinity")
            return arr

        left, right, top, bottom = attrs("fov_video", ("left", "right", "top", "bottom"))
        resolution = cam.get("video_resolution")
        res_scale = 1.0
        if resolution not in (None, "N/A"):
            match = re.fullmatch(r"(\d+)p?", resolution.strip())
            if not match:
                raise InputError(path, f"{where}.video_resolution", f"expected e.g. '1080p', got {resolution!r}")
            res_scale = int(match.group(1)) / 1080.0
        fu, fv, cu, cv = attrs("intrinsic", ("focalLengthU", "focalLengthV", "centerPointU", "centerPointV")) / 64.0
        k1, k2, k3, p1, p2 = attrs("intrinsic", ("radialDistortion1", "radialDistortion2", "radialDistortion3",
                                                  "tangentalDistortion1", "tangentalDistortion2")) * dist_scale
        K = np.array([[fu, 0.0, cu - left], [0.0, fv, cv - top], [0.0, 0.0, 1.0]])
        K[:2] *= res_scale
        transform = attrs("transform", ("x", "y", "z") + tuple(f"r{r}{c}" for r in (1, 2, 3) for c in (1, 2, 3)))
        position_world = transform[:3] * 0.001  # mm -> m
        R_qtm = transform[3:].reshape(3, 3)  # camera-to-world stored by columns = world-to-camera rows
        _validate_rotation(R_qtm, path, f"{where}.transform")
        R = flip_x @ R_qtm
        cameras.append(_camera(
            path, where, {"K": "intrinsic", "dist": "intrinsic", "R": "transform", "t": "transform", "size": "fov_video"},
            name=name, K=K, dist=np.array([k1, k2, p1, p2, k3]), R=R, t=-R @ position_world,
            width=int(round((right - left + 1) * res_scale)), height=int(round((bottom - top + 1) * res_scale))))
    return cameras
