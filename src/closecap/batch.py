"""Many recordings at once: a manifest, one task per recording on Ray (or serially), resumable.

``run_batch(manifest, out_dir)`` is ``closecap batch MANIFEST --out DIR [--address ADDR]``. Each recording of
the manifest becomes one call of :func:`run_recording`: a Ray task when Ray is installed (a local Ray
instance by default, an existing cluster with ``address``), otherwise a plain call in this process. The
outputs are the same either way: each recording is :func:`closecap.reconstruct.reconstruct_files` (or
:func:`closecap.video_pipeline.reconstruct_videos`) with the manifest's settings.

* **Resumable.** A finished recording leaves ``DIR/<name>.json`` (the 3D joints), ``DIR/<name>.config.json``
  and, last, the done-marker ``DIR/<name>.done.json`` (frames, people, seconds), each written atomically.
  A rerun skips every recording whose marker and output exist.
* **Failures are isolated.** A recording that fails is reported with its one-line error (``file: field:
  problem`` for bad input) and writes no marker; the others go on.
* **One summary.** ``DIR/batch_summary.json`` and a table: per recording its status, frames, people,
  frames per second, node and error.

Manifest, TOML (paths relative to the manifest's folder)::

    [defaults]                 # optional, applies to every recording
    method = "baseline"
    smoothing = "offline"      # offline | online | none
    fps = 30.0

    [[recording]]
    name = "take01"            # unique; names the outputs
    calib = "take01/calibration.json"
    keypoints2d = "take01/keypoints2d"     # or: videos = "take01/videos"
    # optional: method, smoothing, fps, camera_type, config (a ReconstructConfig JSON), output ("json" | "npz")

or CSV with a header row naming the same keys (``name,calib,keypoints2d,videos,method,smoothing,fps,camera_type,
config,output``; empty cells = default).

Example:
    >>> import tempfile
    >>> from closecap.pipelines import run_synth
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     _ = run_synth(Path(tmp) / "a", people=(2, 2), frames=20, seed=1)
    ...     _ = (Path(tmp) / "m.csv").write_text("name,calib,keypoints2d\\na,a/calibration.json,a/keypoints2d\\n")
    ...     first = run_batch(Path(tmp) / "m.csv", Path(tmp) / "out", use_ray=False, progress=False)
    ...     again = run_batch(Path(tmp) / "m.csv", Path(tmp) / "out", use_ray=False, progress=False)
    >>> [r.status for r in first.results], [r.status for r in again.results]
    (['done'], ['skipped'])
"""
from __future__ import annotations

import csv
import dataclasses
import json
import os
import time
from pathlib import Path
from typing import Any, Sequence

from closecap.config import Config, atomic_write_text
from closecap.errors import CloseCapError, InputError

MANIFEST_KEYS = ("name", "calib", "keypoints2d", "videos", "method", "smoothing", "fps", "camera_type", "config",
                 "output")
SUMMARY_FILE = "batch_summary.json"


@dataclasses.dataclass(frozen=True)
class Recording(Config):
    """One line of a manifest: what to reconstruct and how (paths absolute after parsing)."""

    name: str
    """Unique name; the outputs are ``<name>.<output>``, ``<name>.config.json``, ``<name>.done.json``."""
    calib: str
    """Calibration file or folder (any supported format)."""
    keypoints2d: str | None = None
    """2D keypoints (OpenPose folder or COCO JSON); exactly one of ``keypoints2d`` and ``videos``."""
    videos: str | None = None
    """A folder of one video or image folder per camera (the built-in detector; needs ``closecap[video]``)."""
    method: str = "baseline"
    """Reconstruction method."""
    smoothing: str = "offline"
    """Temporal filter: offline, online or none."""
    fps: float | None = None
    """Frame rate for the temporal filters (default: the config's, 30)."""
    camera_type: str | None = None
    """Panoptic calibrations: keep only cameras of this type (e.g. ``hd``)."""
    config: str | None = None
    """A ReconstructConfig JSON to start from."""
    output: str = "json"
    """Output format: ``json`` (closecap-3d) or ``npz``."""

    def __post_init__(self) -> None:
        if not self.name or any(c in self.name for c in "/\\") or self.name.startswith("."):
            raise InputError(None, "name", f"a recording name must be a plain file name, got {self.name!r}")
        if (self.keypoints2d is None) == (self.videos is None):
            raise InputError(None, f"{self.name}.keypoints2d/videos", "give exactly one of keypoints2d and videos")
        if self.output not in ("json", "npz"):
            raise InputError(None, f"{self.name}.output", f"expected 'json' or 'npz', got {self.output!r}")


