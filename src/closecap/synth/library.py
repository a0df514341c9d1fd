"""The shipped motion library: real CMU motion capture as COCO-17 joint tracks, with a train/test split.

``src/closecap/data/motion_library.npz`` (built by ``benchmarks/build_motion_library.py`` from
``../shared/mocap``; source and licence in ``src/closecap/data/README.md``) holds every two-person clip
(the CMU 60 + 61 salsa couple, both dancers in one world frame) and every single-person clip, 15 fps,
COCO-17, metres, world z up with the floor at z = 0.

Whole takes are held out for evaluation (``split == "test"``): training code asks for
``library.split("train")`` and never sees them. See :data:`TEST_TAKES`.

File layout (``np.load``-able, no pickles): ``schema`` ``"closecap.motion_library/1"``, ``units`` ``"mm"``,
``fps`` ``()``, ``joint_names`` ``(17,)``, ``joints_mm`` int16 ``(N, 17, 3)`` millimetres (all clips' person
tracks stacked: clip c's person p occupies rows ``offsets[c] + p * frames[c] + [0, frames[c])``), and per clip
``clip_names``, ``clip_kinds`` (``pair`` / ``single``), ``clip_take_ids``, ``clip_splits``, ``clip_people``,
``clip_frames``, ``clip_offsets``, ``clip_sources`` (the ``../shared/mocap`` file).

Example:
    >>> lib = load_library()
    >>> train, test = lib.split("train"), lib.split("test")
    >>> len(train) + len(test) == len(lib), set(train.take_ids) & set(test.take_ids)
    (True, set())
    >>> lib.fps, lib.pairs()[0].joints_world.shape[0], lib.pairs()[0].joints_world.shape[2:]
    (15.0, 2, (17, 3))
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from closecap.config import atomic_write_bytes
from closecap.errors import InputError
from closecap.skeleton import COCO17
from closecap.synth.motion import load_npz

SCHEMA = "closecap.motion_library/1"

TEST_TAKES: tuple[str, ...] = ("60_12+61_12", "131_02", "49_19", "01_08", "02_10", "05_18", "07_05")
"""CMU take ids held out for evaluation: one salsa take (2 pair clips) and six single-person takes
(12 of 82 single clips: stylised walk, one-leg balance, playground, punching/boxing, modern dance, walk)."""

SPLITS = ("train", "test")


@dataclass(frozen=True)
class LibraryClip:
    """One clip of the library.

    Attributes:
        name: clip name (the ``../shared/mocap`` file stem).
        kind: ``"pair"`` (two people recorded together, one world frame) or ``"single"``.
        take_id: CMU take id(s), e.g. ``60_04+61_04``, ``05_13``.
        split: ``"train"`` or ``"test"``.
        fps: frames per second.
        joints_world: ``(P, T, 17, 3)`` float32 metres, COCO-17, world z up (P = 2 for pairs, 1 for singles).
        source: the file it was built from.
    """

    name: str
    kind: str
    take_id: str
    split: str
    fps: float
    joints_world: np.ndarray
    source: str = ""

    def __post_init__(self) -> None:
        joints = np.asarray(self.joints_world, dtype=np.float32)
        if joints.ndim != 4 or joints.shape[2:] != (COCO17.num_joints, 3):
            raise InputError(self.source or None, f"{self.name}.joints_world", f"expected (P, T, 17, 3), got {joints.shape}")
        if self.kind not in ("pair", "single"):
            raise InputError(self.source or None, f"{self.name}.kind", f"expected 'pair' or 'single', got {self.kind!r}")
        if self.split not in SPLITS:
            raise InputError(self.source or None, f"{self.name}.split", f"expected one of {SPLITS}, got {self.split!r}")
        joints.setflags(write=False)
        object.__setattr__(self, "joints_world", joints)
        object.__setattr__(self, "fps", float(self.fps))

    @property
    def num_people(self) -> int:
        return int(self.joints_world.shape[0])

    @property
    def num_frames(self) -> int:
        return int(self.joints_world.shape[1])


@dataclass(frozen=True)
class MotionLibrary:
    """An ordered, immutable set of :class:`LibraryClip` at one frame rate."""

    clips: tuple[LibraryClip, ...]

    def __post_init__(self) -> None:
        clips = tuple(self.clips)
        if len({c.fps for c in clips}) > 1:
            raise InputError(None, "clips", "all clips of a library must share one frame rate")
        object.__setattr__(self, "clips", clips)

    def __len__(self) -> int:
        return len(self.clips)

    def __iter__(self):
        return iter(self.clips)

    def __getitem__(self, key: int | str) -> LibraryClip:
        if isinstance(key, str):
            for clip in self.clips:
                if clip.name == key:
                    return clip
            raise InputError(None, "clips", f"no clip named {key!r}")
        return self.clips[key]

    @property
    def fps(self) -> float:
        return self.clips[0].fps if self.clips else 0.0

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.clips)

    @property
    def take_ids(self) -> tuple[str, ...]:
        return tuple(c.take_id for c in self.clips)

    def split(self, which: str) -> "MotionLibrary":
        """The clips of one split, ``"train"`` or ``"test"``."""
        if which not in SPLITS:
            raise InputError(None, "split", f"expected one of {SPLITS}, got {which!r}")
        return MotionLibrary(tuple(c for c in self.clips if c.split == which))

    def pairs(self) -> tuple[LibraryClip, ...]:
        """Two-person clips."""
        return tuple(c for c in self.clips if c.kind == "pair")

    def singles(self) -> tuple[LibraryClip, ...]:
        """Single-person clips."""
        return tuple(c for c in self.clips if c.kind == "single")

    def seconds(self) -> float:
        """Total clip duration (pairs counted once)."""
        return float(sum(c.num_frames for c in self.clips) / self.fps) if self.clips else 0.0


def default_library_path():
    """The shipped library file (an ``importlib.resources`` traversable)."""
    return resources.files("closecap").joinpath("data", "motion_library.npz")


def load_library(path: str | Path | None = None) -> MotionLibrary:
    """Read a motion library file; ``None`` reads the one shipped with closecap.

    Example:
        >>> lib = load_library()
        >>> len(lib.pairs()) >= 2 and len(lib.singles()) >= 10
        True
    """
    target = default_library_path() if path is None else Path(path)
    try:
        raw = target.read_bytes()
        data = np.load(io.BytesIO(raw), allow_pickle=False)
    except (OSError, ValueError) as err:
        raise InputError(str(target), None, f"cannot read motion library: {err}") from None
    with data:
        needed = ("schema", "fps", "joints_mm", "clip_names", "clip_kinds", "clip_take_ids", "clip_splits",
                  "clip_people", "clip_frames", "clip_offsets")
        missing = [k for k in needed if k not in data.files]
        if missing:
            raise InputError(str(target), missing[0], "missing key")
        if str(data["schema"]) != SCHEMA:
            raise InputError(str(target), "schema", f"expected {SCHEMA!r}, got {str(data['schema'])!r}")
        fps = float(data["fps"])
        joints = data["joints_mm"].astype(np.float32) * np.float32(0.001)  # (N, 17, 3) metres
        sources = data["clip_sources"] if "clip_sources" in data.files else None
        clips = []
        for c, name in enumerate(data["clip_names"]):
            P, T, start = int(data["clip_people"][c]), int(data["clip_frames"][c]), int(data["clip_offsets"][c])
            clips.append(LibraryClip(str(name), str(data["clip_kinds"][c]), str(data["clip_take_ids"][c]),
                                     str(data["clip_splits"][c]), fps,
                                     joints[start:start + P * T].reshape(P, T, COCO17.num_joints, 3),
                                     "" if sources is None else str(sources[c])))
    return MotionLibrary(tuple(clips))


def save_library(library: MotionLibrary, path: str | Path) -> None:
    """Write a library as compressed int16 millimetres (atomic). Values beyond +-32.767 m raise."""
    rows, offsets = [], []
    start = 0
    for clip in library.clips:
        mm = np.round(clip.joints_world.reshape(-1, COCO17.num_joints, 3).astype(np.float64) * 1000.0)
        if not np.all(np.isfinite(mm)) or np.abs(mm).max(initial=0) > 32767:
            raise InputError(str(path), clip.name, "joints must be finite and within +-32.767 m")
        rows.append(mm.astype(np.int16))
        offsets.append(start)
        start += mm.shape[0]
    buf = io.BytesIO()
    np.savez_compressed(
        buf, schema=np.array(SCHEMA), units=np.array("mm"), fps=np.array(library.fps, dtype=np.float32),
        joint_names=np.array(COCO17.joint_names),
        joints_mm=np.concatenate(rows) if rows else np.zeros((0, COCO17.num_joints, 3), np.int16),
        clip_names=np.array(library.names), clip_kinds=np.array([c.kind for c in library.clips]),
        clip_take_ids=np.array(library.take_ids), clip_splits=np.array([c.split for c in library.clips]),
        clip_people=np.array([c.num_people for c in library.clips], dtype=np.int32),
        clip_frames=np.array([c.num_frames for c in library.clips], dtype=np.int32),
        clip_offsets=np.array(offsets, dtype=np.int64),
        clip_sources=np.array([c.source for c in library.clips]),
    )
    atomic_write_bytes(path, buf.getvalue())


def build_library(mocap_dir: str | Path, *, fps: float = 15.0,
                  test_takes: tuple[str, ...] = TEST_TAKES) -> MotionLibrary:
    """Build a library from a ``../shared/mocap``-style folder (``pair_*.npz`` and single-clip ``*.npz``).

    Args:
        mocap_dir: the folder.
        fps: frame rate of the library (the 30 fps sources are resampled; 15 keeps every 2nd frame).
        test_takes: take ids whose clips go to the ``"test"`` split.

    Returns:
        The library, pairs first, then singles, each sorted by file name.
    """
    mocap_dir = Path(mocap_dir)
    files = sorted(mocap_dir.glob("*.npz"))
    if not files:
        raise InputError(mocap_dir, None, "no .npz clips")
    files = [f for f in files if f.name.startswith("pair_")] + [f for f in files if not f.name.startswith("pair_")]
    clips = []
    for f in files:
        people = [m.resample(fps) for m in load_npz(f)]
        take = people[0].source
        clips.append(LibraryClip(
            name=f.stem, kind="pair" if len(people) > 1 else "single", take_id=take,
            split="test" if take in test_takes else "train", fps=fps,
            joints_world=np.stack([m.joints_world for m in people]), source=f.name))
    return MotionLibrary(tuple(clips))


MOTION_SUFFIXES = (".bvh", ".amc", ".npz")
ANKLE_HEIGHT_M = 0.07
"""Height of the ankle joints above the floor when a foot is down (library clips: floor at z = 0)."""


def library_from_motions(folder: str | Path, *, fps: float = 15.0, min_seconds: float = 2.0) -> MotionLibrary:
    """A training library from a user's motion capture: every ``.bvh``, ``.amc`` (with its ``.asf``),
    ``.npz`` (:func:`closecap.synth.motion.load_npz` layout) and Panoptic folder under ``folder``.

    Each file becomes a clip of the ``train`` split, resampled to ``fps``: a two-person file is a ``pair``
    (kept in its own world frame), any other file gives one ``single`` clip per person. A clip is cut to its
    longest run of frames where every joint is known (Panoptic leaves unobserved joints NaN) and dropped when
    that run is shorter than ``min_seconds``. The floor is moved to z = 0 (lowest ankle ``ANKLE_HEIGHT_M`` above it).

    Args:
        folder: a folder (searched recursively) or one motion file.
        fps: frame rate of the library. min_seconds: shortest clip kept.

    Returns:
        :class:`MotionLibrary`; :class:`~closecap.errors.InputError` when no clip is usable.

    Example:
        >>> import tempfile
        >>> from closecap.synth.motion import Motion
        >>> folder = Path(tempfile.mkdtemp())
        >>> walk = load_library().singles()[0].joints_world[0]  # (T, 17, 3)
        >>> np.savez(folder / "walk.npz", joints=walk, fps=15.0, joint_names=np.array(COCO17.joint_names))
        >>> lib = library_from_motions(folder)
        >>> len(lib), lib.clips[0].kind, lib.clips[0].split
        (1, 'single', 'train')
    """
    from closecap.synth.motion import load_motions

    folder = Path(folder)
    if not folder.exists():
        raise InputError(folder, None, "no such motion file or folder")
    if folder.is_file():
        sources = [folder]
    else:
        sources = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in MOTION_SUFFIXES)
        sources += sorted({p.parent for p in folder.rglob("body3DScene_*.json")})
    ankles = [COCO17.index("left_ankle"), COCO17.index("right_ankle")]
    clips = []
    for source in sources:
        people = [m.resample(fps) for m in load_motions(source)]
        tracks = np.stack([m.joints_world for m in people])  # (P, T, 17, 3)
        known = np.isfinite(tracks).all(axis=(0, 2, 3))  # (T,)
        runs = np.flatnonzero(np.diff(np.concatenate([[0], known.astype(int), [0]])))
        if runs.size == 0:
            continue
        lengths = runs[1::2] - runs[::2]
        best = int(np.argmax(lengths))
        if lengths[best] < min_seconds * fps:
            continue
        tracks = tracks[:, runs[2 * best]:runs[2 * best + 1]].copy()
        tracks[..., 2] -= tracks[:, :, ankles, 2].min() - ANKLE_HEIGHT_M
        rel = source.relative_to(folder) if source != folder else Path(source.name)
        name = str(rel.with_suffix("")).replace("/", "_")
        if len(people) == 2:
            clips.append(LibraryClip(name, "pair", name, "train", fps, tracks, str(rel)))
        else:
            clips += [LibraryClip(f"{name}_p{p}" if len(people) > 1 else name, "single", name, "train", fps,
                                  tracks[p:p + 1], str(rel)) for p in range(len(people))]
    if not clips:
        raise InputError(folder, None, f"no usable motion clip ({', '.join(MOTION_SUFFIXES)} files or Panoptic "
                                       f"folders of at least {min_seconds} s with every joint known)")
    return MotionLibrary(tuple(clips))
