"""Synthetic close-interaction scenes: real motion capture placed together in front of a rig.

A scene has 2-6 people over ``num_frames`` frames. It starts either from a real two-person capture
(the CMU salsa couple, kept exactly as recorded relative to each other, moved and turned as a unit)
or from one single-person clip; more people come from single-person clips, each with a random turn
about the vertical, a random time window, an optional mirror (reflection + left/right swap) and a
translation solved so that its **closest distance** to the people already placed hits a target:

* closest distance = the minimum over frames and over all COCO-17 joint pairs between the new person
  and anyone already placed (joint centres: touching hands give 1-3 cm);
* the target is drawn from ``contact_distance_m`` with probability ``contact_fraction`` (contact:
  hands on the other's body) and from ``near_distance_m`` otherwise;
* the new person moves away from a randomly chosen placed person along a random horizontal direction;
  the distance along it is found by bisection, first for torsos not to interpenetrate (torso capsule =
  segment shoulder-mid to hip-mid, radius ``torso_radius_m``, at every frame), then for the target;
* a placement is kept only if the target is reached within ``distance_tolerance_m`` and all 17 joints
  of the person project inside the image of at least ``min_views`` cameras at every frame.

People are placed around the rig's look-at point (least-squares intersection of the optical axes),
feet on the floor as captured (the library's floor is z = 0). Everything random comes from ``rng``:
the same seed gives identical arrays. A person that cannot be placed in ``max_attempts`` tries is
left out (the scene then has fewer people; the first two are always tried hardest).

Example:
    >>> from closecap.synth.library import load_library
    >>> from closecap.cameras import ring_rig
    >>> scene = compose_scene(load_library().split("train"), ring_rig(6), SceneConfig(num_people=(3, 3)),
    ...                       np.random.default_rng(0))
    >>> scene.joints.shape
    (32, 3, 17, 3)
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from closecap.cameras import Rig
from closecap.config import Config
from closecap.errors import CloseCapError, InputError
from closecap.poses import Poses3D
from closecap.skeleton import COCO17
from closecap.synth.library import LibraryClip, MotionLibrary
from closecap.synth.motion import interpolate_frames
from closecap.synth.rigs import look_at_point

_SHOULDERS = COCO17.indices(["left_shoulder", "right_shoulder"])
_HIPS = COCO17.indices(["left_hip", "right_hip"])


@dataclass(frozen=True)
class SceneConfig(Config):
    """How scenes are composed. Distances are metres, between joint centres unless said otherwise."""

    num_people: tuple[int, int] = (2, 4)
    """Inclusive range of people per scene, drawn uniformly; within 2-6."""
    num_frames: int = 32
    """Frames per scene."""
    fps: float = 15.0
    """Frame rate of the scene; clips are resampled (linear interpolation) when it differs from the library's."""
    pair_probability: float = 0.6
    """Probability that a scene starts from a real two-person capture (else from a single clip)."""
    contact_fraction: float = 0.5
    """Fraction of composed people placed in contact (target from ``contact_distance_m``)."""
    contact_distance_m: tuple[float, float] = (0.02, 0.08)
    """Range of the closest-distance target for contact placements."""
    near_distance_m: tuple[float, float] = (0.1, 1.0)
    """Range of the closest-distance target for the other placements."""
    distance_tolerance_m: float = 0.03
    """A placement counts when the closest distance reached is within this of its target."""
    torso_radius_m: float = 0.12
    """Radius of the torso capsules that must not interpenetrate (composed people only; real pairs as captured)."""
    min_views: int = 2
    """Every joint of every person must be inside the image of at least this many cameras, at every frame."""
    margin_px: float = 10.0
    """Distance from the image border that counts as outside, pixels."""
    mirror_probability: float = 0.5
    """Probability of mirroring a clip (reflection and left/right swap)."""
    centre_jitter_m: float = 0.3
    """Standard deviation of the scene centre around the rig's look-at point, metres (horizontal, per axis)."""
    max_attempts: int = 30
    """Tries per person (clip, window, turn, direction) before leaving that person out."""

    def __post_init__(self) -> None:
        lo, hi = self.num_people
        if not 2 <= lo <= hi <= 6:
            raise InputError(None, "SceneConfig.num_people", f"need 2 <= min <= max <= 6, got {self.num_people}")
        if self.num_frames < 1 or self.fps <= 0:
            raise InputError(None, "SceneConfig", "num_frames and fps must be positive")
        if not 0.0 <= self.contact_fraction <= 1.0 or not 0.0 <= self.pair_probability <= 1.0:
            raise InputError(None, "SceneConfig", "contact_fraction and pair_probability must be in [0, 1]")
        if self.min_views < 1:
            raise InputError(None, "SceneConfig.min_views", f"must be >= 1, got {self.min_views}")