@dataclasses.dataclass(frozen=True)
class RecordingResult:
    """How one recording went: ``status`` is ``done``, ``skipped`` (done earlier) or ``failed``."""

    name: str
    status: str
    frames: int = 0
    people: int = 0
    seconds: float = 0.0
    node: str = ""
    error: str = ""
    output: str = ""

    @property
    def fps(self) -> float:
        """Frames reconstructed per second of wall time (0 when unknown)."""
        return self.frames / self.seconds if self.seconds > 0 else 0.0


@dataclasses.dataclass(frozen=True)
class BatchSummary:
    """All recordings of a batch, in manifest order, and the batch's wall time."""

    results: tuple[RecordingResult, ...]
    seconds: float
    engine: str

    @property
    def failed(self) -> tuple[RecordingResult, ...]:
        return tuple(r for r in self.results if r.status == "failed")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON: ``engine``, ``seconds``, counts per status, ``recordings`` (one dict each, with ``fps``)."""
        counts = {s: sum(r.status == s for r in self.results) for s in ("done", "skipped", "failed")}
        return {"engine": self.engine, "seconds": round(self.seconds, 3), **counts,
                "recordings": [{**dataclasses.asdict(r), "fps": round(r.fps, 2), "seconds": round(r.seconds, 3)}
                               for r in self.results]}

    def table(self) -> str:
        """A plain-text table: name, status, frames, people, fps, node, error.

        Example:
            >>> print(BatchSummary((RecordingResult("a", "done", 10, 2, 2.0, "local"),), 2.0, "serial").table())
            recording  status  frames  people  fps  node   error
            a          done        10       2  5.0  local
            1 done, 0 skipped, 0 failed in 2.0 s (serial)
        """
        rows = [("recording", "status", "frames", "people", "fps", "node", "error")]
        rows += [(r.name, r.status, str(r.frames), str(r.people), f"{r.fps:.1f}", r.node[:12], r.error)
                 for r in self.results]
        width = [max(len(row[i]) for row in rows) for i in range(6)]
        right = (False, False, True, True, True, False)
        lines = ["  ".join([c.rjust(w) if rj else c.ljust(w) for c, w, rj in zip(row[:6], width, right)]
                           + [row[6]]).rstrip() for row in rows]
        d = self.to_dict()
        lines.append(f"{d['done']} done, {d['skipped']} skipped, {d['failed']} failed in {self.seconds:.1f} s "
                     f"({self.engine})")
        return "\n".join(lines)


# ============================================================================ manifest


def read_manifest(path: str | Path) -> list[Recording]:
    """Parse a TOML or CSV manifest (see the module notes); relative paths become absolute (manifest folder).

    Raises:
        InputError: ``manifest: recording[i].key: problem`` (unknown key, missing name / calib, duplicate name).

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     m = Path(tmp) / "m.toml"
        ...     _ = m.write_text('[defaults]\\nfps = 60\\n[[recording]]\\nname = "a"\\ncalib = "c.json"\\nkeypoints2d = "kp"\\n')
        ...     rec = read_manifest(m)[0]
        >>> rec.name, rec.fps, Path(rec.calib).name
        ('a', 60.0, 'c.json')
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(path, None, "no such manifest file")
    suffix = path.suffix.lower()
    if suffix == ".toml":
        import tomllib

        try:
            doc = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
            raise InputError(path, None, f"not TOML: {err}") from None
        unknown = sorted(set(doc) - {"defaults", "recording"})
        if unknown:
            raise InputError(path, unknown[0], "unknown table; expected [defaults] and [[recording]]")
        defaults = doc.get("defaults", {})
        entries = doc.get("recording", [])
        if not isinstance(defaults, dict) or not isinstance(entries, list):
            raise InputError(path, "recording", "expected [defaults] and [[recording]] tables")
    elif suffix == ".csv":
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            entries = [{k.strip(): v.strip() for k, v in row.items() if k is not None and v not in (None, "")}
                       for row in reader]
            if reader.fieldnames is None:
                raise InputError(path, None, "empty CSV manifest")
            unknown = [k for k in reader.fieldnames if k.strip() not in MANIFEST_KEYS]
            if unknown:
                raise InputError(path, unknown[0], f"unknown column; expected some of {list(MANIFEST_KEYS)}")
        defaults = {}
    else:
        raise InputError(path, None, "a manifest is a .toml or .csv file")
    if not entries:
        raise InputError(path, "recording", "no recordings listed")
    base = path.resolve().parent
    recordings, names = [], set()
    for i, entry in enumerate(entries):
        field = f"recording[{i}]"
        if not isinstance(entry, dict):
            raise InputError(path, field, "expected a table")
        merged = {**defaults, **entry}
        for key in merged:
            if key not in MANIFEST_KEYS:
                raise InputError(path, f"{field}.{key}", f"unknown key; expected some of {list(MANIFEST_KEYS)}")
        for key in ("name", "calib"):
            if not merged.get(key):
                raise InputError(path, f"{field}.{key}", "missing")
        for key in ("calib", "keypoints2d", "videos", "config"):
            if merged.get(key) is not None:
                merged[key] = str(base / str(merged[key]))
        if merged.get("fps") is not None:
            try:
                merged["fps"] = float(merged["fps"])
            except (TypeError, ValueError):
                raise InputError(path, f"{field}.fps", f"expected a number, got {merged['fps']!r}") from None
        merged = {k: (str(v) if k not in ("fps",) and v is not None else v) for k, v in merged.items()}
        try:
            rec = Recording(**merged)
        except InputError as err:
            raise InputError(path, f"{field}.{err.field}" if err.field else field, err.message) from None
        if rec.name in names:
            raise InputError(path, f"{field}.name", f"duplicate name {rec.name!r}")
        names.add(rec.name)
        recordings.append(rec)
    return recordings


