"""Long recordings in bounded memory: lazy 2D input, chunked offline filters, incremental JSON Lines output.

``reconstruct_stream`` is ``reconstruct_files`` for recordings of any length with the geometric baseline.
Memory depends on ``StreamConfig.chunk_frames + 2 * margin_frames`` and on the number of people alive at
once, not on the recording's length nor on how many people came and went. Three passes, all frame-local or
chunk-local:

1. **Online, frame by frame.** :class:`OpenPoseStream` reads one frame's OpenPose files at a time;
   :func:`closecap.baseline.reconstruct_frame` (with the previous frame's people as proposals, as the
   whole-clip path does) and an online :class:`closecap.track.Tracker` (it forgets finished tracks) give raw
   tracked people, spooled with their frame numbers to uncompressed NPZ files of ``chunk_frames`` frames in a
   temporary folder beside the output. Per track only a few numbers are kept: frames observed, first / last
   frame and pose.
2. **Identity repair from the per-track numbers.** Broken tracks are stitched exactly as
   :func:`closecap.track.stitch_tracks` does on the whole clip (it only looks at the first and last pose
   of each track); tracks seen in fewer than ``min_track_len`` frames are dropped; ids are numbered in
   order of first appearance.
3. **Offline filters per chunk with overlap, one track at a time.** Each chunk of ``chunk_frames`` output
   frames is cleaned with ``margin_frames`` of context on both sides: temporal outlier rejection, gap
   filling, zero-phase Butterworth smoothing and constant bone lengths, as :func:`closecap.track.track_people`
   does. The window's raw rows are read from the spool, then each track alive in the chunk is assembled,
   cleaned and cut to the chunk on its own (every filter works per track), so the window's cost does not
   grow with the number of tracks it holds. The bone lengths are the per-track medians over the whole
   recording, found by a first sweep over the chunks (bone lengths of each track spooled to disk, read back
   one track and one bone at a time). Online One-Euro smoothing carries its filter state from chunk to
   chunk and is exact.

**Equality with the whole-clip result.** Everything except the zero-phase filter is exact when
``margin_frames`` exceeds ``outlier_window // 2 + fill_gap_frames + 1``. ``filtfilt`` has an infinite
impulse response: a run of frames cut at a window edge is padded there by reflection instead of the real
continuation, and the difference decays geometrically away from the edge. Measured on a generated 300-frame,
3-person recording cut into chunks of 50 frames (largest difference of the written, 1 µm-rounded joints to
the whole-clip JSON): margin 0 -> 0.36 m, 10 -> 2.6 mm, 20 -> 62 µm, 40 -> 1 µm, 60 or more -> 0 (identical
bytes). The default margin of 150 frames (5 s at 30 fps) gives the whole-clip bytes; ``tests/test_stream.py``
checks this for all three smoothing modes and for a stitched track. Known difference: when a joint's
confidence is exactly 0 while its position is known, the confidence given to interpolated gap frames may
look for a neighbour outside the window.

**Memory** is set by the window: its raw rows (``chunk_frames + 2 * margin_frames`` frames of the people
alive then), one track's window and its filters' temporaries, and the chunk's cleaned tracks; plus a few
numbers per raw track and one byte per frame and camera for the input listing. Measured from 1 to 30 minutes
in ``benchmarks/results.md`` ("scale-out").

**Output.** JSON Lines (``.jsonl``), written incrementally to a temporary name and renamed at the end:
line 1 is the closecap-3d header with ``"format": "closecap-3d-lines"`` (``version``, ``units``,
``skeleton``, ``joint_names``, ``convention``, ``ids``, ``config``), then one closecap-3d frame object per
line (``{"frame": f, "people": [{"id", "joints", "confidence"}]}``, rounded to 1 µm, every frame listed).
:func:`jsonl_to_json` turns it into the documented closecap-3d JSON, streaming and byte-identical to what
:func:`closecap.io.keypoints.write_poses` writes for the same poses; :func:`read_stream` loads it as
:class:`~closecap.poses.Poses3D` (whole recording in memory: for short files).

Example:
    >>> import tempfile
    >>> from closecap.pipelines import run_synth
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     scene = run_synth(Path(tmp) / "scene", people=(2, 2), frames=40, seed=3)
    ...     summary = reconstruct_stream(scene.calibration, scene.keypoints2d, Path(tmp) / "pred.jsonl",
    ...                                  stream=StreamConfig(chunk_frames=16, margin_frames=12))
    ...     poses = read_stream(Path(tmp) / "pred.jsonl")
    >>> summary.frames, poses.joints.shape[0]
    (40, 40)
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import tempfile
import warnings
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from closecap.baseline import reconstruct_frame
from closecap.cameras import Rig
from closecap.config import Config, atomic_output, atomic_write_bytes, save_json
from closecap.errors import InputError
from closecap.poses import Poses3D
from closecap.reconstruct import ReconstructConfig
from closecap.skeleton import COCO17
from closecap.track import OneEuroFilter, TrackConfig, Tracker, clean_tracks, enforce_bone_lengths

STREAM_FORMAT = "closecap-3d-lines"
STREAM_VERSION = 1
_KEYPOINTS_RE = re.compile(r"(\d+)_keypoints\.json$")
_ROUND = 6  # as closecap-3d JSON: metres and confidences to 1e-6


@dataclasses.dataclass(frozen=True)
class StreamConfig(Config):
    """Settings of :func:`reconstruct_stream` (memory versus passes)."""

    chunk_frames: int = 1800
    """Frames per chunk of the offline filters and per spool file (1 min at 30 fps). Memory grows with it."""
    margin_frames: int = 150
    """Frames of context on each side of a chunk for the offline filters. Must exceed
    ``outlier_window // 2 + fill_gap_frames + 1`` for exact outlier rejection and gap filling; the zero-phase
    filter's seam error decays geometrically with it (150 frames: below 1e-9 m measured)."""

    def __post_init__(self) -> None:
        if int(self.chunk_frames) < 1:
            raise InputError(None, "StreamConfig.chunk_frames", f"must be >= 1, got {self.chunk_frames}")
        if int(self.margin_frames) < 0:
            raise InputError(None, "StreamConfig.margin_frames", f"must be >= 0, got {self.margin_frames}")


