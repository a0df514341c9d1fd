"""Videos in, 3D people out: calibration + one video (or image folder) per camera -> 2D detections -> 3D.

:func:`reconstruct_videos` is the file-level pipeline behind ``closecap reconstruct --videos DIR``:

1. ``io/calibration.load_rig`` reads the calibration (Qualisys files honour ``qualisys_distortion``);
2. ``io/media.find_media`` pairs each camera with its video / image folder (spelling-tolerant names,
   common-prefix alignment, see :mod:`closecap.io.media`);
3. the 2D detector (default the built-in :class:`~closecap.detect.BlazePoseDetector`) runs on every frame
   of every view; each view's previous-frame people are passed as ``crops_hint`` (``use_hints``), which
   keeps people in contact that the person detector merges into one;
4. the detections are cached as OpenPose BODY_25 JSON in ``<out stem>_keypoints2d/<cam>/`` with a
   ``cache.json`` manifest (cameras, source files, frame count, detector settings) written last; a rerun
   whose manifest matches reads the cache instead of detecting again;
5. ``reconstruct.reconstruct`` (baseline by default) gives tracked 3D people, written with
   ``io/keypoints.write_poses`` plus ``<out stem>.config.json``.

The tracker's frame rate defaults to the videos' (``CAP_PROP_FPS``), 30 for image folders.
"""
from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from closecap.config import Config, atomic_write_text, save_json
from closecap.detect import BlazePoseConfig, Detector, keypoint_boxes, make_detector
from closecap.errors import InputError
from closecap.io.media import MediaSource, common_length, find_media, iter_frames
from closecap.poses import Detections2D, Poses3D
from closecap.reconstruct import ReconstructConfig, reconstruct

logger = logging.getLogger(__name__)

CACHE_FORMAT = "closecap-detections-cache"


@dataclass(frozen=True)
class VideoConfig(Config):
    """Settings of the video front end of :func:`reconstruct_videos`."""

    blazepose: BlazePoseConfig = field(default_factory=BlazePoseConfig)
    """Settings of the built-in BlazePose detector."""
    use_hints: bool = True
    """Give the detector each view's previous-frame people as extra crops (keeps people in contact apart)."""
    hint_min_score: float = 0.3
    """Joints above this score (0..1) make the previous-frame boxes used as hints."""
    qualisys_distortion: str = "as-is"
    """Qualisys calibrations only: ``"as-is"`` or ``"/64"`` (see ``io/calibration.load_rig``)."""
    allow_missing: bool = False
    """Skip calibrated cameras without a video (logged) instead of failing."""
    max_frames: int = 0
    """Use at most this many frames from the start (0 = all frames of the common prefix)."""

    def __post_init__(self) -> None:
        if int(self.max_frames) < 0:
            raise InputError(None, "VideoConfig.max_frames", f"must be >= 0, got {self.max_frames}")


@dataclass(frozen=True)
class DetectionRun:
    """2D detections of a set of videos and what they cost.

    Attributes:
        detections: ``T`` frames x ``V`` views of ``(P_v, 17, 3)`` ``(u_px, v_px, score)``.
        seconds_per_view: ``(V,)`` detector wall time per camera, seconds (0 when read from the cache).
        from_cache: the detections were read from the cache.
    """

    detections: Detections2D
    seconds_per_view: np.ndarray
    from_cache: bool