# ============================================================================ one recording


def _marker(out_dir: Path, name: str) -> Path:
    return out_dir / f"{name}.done.json"


def _finished(rec: Recording, out_dir: Path) -> RecordingResult | None:
    """The result recorded by an earlier run, or ``None`` if the recording must run."""
    marker, output = _marker(out_dir, rec.name), out_dir / f"{rec.name}.{rec.output}"
    if not (marker.is_file() and output.is_file()):
        return None
    try:
        done = json.loads(marker.read_text())
        return RecordingResult(rec.name, "skipped", int(done["frames"]), int(done["people"]), float(done["seconds"]),
                               str(done.get("node", "")), "", str(output))
    except (OSError, ValueError, KeyError, TypeError):
        return None  # an unreadable marker: run again


def _node_id() -> str:
    try:
        import ray

        if ray.is_initialized():
            return ray.get_runtime_context().get_node_id()
    except ImportError:
        pass
    return "local"


def run_recording(rec: Recording, out_dir: str | Path) -> RecordingResult:
    """Reconstruct one recording into ``out_dir`` and write its done-marker last; never raises.

    Any error becomes ``status="failed"`` with its one-line message (a recording must not stop the batch).

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     r = run_recording(Recording("x", calib=f"{tmp}/none.json", keypoints2d=tmp), tmp)
        >>> r.status, "none.json" in r.error
        ('failed', True)
    """
    from closecap.config import load_config
    from closecap.reconstruct import ReconstructConfig, reconstruct_files

    out_dir = Path(out_dir)
    output = out_dir / f"{rec.name}.{rec.output}"
    start = time.perf_counter()
    node = _node_id()
    try:
        cfg = load_config(ReconstructConfig, rec.config) if rec.config else ReconstructConfig()
        track = cfg.baseline.track
        cfg = cfg.replace(method=rec.method, baseline=cfg.baseline.replace(
            track=track.replace(smoothing=rec.smoothing, fps=rec.fps or track.fps)))
        if rec.videos is not None:
            from closecap.video_pipeline import reconstruct_videos

            poses = reconstruct_videos(rec.calib, rec.videos, output, method=rec.method, config=cfg, progress=False,
                                       fps=rec.fps)
        else:
            poses = reconstruct_files(rec.calib, rec.keypoints2d, output, cfg, camera_type=rec.camera_type)
    except CloseCapError as err:
        return RecordingResult(rec.name, "failed", node=node, error=_one_line(str(err)),
                               seconds=time.perf_counter() - start)
    except Exception as err:  # noqa: BLE001 - a batch reports every failure and goes on
        return RecordingResult(rec.name, "failed", node=node, error=_one_line(f"{type(err).__name__}: {err}"),
                               seconds=time.perf_counter() - start)
    seconds = time.perf_counter() - start
    result = RecordingResult(rec.name, "done", poses.num_frames, poses.num_people, seconds, node, "", str(output))
    atomic_write_text(_marker(out_dir, rec.name), json.dumps(
        {"name": rec.name, "frames": result.frames, "people": result.people, "seconds": round(seconds, 3),
         "node": node, "pid": os.getpid(), "output": output.name}) + "\n")
    return result