@dataclasses.dataclass(frozen=True)
class StreamSummary:
    """What :func:`reconstruct_stream` wrote: ``frames`` read, ``people`` (tracks kept), their ``ids``, the output."""

    frames: int
    people: int
    ids: tuple[int, ...]
    out_path: Path


# ============================================================================ lazy 2D input


class OpenPoseStream:
    """OpenPose JSON folders read lazily, one frame at a time.

    The folder layout is :func:`closecap.io.keypoints.read_detections`' (one sub-folder per camera, named
    ``<cam>`` or ``<cam>_json``, files ``*<frame>_keypoints.json``; a frame missing in a view means nobody
    there). Opening only lists the files and keeps the union of the frame numbers (``int64``) and, per
    camera, which of them have a file (one byte a frame); when the names follow one pattern
    ``<prefix><frame zero-padded>_keypoints.json`` (as OpenPose and closecap write them) nothing else,
    otherwise that camera's names too. Each file is parsed when its frame is asked for.

    Args:
        folder: the OpenPose folder.
        camera_names: ``V`` camera names of the calibration; views come in this order.

    Example:
        >>> import tempfile
        >>> from closecap.io.keypoints import write_openpose
        >>> from closecap.poses import Detections2D
        >>> kp = np.zeros((1, 17, 3)); kp[0, :, 2] = 0.9
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     _ = write_openpose(Detections2D(("a", "b"), (4, 7), (((kp, kp[:0])), (kp, kp))), tmp)
        ...     stream = OpenPoseStream(tmp, ["a", "b"])
        ...     shapes = [(frame, [v.shape[0] for v in views]) for frame, views in stream]
        >>> stream.frames.tolist(), shapes
        ([4, 7], [(4, [1, 0]), (7, [1, 1])])
    """

    def __init__(self, folder: str | Path, camera_names: Sequence[str]) -> None:
        self.folder = Path(folder)
        self.camera_names = tuple(str(n) for n in camera_names)
        if not self.folder.is_dir():
            raise InputError(self.folder, None, "streaming reads an OpenPose folder (one sub-folder per camera)")
        dirs: dict[str, Path] = {}
        for entry in sorted(os.scandir(self.folder), key=lambda e: e.name):
            if entry.name.startswith(".") or not entry.is_dir():
                continue
            name = entry.name
            cam = name if name in self.camera_names else (
                name[: -len("_json")] if name.endswith("_json") and name[: -len("_json")] in self.camera_names else None)
            if cam is None:
                raise InputError(entry.path, None, f"keypoint folder {name!r} is not a camera of the calibration "
                                                   f"(cameras: {', '.join(self.camera_names)})")
            if cam in dirs:
                raise InputError(entry.path, None, f"two keypoint folders for camera {cam!r}: {dirs[cam].name} and {name}")
            dirs[cam] = Path(entry.path)
        if not dirs:
            raise InputError(self.folder, None, "no camera sub-folders: streaming reads OpenPose JSON folders")
        self._dirs = [dirs.get(cam) for cam in self.camera_names]
        index = [self._list(d) for d in self._dirs]  # per view: (frames (N,), pattern or names)
        all_frames = [f for f, _ in index if len(f)]
        self.frames = np.unique(np.concatenate(all_frames)) if all_frames else np.zeros(0, np.int64)
        if not len(self.frames):
            raise InputError(self.folder, None, "no frames found")
        self.frames.setflags(write=False)
        # per view: which frames have a file ((T,) bool, 1 byte a frame) and the naming; the sorted frame
        # numbers are kept only for views whose names must be kept too
        self._has = [np.isin(self.frames, frames) for frames, _ in index]
        self._naming = [naming if isinstance(naming, tuple) else (frames, naming) for frames, naming in index]

    @staticmethod
    def _list(folder: Path | None) -> tuple[np.ndarray, tuple[str, int] | np.ndarray]:
        """``frames (N,)`` sorted and either ``(prefix, digits)`` or the file names ``(N,)`` in that order."""
        if folder is None:
            return np.zeros(0, np.int64), ("", 0)
        frames: list[int] = []
        pattern: tuple[str, int] | None = None
        uniform = True
        for entry in os.scandir(folder):
            name = entry.name
            if name.startswith(".") or not name.endswith("_keypoints.json") or not entry.is_file():
                continue
            match = _KEYPOINTS_RE.search(name)
            if match is None:
                raise InputError(entry.path, None, "expected a name ending in <frame number>_keypoints.json")
            frames.append(int(match.group(1)))
            here = (name[: match.start(1)], len(match.group(1)))
            pattern = here if pattern is None else pattern
            uniform &= here == pattern
        order = np.argsort(np.array(frames, dtype=np.int64), kind="stable")
        frame_arr = np.array(frames, dtype=np.int64)[order]
        duplicate = np.flatnonzero(np.diff(frame_arr) == 0)
        if duplicate.size:
            raise InputError(folder, None, f"frame {int(frame_arr[duplicate[0]])} appears in two files")
        if uniform and pattern is not None:  # one prefix, one zero-padded width: names are recomputed
            return frame_arr, pattern
        names = np.array([e.name for e in os.scandir(folder) if not e.name.startswith(".")
                          and e.name.endswith("_keypoints.json") and e.is_file()])
        names = names[np.argsort([int(_KEYPOINTS_RE.search(n).group(1)) for n in names], kind="stable")]
        return frame_arr, names

    def __len__(self) -> int:
        return len(self.frames)

    def views(self, frame: int) -> tuple[np.ndarray, ...]:
        """One frame's 2D people: ``V`` arrays ``(P_v, 17, 3)`` (``u_px, v_px, score``), ``P_v = 0`` without a file."""
        from closecap.io.keypoints import _clean_people, _read_openpose_file

        out = []
        k = int(np.searchsorted(self.frames, frame))
        known = k < len(self.frames) and self.frames[k] == frame
        for folder, has, naming in zip(self._dirs, self._has, self._naming):
            if folder is None or not known or not has[k]:
                out.append(np.zeros((0, COCO17.num_joints, 3)))
                continue
            if isinstance(naming[0], str):
                prefix, digits = naming
                name = f"{prefix}{frame:0{digits}d}_keypoints.json"
            else:
                frames, names = naming
                name = str(names[int(np.searchsorted(frames, frame))])
            out.append(_clean_people(_read_openpose_file(folder / name), 0.0))
        return tuple(out)

    def __iter__(self) -> Iterator[tuple[int, tuple[np.ndarray, ...]]]:
        for frame in self.frames.tolist():
            yield frame, self.views(frame)


