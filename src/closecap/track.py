"""Identities over time and temporal filtering of 3D people.

* :class:`Tracker` — online: each frame's 3D people are matched to live tracks by the Hungarian
  method on the mean joint distance (metres, over joints present in both); unmatched people start
  new tracks (births); a track unseen for more than ``max_missed_frames`` frames ends (death).
* :func:`track_people` — offline: runs the tracker over a clip, drops tracks observed in fewer than
  ``min_track_len`` frames, fills short gaps by linear interpolation and smooths each track:
  ``"offline"`` = zero-phase Butterworth (``scipy.signal.filtfilt``) on each contiguous run of
  frames, ``"online"`` = causal :class:`OneEuroFilter`, ``"none"``.

Example:
    >>> rng = np.random.default_rng(0)
    >>> base = rng.normal(size=(2, 17, 3))  # two people (P, J, 3) metres
    >>> base[1] += 2.0
    >>> frames = range(10)
    >>> people = [(base[::-1] if t % 2 else base, np.ones((2, 17))) for t in frames]  # order flips
    >>> poses = track_people(frames, people, TrackConfig(smoothing="none", min_track_len=1))
    >>> poses.ids.tolist(), bool(np.allclose(poses.joints[:, 0], base[0]))
    ([0, 1], True)
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

import warnings

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.signal import butter, filtfilt

from closecap.config import Config
from closecap.errors import InputError
from closecap.poses import Poses3D
from closecap.skeleton import COCO17, JointSet

SMOOTHING_MODES = ("offline", "online", "none")


@dataclass(frozen=True)
class TrackConfig(Config):
    """Settings of :class:`Tracker` and :func:`track_people`."""

    max_match_distance_m: float = 0.5
    """Largest mean joint distance (metres) between a track's last pose and a new 3D person for them
    to be the same person. Raise for fast motion at low frame rates."""
    max_missed_frames: int = 10
    """A track not matched for more than this many consecutive frames ends; a person reappearing later
    gets a new id."""
    min_track_len: int = 5
    """Offline: tracks observed in fewer frames than this are dropped (spurious people)."""
    fill_gap_frames: int = 10
    """Offline: a joint missing for at most this many frames inside a track is linearly interpolated
    (0 = never; Pose2Sim's default is 10 as well)."""
    stitch_gap_frames: int = 30
    """Offline: a track that starts at most this many frames after another ends, close to where it ended, is
    joined to it (one person, one id); 0 = never."""
    stitch_distance_m: float = 0.5
    """Offline: largest median joint distance (metres) between a track's last pose and the next track's first
    pose for them to be joined."""
    bone_iterations: int = 2
    """Offline: sweeps of constant-bone-length projection after smoothing (0 = off); see
    :func:`enforce_bone_lengths`."""
    outlier_window: int = 9
    """Offline: frames of the running median that temporal outlier rejection compares each joint with
    (odd; 0 = no rejection)."""
    outlier_threshold_m: float = 0.1
    """Offline: a joint farther than this (metres) from its running median is an outlier (a gross 2D error
    that got through triangulation); it is dropped and refilled by interpolation."""
    smoothing: str = "offline"
    """Temporal filter: ``"offline"`` (zero-phase Butterworth), ``"online"`` (causal One-Euro) or ``"none"``."""
    fps: float = 30.0
    """Frame rate of the clip (frames per second), for the filters' cut-off frequencies."""
    cutoff_hz: float = 6.0
    """Offline: Butterworth cut-off frequency (Hz); 6 Hz keeps human motion and removes jitter."""
    filter_order: int = 4
    """Offline: order of the Butterworth filter (applied twice, forward and backward)."""
    min_cutoff_hz: float = 1.0
    """Online: One-Euro minimum cut-off (Hz) at rest; lower = smoother but more lag when slow."""
    beta: float = 10.0
    """Online: One-Euro speed coefficient (Hz per m/s); higher = less lag on fast motion, less smoothing."""
    derivative_cutoff_hz: float = 1.0
    """Online: One-Euro cut-off (Hz) of the speed estimate."""

    def __post_init__(self) -> None:
        if self.smoothing not in SMOOTHING_MODES:
            raise InputError(None, "TrackConfig.smoothing", f"expected one of {SMOOTHING_MODES}, got {self.smoothing!r}")
        if not self.fps > 0:
            raise InputError(None, "TrackConfig.fps", f"must be > 0, got {self.fps}")
        if not 0 < self.cutoff_hz < self.fps / 2:
            raise InputError(None, "TrackConfig.cutoff_hz", f"must be in (0, fps/2 = {self.fps / 2}), got {self.cutoff_hz}")
        if int(self.filter_order) < 1:
            raise InputError(None, "TrackConfig.filter_order", f"must be >= 1, got {self.filter_order}")
        for name in ("max_missed_frames", "min_track_len", "fill_gap_frames"):
            if int(getattr(self, name)) < 0:
                raise InputError(None, f"TrackConfig.{name}", f"must be >= 0, got {getattr(self, name)}")
        if not self.max_match_distance_m > 0:
            raise InputError(None, "TrackConfig.max_match_distance_m", f"must be > 0, got {self.max_match_distance_m}")


def median_joint_distance(joints_a: np.ndarray, joints_b: np.ndarray) -> np.ndarray:
    """Pairwise median distance over joints present in both: robust to a few wrong limbs.

    Args:
        joints_a: ``(A, J, 3)`` metres (NaN = absent). joints_b: ``(B, J, 3)`` metres.

    Returns:
        ``(A, B)`` metres; ``inf`` where the two people share no joint.

    Example:
        >>> a = np.zeros((1, 3, 3)); b = np.zeros((1, 3, 3)); b[0, 0] = [2.0, 0, 0]
        >>> median_joint_distance(a, b).tolist()
        [[0.0]]
    """
    diff = joints_a[:, None] - joints_b[None]  # (A, B, J, 3)
    dist = np.linalg.norm(diff, axis=-1)  # (A, B, J), NaN where either is absent
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        median = np.nanmedian(dist, axis=-1) if dist.shape[-1] else np.full(dist.shape[:2], np.nan)
    return np.where(np.isfinite(median), median, np.inf)


class Tracker:
    """Online identity assignment by Hungarian matching on the median joint distance to each track's last pose.

    Example:
        >>> tracker = Tracker(TrackConfig())
        >>> a, b = np.zeros((17, 3)), np.full((17, 3), 3.0)
        >>> tracker.update(np.stack([a, b])).tolist(), tracker.update(np.stack([b + 0.05, a])).tolist()
        ([0, 1], [1, 0])
    """

    def __init__(self, config: TrackConfig = TrackConfig()) -> None:
        self.config = config
        self._next_id = 0
        self._ids: list[int] = []
        self._last: list[np.ndarray] = []  # each (J, 3) metres, last pose seen
        self._missed: list[int] = []

    @property
    def live_ids(self) -> tuple[int, ...]:
        """Ids of the tracks still alive."""
        return tuple(self._ids)

    def update(self, joints: np.ndarray) -> np.ndarray:
        """Assign ids to one frame's people.

        Args:
            joints: ``(P_t, J, 3)`` metres, world frame (NaN = joint absent).

        Returns:
            ``(P_t,)`` int track ids (new people get new ids).
        """
        joints = np.asarray(joints, dtype=float)
        if joints.ndim != 3 or joints.shape[-1] != 3:
            raise InputError(None, "joints", f"expected (P, J, 3), got {joints.shape}")
        P = joints.shape[0]
        ids = np.full(P, -1, dtype=np.int64)
        matched_tracks: set[int] = set()
        if self._ids and P:
            cost = median_joint_distance(np.stack(self._last), joints)  # (tracks, P)
            gate = float(self.config.max_match_distance_m)
            rows, cols = linear_sum_assignment(np.where(cost <= gate, cost, 1e6))
            for r, c in zip(rows, cols):
                if cost[r, c] <= gate:
                    ids[c] = self._ids[r]
                    matched_tracks.add(r)
                    self._last[r] = np.where(np.isfinite(joints[c]), joints[c], self._last[r])
                    self._missed[r] = 0
        for r in range(len(self._ids)):
            if r not in matched_tracks:
                self._missed[r] += 1
        alive = [r for r in range(len(self._ids)) if self._missed[r] <= self.config.max_missed_frames]
        self._ids = [self._ids[r] for r in alive]
        self._last = [self._last[r] for r in alive]
        self._missed = [self._missed[r] for r in alive]
        for c in np.flatnonzero(ids < 0):  # births
            ids[c] = self._next_id
            self._ids.append(self._next_id)
            self._last.append(joints[c].copy())
            self._missed.append(0)
            self._next_id += 1
        return ids


class OneEuroFilter:
    """Causal One-Euro filter (Casiez et al. 2012) over arrays of 3D points, e.g. ``(P, J, 3)``.

    The cut-off frequency rises with the point's speed (``min_cutoff_hz + beta * speed_mps``), so slow
    motion is smoothed and fast motion follows with little lag. Points that are NaN pass through as
    NaN; a point that reappears restarts from its new value.

    Example:
        >>> f = OneEuroFilter(fps=30.0, min_cutoff_hz=1.0, beta=0.0)
        >>> x = np.zeros((1, 2, 3))
        >>> _ = f(x); y = f(x + 1.0)
        >>> 0.0 < float(y[0, 0, 0]) < 1.0
        True
    """

    def __init__(self, fps: float, min_cutoff_hz: float = 1.0, beta: float = 0.5,
                 derivative_cutoff_hz: float = 1.0) -> None:
        if not fps > 0:
            raise InputError(None, "fps", f"must be > 0, got {fps}")
        self.fps = float(fps)
        self.min_cutoff_hz = float(min_cutoff_hz)
        self.beta = float(beta)
        self.derivative_cutoff_hz = float(derivative_cutoff_hz)
        self._x: np.ndarray | None = None  # (..., 3) last filtered value
        self._dx: np.ndarray | None = None  # (..., 3) last filtered velocity, m/s

    def _alpha(self, cutoff_hz: np.ndarray | float) -> np.ndarray:
        tau = 1.0 / (2.0 * np.pi * np.asarray(cutoff_hz, dtype=float))
        return 1.0 / (1.0 + tau * self.fps)

    def reset(self) -> None:
        """Forget the state."""
        self._x = None
        self._dx = None

    def __call__(self, points: np.ndarray) -> np.ndarray:
        """Filter one frame: ``points (..., 3)`` metres (same shape every call) -> ``(..., 3)``."""
        x = np.asarray(points, dtype=float)
        if self._x is None:
            self._x = x.copy()
            self._dx = np.zeros_like(x)
            return x.copy()
        if x.shape != self._x.shape:
            raise InputError(None, "points", f"shape changed from {self._x.shape} to {x.shape}")
        fresh = ~np.isfinite(self._x).all(-1, keepdims=True)  # no history: restart
        dx = np.where(fresh, 0.0, (x - self._x) * self.fps)
        a_d = self._alpha(self.derivative_cutoff_hz)
        dx_hat = a_d * dx + (1 - a_d) * np.nan_to_num(self._dx)
        speed = np.linalg.norm(np.nan_to_num(dx_hat), axis=-1, keepdims=True)  # (..., 1) m/s
        a = self._alpha(self.min_cutoff_hz + self.beta * speed)
        x_hat = np.where(fresh, x, a * x + (1 - a) * self._x)
        present = np.isfinite(x).all(-1, keepdims=True)
        self._x = np.where(present, x_hat, np.nan)
        self._dx = np.where(present, dx_hat, 0.0)
        return self._x.copy()


def contiguous_runs(mask: np.ndarray) -> np.ndarray:
    """Runs of True along the first axis of ``mask (T, M)``.

    Returns:
        ``(R, 3)`` int rows ``(column, start, stop)``, ``stop`` exclusive, sorted by column then start.

    Example:
        >>> contiguous_runs(np.array([[1, 0], [1, 1], [0, 1], [1, 1]], bool)).tolist()
        [[0, 0, 2], [0, 3, 4], [1, 1, 4]]
    """
    mask = np.asarray(mask, dtype=bool)
    T, M = mask.shape
    padded = np.zeros((M, T + 2), dtype=np.int8)
    padded[:, 1:-1] = mask.T
    edges = np.diff(padded, axis=1)  # (M, T+1)
    col_s, start = np.nonzero(edges == 1)
    _, stop = np.nonzero(edges == -1)
    return np.stack([col_s, start, stop], axis=1).astype(np.int64).reshape(-1, 3)


def temporal_outliers(joints: np.ndarray, window: int, threshold_m: float) -> np.ndarray:
    """Joints far from their running median over time (a Hampel-style filter with a metric threshold).

    Args:
        joints: ``(T, ..., 3)`` metres, time on axis 0 (NaN = missing).
        window: frames of the centred running median (odd; NaN-aware; shrinks at the ends).
        threshold_m: distance to the median above which a joint is an outlier, metres.

    Returns:
        ``(T, ...)`` bool, True where a present joint is an outlier.

    Example:
        >>> x = np.zeros((9, 3)); x[4] = [0.5, 0.0, 0.0]
        >>> np.flatnonzero(temporal_outliers(x, 5, 0.1)).tolist()
        [4]
    """
    joints = np.asarray(joints, dtype=float)
    T = joints.shape[0]
    half = max(int(window), 1) // 2
    if T <= 2 * half:
        return np.zeros(joints.shape[:-1], dtype=bool)
    # odd reflection at both ends keeps linear motion centred in the window (no lag at the clip's ends)
    head = 2.0 * joints[:1] - joints[half:0:-1]
    tail = 2.0 * joints[-1:] - joints[-2:-half - 2:-1]
    padded = np.concatenate([head, joints, tail], axis=0)
    windows = np.lib.stride_tricks.sliding_window_view(padded, 2 * half + 1, axis=0)  # (T, ..., 3, W)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        median = np.nanmedian(windows, axis=-1)  # (T, ..., 3)
    distance = np.linalg.norm(joints - median, axis=-1)
    return np.isfinite(distance) & (distance > threshold_m) & (T > 2)


def enforce_bone_lengths(joints: np.ndarray, bones: np.ndarray, iterations: int = 4,
                         lengths: np.ndarray | None = None) -> np.ndarray:
    """Make each track's bones keep one length over time (position-based constraint projection).

    A real skeleton's bones do not change length; triangulation noise along a bone does. Each bone's length
    is the track's median over time (or ``lengths``); each iteration moves both ends of every bone
    half-way to the nearest positions with that length.

    Args:
        joints: ``(T, P, J, 3)`` metres (NaN = missing).
        bones: ``(B, 2)`` joint indices.
        iterations: constraint sweeps over all bones.
        lengths: ``(P, B)`` metres to enforce; default the median over frames per track.

    Returns:
        ``(T, P, J, 3)`` metres.

    Example:
        >>> x = np.zeros((3, 1, 2, 3)); x[:, 0, 1, 0] = [1.0, 1.2, 0.8]
        >>> np.round(enforce_bone_lengths(x, np.array([[0, 1]]))[:, 0, 1, 0] - enforce_bone_lengths(x, np.array([[0, 1]]))[:, 0, 0, 0], 6).tolist()
        [1.0, 1.0, 1.0]
    """
    out = np.array(joints, dtype=float)
    a, b = bones[:, 0], bones[:, 1]
    if lengths is None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            lengths = np.nanmedian(np.linalg.norm(out[:, :, a] - out[:, :, b], axis=-1), axis=0)  # (P, B)
    for _ in range(int(iterations)):
        for k in range(len(bones)):  # sequential sweeps (Gauss-Seidel); vectorized over frames and people
            delta = out[:, :, b[k]] - out[:, :, a[k]]  # (T, P, 3)
            norm = np.linalg.norm(delta, axis=-1, keepdims=True)
            ok = np.isfinite(norm) & (norm > 1e-9) & np.isfinite(lengths[None, :, k, None])
            fix = np.where(ok, 0.5 * (norm - lengths[None, :, k, None]) * delta / np.where(ok, norm, 1.0), 0.0)
            out[:, :, a[k]] += fix
            out[:, :, b[k]] -= fix
    return out


def stitch_tracks(joints: np.ndarray, confidence: np.ndarray, max_gap_frames: int, max_distance_m: float,
                  max_overlap_frames: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Join tracks that are one person broken in time (offline identity repair).

    Track ``b`` continues track ``a`` when it starts at most ``max_gap_frames`` after ``a`` ends (or overlaps
    its end by at most ``max_overlap_frames``) and ``b``'s first pose lies within ``max_distance_m`` (median
    joint distance) of ``a``'s last pose. Candidate joins are taken greedily by distance; in overlapping frames
    the pose with more confident joints is kept.

    Args:
        joints: ``(T, P, J, 3)`` metres (NaN = absent). confidence: ``(T, P, J)``.

    Returns:
        ``(T, P', J, 3)`` and ``(T, P', J)`` with ``P' <= P``, tracks in order of first appearance.

    Example:
        >>> x = np.full((6, 2, 1, 3), np.nan); x[:3, 0] = 0.0; x[4:, 1] = 0.1
        >>> j, c = stitch_tracks(x, np.isfinite(x[..., 0]) * 1.0, 5, 0.5)
        >>> j.shape, np.isfinite(j[:, 0, 0, 0]).tolist()
        ((6, 1, 1, 3), [True, True, True, False, True, True])
    """
    T, P = joints.shape[:2]
    present = np.isfinite(joints).all(-1).any(-1)  # (T, P)
    if P < 2:
        return joints, confidence
    first = np.where(present.any(0), present.argmax(0), T)
    last = np.where(present.any(0), T - 1 - present[::-1].argmax(0), -1)
    ends = joints[np.clip(last, 0, T - 1), np.arange(P)]  # (P, J, 3) last pose of each track
    starts = joints[np.clip(first, 0, T - 1), np.arange(P)]  # (P, J, 3) first pose
    dist = median_joint_distance(ends, starts)  # (a, b)
    gap = first[None, :] - last[:, None]  # (a, b) frames from a's end to b's start
    ok = (gap <= max_gap_frames) & (gap >= -max_overlap_frames) & (first[None, :] > first[:, None]) \
        & (last[None, :] > last[:, None]) & (dist <= max_distance_m)
    successor = np.full(P, -1)
    has_pred = np.zeros(P, dtype=bool)
    for a, b in sorted(zip(*np.nonzero(ok)), key=lambda ab: dist[ab]):
        if successor[a] < 0 and not has_pred[b]:
            successor[a], has_pred[b] = b, True
    out_j, out_c = [], []
    heads = np.flatnonzero(~has_pred)
    for head in heads:
        chain_j, chain_c = joints[:, head].copy(), confidence[:, head].copy()
        node = successor[head]
        while node >= 0:
            take = np.isfinite(joints[:, node]).all(-1).any(-1)  # (T,) frames where the successor exists
            mine = np.isfinite(chain_j).all(-1).any(-1)
            better = take & (~mine | (confidence[:, node].sum(-1) > chain_c.sum(-1)))
            chain_j[better], chain_c[better] = joints[better, node], confidence[better, node]
            node = successor[node]
        out_j.append(chain_j)
        out_c.append(chain_c)
    order = np.argsort(first[heads], kind="stable")  # chains by their head's first frame (never present: T, last)
    return np.stack([out_j[i] for i in order], 1), np.stack([out_c[i] for i in order], 1)


def fill_gaps(joints: np.ndarray, max_gap_frames: int) -> np.ndarray:
    """Linearly interpolate joints missing for at most ``max_gap_frames`` frames between two observations.

    Args:
        joints: ``(T, ..., 3)`` metres (NaN = missing); time on axis 0.
        max_gap_frames: longest gap to fill (frames); 0 = no filling.

    Returns:
        ``(T, ..., 3)`` with short inner gaps filled (leading/trailing gaps stay NaN).

    Example:
        >>> x = np.array([0.0, np.nan, 2.0, np.nan, np.nan, np.nan, 6.0])[:, None] * np.ones(3)
        >>> fill_gaps(x, 2)[:, 0].tolist()[:3]
        [0.0, 1.0, 2.0]
        >>> bool(np.isnan(fill_gaps(x, 2)[4, 0]))
        True
    """
    joints = np.asarray(joints, dtype=float)
    if max_gap_frames <= 0 or joints.shape[0] < 3:
        return joints.copy()
    T = joints.shape[0]
    flat = joints.reshape(T, -1, 3)  # (T, M, 3)
    present = np.isfinite(flat).all(-1)  # (T, M)
    idx = np.arange(T)[:, None]
    prev_i = np.maximum.accumulate(np.where(present, idx, -1), axis=0)  # (T, M) last observed index <= t
    next_i = np.minimum.accumulate(np.where(present, idx, T)[::-1], axis=0)[::-1]  # first observed >= t
    gap = next_i - prev_i - 1
    fill = ~present & (prev_i >= 0) & (next_i < T) & (gap <= max_gap_frames)
    cols = np.arange(flat.shape[1])[None, :]
    p0 = flat[np.clip(prev_i, 0, T - 1), cols]  # (T, M, 3)
    p1 = flat[np.clip(next_i, 0, T - 1), cols]
    w = ((idx - prev_i) / np.maximum(next_i - prev_i, 1))[..., None]
    out = np.where(fill[..., None], p0 + w * (p1 - p0), flat)
    return out.reshape(joints.shape)


def smooth_offline(joints: np.ndarray, fps: float, cutoff_hz: float, order: int = 4) -> np.ndarray:
    """Zero-phase Butterworth low-pass of each contiguous run of present values.

    Args:
        joints: ``(T, ..., 3)`` metres, time on axis 0 (NaN = missing; runs are filtered separately).
        fps: frames per second. cutoff_hz: cut-off frequency (Hz), below ``fps / 2``. order: filter order.

    Returns:
        ``(T, ..., 3)`` metres. Runs shorter than 3 frames are returned unchanged; shorter runs than
        filtfilt's default pad length use a pad of ``run length - 1``.

    Example:
        >>> t = np.arange(60) / 30.0
        >>> x = np.stack([np.sin(t), np.cos(t), t], -1)  # (T, 3) slow motion
        >>> bool(np.abs(smooth_offline(x, 30.0, 6.0) - x).max() < 1e-3)
        True
    """
    joints = np.asarray(joints, dtype=float)
    T = joints.shape[0]
    flat = joints.reshape(T, -1, 3).copy()  # (T, M, 3)
    b, a = butter(int(order), float(cutoff_hz) / (float(fps) / 2.0))
    default_pad = 3 * max(len(a), len(b))
    runs = contiguous_runs(np.isfinite(flat).all(-1))  # (R, 3)
    groups: dict[tuple[int, int], list[int]] = {}
    for col, start, stop in runs.tolist():
        if stop - start >= 3:
            groups.setdefault((start, stop), []).append(col)
    for (start, stop), cols in groups.items():  # joints with the same run are filtered together
        seg = flat[start:stop, cols]  # (L, C, 3)
        pad = min(default_pad, stop - start - 1)
        flat[start:stop, cols] = filtfilt(b, a, seg, axis=0, padlen=pad)
    return flat.reshape(joints.shape)


def smooth_online(joints: np.ndarray, config: TrackConfig) -> np.ndarray:
    """Causal One-Euro filtering of ``joints (T, ..., 3)`` metres, frame by frame (as a stream would).

    Example:
        >>> x = np.ones((5, 2, 3))
        >>> bool(np.allclose(smooth_online(x, TrackConfig()), 1.0))
        True
    """
    joints = np.asarray(joints, dtype=float)
    filt = OneEuroFilter(config.fps, config.min_cutoff_hz, config.beta, config.derivative_cutoff_hz)
    return np.stack([filt(frame) for frame in joints]) if len(joints) else joints.copy()


def track_people(frames: Iterable[int], people_per_frame: Sequence, config: TrackConfig = TrackConfig(),
                 joint_set: JointSet = COCO17, link_joints: Sequence[np.ndarray] | None = None) -> Poses3D:
    """Identities, cleaning and smoothing of per-frame 3D people over a clip.

    Args:
        frames: ``T`` frame numbers, strictly increasing.
        people_per_frame: ``T`` items ``(joints (P_t, J, 3) metres, confidence (P_t, J))`` in any order
            per frame (NaN joints = not reconstructed).
        config: see :class:`TrackConfig`.
        joint_set: joint set of ``J``.
        link_joints: optional ``T`` arrays ``(P_t, J, 3)`` metres, the same people with fuller joints, used only
            to link them over frames (e.g. a network's complete skeletons where the output keeps only the
            well-supported joints): fewer joints make the frame-to-frame distances noisier.

    Returns:
        :class:`~closecap.poses.Poses3D` with ids ``0..P-1`` in order of first appearance.

    Example:
        >>> people = [(np.full((1, 17, 3), 0.01 * t), np.ones((1, 17))) for t in range(8)]
        >>> poses = track_people(range(8), people, TrackConfig(min_track_len=3))
        >>> poses.joints.shape, poses.ids.tolist()
        ((8, 1, 17, 3), [0])
    """
    frames = [int(f) for f in frames]
    if len(frames) != len(people_per_frame):
        raise InputError(None, "people_per_frame", f"{len(people_per_frame)} frames of people for {len(frames)} frame numbers")
    J = joint_set.num_joints
    tracker = Tracker(config)
    per_frame_ids = []
    clean = []
    if link_joints is not None and len(link_joints) != len(frames):
        raise InputError(None, "link_joints", f"{len(link_joints)} frames of linking joints for {len(frames)} frames")
    for t, (joints, confidence) in enumerate(people_per_frame):
        joints = np.asarray(joints, dtype=float).reshape(-1, J, 3)
        confidence = np.asarray(confidence, dtype=float).reshape(-1, J)
        link = joints if link_joints is None or link_joints[t] is None else \
            np.asarray(link_joints[t], dtype=float).reshape(joints.shape)
        per_frame_ids.append(tracker.update(link))
        clean.append((joints, confidence))
    all_ids = sorted({int(i) for ids in per_frame_ids for i in ids})
    T, P = len(frames), len(all_ids)
    col = {pid: k for k, pid in enumerate(all_ids)}
    joints_all = np.full((T, P, J, 3), np.nan)
    conf_all = np.zeros((T, P, J))
    for t, (ids, (joints, confidence)) in enumerate(zip(per_frame_ids, clean)):
        cols = [col[int(i)] for i in ids]
        joints_all[t, cols] = joints
        conf_all[t, cols] = confidence
    if config.stitch_gap_frames > 0 and joints_all.shape[1] > 1:
        joints_all, conf_all = stitch_tracks(joints_all, conf_all, int(config.stitch_gap_frames),
                                             config.stitch_distance_m)
    seen = np.isfinite(joints_all).all(-1).any(-1).sum(0)  # (P,) frames observed
    keep = seen >= max(int(config.min_track_len), 1)
    joints_all, conf_all = joints_all[:, keep], conf_all[:, keep]
    joints_all, conf_all = clean_tracks(joints_all, conf_all, config)
    if config.smoothing == "offline":
        if config.bone_iterations > 0 and joints_all.shape[1]:
            joints_all = enforce_bone_lengths(joints_all, joint_set.bone_indices, config.bone_iterations)
    elif config.smoothing == "online":
        joints_all = smooth_online(joints_all, config)
    return Poses3D(np.array(frames, dtype=np.int64), np.arange(int(keep.sum()), dtype=np.int64),
                   joints_all, conf_all, joint_set)


def clean_tracks(joints: np.ndarray, confidence: np.ndarray, config: TrackConfig) -> tuple[np.ndarray, np.ndarray]:
    """The frame-local cleaning of tracks: temporal outliers dropped, short gaps filled, offline smoothing.

    Every step works per track and within a few frames, so a streaming caller can apply it to overlapping
    windows and get the whole-clip result away from the window edges.

    Args:
        joints: ``(T, P, J, 3)`` metres (NaN = missing). confidence: ``(T, P, J)``.
        config: outlier, gap and smoothing settings (online smoothing is not applied here).

    Returns:
        ``(T, P, J, 3)`` and ``(T, P, J)`` (confidence 0 at dropped outliers, halved neighbours at filled gaps).
    """
    if config.smoothing == "offline" and config.outlier_window > 1:
        outlier = temporal_outliers(joints, int(config.outlier_window), config.outlier_threshold_m)
        joints = np.where(outlier[..., None], np.nan, joints)
        confidence = np.where(outlier, 0.0, confidence)
    if config.fill_gap_frames > 0:
        filled = fill_gaps(joints, int(config.fill_gap_frames))
        was_missing = ~np.isfinite(joints).all(-1) & np.isfinite(filled).all(-1)  # (T, P, J)
        confidence = np.where(was_missing, 0.5 * _neighbour_confidence(confidence), confidence)
        joints = filled
    if config.smoothing == "offline":
        joints = smooth_offline(joints, config.fps, config.cutoff_hz, config.filter_order)
    return joints, confidence


def _neighbour_confidence(confidence: np.ndarray) -> np.ndarray:
    """``(T, P, J)``: for every frame, the larger confidence of the nearest observed frames before and after."""
    T = confidence.shape[0]
    present = confidence > 0
    idx = np.arange(T).reshape((T,) + (1,) * (confidence.ndim - 1))
    prev_i = np.maximum.accumulate(np.where(present, idx, -1), axis=0).clip(0, T - 1)
    next_i = np.minimum.accumulate(np.where(present, idx, T)[::-1], axis=0)[::-1].clip(0, T - 1)
    before = np.take_along_axis(confidence, prev_i, axis=0)
    after = np.take_along_axis(confidence, next_i, axis=0)
    return np.maximum(before, after)