def detect_media(sources: Sequence[MediaSource], detector: Detector, *, num_frames: int | None = None,
                 use_hints: bool = True, hint_min_score: float = 0.3, progress: bool = False) -> DetectionRun:
    """Run a 2D detector over synchronised views, frame by frame (frames are never all in memory).

    Args:
        sources: the cameras' media (:func:`closecap.io.media.find_media`).
        detector: anything with ``detect(image_bgr, crops_hint) -> (P, 17, 3)``.
        num_frames: frames from the start to process (``None`` = the common length).
        use_hints: pass each view's previous-frame people boxes as ``crops_hint``.
        hint_min_score: joints above this score define the hint boxes.
        progress: one tqdm bar per camera.

    Returns:
        :class:`DetectionRun` with frames numbered ``0 .. T-1``.

    Example:
        >>> import tempfile, cv2
        >>> from closecap.io.media import find_media
        >>> tmp = Path(tempfile.mkdtemp()); (tmp / "a").mkdir()
        >>> for i in range(2):
        ...     _ = cv2.imwrite(str(tmp / "a" / f"{i}.png"), np.zeros((4, 4, 3), np.uint8))
        >>> class Nobody:
        ...     def detect(self, image_bgr, crops_hint=None):
        ...         return np.zeros((0, 17, 3))
        >>> run = detect_media(find_media(tmp, ["a"]), Nobody())
        >>> run.detections.frames, run.detections.keypoints[0][0].shape
        ((0, 1), (0, 17, 3))
    """
    from tqdm import tqdm

    total = common_length(sources) if num_frames is None else min(int(num_frames), common_length(sources))
    V = len(sources)
    bars = [tqdm(total=total, desc=f"detect {s.camera}", unit="frame", position=v, leave=True, disable=not progress)
            for v, s in enumerate(sources)]
    seconds = np.zeros(V)
    frames: list[int] = []
    per_frame: list[tuple[np.ndarray, ...]] = []
    previous: list[np.ndarray | None] = [None] * V
    try:
        for index, images in iter_frames(sources, stop=total):
            views = []
            for v, image in enumerate(images):
                hint = keypoint_boxes(previous[v], hint_min_score) if (use_hints and previous[v] is not None) else None
                start = time.perf_counter()
                keypoints = np.asarray(detector.detect(image, hint), dtype=float).reshape(-1, 17, 3)
                seconds[v] += time.perf_counter() - start
                views.append(keypoints)
                previous[v] = keypoints
                bars[v].update(1)
            frames.append(index)
            per_frame.append(tuple(views))
    finally:
        for bar in bars:
            bar.close()
    if not frames:
        raise InputError(sources[0].path if sources else None, None, "no frame could be read")
    return DetectionRun(Detections2D(tuple(s.camera for s in sources), tuple(frames), tuple(per_frame)), seconds, False)


def cache_folder(out_path: str | Path) -> Path:
    """The detection cache beside an output: ``<out stem>_keypoints2d/``.

    Example:
        >>> cache_folder("run/pred.json").as_posix()
        'run/pred_keypoints2d'
    """
    out_path = Path(out_path)
    return out_path.with_name(out_path.stem + "_keypoints2d")


def _manifest(sources: Sequence[MediaSource], num_frames: int, detector_id: dict) -> dict:
    return {"format": CACHE_FORMAT, "version": 1, "cameras": [s.camera for s in sources],
            "sources": [s.path.name for s in sources], "num_frames": int(num_frames), "detector": detector_id}


