"""Videos and image folders as synchronised multi-view frames.

One source per camera of the calibration, found in one folder (``videos_dir``):

* a **video file** ``<cam>.<ext>`` (``.mp4 .avi .mov .mkv .webm .m4v .mpg .mpeg .wmv``), read with
  ``cv2.VideoCapture``;
* an **image folder** ``<cam>/`` holding ``.png .jpg .jpeg .bmp .tif .tiff`` files, read in natural
  order (``img2.png`` before ``img10.png``).

Name matching: a source whose stem equals the camera name is used as is. Otherwise names that differ
only in spelling match: case, separators (``_ - . space``) and zero padding of numbers are ignored, so
``cam01.mp4``, ``CAM-1.mp4`` and ``cam_1/`` all match camera ``cam_01``. Each such renamed match is
logged (``logging`` INFO, one line). Two sources for one camera raise :class:`InputError`.

Alignment: frame ``i`` of every camera is taken to be simultaneous (the recording is frame-synchronised,
starting together). When the cameras have different numbers of frames only the common prefix (the
shortest length) is used and a warning is logged naming the lengths. Video frame counts come from the
container (``CAP_PROP_FRAME_COUNT``); if a video ends earlier than announced, iteration stops at the
first camera that runs out, with a warning.

Missing cameras: a calibrated camera without a source raises :class:`InputError`, unless
``allow_missing=True``, which drops it with a logged warning (the 3D reconstruction then uses the
remaining cameras). Unreadable files raise :class:`InputError` naming the file.

Frames are read lazily: :func:`iter_frames` yields one ``(frame_index, [V images])`` at a time.

Example:
    >>> import tempfile, cv2
    >>> tmp = Path(tempfile.mkdtemp())
    >>> for cam in ("cam1", "cam2"):
    ...     (tmp / cam).mkdir()
    ...     for i in range(3):
    ...         _ = cv2.imwrite(str(tmp / cam / f"{i}.png"), np.full((8, 10, 3), i, np.uint8))
    >>> sources = find_media(tmp, ["cam_01", "cam_02"])
    >>> [(s.camera, s.path.name, s.num_frames, s.width, s.height) for s in sources]
    [('cam_01', 'cam1', 3, 10, 8), ('cam_02', 'cam2', 3, 10, 8)]
    >>> [(i, len(images), int(images[0][0, 0, 0])) for i, images in iter_frames(sources)]
    [(0, 2, 0), (1, 2, 1), (2, 2, 2)]
"""
from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from closecap.errors import InputError

logger = logging.getLogger(__name__)

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")


@dataclass(frozen=True)
class MediaSource:
    """The frames of one camera.

    Attributes:
        camera: the calibration's camera name.
        path: the video file or image folder.
        kind: ``"video"`` or ``"images"``.
        num_frames: frames available (video: as announced by the container).
        width, height: image size in pixels.
        fps: frame rate of a video (frames per second); ``None`` for image folders or when unknown.
        images: image folders only: the image files in natural order.
    """

    camera: str
    path: Path
    kind: str
    num_frames: int
    width: int
    height: int
    fps: float | None = None
    images: tuple[Path, ...] = ()


def natural_key(name: str) -> tuple:
    """Sort key that orders embedded numbers by value: ``natural_key("f2") < natural_key("f10")``.

    Example:
        >>> sorted(["f10.png", "f2.png", "f1.png"], key=natural_key)
        ['f1.png', 'f2.png', 'f10.png']
    """
    return tuple((0, int(part), part) if part.isdigit() else (1, 0, part.lower())
                 for part in re.split(r"(\d+)", name) if part)


def canonical_name(name: str) -> str:
    """A camera name without case, separators and zero padding: the key of spelling-tolerant matching.

    Example:
        >>> [canonical_name(n) for n in ("cam_01", "cam01", "CAM-1", "Cam 001", "cam10")]
        ['cam1', 'cam1', 'cam1', 'cam1', 'cam10']
    """
    text = re.sub(r"[\s_\-.]+", "", name.lower())
    return re.sub(r"\d+", lambda m: str(int(m.group(0))), text)


def _candidates(folder: Path) -> dict[str, Path]:
    """Stem -> path of every video file and image folder directly inside ``folder``."""
    found: dict[str, Path] = {}
    for entry in sorted(folder.iterdir(), key=lambda p: natural_key(p.name)):
        if entry.name.startswith("."):
            continue
        if entry.is_file() and entry.suffix.lower() in VIDEO_SUFFIXES:
            stem = entry.stem
        elif entry.is_dir() and any(p.suffix.lower() in IMAGE_SUFFIXES for p in entry.iterdir()):
            stem = entry.name
        else:
            continue
        if stem in found:
            raise InputError(folder, stem, f"two sources for one name: {found[stem].name} and {entry.name}")
        found[stem] = entry
    return found


def _probe_video(path: Path, camera: str) -> MediaSource:
    import cv2

    capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened():
            raise InputError(path, None, "cannot open the video (unreadable file or unsupported codec)")
        ok, image = capture.read()
        if not ok or image is None:
            raise InputError(path, None, "cannot decode a frame of the video (unreadable file or unsupported codec)")
        count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        fps = float(capture.get(cv2.CAP_PROP_FPS))
    finally:
        capture.release()
    height, width = image.shape[:2]
    return MediaSource(camera, path, "video", max(count, 1), width, height, fps if fps > 0 else None)