@dataclass(frozen=True)
class Scene:
    """A composed scene and how it was made.

    Attributes:
        poses: ground truth, ``joints (T, P, 17, 3)`` metres, ids ``0..P-1``, confidence 1.
        fps: frame rate.
        clip_names: ``P`` library clip names, one per person.
        roles: ``P`` of ``"pair"`` (from a real two-person capture, kept as recorded), ``"first"`` (first single
            person) or ``"placed"`` (composed against the others).
        target_distance_m: ``(P,)`` closest-distance targets of placed people, NaN for the others.
    """

    poses: Poses3D
    fps: float
    clip_names: tuple[str, ...]
    roles: tuple[str, ...]
    target_distance_m: np.ndarray


# ----------------------------------------------------------------------------- geometry helpers


def segment_distance(a0: np.ndarray, a1: np.ndarray, b0: np.ndarray, b1: np.ndarray) -> np.ndarray:
    """Closest distance between 3D segments ``[a0, a1]`` and ``[b0, b1]``, vectorized.

    Args:
        a0, a1, b0, b1: ``(..., 3)`` metres (broadcastable).

    Returns:
        ``(...)`` metres.

    Example:
        >>> float(segment_distance(np.zeros(3), np.array([0, 0, 1.0]), np.array([1.0, -1, 0.5]), np.array([1.0, 1, 0.5])))
        1.0
    """
    d1, d2, r = a1 - a0, b1 - b0, a0 - b0
    a = np.einsum("...i,...i->...", d1, d1)
    e = np.einsum("...i,...i->...", d2, d2)
    f = np.einsum("...i,...i->...", d2, r)
    c = np.einsum("...i,...i->...", d1, r)
    b = np.einsum("...i,...i->...", d1, d2)
    eps = 1e-30  # only exactly degenerate segments are points: a 1 nm segment is still a segment
    safe_a, safe_e = np.maximum(a, eps), np.maximum(e, eps)
    denom = a * e - b * b
    parallel = denom <= 1e-12 * a * e  # relative test: the angle between the segments is below ~1e-6 rad
    # general case (Ericson, Real-Time Collision Detection 5.1.9), then clamp t and recompute s
    s = np.where(parallel, 0.0, np.clip((b * f - c * e) / np.where(parallel, 1.0, denom), 0.0, 1.0))
    t = (b * s + f) / safe_e
    t_clamped = np.clip(t, 0.0, 1.0)
    s = np.where(t != t_clamped, np.clip((b * t_clamped - c) / safe_a, 0.0, 1.0), s)
    t = t_clamped
    # degenerate segments (points)
    a_point, e_point = a <= eps, e <= eps
    s = np.where(a_point, 0.0, np.where(e_point, np.clip(-c / safe_a, 0.0, 1.0), s))
    t = np.where(e_point, 0.0, np.where(a_point, np.clip(f / safe_e, 0.0, 1.0), t))
    closest = (a0 + d1 * s[..., None]) - (b0 + d2 * t[..., None])
    return np.linalg.norm(closest, axis=-1)


