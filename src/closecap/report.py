"""One self-contained HTML page about a run: metrics, pictures, the 3D view, the settings.

A *run dir* is what ``closecap demo`` writes (``calibration.json``, ``keypoints2d/``, ``gt.json``,
``settings.json``, ``pred.json``, ``pred.config.json``, ``metrics.json``); only ``calibration.json``
and ``pred.json`` are required. ``pred.config.json`` may name the inputs (``"calibration"``,
``"keypoints2d"``, ``"videos"``); files inside the run dir win over those paths. With a ``"videos"``
folder (one video or image folder per camera, see :mod:`closecap.io.media`) the overlays are drawn
on the real frames; otherwise on blank canvases of the cameras' size.

The page embeds everything (images as base64 data URIs, plotly.js inline when plotly is installed,
else a static 3D picture), so it opens offline and can be mailed as one file.
"""
from __future__ import annotations

import base64
import html
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from closecap.config import atomic_write_text
from closecap.errors import InputError

logger = logging.getLogger(__name__)

SECTIONS = ("metrics", "view-3d", "overlays", "tracks", "reprojection", "joint-errors", "closeness", "settings")
"""The ``id`` of each ``<section>`` the page may hold, in page order (GT-only ones are left out without GT)."""

_OVERLAY_FRAMES = 3  # frames shown per camera
_OVERLAY_WIDTH_PX = 420  # width of each overlay thumbnail, pixels

_CSS = """
body { font-family: -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif; margin: 24px auto; max-width: 1240px;
       color: #222; background: #fafafa; padding: 0 16px; }
h1 { font-size: 26px; margin-bottom: 4px; } h2 { font-size: 19px; border-bottom: 2px solid #ddd; padding-bottom: 4px;
       margin-top: 32px; }
.sub { color: #666; margin-top: 0; }
table { border-collapse: collapse; margin: 8px 0; font-size: 14px; }
th, td { border: 1px solid #ccc; padding: 4px 10px; text-align: right; } th { background: #eee; }
td:first-child, th:first-child { text-align: left; }
img.plot { max-width: 100%; border: 1px solid #ddd; background: white; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(380px, 1fr)); gap: 10px; }
figure { margin: 0; background: white; border: 1px solid #ddd; padding: 4px; }
figure img { width: 100%; display: block; } figcaption { font-size: 12px; color: #555; padding: 2px 4px; }
pre { background: #fff; border: 1px solid #ddd; padding: 8px; font-size: 12px; max-height: 420px; overflow: auto; }
.tables { display: flex; flex-wrap: wrap; gap: 24px; align-items: flex-start; }
.note { color: #666; font-size: 13px; }
"""


def _data_uri(data: bytes, mime: str) -> str:
    return f"data:{mime};base64," + base64.b64encode(data).decode("ascii")


def _img(data: bytes, alt: str, mime: str = "image/png", cls: str = "plot") -> str:
    return f'<img class="{cls}" alt="{html.escape(alt)}" src="{_data_uri(data, mime)}">'


def _load_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise InputError(path, None, f"cannot read JSON: {err}") from None


def _resolve(run_dir: Path, local: str, config: dict, key: str) -> Path | None:
    """The run dir's own file if present, else the path named in ``pred.config.json`` (if it exists)."""
    if (run_dir / local).exists():
        return run_dir / local
    named = config.get(key) if isinstance(config, dict) else None
    if isinstance(named, str) and named and Path(named).exists():
        return Path(named)
    return None


def _fmt(value: Any, spec: str) -> str:
    if value is None:
        return "–"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return format(value, spec)
    return html.escape(str(value))