def _probe_images(path: Path, camera: str) -> MediaSource:
    import cv2

    images = tuple(sorted((p for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
                           and not p.name.startswith(".")), key=lambda p: natural_key(p.name)))
    first = cv2.imread(str(images[0]), cv2.IMREAD_COLOR)
    if first is None:
        raise InputError(images[0], None, "cannot read the image")
    height, width = first.shape[:2]
    return MediaSource(camera, path, "images", len(images), width, height, None, images)


def find_media(videos_dir: str | Path, camera_names: Sequence[str], *, allow_missing: bool = False) -> tuple[MediaSource, ...]:
    """Find and probe the video file or image folder of each camera (see the module docstring for the rules).

    Args:
        videos_dir: folder holding one video file or image folder per camera.
        camera_names: the calibration's camera names, in rig order.
        allow_missing: drop cameras without a source (logged) instead of raising.

    Returns:
        One :class:`MediaSource` per camera found, in ``camera_names`` order.

    Raises:
        InputError: the folder is missing, a camera has no source (unless ``allow_missing``), a name
            matches two sources, or a file cannot be read.

    Example:
        >>> import tempfile
        >>> find_media(tempfile.mkdtemp(), ["cam1"])  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        closecap.errors.InputError: ...: cam1: no video file or image folder for this camera ...
    """
    folder = Path(videos_dir)
    if not folder.is_dir():
        raise InputError(folder, None, "expected a folder with one video file or image folder per camera")
    candidates = _candidates(folder)
    by_key: dict[str, list[str]] = {}
    for stem in candidates:
        by_key.setdefault(canonical_name(stem), []).append(stem)
    sources = []
    used: set[str] = set()
    for camera in camera_names:
        if camera in candidates:
            stem = camera
        else:
            matches = by_key.get(canonical_name(camera), [])
            if len(matches) > 1:
                raise InputError(folder, camera, f"several sources match this camera: {sorted(matches)}")
            if not matches:
                message = (f"no video file or image folder for this camera (found {sorted(candidates)}; "
                           "names may differ in case, separators and zero padding)")
                if allow_missing:
                    logger.warning("%s: %s: %s; skipped", folder, camera, message)
                    continue
                raise InputError(folder, camera, message)
            stem = matches[0]
            logger.info("camera %r <- %s (names differ only in spelling)", camera, candidates[stem].name)
        if stem in used:
            raise InputError(folder, camera, f"{candidates[stem].name} already matched another camera")
        used.add(stem)
        path = candidates[stem]
        sources.append(_probe_video(path, camera) if path.is_file() else _probe_images(path, camera))
    if not sources:
        raise InputError(folder, None, "no camera of the calibration has a video file or image folder here")
    lengths = {s.camera: s.num_frames for s in sources}
    if len(set(lengths.values())) > 1:
        logger.warning("%s: cameras have different numbers of frames %s; using the first %d frames of each",
                       folder, lengths, min(lengths.values()))
    return tuple(sources)


def common_length(sources: Sequence[MediaSource]) -> int:
    """Frames available in every source (the common prefix used by :func:`iter_frames`)."""
    return min(s.num_frames for s in sources)


class _VideoReader:
    def __init__(self, source: MediaSource):
        import cv2

        self.source = source
        self.capture = cv2.VideoCapture(str(source.path))
        if not self.capture.isOpened():
            raise InputError(source.path, None, "cannot open the video")

    def seek(self, index: int) -> None:
        import cv2

        if index:
            self.capture.set(cv2.CAP_PROP_POS_FRAMES, index)

    def read(self, index: int) -> np.ndarray | None:
        ok, image = self.capture.read()
        return image if ok else None

    def close(self) -> None:
        self.capture.release()


class _ImageReader:
    def __init__(self, source: MediaSource):
        self.source = source

    def seek(self, index: int) -> None:
        pass

    def read(self, index: int) -> np.ndarray | None:
        import cv2

        image = cv2.imread(str(self.source.images[index]), cv2.IMREAD_COLOR)
        if image is None:
            raise InputError(self.source.images[index], None, "cannot read the image")
        return image

    def close(self) -> None:
        pass


def iter_frames(sources: Sequence[MediaSource], *, start: int = 0, stop: int | None = None
                ) -> Iterator[tuple[int, list[np.ndarray]]]:
    """Yield ``(frame_index, [V images])`` for frames ``start .. stop - 1`` of the common prefix, one at a time.

    Args:
        sources: from :func:`find_media`.
        start: first frame index (0-based).
        stop: one past the last frame index; ``None`` = the common length.

    Yields:
        ``frame_index`` and one ``(H_v, W_v, 3)`` uint8 BGR image per source, in ``sources`` order.

    Example:
        >>> list(iter_frames([], stop=0))
        []
    """
    if not sources:
        return
    total = common_length(sources)
    stop = total if stop is None else min(int(stop), total)
    readers = [_VideoReader(s) if s.kind == "video" else _ImageReader(s) for s in sources]
    try:
        for reader in readers:
            reader.seek(start)
        for index in range(start, stop):
            images = []
            for reader in readers:
                image = reader.read(index)
                if image is None:
                    logger.warning("%s: the video ends at frame %d, before the announced %d frames; stopping there",
                                   reader.source.path, index, reader.source.num_frames)
                    return
                images.append(image)
            yield index, images
    finally:
        for reader in readers:
            reader.close()