def _one_line(text: str) -> str:
    return " ".join(text.split())[:500]


# ============================================================================ the batch


def ray_available() -> bool:
    """Whether the optional ``ray`` package can be imported (``pip install closecap[ray]``).

    Example:
        >>> isinstance(ray_available(), bool)
        True
    """
    try:
        import ray  # noqa: F401
    except ImportError:
        return False
    return True


def run_batch(manifest: str | Path | Sequence[Recording], out_dir: str | Path, address: str | None = None,
              progress: bool = True, *, use_ray: bool | None = None, num_cpus: int | None = None) -> BatchSummary:
    """Reconstruct every recording of a manifest; skip finished ones; report failures; write the summary.

    Args:
        manifest: a TOML / CSV manifest path, or recordings already parsed.
        out_dir: output folder (created).
        address: an existing Ray cluster (``ray://host:10001`` or ``host:6379`` / ``auto``); default: a local
            Ray instance started for this batch and stopped after it.
        progress: a rich progress bar over recordings.
        use_ray: ``None`` = Ray if installed; ``False`` = serial in this process; ``True`` = Ray or an error.
        num_cpus: CPUs of the local Ray instance (default: all); ignored with ``address``.

    Returns:
        :class:`BatchSummary` (also written to ``out_dir/batch_summary.json``).

    Raises:
        InputError: a bad manifest, or ``address`` / ``use_ray=True`` without Ray installed.
    """
    recordings = read_manifest(manifest) if isinstance(manifest, (str, Path)) else list(manifest)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    wanted_ray = ray_available() if use_ray is None else use_ray
    if (address is not None or use_ray) and not ray_available():
        raise InputError(None, "--address", "running on Ray needs the ray package: pip install 'closecap[ray]'")
    start = time.perf_counter()
    results: dict[str, RecordingResult] = {}
    todo = []
    for rec in recordings:
        done = _finished(rec, out_dir)
        if done is not None:
            results[rec.name] = done
        else:
            todo.append(rec)
    engine = "serial"
    with _progress(progress, len(recordings), len(results)) as advance:
        if todo and wanted_ray:
            engine = "ray"
            for result in _run_on_ray(todo, out_dir, address, num_cpus):
                results[result.name] = result
                advance(result)
        else:
            for rec in todo:
                result = run_recording(rec, out_dir)
                results[rec.name] = result
                advance(result)
    summary = BatchSummary(tuple(results[r.name] for r in recordings), time.perf_counter() - start, engine)
    atomic_write_text(out_dir / SUMMARY_FILE, json.dumps(summary.to_dict(), indent=2) + "\n")
    return summary


def _run_on_ray(todo: list[Recording], out_dir: Path, address: str | None, num_cpus: int | None):
    """Yield results as Ray tasks finish (one task per recording, 1 CPU each)."""
    import ray

    started = not ray.is_initialized()
    if started:
        kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False,
                                  "configure_logging": False}
        if address is None:
            kwargs["num_cpus"] = num_cpus
        ray.init(address=address, **kwargs)
    try:
        task = ray.remote(num_cpus=1, max_retries=0)(run_recording)
        pending = {task.remote(rec, str(out_dir)): rec for rec in todo}
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                rec = pending.pop(ref)
                try:
                    yield ray.get(ref)
                except Exception as err:  # noqa: BLE001 - a worker that died is one failed recording
                    yield RecordingResult(rec.name, "failed", error=_one_line(f"{type(err).__name__}: {err}"))
    finally:
        if started:
            ray.shutdown()


class _progress:
    """A rich progress bar over recordings (a no-op when off); ``advance(result)`` moves it."""

    def __init__(self, enabled: bool, total: int, skipped: int) -> None:
        self.enabled, self.total, self.skipped = enabled, total, skipped
        self._bar = None

    def __enter__(self):
        if not self.enabled:
            return lambda result: None
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self._bar = Progress(TextColumn("batch"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                             TextColumn("{task.fields[last]}"))
        self._bar.__enter__()
        task = self._bar.add_task("batch", total=self.total, completed=self.skipped,
                                  last=f"{self.skipped} skipped" if self.skipped else "")
        return lambda result: self._bar.update(task, advance=1, last=f"{result.name}: {result.status}")

    def __exit__(self, *exc) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)