def metrics_html(metrics: dict) -> str:
    """HTML tables of a ``metrics.json`` (:meth:`closecap.metrics.EvalResult.to_dict`).

    Example:
        >>> "MPJPE" in metrics_html({"mpjpe_mm": 25.5, "pck": {"50": 0.9}})
        True
    """
    rows = [("GT person-frames", "num_gt", "d"), ("matched", "num_matched", "d"), ("missed", "num_missed", "d"),
            ("false positives", "num_false_positives", "d"), ("MPJPE (mm)", "mpjpe_mm", ".1f"),
            ("PA-MPJPE (mm)", "pa_mpjpe_mm", ".1f"), ("joints missing", "joints_missing", ".3f"),
            ("PCP mean", "pcp_mean", ".3f"), ("recall@500mm", "recall_500mm", ".3f"),
            ("ID switches", "id_switches", "d"), ("MOTA", "mota", ".3f")]
    out = ['<div class="tables"><table><tr><th>metric</th><th>value</th></tr>']
    for label, key, spec in rows:
        if key in metrics:
            out.append(f"<tr><td>{label}</td><td>{_fmt(metrics[key], spec)}</td></tr>")
    out.append("</table><table><tr><th>threshold</th><th>value</th></tr>")
    for key, label, spec in (("pck", "PCK @{} mm", ".3f"), ("ap_percent", "AP @{} mm (%)", ".1f")):
        for threshold, value in (metrics.get(key) or {}).items():
            out.append(f"<tr><td>{label.format(html.escape(threshold))}</td><td>{_fmt(value, spec)}</td></tr>")
    out.append("</table>")
    bins = metrics.get("distance_bins") or []
    if bins:
        out.append("<table><tr><th>nearest other person</th><th>count</th><th>recall</th><th>MPJPE (mm)</th>"
                   "<th>PCK</th></tr>")
        for b in bins:
            out.append(f"<tr><td>{html.escape(str(b.get('label')))}</td><td>{_fmt(b.get('count'), 'd')}</td>"
                       f"<td>{_fmt(b.get('recall'), '.3f')}</td><td>{_fmt(b.get('mpjpe_mm'), '.1f')}</td>"
                       f"<td>{_fmt(b.get('pck'), '.3f')}</td></tr>")
        out.append("</table>")
    out.append("</div>")
    return "\n".join(out)