def read_cache(folder: Path, manifest: dict) -> Detections2D | None:
    """Cached detections in ``folder`` if its ``cache.json`` equals ``manifest`` (else ``None``)."""
    from closecap.io.keypoints import read_detections

    file = folder / "cache.json"
    if not file.is_file():
        return None
    try:
        stored = json.loads(file.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    if stored != manifest:
        logger.info("%s: detection cache is for other inputs or settings; detecting again", folder)
        return None
    detections = read_detections(folder, manifest["cameras"])
    if detections.frames != tuple(range(manifest["num_frames"])):
        logger.info("%s: detection cache is incomplete; detecting again", folder)
        return None
    return detections


def write_cache(folder: Path, detections: Detections2D, manifest: dict) -> None:
    """Write ``detections`` as OpenPose JSON into ``folder`` and the manifest last (older frame files are removed)."""
    from closecap.io.keypoints import write_openpose

    (folder / "cache.json").unlink(missing_ok=True)
    for cam in detections.camera_names:
        for old in (folder / cam).glob("*_keypoints.json") if (folder / cam).is_dir() else ():
            old.unlink()
    write_openpose(detections, folder)
    atomic_write_text(folder / "cache.json", json.dumps(manifest, indent=1))


def _detector_ident(detector: str | Detector, video: VideoConfig) -> dict:
    """What identifies the detections of a detector and settings (stored in the cache manifest)."""
    if isinstance(detector, str):
        ident = {"name": detector, "config": video.blazepose.to_dict()}
    else:
        settings = getattr(detector, "config", None)
        ident = {"name": type(detector).__qualname__,
                 "config": settings.to_dict() if isinstance(settings, Config) else settings}
    ident.update(use_hints=video.use_hints, hint_min_score=video.hint_min_score)
    return json.loads(json.dumps(ident, default=str))


def detect_videos(videos_dir: str | Path, camera_names: Sequence[str], *, detector: str | Detector = "blazepose",
                  video: VideoConfig = VideoConfig(), cache: str | Path | None = None,
                  progress: bool = False) -> DetectionRun:
    """Find the cameras' media in ``videos_dir`` and detect 2D people in every frame, through the cache.

    Args:
        videos_dir: one video file or image folder per camera.
        camera_names: the calibration's cameras, in rig order.
        detector: ``"blazepose"`` or a :class:`~closecap.detect.Detector` instance.
        video: media and detector settings.
        cache: cache folder (read if valid, written otherwise); ``None`` = no cache.
        progress: progress bars per camera.

    Returns:
        :class:`DetectionRun` (views in the order of the cameras found).
    """
    sources = find_media(videos_dir, camera_names, allow_missing=video.allow_missing)
    total = common_length(sources) if not video.max_frames else min(video.max_frames, common_length(sources))
    manifest = _manifest(sources, total, _detector_ident(detector, video))
    if cache is not None:
        cached = read_cache(Path(cache), manifest)
        if cached is not None:
            logger.info("%s: using cached detections (%d frames, %d cameras)", cache, cached.num_frames, cached.num_views)
            return DetectionRun(cached, np.zeros(len(sources)), True)
    instance = make_detector(detector, video.blazepose) if isinstance(detector, str) else detector
    run = detect_media(sources, instance, num_frames=total, use_hints=video.use_hints,
                       hint_min_score=video.hint_min_score, progress=progress)
    if cache is not None:
        write_cache(Path(cache), run.detections, manifest)
    return run


def video_fps(videos_dir: str | Path, camera_names: Sequence[str], allow_missing: bool = False) -> float | None:
    """The frame rate of the first camera's video (``None`` for image folders)."""
    for source in find_media(videos_dir, camera_names, allow_missing=allow_missing):
        if source.fps:
            return source.fps
    return None


def reconstruct_videos(calib_path: str | Path, videos_dir: str | Path, out_path: str | Path, *,
                       method: str = "baseline", detector: str | Detector = "blazepose", cache: bool = True,
                       progress: bool = True, config: ReconstructConfig | None = None,
                       video: VideoConfig = VideoConfig(), fps: float | None = None) -> Poses3D:
    """Calibration + one video or image folder per camera -> tracked 3D people, written to ``out_path``.

    Writes ``out_path`` (``.json`` / ``.npz`` / ``.csv`` / ``.trc``), ``<out stem>.config.json`` and, with
    ``cache``, the detections in ``<out stem>_keypoints2d/`` (reused by a rerun with the same inputs).

    Args:
        calib_path: any calibration ``load_rig`` reads (Qualisys ``.qca.txt`` included).
        videos_dir: folder with one video file or image folder per camera (see :mod:`closecap.io.media`).
        out_path: output file.
        method: reconstruction method (overrides ``config.method``).
        detector: ``"blazepose"`` (built-in, needs ``mediapipe==0.10.14`` + ``ai-edge-litert``) or any
            :class:`~closecap.detect.Detector`.
        cache: read / write the detection cache.
        progress: progress bars (detection per camera, reconstruction).
        config: reconstruction settings; default :class:`ReconstructConfig` with the tracker's ``fps`` set
            to the videos' frame rate.
        video: media / detector settings (:class:`VideoConfig`).
        fps: frame rate override (frames per second) for the tracker's filters and ``.trc``.

    Returns:
        :class:`~closecap.poses.Poses3D`, ``(T, P, 17, 3)`` metres in the calibration's world frame.

    Raises:
        InputError: bad calibration, missing / unreadable media, bad output suffix.
        CloseCapError: the built-in detector's optional packages are missing.
    """
    from closecap.io.calibration import load_rig
    from closecap.io.keypoints import write_poses

    out_path = Path(out_path)
    if out_path.suffix.lower() not in (".json", ".npz", ".csv", ".trc"):
        raise InputError(out_path, None, "output must end in .json, .npz, .csv or .trc")
    rig = load_rig(calib_path, qualisys_distortion=video.qualisys_distortion)
    if fps is None:
        fps = video_fps(videos_dir, rig.names, video.allow_missing) or (config.baseline.track.fps if config else 30.0)
    if config is None:
        config = ReconstructConfig()
        config = config.replace(baseline=config.baseline.replace(track=config.baseline.track.replace(fps=float(fps))))
    config = config.replace(method=method)
    folder = cache_folder(out_path) if cache else None
    run = detect_videos(videos_dir, rig.names, detector=detector, video=video, cache=folder, progress=progress)
    poses = reconstruct(run.detections, rig, config, progress=progress)
    run_config = {"reconstruct": config.to_dict(), "video": video.to_dict(), "calibration": str(calib_path),
                  "videos": str(videos_dir), "cameras": list(run.detections.camera_names),
                  "detector": detector if isinstance(detector, str) else type(detector).__qualname__,
                  "keypoints2d": str(folder) if folder is not None else None, "fps": float(fps)}
    write_poses(poses, out_path, config=run_config, fps=float(fps))
    save_json(out_path.with_name(out_path.stem + ".config.json"), run_config)
    return poses