# ============================================================================ pass 1: online, spooled


@dataclasses.dataclass
class _TrackStats:
    """Per raw track id: observation count, first / last frame index and pose."""

    count: list[int] = dataclasses.field(default_factory=list)
    first: list[int] = dataclasses.field(default_factory=list)
    last: list[int] = dataclasses.field(default_factory=list)
    first_pose: list[np.ndarray] = dataclasses.field(default_factory=list)
    last_pose: list[np.ndarray] = dataclasses.field(default_factory=list)

    def add(self, t: int, ids: np.ndarray, joints: np.ndarray) -> None:
        for pid, pose in zip(ids.tolist(), joints):
            if pid == len(self.count):  # tracker ids are born 0, 1, 2, ...
                self.count.append(0)
                self.first.append(t)
                self.first_pose.append(pose.copy())
                self.last.append(t)
                self.last_pose.append(pose)
            self.count[pid] += 1
            self.last[pid] = t
            self.last_pose[pid] = pose.copy()


class _Spool:
    """Raw tracked people per frame in uncompressed NPZ files of ``chunk`` frames, with the frame numbers.

    Parts are read back on demand and not cached: a window loads the parts it overlaps, keeps its slice of
    them and lets the rest go."""

    def __init__(self, folder: Path, chunk: int) -> None:
        self.folder, self.chunk = folder, chunk
        self._frames: list[int] = []
        self._rows: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self.written = 0

    def append(self, frame: int, ids: np.ndarray, joints: np.ndarray, confidence: np.ndarray) -> None:
        self._frames.append(int(frame))
        self._rows.append((ids, joints, confidence))
        if len(self._rows) == self.chunk:
            self.flush()

    def flush(self) -> None:
        if not self._rows:
            return
        counts = np.array([len(r[0]) for r in self._rows], dtype=np.int64)
        J = COCO17.num_joints
        np.savez(self._path(self.written // self.chunk), frames=np.array(self._frames, dtype=np.int64),
                 counts=counts, ids=np.concatenate([r[0] for r in self._rows]).astype(np.int64),
                 joints=np.concatenate([r[1].reshape(-1, J, 3) for r in self._rows]),
                 confidence=np.concatenate([r[2].reshape(-1, J) for r in self._rows]))
        self.written += len(self._rows)
        self._rows, self._frames = [], []

    def _path(self, k: int) -> Path:
        return self.folder / f"raw_{k:06d}.npz"

    def _parts(self, start: int, stop: int) -> Iterator[tuple[int, int, int]]:
        """``(part, lo, hi)``: the parts holding frame indices ``[start, stop)`` and the local range in each."""
        for k in range(start // self.chunk, (stop - 1) // self.chunk + 1):
            yield k, max(start - k * self.chunk, 0), min(stop - k * self.chunk, self.chunk)

    def frame_numbers(self, start: int, stop: int) -> np.ndarray:
        """``(stop - start,)`` int64 frame numbers of the frame indices ``[start, stop)``."""
        out = []
        for k, lo, hi in self._parts(start, stop):
            with np.load(self._path(k)) as data:
                out.append(data["frames"][lo:hi])
        return np.concatenate(out)

    def rows(self, start: int, stop: int) -> _Rows:
        """Every raw tracked person of the frame indices ``[start, stop)``, frame-major."""
        t, ids, joints, confidence = [], [], [], []
        for k, lo, hi in self._parts(start, stop):
            with np.load(self._path(k)) as data:
                counts = data["counts"]
                offsets = np.concatenate([[0], np.cumsum(counts)])
                a, b = int(offsets[lo]), int(offsets[hi])
                t.append(np.repeat(np.arange(lo, hi) + k * self.chunk, counts[lo:hi]))
                ids.append(data["ids"][a:b])
                joints.append(data["joints"][a:b].copy())
                confidence.append(data["confidence"][a:b].copy())
        return _Rows(np.concatenate(t), np.concatenate(ids), np.concatenate(joints), np.concatenate(confidence))

    def ids_only(self) -> Iterator[tuple[int, np.ndarray]]:
        """``(t, ids (P_t,))`` for every frame, reading only the ids."""
        t = 0
        for k in range(math.ceil(self.written / self.chunk)):
            with np.load(self._path(k)) as data:
                counts, ids = data["counts"], data["ids"]
            for part in np.split(ids, np.cumsum(counts)[:-1]):
                yield t, part
                t += 1


@dataclasses.dataclass(frozen=True)
class _Rows:
    """Raw tracked people of a range of frames: frame index ``t (N,)``, raw id ``ids (N,)``, ``joints (N, J, 3)``
    metres, ``confidence (N, J)``; frame-major, each frame's people in the tracker's order."""

    t: np.ndarray
    ids: np.ndarray
    joints: np.ndarray
    confidence: np.ndarray


def _stitch(stats: _TrackStats, config: TrackConfig) -> list[list[int]]:
    """Chains of raw ids (head first), as :func:`closecap.track.stitch_tracks` joins them; heads in id order."""
    P = len(stats.count)
    if config.stitch_gap_frames <= 0 or P < 2:
        return [[p] for p in range(P)]
    first, last = np.array(stats.first), np.array(stats.last)
    # candidate pairs only (b starts within [last[a] - 2, last[a] + gap]): memory grows with the pairs, not P^2
    by_first = np.argsort(first, kind="stable")
    lo = np.searchsorted(first[by_first], last - 2, side="left")
    hi = np.searchsorted(first[by_first], last + int(config.stitch_gap_frames), side="right")
    a_idx = np.repeat(np.arange(P), hi - lo)
    b_idx = by_first[np.concatenate([np.arange(l, h) for l, h in zip(lo.tolist(), hi.tolist())] or [np.zeros(0, int)])]
    pairs = np.lexsort((b_idx, a_idx))  # row-major order of the whole-clip (a, b) matrix
    a_idx, b_idx = a_idx[pairs], b_idx[pairs]
    keep = (first[b_idx] > first[a_idx]) & (last[b_idx] > last[a_idx])
    a_idx, b_idx = a_idx[keep], b_idx[keep]
    last_pose, first_pose = np.stack(stats.last_pose), np.stack(stats.first_pose)
    dist_m = np.linalg.norm(last_pose[a_idx] - first_pose[b_idx], axis=-1)  # (N, J), as median_joint_distance
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        median = np.nanmedian(dist_m, axis=-1) if len(a_idx) else np.zeros(0)
    dist = np.where(np.isfinite(median), median, np.inf)
    ok = dist <= config.stitch_distance_m
    candidates = [(a, b, d) for a, b, d in zip(a_idx[ok].tolist(), b_idx[ok].tolist(), dist[ok].tolist())]
    successor = np.full(P, -1)
    has_pred = np.zeros(P, dtype=bool)
    for a, b, _ in sorted(candidates, key=lambda abd: abd[2]):  # stable: ties keep (a, b) order
        if successor[a] < 0 and not has_pred[b]:
            successor[a], has_pred[b] = b, True
    chains = []
    for head in np.flatnonzero(~has_pred).tolist():
        chain = [head]
        while successor[chain[-1]] >= 0:
            chain.append(int(successor[chain[-1]]))
        chains.append(chain)
    return chains


# ============================================================================ pass 3: chunk-local offline filters


@dataclasses.dataclass(frozen=True)
class _Plan:
    """Raw id -> (output column, position in its chain); output ids are the columns ``0..K-1``."""

    column: np.ndarray  # (P_raw,) output column or -1 (dropped)
    rank: np.ndarray  # (P_raw,) position of the raw track in its chain
    spans: np.ndarray  # (K, 2) first and last frame index of each output track


@dataclasses.dataclass
class _Piece:
    """One output track over frame indices ``[start, start + len(joints))`` of a chunk (inside its span):
    ``joints (L, J, 3)`` metres (NaN = missing), ``confidence (L, J)``."""

    track: int
    start: int
    joints: np.ndarray
    confidence: np.ndarray

    @property
    def stop(self) -> int:
        return self.start + len(self.joints)


def _track_window(rows: _Rows, column: np.ndarray, rank: np.ndarray, k: int, start: int,
                  stop: int) -> tuple[np.ndarray, np.ndarray]:
    """Output track ``k`` over frame indices ``[start, stop)``: ``joints (W, J, 3)``, ``confidence (W, J)``.

    ``column (N,)`` is the output column of each row. Where two raw tracks of one chain share a frame, they
    are merged as :func:`~closecap.track.stitch_tracks` merges them: head first, a successor replaces it
    when its confidence sum is larger."""
    J = COCO17.num_joints
    joints = np.full((stop - start, J, 3), np.nan)
    confidence = np.zeros((stop - start, J))
    sel = np.flatnonzero(column == k)
    if not sel.size:
        return joints, confidence
    t = rows.t[sel] - start
    order = np.lexsort((sel, rank[rows.ids[sel]], t))  # by frame, then chain order, then the frame's order
    sel, t = sel[order], t[order]
    first = np.ones(len(t), dtype=bool)
    first[1:] = t[1:] != t[:-1]
    joints[t[first]], confidence[t[first]] = rows.joints[sel[first]], rows.confidence[sel[first]]
    for i in np.flatnonzero(~first).tolist():  # two raw tracks of the chain in one frame (a stitch overlap)
        f, r = int(t[i]), int(sel[i])
        mine = np.isfinite(joints[f]).all(-1).any()
        if not mine or (rank[rows.ids[r]] > 0 and rows.confidence[r].sum() > confidence[f].sum()):
            joints[f], confidence[f] = rows.joints[r], rows.confidence[r]
    return joints, confidence


def _clean_chunks(spool: _Spool, plan: _Plan, T: int, chunk: int, margin: int,
                  track: TrackConfig) -> Iterator[tuple[int, int, list[_Piece]]]:
    """``(c0, c1, pieces)`` per output chunk ``[c0, c1)``: each output track alive there, cleaned by
    :func:`~closecap.track.clean_tracks` over the chunk's window ``[c0 - margin, c1 + margin)`` one track
    at a time (every step is per track, so this is the whole-clip result away from the window edges), cut
    to the chunk and to the track's span. Memory: the window's raw rows, one track's window, the pieces."""
    for c0, c1, w0, w1 in _chunks(T, chunk, margin):
        rows = spool.rows(w0, w1)
        column = plan.column[rows.ids] if len(plan.column) else np.zeros(0, np.int64)
        pieces = []
        for k in np.flatnonzero((plan.spans[:, 0] < c1) & (plan.spans[:, 1] >= c0)).tolist():
            joints, confidence = _track_window(rows, column, plan.rank, k, w0, w1)
            joints, confidence = clean_tracks(joints[:, None], confidence[:, None], track)  # (W, 1, J, 3)
            a, b = max(c0, int(plan.spans[k, 0])), min(c1, int(plan.spans[k, 1]) + 1)
            pieces.append(_Piece(k, a, joints[a - w0:b - w0, 0].copy(), confidence[a - w0:b - w0, 0].copy()))
        del rows, column
        yield c0, c1, pieces


def _chunks(T: int, chunk: int, margin: int) -> Iterator[tuple[int, int, int, int]]:
    """``(c0, c1, w0, w1)``: output frames ``[c0, c1)`` inside window ``[w0, w1)``."""
    for c0 in range(0, T, chunk):
        c1 = min(c0 + chunk, T)
        yield c0, c1, max(c0 - margin, 0), min(c1 + margin, T)


# ============================================================================ the pipeline


def reconstruct_stream(calib_path: str | Path, keypoints_path: str | Path, out_path: str | Path,
                       config: ReconstructConfig = ReconstructConfig(), stream: StreamConfig = StreamConfig(), *,
                       camera_type: str | None = None, progress: bool = False) -> StreamSummary:
    """Reconstruct a recording of any length in bounded memory, writing closecap-3d JSON Lines incrementally.

    Same result as :func:`closecap.reconstruct.reconstruct_files` with the baseline (see the module notes for
    the measured difference), and ``<out stem>.config.json`` beside the output.

    Args:
        calib_path: calibration (any supported format).
        keypoints_path: OpenPose JSON folder (one sub-folder per camera), read lazily.
        out_path: ``.jsonl`` output (written incrementally under a temporary name, renamed at the end), or
            ``.json``: closecap-3d JSON converted from the JSON Lines at the end (same bounded memory).
        config: reconstruction settings (``method`` must be ``baseline``).
        stream: chunking settings.
        camera_type: Panoptic calibrations: keep only cameras of this type.
        progress: progress bars over frames.

    Returns:
        :class:`StreamSummary`.

    Example:
        >>> StreamConfig().chunk_frames, StreamConfig().margin_frames
        (1800, 150)
    """
    from closecap.io.calibration import load_rig

    out_path = Path(out_path)
    if out_path.suffix.lower() not in (".jsonl", ".json"):
        raise InputError(out_path, None, "streamed output must end in .jsonl (JSON Lines) or .json (closecap-3d)")
    if config.method != "baseline":
        raise InputError(None, "method", f"streaming supports the baseline method, got {config.method!r}")
    rig = load_rig(calib_path, camera_type=camera_type)
    reader = OpenPoseStream(keypoints_path, rig.names)
    run_config = {"reconstruct": config.to_dict(), "calibration": str(calib_path), "keypoints2d": str(keypoints_path)}
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{out_path.name}.", dir=out_path.parent) as tmp:
        lines = out_path if out_path.suffix.lower() == ".jsonl" else Path(tmp) / "poses.jsonl"
        summary = stream_frames(reader, rig, Path(tmp), lines, config, stream, run_config=run_config,
                                progress=progress)
        if lines != out_path:  # closecap-3d JSON, converted line by line
            jsonl_to_json(lines, out_path)
            summary = dataclasses.replace(summary, out_path=out_path)
    save_json(out_path.with_name(out_path.stem + ".config.json"), run_config)
    return summary


def stream_frames(reader, rig: Rig, work_dir: Path, out_path: Path, config: ReconstructConfig = ReconstructConfig(),
                  stream: StreamConfig = StreamConfig(), *, run_config: dict | None = None,
                  progress: bool = False) -> StreamSummary:
    """The three passes of :func:`reconstruct_stream` over any frame source.

    Args:
        reader: iterable of ``(frame number, V arrays (P_v, 17, 3))`` in increasing frame order, with ``len``
            (e.g. :class:`OpenPoseStream`); views in the order of ``rig``.
        rig: the ``V`` cameras. work_dir: an empty folder for the spool (the caller removes it).
        out_path: the ``.jsonl`` to write. config: reconstruction settings. stream: chunking.
        run_config: the config dict stored in the header (default: ``config.to_dict()``).
        progress: progress bars.

    Returns:
        :class:`StreamSummary`.
    """
    track = config.baseline.track
    chunk, margin = int(stream.chunk_frames), int(stream.margin_frames)
    J = COCO17.num_joints
    # pass 1: online reconstruction and tracking, spooled to disk (frame numbers included)
    spool = _Spool(work_dir, chunk)
    stats = _TrackStats()
    tracker = Tracker(track)
    previous = None
    last_frame = None
    items = reader
    if progress:
        from tqdm import tqdm

        items = tqdm(reader, total=len(reader), desc="stream", unit="frame")
    t = -1
    for t, (frame, views) in enumerate(items):
        if last_frame is not None and int(frame) <= last_frame:
            raise InputError(None, "frames", "frame numbers must be strictly increasing")
        last_frame = int(frame)
        joints, confidence = reconstruct_frame(views, rig, config.baseline, previous)
        previous = joints if len(joints) else None
        ids = tracker.update(joints.reshape(-1, J, 3))
        stats.add(t, ids, joints)
        spool.append(frame, ids, joints, confidence)
    spool.flush()
    T = t + 1
    if T < 1:
        raise InputError(None, "keypoints2d", "no frames")

    # pass 2: stitching and short-track removal from the per-track numbers (+ one sweep over the ids)
    chains = _stitch(stats, track)
    P_raw = len(stats.count)
    chain_of = np.full(P_raw, -1)
    rank = np.zeros(P_raw, dtype=np.int64)
    for c, chain in enumerate(chains):
        chain_of[chain] = c
        rank[chain] = np.arange(len(chain))
    seen = np.zeros(len(chains), dtype=np.int64)
    for _, ids in spool.ids_only():
        seen[np.unique(chain_of[ids])] += 1
    order = np.argsort([stats.first[chain[0]] for chain in chains], kind="stable") if chains else np.zeros(0, int)
    kept = [c for c in order.tolist() if seen[c] >= max(int(track.min_track_len), 1)]
    column_of_chain = np.full(len(chains), -1)
    column_of_chain[kept] = np.arange(len(kept))
    spans = np.array([[stats.first[chains[c][0]], max(stats.last[p] for p in chains[c])] for c in kept],
                     dtype=np.int64).reshape(-1, 2)
    plan = _Plan(column_of_chain[chain_of] if P_raw else np.zeros(0, np.int64), rank, spans)
    K = len(kept)
    del stats, chains, chain_of, seen

    # pass 3a: per-track bone-length medians over the whole recording (offline smoothing with bones only)
    bones = COCO17.bone_indices
    lengths = None
    if track.smoothing == "offline" and track.bone_iterations > 0 and K:
        lengths = _bone_medians(spool, plan, T, chunk, margin, track, bones, work_dir)

    # pass 3b: clean each chunk with context, one track at a time, write its frames
    header = {"format": STREAM_FORMAT, "version": STREAM_VERSION, "units": "m", "skeleton": COCO17.name,
              "joint_names": list(COCO17.joint_names), "convention": "world frame of the calibration",
              "ids": list(range(K)), "config": run_config if run_config is not None else config.to_dict()}
    euro = OneEuroFilter(track.fps, track.min_cutoff_hz, track.beta, track.derivative_cutoff_hz) \
        if track.smoothing == "online" else None
    no_cols, no_joints, no_conf = np.zeros(0, np.int64), np.zeros((0, J, 3)), np.zeros((0, J))
    with atomic_output(out_path, "w") as out:
        out.write(json.dumps(header, allow_nan=False) + "\n")
        for c0, c1, pieces in _clean_chunks(spool, plan, T, chunk, margin, track):
            if lengths is not None:
                for piece in pieces:
                    piece.joints = enforce_bone_lengths(piece.joints[:, None], bones, track.bone_iterations,
                                                        lengths[piece.track][None])[:, 0]
            if euro is not None:
                _online(euro, pieces, c0, c1, K)
            frames = spool.frame_numbers(c0, c1)
            for t in range(c0, c1):
                here = [p for p in pieces if p.start <= t < p.stop]  # in column order
                if here:
                    cols = np.array([p.track for p in here], dtype=np.int64)
                    joints = np.stack([p.joints[t - p.start] for p in here])
                    confidence = np.stack([p.confidence[t - p.start] for p in here])
                else:
                    cols, joints, confidence = no_cols, no_joints, no_conf
                out.write(_frame_line(int(frames[t - c0]), cols, joints, confidence) + "\n")
    return StreamSummary(T, K, tuple(range(K)), out_path)


def _bone_medians(spool: _Spool, plan: _Plan, T: int, chunk: int, margin: int, track: TrackConfig,
                  bones: np.ndarray, work_dir: Path) -> np.ndarray:
    """``(K, B)`` metres: per output track, the median over its frames of each smoothed bone's length.

    The lengths go to one file, track after track and, inside a track, bone after bone over its span; then
    each (track, bone) run is read back alone (memory: one track's span, 8 bytes a frame)."""
    K, B = len(plan.spans), len(bones)
    span_len = plan.spans[:, 1] - plan.spans[:, 0] + 1  # (K,)
    offset = np.concatenate([[0], np.cumsum(span_len)])[:-1] * B * 8  # bytes
    path = work_dir / "bone_lengths.f64"
    with open(path, "wb") as f:
        f.truncate(int(span_len.sum()) * B * 8)
        for _, _, pieces in _clean_chunks(spool, plan, T, chunk, margin, track):
            for piece in pieces:
                k = piece.track
                length = np.linalg.norm(piece.joints[:, bones[:, 0]] - piece.joints[:, bones[:, 1]], axis=-1)  # (L, B)
                for bone in range(B):
                    f.seek(int(offset[k] + (bone * span_len[k] + piece.start - plan.spans[k, 0]) * 8))
                    f.write(np.ascontiguousarray(length[:, bone], dtype=np.float64).tobytes())
    lengths = np.zeros((K, B))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for k in range(K):
            for bone in range(B):
                lengths[k, bone] = np.nanmedian(np.fromfile(path, dtype=np.float64, count=int(span_len[k]),
                                                             offset=int(offset[k] + bone * span_len[k] * 8)))
    return lengths


def _online(euro: OneEuroFilter, pieces: list[_Piece], c0: int, c1: int, K: int) -> None:
    """Causal One-Euro over the chunk's frames ``[c0, c1)`` in place, the filter state covering all ``K`` tracks
    (a track absent in a frame is NaN there, as in the whole clip)."""
    full = np.full((K, COCO17.num_joints, 3), np.nan)
    for t in range(c0, c1):
        here = [p for p in pieces if p.start <= t < p.stop]
        full[:] = np.nan
        for p in here:
            full[p.track] = p.joints[t - p.start]
        filtered = euro(full)
        for p in here:
            p.joints[t - p.start] = filtered[p.track]


def _frame_line(frame: int, cols: np.ndarray, joints: np.ndarray, confidence: np.ndarray) -> str:
    """One closecap-3d frame object: ``joints (K_w, J, 3)``, ``confidence (K_w, J)`` of the output columns ``cols``."""
    present = np.isfinite(joints).all(-1).any(-1)  # (K_w,)
    xyz = np.round(joints[present], _ROUND).tolist()
    conf = np.round(np.where(np.isfinite(joints[present]).all(-1), confidence[present], 0.0), _ROUND).tolist()
    people = [{"id": int(k), "joints": [None if math.isnan(p[0]) else p for p in person], "confidence": c}
              for k, person, c in zip(cols[present].tolist(), xyz, conf)]
    return json.dumps({"frame": frame, "people": people}, allow_nan=False)


# ============================================================================ reading and converting


def _stream_header(path: Path, line: str) -> dict:
    try:
        header = json.loads(line)
    except json.JSONDecodeError as err:
        raise InputError(path, "line 1", f"not JSON: {err.msg}") from None
    if not isinstance(header, dict) or header.get("format") != STREAM_FORMAT:
        raise InputError(path, "format", f"expected {STREAM_FORMAT!r} on line 1")
    if header.get("version") != STREAM_VERSION:
        raise InputError(path, "version", f"expected {STREAM_VERSION}, got {header.get('version')!r}")
    return header


def jsonl_to_json(jsonl_path: str | Path, json_path: str | Path) -> Path:
    """Convert closecap-3d JSON Lines into the documented closecap-3d JSON, line by line (bounded memory).

    The bytes equal :func:`closecap.io.keypoints.write_poses` of the same poses and config. Written under a
    temporary name, then renamed.

    Example:
        >>> import tempfile
        >>> from closecap.io.keypoints import read_poses
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     src = Path(tmp) / "a.jsonl"
        ...     _ = src.write_text(json.dumps({"format": STREAM_FORMAT, "version": 1, "units": "m",
        ...         "skeleton": "coco17", "joint_names": list(COCO17.joint_names),
        ...         "convention": "world frame of the calibration", "ids": [], "config": {}}) + "\\n"
        ...         + json.dumps({"frame": 0, "people": []}) + "\\n")
        ...     poses = read_poses(jsonl_to_json(src, Path(tmp) / "a.json"))
        >>> poses.frames.tolist(), poses.num_people
        ([0], 0)
    """
    from closecap.io.keypoints import POSES_FORMAT, POSES_VERSION

    jsonl_path, json_path = Path(jsonl_path), Path(json_path)
    json_path.parent.mkdir(parents=True, exist_ok=True)
    with open(jsonl_path, encoding="utf-8") as src, atomic_output(json_path, "w") as out:
        header = _stream_header(jsonl_path, src.readline())
        doc = {**header, "format": POSES_FORMAT, "version": POSES_VERSION}
        out.write(json.dumps(doc, allow_nan=False)[:-1] + ', "frames": [')
        for n, line in enumerate(src):
            line = line.rstrip("\n")
            if not line:
                continue
            out.write((", " if n else "") + line)
        out.write("]}\n")
    return json_path


def read_stream(path: str | Path) -> Poses3D:
    """Load closecap-3d JSON Lines as :class:`~closecap.poses.Poses3D` (the whole recording in memory).

    Example:
        >>> StreamSummary(1, 0, (), Path("x.jsonl")).frames
        1
    """
    path = Path(path)
    with open(path, encoding="utf-8") as src:
        header = _stream_header(path, src.readline())
        ids = [int(i) for i in header.get("ids", [])]
        frames, people = [], []
        for n, line in enumerate(src, start=2):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
                frames.append(int(entry["frame"]))
                people.append([(int(p["id"]),
                                np.array([[np.nan] * 3 if xyz is None else xyz for xyz in p["joints"]], dtype=float),
                                np.array(p["confidence"], dtype=float)) for p in entry["people"]])
            except (json.JSONDecodeError, KeyError, TypeError, ValueError) as err:
                raise InputError(path, f"line {n}", f"not a closecap-3d frame: {err}") from None
    poses = Poses3D.from_frame_lists(frames, people)
    if poses.num_people != len(ids):  # people listed in the header but never present keep their column
        J = COCO17.num_joints
        col = {pid: i for i, pid in enumerate(ids)}
        joints = np.full((len(frames), len(ids), J, 3), np.nan)
        conf = np.zeros((len(frames), len(ids), J))
        joints[:, [col[int(i)] for i in poses.ids]] = poses.joints
        conf[:, [col[int(i)] for i in poses.ids]] = poses.confidence
        poses = Poses3D(poses.frames, np.array(ids, dtype=np.int64), joints, conf)
    return poses