def _overlay_frames(pred, gt) -> list[int]:
    """A few frame indices of ``pred``: the first, the closest contact, the last (unique, in order)."""
    from closecap.viz import _closest_frame

    present = np.flatnonzero(pred.present.any(1))
    if len(present) == 0:
        return [0] if pred.num_frames else []
    picks = {int(present[0]), int(present[-1]), _closest_frame(pred)}
    if len(picks) < _OVERLAY_FRAMES:
        picks.add(int(present[len(present) // 2]))
    return sorted(picks)[:_OVERLAY_FRAMES + 1]


def write_report(run_dir: str | Path, out_html: str | Path | None = None) -> Path:
    """Write the HTML report of a run dir (see the module docstring).

    Args:
        run_dir: the run's folder; needs ``calibration.json`` (or the one named in ``pred.config.json``)
            and ``pred.json``.
        out_html: the page to write; default ``run_dir/report.html``. Written atomically.

    Returns:
        The page's path.

    Raises:
        InputError: a required file is missing or unreadable.

    Example:
        >>> import tempfile
        >>> from closecap.cameras import ring_rig
        >>> from closecap.io.calibration import save_rig
        >>> from closecap.io.keypoints import write_poses
        >>> from closecap.poses import Poses3D
        >>> tmp = Path(tempfile.mkdtemp())
        >>> save_rig(ring_rig(2, width=320, height=240, focal_px=200.0), tmp / "calibration.json")
        >>> j = np.zeros((2, 1, 17, 3)); j[..., 2] = np.linspace(0.1, 1.7, 17)
        >>> _ = write_poses(Poses3D([0, 1], [4], j, np.ones((2, 1, 17))), tmp / "pred.json")
        >>> page = write_report(tmp)
        >>> page.name, 'id="tracks"' in page.read_text()
        ('report.html', True)
    """
    from closecap import viz
    from closecap.io.calibration import load_rig
    from closecap.io.keypoints import read_detections, read_poses

    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise InputError(run_dir, None, "not a folder (expected a run dir with calibration.json and pred.json)")
    config_path = run_dir / "pred.config.json"
    config = _load_json(config_path) if config_path.exists() else {}
    calib = _resolve(run_dir, "calibration.json", config, "calibration")
    if calib is None:
        raise InputError(run_dir / "calibration.json", None, "missing (and pred.config.json names none that exists)")
    pred_path = run_dir / "pred.json"
    if not pred_path.exists():
        raise InputError(pred_path, None, "missing: the report needs the reconstruction")
    rig = load_rig(calib)
    pred = read_poses(pred_path)
    gt = read_poses(run_dir / "gt.json") if (run_dir / "gt.json").exists() else None
    keypoints = _resolve(run_dir, "keypoints2d", config, "keypoints2d")
    detections = read_detections(keypoints, rig.names) if keypoints is not None else None
    metrics = _load_json(run_dir / "metrics.json") if (run_dir / "metrics.json").exists() else None
    settings = _load_json(run_dir / "settings.json") if (run_dir / "settings.json").exists() else None
    videos = config.get("videos") if isinstance(config, dict) else None

    sections: list[tuple[str, str, str]] = []  # (id, title, body)
    if metrics is not None:
        sections.append(("metrics", "Metrics", metrics_html(metrics)))

    view3d = viz.scene_3d_html(pred, rig, gt=gt)
    shown, frame_png = viz.plot_frame_png(pred, rig, gt=gt)
    body = _img(frame_png, "3D view of one frame")
    if view3d is not None:
        body = (f'<div class="note">Interactive: drag to rotate, slider to step through frames.</div>{view3d}'
                f'<details><summary>static picture of frame {int(pred.frames[shown])}</summary>{body}</details>')
    else:
        body = (f'<div class="note">Static picture of frame {int(pred.frames[shown])} '
                f'(install plotly for the interactive view).</div>{body}')
    sections.append(("view-3d", "3D view", body))

    sections.append(("overlays", "Per-camera overlays", _overlays_html(pred, rig, detections, videos, gt)))
    sections.append(("tracks", "Tracks", _img(viz.plot_tracks(pred), "tracks over time")))
    if detections is not None:
        errors = viz.reprojection_errors_per_camera(pred, rig, detections)
        sections.append(("reprojection", "Reprojection error per camera",
                         _img(viz.plot_reprojection_errors(errors, rig, pred.ids.tolist()), "reprojection error")))
    if gt is not None:
        sections.append(("joint-errors", "Per-joint error", _img(viz.plot_joint_errors(pred, gt), "per-joint error")))
        sections.append(("closeness", "Error against distance between people",
                         _img(viz.plot_error_vs_distance(pred, gt), "error against distance")))
    cfg = [("pred.config.json", config)] + ([("settings.json", settings)] if settings is not None else [])
    sections.append(("settings", "Settings", "".join(
        f"<details open><summary>{name}</summary><pre>{html.escape(json.dumps(value, indent=2))}</pre></details>"
        for name, value in cfg)))

    title = f"closecap report: {run_dir.resolve().name}"
    summary = (f"{pred.num_people} tracked people, {pred.num_frames} frames "
               f"({int(pred.frames[0]) if pred.num_frames else 0}–{int(pred.frames[-1]) if pred.num_frames else 0}), "
               f"{len(rig)} cameras" + (", ground truth available" if gt is not None else ", no ground truth"))
    nav = " · ".join(f'<a href="#{sid}">{html.escape(t)}</a>' for sid, t, _ in sections)
    page = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>", f'<p class="sub">{html.escape(summary)}</p>', f"<nav>{nav}</nav>",
    ]
    for sid, section_title, section_body in sections:
        page.append(f'<section id="{sid}"><h2>{html.escape(section_title)}</h2>{section_body}</section>')
    page.append("</body></html>")
    out = Path(out_html) if out_html is not None else run_dir / "report.html"
    atomic_write_text(out, "\n".join(page) + "\n")
    return out


def _overlays_html(pred, rig, detections, videos, gt) -> str:
    """A grid of a few frames per camera: reprojections (colour = id) and detections (grey)."""
    from closecap import viz

    picks = _overlay_frames(pred, gt)
    if not picks:
        return '<p class="note">No frames.</p>'
    numbers = [int(pred.frames[t]) for t in picks]
    frames: dict[int, list] = {}
    if videos:
        try:
            frames = viz.video_frames(videos, rig, numbers)
        except InputError as err:
            logger.warning("overlays on blank canvases: %s", err)
    det_index = {f: i for i, f in enumerate(detections.frames)} if detections is not None else {}
    det_cols = {n: detections.camera_names.index(n) for n in rig.names} if detections is not None else {}
    note = ("on the video frames" if frames else
            "on blank canvases of each camera's size (no video in pred.config.json 'videos'), cropped to the people")
    figures = []
    for v, camera in enumerate(rig.cameras):
        shown = pred.joints[picks].reshape(-1, 3)
        box = None if frames else viz.people_box(camera, shown, margin=0.25)
        for t, number in zip(picks, numbers):
            det = None
            if number in det_index and camera.name in det_cols:
                det = detections.keypoints[det_index[number]][det_cols[camera.name]]
            image = frames.get(number, [None] * len(rig))[v]
            canvas = viz.draw_overlay(camera, pred, t, detections=det, image=image)
            if box is not None:
                x0, y0, x1, y1 = box
                canvas = canvas[y0:y1, x0:x1]
            jpg = viz.encode_image(viz.resize_to_width(canvas, _OVERLAY_WIDTH_PX), ".jpg", 85)
            figures.append(f"<figure>{_img(jpg, f'{camera.name} frame {number}', 'image/jpeg', 'overlay')}"
                           f"<figcaption>{html.escape(camera.name)}, frame {number}</figcaption></figure>")
    return (f'<p class="note">Reprojected 3D people (colour = id) and the 2D detections (grey), {note}.</p>'
            f'<div class="grid">{"".join(figures)}</div>')