def torso_segments(joints: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Torso axis of COCO-17 people: ``(..., 17, 3)`` -> shoulder-mid ``(..., 3)``, hip-mid ``(..., 3)``."""
    return joints[..., _SHOULDERS, :].mean(-2), joints[..., _HIPS, :].mean(-2)


def torso_distance(person: np.ndarray, others: np.ndarray) -> np.ndarray:
    """Torso-axis distance of one person to others per frame.

    Args:
        person: ``(T, 17, 3)`` metres. others: ``(T, Q, 17, 3)`` metres.

    Returns:
        ``(T, Q)`` metres between the torso segments (capsules touch at twice their radius).
    """
    p0, p1 = torso_segments(person)  # (T, 3)
    o0, o1 = torso_segments(others)  # (T, Q, 3)
    return segment_distance(p0[:, None], p1[:, None], o0, o1)


def closest_joint_distance(person: np.ndarray, others: np.ndarray) -> float:
    """Minimum over frames and joint pairs of the distance between ``person (T, 17, 3)`` and ``others (T, Q, 17, 3)``."""
    diff = person[:, None, :, None, :] - others[:, :, None, :, :]  # (T, Q, 17, 17, 3)
    return float(np.sqrt(np.min(np.einsum("...i,...i->...", diff, diff))))


def _yaw(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def _centre_xy(tracks: np.ndarray) -> np.ndarray:
    """``(..., T, 17, 3)`` -> ``(3,)`` mean hip-mid over frames (and people), z set to 0."""
    mid = tracks[..., _HIPS, :].mean(-2).reshape(-1, 3).mean(0)
    return np.array([mid[0], mid[1], 0.0])


def _transform(tracks: np.ndarray, rng: np.random.Generator, config: SceneConfig,
               destination_xy: np.ndarray) -> np.ndarray:
    """Mirror (maybe), turn about the vertical and move ``(..., T, 17, 3)`` so its centre is at ``destination_xy``."""
    centred = tracks - _centre_xy(tracks)
    if rng.random() < config.mirror_probability:
        centred = centred * np.array([-1.0, 1.0, 1.0])
        centred = centred[..., COCO17.flip_permutation, :]
    turned = centred @ _yaw(rng.uniform(0, 2 * np.pi)).T
    return turned + np.array([destination_xy[0], destination_xy[1], 0.0])


def _window(clip: LibraryClip, rng: np.random.Generator, config: SceneConfig) -> np.ndarray:
    """A random time window of a clip at the scene's rate: ``(P, T, 17, 3)`` float64.

    A clip shorter than the scene is played forwards and backwards in turn (positions stay continuous;
    velocity flips at the ends), so scenes of any length can use every clip.
    """
    step = clip.fps / config.fps
    span = (config.num_frames - 1) * step
    last = clip.num_frames - 1
    if span <= last and abs(step - round(step)) < 1e-9:  # whole-frame steps: real frames, no interpolation
        start = int(rng.integers(0, clip.num_frames - int(round(span))))
        return clip.joints_world[:, start + np.arange(config.num_frames) * int(round(step))].astype(np.float64)
    start = rng.uniform(0.0, last - span) if span <= last else rng.uniform(0.0, 2.0 * last)
    index = start + np.arange(config.num_frames) * step
    if span > last:  # ping-pong over the clip
        phase = np.mod(index, 2.0 * last)
        index = np.where(phase > last, 2.0 * last - phase, phase)
    return np.moveaxis(interpolate_frames(np.moveaxis(clip.joints_world.astype(np.float64), 1, 0), index), 0, 1)


def _visible(rig: Rig, tracks: np.ndarray, config: SceneConfig) -> bool:
    """All joints of ``tracks (..., T, 17, 3)`` inside >= ``min_views`` images at every frame."""
    uv, depth = rig.project(tracks)  # (V, ..., T, 17, 2), (V, ..., T, 17)
    inside = rig.in_image(uv, depth, config.margin_px).all(-1)  # (V, ..., T)
    return bool(np.all(inside.sum(0) >= config.min_views))


def _solve_offset(person: np.ndarray, others: np.ndarray, direction: np.ndarray, target_m: float,
                  clearance_m: float) -> float:
    """Distance ``s`` along ``direction`` so that ``person + s d`` clears torsos and meets ``target_m``.

    ``person (T, 17, 3)`` starts at the anchor's centre; ``others (T, Q, 17, 3)``.
    """
    def shifted(s):
        return person + s * direction

    def penetrates(s):
        return bool(np.any(torso_distance(shifted(s), others) < clearance_m))

    hi = 1.0
    while (penetrates(hi) or closest_joint_distance(shifted(hi), others) < target_m) and hi < 20.0:
        hi *= 2.0
    lo = 0.0
    if penetrates(lo):
        free = hi
        for _ in range(24):
            mid = 0.5 * (lo + free)
            lo, free = (mid, free) if penetrates(mid) else (lo, mid)
        lo = free
    if closest_joint_distance(shifted(lo), others) < target_m:
        for _ in range(24):
            mid = 0.5 * (lo + hi)
            if closest_joint_distance(shifted(mid), others) < target_m:
                lo = mid
            else:
                hi = mid
        lo = hi
    while penetrates(lo) and lo < 40.0:  # non-monotone cases: step out until clear
        lo += 0.02
    return lo


# ----------------------------------------------------------------------------- composer


def compose_scene_detailed(library: MotionLibrary, rig: Rig, config: SceneConfig,
                           rng: np.random.Generator) -> Scene:
    """Compose one scene and report how (see the module docstring for the procedure).

    Args:
        library: clips to draw from (pass ``library.split("train")`` for training).
        rig: the cameras that must see everyone.
        config: scene settings.
        rng: the only source of randomness.

    Returns:
        :class:`Scene`; ``scene.poses.joints`` is ``(num_frames, P, 17, 3)`` metres, world frame.

    Raises:
        CloseCapError: the library has no clip long enough, or not even two people fit in the rig's view.

    Example:
        >>> from closecap.synth.library import load_library
        >>> from closecap.cameras import ring_rig
        >>> s = compose_scene_detailed(load_library(), ring_rig(5), SceneConfig(), np.random.default_rng(1))
        >>> len(s.roles) == s.poses.num_people >= 2
        True
    """
    singles = [c for c in library.singles() if c.num_frames >= 2]
    pairs = [c for c in library.pairs() if c.num_frames >= 2]
    if not singles:
        raise CloseCapError("motion library: no single-person clip to compose scenes from")
    num_people = int(rng.integers(config.num_people[0], config.num_people[1] + 1))
    centre = look_at_point(rig)[:2] + rng.normal(0.0, config.centre_jitter_m, 2)

    people: list[np.ndarray] = []  # (T, 17, 3) each
    names: list[str] = []
    roles: list[str] = []
    targets: list[float] = []
    if pairs and rng.random() < config.pair_probability:
        for _ in range(config.max_attempts):
            clip = pairs[int(rng.integers(len(pairs)))]
            tracks = _transform(_window(clip, rng, config), rng, config, centre)  # (2, T, 17, 3)
            if _visible(rig, tracks, config):
                people += [tracks[0], tracks[1]]
                names += [clip.name] * 2
                roles += ["pair", "pair"]
                targets += [np.nan, np.nan]
                break
    if not people:
        for _ in range(config.max_attempts):
            clip = singles[int(rng.integers(len(singles)))]
            track = _transform(_window(clip, rng, config), rng, config, centre)[0]
            if _visible(rig, track, config):
                people.append(track)
                names.append(clip.name)
                roles.append("first")
                targets.append(np.nan)
                break
    if not people:
        raise CloseCapError("scene: nobody fits inside the rig's shared field of view; check the rig")

    clearance = 2.0 * config.torso_radius_m
    while len(people) < num_people:
        placed = False
        attempts = config.max_attempts * (2 if len(people) < 2 else 1)
        for _ in range(attempts):
            clip = singles[int(rng.integers(len(singles)))]
            contact = rng.random() < config.contact_fraction
            target = float(rng.uniform(*(config.contact_distance_m if contact else config.near_distance_m)))
            anchor = people[int(rng.integers(len(people)))]
            anchor_xy = _centre_xy(anchor)[:2]
            track = _transform(_window(clip, rng, config), rng, config, anchor_xy)[0]
            angle = rng.uniform(0, 2 * np.pi)
            direction = np.array([np.cos(angle), np.sin(angle), 0.0])
            others = np.stack(people, axis=1)  # (T, Q, 17, 3)
            offset = _solve_offset(track, others, direction, target, clearance)
            moved = track + offset * direction
            reached = closest_joint_distance(moved, others)
            if abs(reached - target) > config.distance_tolerance_m or not _visible(rig, moved, config):
                continue
            people.append(moved)
            names.append(clip.name)
            roles.append("placed")
            targets.append(target)
            placed = True
            break
        if not placed:
            if len(people) < 2:
                raise CloseCapError("scene: could not place a second person inside the rig's shared field of view")
            num_people = len(people)

    joints = np.stack(people, axis=1)  # (T, P, 17, 3)
    P = joints.shape[1]
    poses = Poses3D(np.arange(config.num_frames), np.arange(P), joints, np.ones(joints.shape[:3]))
    return Scene(poses, float(config.fps), tuple(names), tuple(roles), np.array(targets, dtype=float))


def compose_scene(library: MotionLibrary, rig: Rig, config: SceneConfig, rng: np.random.Generator) -> Poses3D:
    """Ground-truth people of one synthetic scene: ``joints (T, P, 17, 3)`` metres, ids ``0..P-1``.

    See :func:`compose_scene_detailed` (same draws from ``rng``) for the clip names and roles.

    Example:
        >>> from closecap.synth.library import load_library
        >>> from closecap.cameras import ring_rig
        >>> lib, rig, cfg = load_library(), ring_rig(5), SceneConfig(num_frames=8)
        >>> a = compose_scene(lib, rig, cfg, np.random.default_rng(3))
        >>> b = compose_scene(lib, rig, cfg, np.random.default_rng(3))
        >>> bool(np.array_equal(a.joints, b.joints))
        True
    """
    return compose_scene_detailed(library, rig, config, rng).poses


# ----------------------------------------------------------------------------- controlled separation


def place_around(tracks: np.ndarray, centre_xy: np.ndarray, separation_m: float, angle_rad: float = 0.0,
                 clearance_m: float = 0.24, quantile: float = 0.0, min_distance_m: float = 0.0) -> np.ndarray:
    """Place people symmetrically about a point so that their closest distance is ``separation_m``.

    Person ``k`` of ``P`` moves (as a whole, without turning) to ``centre_xy + r (cos a_k, sin a_k)`` with
    ``a_k = angle_rad + 2 pi k / P`` (two people face each other across the point, three sit on a triangle...);
    the common radius ``r`` is the smallest (bisection, 1 mm) at which no two torso capsules are closer than
    ``clearance_m`` at any frame, the scene's closest distance (over all joint pairs of all pairs of people) is at
    least ``min_distance_m`` at every frame, and its ``quantile`` over frames is at least ``separation_m``
    (``quantile=0``: the minimum over frames, as in :func:`closest_joint_distance` and :func:`compose_scene`; 0.5:
    the median frame). Only the radius depends on ``separation_m``: the same ``tracks`` at other separations differ
    only by where people stand on their ray.

    Args:
        tracks: ``(P, T, 17, 3)`` metres, world frame, P >= 2; each person is placed by its own centre (mean hip
            mid-point over frames, see :func:`compose_scene`), heights are kept.
        centre_xy: ``(2,)`` metres, the point people are placed around.
        separation_m: closest-distance target, metres (joint centres: 0.02-0.08 is contact).
        angle_rad: direction of the first person from ``centre_xy``, radians about the vertical.
        clearance_m: torso capsules' minimum axis distance (twice the capsule radius), metres.
        quantile: which quantile over frames of the closest distance must reach ``separation_m``, in [0, 1].
        min_distance_m: the closest distance may not fall below this at any frame, metres.

    Returns:
        ``(P, T, 17, 3)`` metres, world frame.

    Example:
        >>> walk = np.zeros((2, 4, 17, 3)); walk[..., 2] = np.linspace(0.1, 1.7, 17)
        >>> placed = place_around(walk, np.zeros(2), 0.5)
        >>> round(closest_joint_distance(placed[0], placed[1:].swapaxes(0, 1)), 3)
        0.5
    """
    tracks = np.asarray(tracks, dtype=float)
    if not 0.0 <= quantile <= 1.0:
        raise InputError(None, "quantile", f"must be in [0, 1], got {quantile}")
    if tracks.ndim != 4 or tracks.shape[0] < 2 or tracks.shape[2:] != (COCO17.num_joints, 3):
        raise InputError(None, "tracks", f"expected (P >= 2, T, 17, 3), got {tracks.shape}")
    P = tracks.shape[0]
    angles = angle_rad + 2.0 * np.pi * np.arange(P) / P
    rays = np.stack([np.cos(angles), np.sin(angles), np.zeros(P)], axis=-1)  # (P, 3)
    centred = tracks - np.stack([_centre_xy(t) for t in tracks])[:, None, None, :]  # (P, T, 17, 3)
    origin = np.array([centre_xy[0], centre_xy[1], 0.0])
    pairs = [(a, b) for a in range(P) for b in range(a + 1, P)]

    def placed(r: float) -> np.ndarray:
        return centred + origin + r * rays[:, None, None, :]

    def too_close(r: float) -> bool:
        people = placed(r)
        closest = np.full(people.shape[1], np.inf)  # (T,) metres
        for a, b in pairs:
            if np.any(torso_distance(people[a], people[b][:, None]) < clearance_m):
                return True
            diff = people[a][:, :, None, :] - people[b][:, None, :, :]  # (T, 17, 17, 3)
            closest = np.minimum(closest, np.sqrt(np.einsum("...i,...i->...", diff, diff).min((-1, -2))))
        return bool(closest.min() < min_distance_m or np.quantile(closest, quantile) < separation_m)

    lo, hi = 0.0, 0.5
    while too_close(hi):
        lo, hi = hi, 2.0 * hi
        if hi > 40.0:
            raise CloseCapError("place_around: cannot separate the people (tracks travel too far?)")
    while hi - lo > 1e-3:
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if too_close(mid) else (lo, mid)
    return placed(hi)


def _in_place(tracks: np.ndarray) -> np.ndarray:
    """Remove the horizontal travel of ``(..., T, 17, 3)``: each frame's hip mid-point keeps its height and pose but
    stays at the track's mean horizontal position (a walk becomes walking on the spot)."""
    mid = tracks[..., :, _HIPS, :].mean(-2)  # (..., T, 3)
    drift = mid - mid.mean(-2, keepdims=True)
    drift[..., 2] = 0.0
    return tracks - drift[..., None, :]


def compose_controlled(library: MotionLibrary, rig: Rig, num_people: int, separations_m: Sequence[float],
                       config: SceneConfig, rng: np.random.Generator, in_place: bool = True,
                       quantile: float = 0.5) -> list[Scene]:
    """The same people at several controlled separations around the rig's look-at point (for benchmarks).

    Draws ``num_people`` single-person clips, time windows, mirrors and turns as :func:`compose_scene` does
    (``config.num_frames``, ``fps``, ``mirror_probability``), then places them with :func:`place_around` around
    the rig's look-at point (no ``centre_jitter_m``) along a random direction, once per separation: the
    ``quantile`` over frames of the scene's closest distance meets the separation, torsos never interpenetrate
    (``config.torso_radius_m``) and joints never come closer than ``config.contact_distance_m[0]`` (so a contact
    separation such as 0.05 m is limited by the bodies, as touching people are). Everything but
    the separation is identical between the returned scenes, so differences between them are due to how close
    people are, not to which motion they perform or where in the rig they stand. A draw is kept only if every
    person is inside ``config.min_views`` images at every frame at every separation (up to ``config.max_attempts``
    draws).

    Args:
        library: clips to draw from (single-person clips only are used).
        rig: the cameras that must see everyone.
        num_people: people per scene, 2-6.
        separations_m: closest-distance targets, metres (see :func:`place_around`).
        config: scene settings (see above for the fields used).
        rng: the only source of randomness.
        in_place: remove each clip's horizontal travel (:func:`_in_place`), so that the closest distance stays near
            its target over the whole scene instead of being reached at one frame only.
        quantile: see :func:`place_around` (0.5: the median frame is at the separation).

    Returns:
        One :class:`Scene` per separation (``roles`` ``"controlled"``, ``target_distance_m`` the separation),
        ``joints (num_frames, num_people, 17, 3)`` metres.

    Raises:
        CloseCapError: no draw fits in the rig at every separation.

    Example:
        >>> from closecap.synth.library import load_library
        >>> from closecap.cameras import ring_rig
        >>> scenes = compose_controlled(load_library(), ring_rig(5), 2, (0.05, 1.0), SceneConfig(num_frames=8),
        ...                             np.random.default_rng(0))
        >>> from closecap.metrics import nearest_other_distance
        >>> [round(float(np.median(nearest_other_distance(s.poses.joints))), 2) for s in scenes]  # median frame
        [0.1, 1.0]
        >>> bool(np.allclose(scenes[0].poses.joints[:, 0] - scenes[0].poses.joints[:, 0].mean((0, 1)),
        ...                  scenes[1].poses.joints[:, 0] - scenes[1].poses.joints[:, 0].mean((0, 1))))  # same motion
        True
    """
    if not 2 <= num_people <= 6:
        raise InputError(None, "num_people", f"need 2-6, got {num_people}")
    singles = [c for c in library.singles() if c.num_frames >= 2]
    if not singles:
        raise CloseCapError("motion library: no single-person clip to compose scenes from")
    centre = look_at_point(rig)[:2]
    clearance = 2.0 * config.torso_radius_m
    for _ in range(config.max_attempts):
        clips = [singles[int(rng.integers(len(singles)))] for _ in range(num_people)]
        tracks = np.stack([_transform(_window(c, rng, config), rng, config, np.zeros(2))[0] for c in clips])
        if in_place:
            tracks = _in_place(tracks)
        angle = float(rng.uniform(0, 2 * np.pi))
        placed = [place_around(tracks, centre, float(s), angle, clearance, quantile, config.contact_distance_m[0])
                  for s in separations_m]
        if not all(_visible(rig, p, config) for p in placed):
            continue
        scenes = []
        for s, people in zip(separations_m, placed):
            joints = np.ascontiguousarray(np.moveaxis(people, 0, 1))  # (T, P, 17, 3)
            poses = Poses3D(np.arange(config.num_frames), np.arange(num_people), joints, np.ones(joints.shape[:3]))
            scenes.append(Scene(poses, float(config.fps), tuple(c.name for c in clips), ("controlled",) * num_people,
                                np.full(num_people, float(s))))
        return scenes
    raise CloseCapError(f"compose_controlled: {num_people} people at {list(separations_m)} m do not fit in the rig's "
                        "shared field of view")
