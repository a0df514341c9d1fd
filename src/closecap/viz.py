"""Pictures at the edge: overlays, plots and the interactive 3D view (matplotlib Agg, OpenCV, optional plotly).

* **Overlays** — :func:`draw_overlay` draws the reprojected 3D people (one colour per id) and the 2D
  detections (grey) on a video frame or on a blank canvas of the camera's size; :func:`write_overlay_video`
  writes them over all frames as an MP4 (``mp4v``).
* **Plots** (PNG bytes) — :func:`plot_tracks` (pelvis x, y and presence against frame),
  :func:`plot_reprojection_errors` (per camera, from :func:`reprojection_errors_per_camera`),
  :func:`plot_joint_errors` and :func:`plot_error_vs_distance` (against ground truth).
* **3D** — :func:`plot_frame` (static PNG of one frame) and :func:`scene_3d_html` (a plotly figure
  with a frame slider and the cameras as frustums; plotly.js is embedded inline, no network).

Colours: person id ``k`` gets ``PALETTE[k % len(PALETTE)]`` everywhere. Skeleton edges are
``joint_set.bones`` (declared once in :mod:`closecap.skeleton`). The core never imports this module.
"""
from __future__ import annotations

import io
from pathlib import Path
from typing import Sequence

import numpy as np

from closecap.cameras import Camera, Rig
from closecap.errors import InputError
from closecap.poses import Detections2D, Poses3D

PALETTE: tuple[tuple[int, int, int], ...] = (  # RGB, matplotlib's tab10
    (31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
    (140, 86, 75), (227, 119, 194), (188, 189, 34), (23, 190, 207), (127, 127, 127),
)
"""One RGB colour per person id (``id % 10``)."""

_DETECTION_GREY = (150, 150, 150)  # BGR, the 2D detections
_FRUSTUM_DEPTH_M = 0.4  # depth of the camera pyramids in the 3D views, metres


def id_color(pid: int) -> tuple[int, int, int]:
    """RGB colour of person id ``pid`` (0-255).

    Example:
        >>> id_color(0), id_color(10) == id_color(0)
        ((31, 119, 180), True)
    """
    return PALETTE[int(pid) % len(PALETTE)]


def _hex(pid: int) -> str:
    return "#%02x%02x%02x" % id_color(pid)


def _mpl():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def figure_png(fig) -> bytes:
    """PNG bytes of a matplotlib figure (110 dpi, tight); the figure is closed."""
    plt = _mpl()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


# ----------------------------------------------------------------------------- overlays


def draw_skeletons(image: np.ndarray, uv_px: np.ndarray, valid: np.ndarray, colors_bgr: Sequence[tuple[int, int, int]],
                   bones: np.ndarray, *, thickness: int = 3, labels: Sequence[str] | None = None) -> np.ndarray:
    """Draw 2D skeletons on ``image`` in place (and return it).

    Args:
        image: ``(H, W, 3)`` uint8 BGR.
        uv_px: ``(P, J, 2)`` pixels.
        valid: ``(P, J)`` bool, joints to draw.
        colors_bgr: ``P`` BGR colours.
        bones: ``(B, 2)`` joint indices.
        thickness: line width, pixels.
        labels: optional ``P`` texts drawn above each person.

    Example:
        >>> img = np.zeros((20, 20, 3), np.uint8)
        >>> uv = np.array([[[2.0, 2.0], [17.0, 17.0]]])
        >>> int(draw_skeletons(img, uv, np.ones((1, 2), bool), [(0, 0, 255)], np.array([[0, 1]]))[10, 10, 2])
        255
    """
    import cv2

    finite = valid & np.isfinite(uv_px).all(-1)
    pts = np.round(np.where(finite[..., None], uv_px, 0.0) * 4).astype(np.int64)  # 2 bits of sub-pixel
    limit = 4 * 8 * max(image.shape[:2])  # keep far-off points from overflowing cv2's int coordinates
    on = finite & (np.abs(pts) < limit).all(-1)
    for p, color in enumerate(colors_bgr):
        color = tuple(int(c) for c in color)
        for a, b in bones:
            if on[p, a] and on[p, b]:
                cv2.line(image, tuple(pts[p, a]), tuple(pts[p, b]), color, thickness, cv2.LINE_AA, shift=2)
        for j in np.flatnonzero(on[p]):
            cv2.circle(image, tuple(pts[p, j]), 4 * max(thickness - 1, 1), color, -1, cv2.LINE_AA, shift=2)
        if labels is not None and on[p].any():
            top = pts[p, on[p]] // 4
            x, y = int(top[:, 0].min()), int(top[:, 1].min()) - 8
            scale = max(image.shape[0] / 1000.0, 0.5)
            cv2.putText(image, labels[p], (x, max(y, 12)), cv2.FONT_HERSHEY_SIMPLEX, scale, color,
                        max(int(2 * scale), 1), cv2.LINE_AA)
    return image


def draw_overlay(camera: Camera, pred: Poses3D, t: int, *, detections: np.ndarray | None = None,
                 image: np.ndarray | None = None) -> np.ndarray:
    """One camera's overlay of frame index ``t``: reprojected people coloured by id, 2D detections in grey.

    Args:
        camera: the camera.
        pred: 3D people (metres, world frame).
        t: frame index into ``pred.frames``.
        detections: ``(P_v, J, 3)`` this view's 2D detections (u_px, v_px, score) or None.
        image: ``(H, W, 3)`` uint8 BGR video frame (copied), or None for a blank canvas of the
            camera's size.

    Returns:
        ``(H, W, 3)`` uint8 BGR.

    Example:
        >>> from closecap.cameras import ring_rig
        >>> rig = ring_rig(2, width=64, height=48, focal_px=40.0)
        >>> j = np.zeros((1, 1, 17, 3)); j[0, 0, :, 2] = np.linspace(0.2, 1.8, 17)
        >>> img = draw_overlay(rig[0], Poses3D([0], [3], j, np.ones((1, 1, 17))), 0)
        >>> img.shape, bool((img != 255).any())
        ((48, 64, 3), True)
    """
    import cv2

    if image is None:
        canvas = np.full((camera.height, camera.width, 3), 255, np.uint8)
    else:
        canvas = np.ascontiguousarray(image, dtype=np.uint8).copy()
        if canvas.ndim == 2:
            canvas = cv2.cvtColor(canvas, cv2.COLOR_GRAY2BGR)
    thick = max(2, int(round(canvas.shape[0] / 360)))
    bones = pred.joint_set.bone_indices
    if detections is not None and len(detections):
        det = np.asarray(detections, float)
        draw_skeletons(canvas, det[..., :2], det[..., 2] > 0, [_DETECTION_GREY] * len(det), bones,
                       thickness=max(thick - 1, 1))
    ids, joints, _ = pred.frame_people(t)
    if len(ids):
        uv, depth = camera.project(joints)  # (P, J, 2), (P, J)
        valid = np.isfinite(joints).all(-1) & (depth > 1e-6)
        colors = [id_color(pid)[::-1] for pid in ids]
        draw_skeletons(canvas, uv, valid, colors, bones, thickness=thick, labels=[f"id {pid}" for pid in ids])
    label = f"{camera.name}  frame {int(pred.frames[t])}"
    scale = max(canvas.shape[0] / 900.0, 0.4)
    weight = max(int(2 * scale), 1)
    (w, h), base = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, scale, weight)
    cv2.rectangle(canvas, (0, 0), (w + 16, h + base + 12), (40, 40, 40), -1)
    cv2.putText(canvas, label, (8, h + 6), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), weight, cv2.LINE_AA)
    return canvas


def people_box(camera: Camera, joints_world: np.ndarray, *, margin: float = 0.15,
               aspect: float | None = None) -> tuple[int, int, int, int] | None:
    """Pixel box ``(x0, y0, x1, y1)`` around the reprojections of ``joints_world (..., 3)`` metres in the image.

    The box grows by ``margin`` of its size on each side, then to the ``aspect`` (width / height;
    default the image's), and is clipped to the image. None when no point lands in the image.

    Example:
        >>> from closecap.cameras import ring_rig
        >>> cam = ring_rig(1)[0]
        >>> x0, y0, x1, y1 = people_box(cam, np.array([[0.0, 0, 1], [0, 0, 1.5]]))
        >>> 0 <= x0 < x1 <= cam.width and 0 <= y0 < y1 <= cam.height
        True
    """
    uv, depth = camera.project(np.asarray(joints_world, float).reshape(-1, 3))
    ok = np.isfinite(uv).all(-1) & (depth > 1e-6)
    ok &= (uv[:, 0] >= 0) & (uv[:, 0] < camera.width) & (uv[:, 1] >= 0) & (uv[:, 1] < camera.height)
    if not ok.any():
        return None
    lo, hi = uv[ok].min(0), uv[ok].max(0)
    size = np.maximum(hi - lo, 20.0) * (1 + 2 * margin)
    aspect = camera.width / camera.height if aspect is None else aspect
    size = np.maximum(size, [size[1] * aspect, size[0] / aspect])
    size = np.minimum(size, [camera.width, camera.height])
    mid = (lo + hi) / 2
    lo = np.clip(mid - size / 2, 0, [camera.width - size[0], camera.height - size[1]])
    x0, y0 = np.floor(lo).astype(int)
    x1, y1 = np.minimum(np.ceil(lo + size).astype(int), [camera.width, camera.height])
    return int(x0), int(y0), int(x1), int(y1)


def resize_to_width(image: np.ndarray, width: int) -> np.ndarray:
    """Downscale ``(H, W, 3)`` to ``width`` pixels wide (aspect kept; never upscales)."""
    import cv2

    if image.shape[1] <= width:
        return image
    height = int(round(image.shape[0] * width / image.shape[1]))
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)


def encode_image(image: np.ndarray, fmt: str = ".jpg", quality: int = 85) -> bytes:
    """JPEG or PNG bytes of a ``(H, W, 3)`` uint8 BGR image."""
    import cv2

    params = [cv2.IMWRITE_JPEG_QUALITY, int(quality)] if fmt == ".jpg" else []
    ok, buf = cv2.imencode(fmt, image, params)
    if not ok:
        raise InputError(None, "image", f"OpenCV cannot encode {fmt}")
    return buf.tobytes()


def video_frames(videos_dir: str | Path | None, rig: Rig, frame_numbers: Sequence[int]) -> dict[int, list]:
    """Video frames of the rig's cameras at some frame numbers, if a media folder is given and readable.

    Uses :mod:`closecap.io.media` (one video or image folder per camera; frame ``i`` of every camera is
    simultaneous; frame number = 0-based frame index). Returns ``{frame_number: [V images or None]}``;
    empty when there is no folder or the media module is not available. Cameras without media get None.
    """
    if videos_dir is None:
        return {}
    try:
        from closecap.io import media
    except ImportError:
        return {}
    sources = media.find_media(videos_dir, rig.names, allow_missing=True)
    col = {s.camera: i for i, s in enumerate(sources)}
    out: dict[int, list] = {}
    for number in sorted({int(n) for n in frame_numbers}):
        for _, images in media.iter_frames(sources, start=number, stop=number + 1):
            out[number] = [images[col[name]] if name in col else None for name in rig.names]
    return out


def write_overlay_video(pred: Poses3D, rig: Rig, path: str | Path, *, view: int | str = 0,
                        detections: Detections2D | None = None, videos_dir: str | Path | None = None,
                        fps: float = 30.0, max_width: int = 960) -> Path:
    """MP4 (``mp4v``) of one camera's overlays over all frames of ``pred``.

    Args:
        pred: 3D people.
        rig: the calibration.
        path: output ``.mp4``; written under a temporary name, then renamed.
        view: camera index or name.
        detections: 2D detections drawn in grey (frames matched by number), or None.
        videos_dir: media folder (see :func:`video_frames`); blank canvases without it.
        fps: frames per second.
        max_width: frames are downscaled to at most this width, pixels.

    Returns:
        ``path``.
    """
    import os
    import tempfile

    import cv2

    camera = rig[view]
    det_by_frame = {}
    if detections is not None:
        det_view = detections.camera_names.index(camera.name) if camera.name in detections.camera_names else None
        if det_view is not None:
            det_by_frame = {f: views[det_view] for f, views in zip(detections.frames, detections.keypoints)}
    sources = None
    if videos_dir is not None:
        try:
            from closecap.io import media
            sources = [s for s in media.find_media(videos_dir, [camera.name], allow_missing=True)] or None
        except ImportError:
            sources = None
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix or ".mp4", dir=path.parent)
    os.close(fd)
    writer = None
    try:
        frames_iter = None
        if sources:
            from closecap.io import media
            frames_iter = media.iter_frames(sources, start=int(pred.frames[0]), stop=int(pred.frames[-1]) + 1)
        pending = {}
        for t, number in enumerate(pred.frames.tolist()):
            image = None
            if frames_iter is not None:
                while number not in pending:
                    nxt = next(frames_iter, None)
                    if nxt is None:
                        break
                    pending = {nxt[0]: nxt[1][0]}
                image = pending.get(number)
            canvas = resize_to_width(draw_overlay(camera, pred, t, detections=det_by_frame.get(number), image=image),
                                     max_width)
            if writer is None:
                h, w = canvas.shape[:2]
                writer = cv2.VideoWriter(tmp, cv2.VideoWriter_fourcc(*"mp4v"), float(fps), (w, h))
                if not writer.isOpened():
                    raise InputError(path, None, "OpenCV cannot open an mp4v video writer")
            writer.write(canvas)
        if writer is not None:
            writer.release()
            writer = None
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600
        os.replace(tmp, path)
    finally:
        if writer is not None:
            writer.release()
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


# ----------------------------------------------------------------------------- numbers behind the plots


def reprojection_errors_per_camera(pred: Poses3D, rig: Rig, detections: Detections2D) -> np.ndarray:
    """Reprojection error of each 3D person in each view against its nearest 2D detection.

    For a person and a view, the error is the mean pixel distance over the joints present in both the
    reprojection and a detection (score > 0), to the detection for which that mean is smallest; only
    detections sharing at least 3 such joints count.

    Args:
        pred: 3D people (metres, world frame).
        rig: the calibration; ``detections.camera_names`` must be in it.
        detections: 2D detections (raw-image pixels); frames are matched by number.

    Returns:
        ``(T, V, P)`` pixels, in ``rig`` order; NaN where the person is absent, out of view, or no
        detection matches.

    Example:
        >>> from closecap.cameras import ring_rig
        >>> rig = ring_rig(2)
        >>> j = np.zeros((1, 1, 17, 3)); j[0, 0, :, 2] = np.linspace(0.2, 1.8, 17)
        >>> uv, _ = rig.project(j[0, 0])                      # (V, J, 2)
        >>> kp = tuple(np.concatenate([uv[v] + [3.0, 4.0], np.ones((17, 1))], -1)[None] for v in range(2))
        >>> det = Detections2D(rig.names, (0,), (kp,))
        >>> reprojection_errors_per_camera(Poses3D([0], [1], j, np.ones((1, 1, 17))), rig, det).round(6).tolist()
        [[[5.0], [5.0]]]
    """
    V, P, J = len(rig), pred.num_people, pred.joint_set.num_joints
    out = np.full((pred.num_frames, V, P), np.nan)
    cols = [detections.camera_names.index(n) if n in detections.camera_names else None for n in rig.names]
    det_index = {f: i for i, f in enumerate(detections.frames)}
    for t, number in enumerate(pred.frames.tolist()):  # frames only: vectorized over views, people, joints
        if number not in det_index or not pred.present[t].any():
            continue
        views = detections.keypoints[det_index[number]]
        per_view = [views[c] if c is not None else np.zeros((0, J, 3)) for c in cols]
        Q = max(len(a) for a in per_view)
        if Q == 0:
            continue
        det = np.zeros((V, Q, J, 3))
        for v, arr in enumerate(per_view):
            det[v, :len(arr)] = arr
        uv, depth = rig.project(pred.joints[t])  # (V, P, J, 2), (V, P, J)
        ok = np.isfinite(uv).all(-1) & (depth > 1e-6)  # (V, P, J)
        dist = np.linalg.norm(uv[:, :, None] - det[:, None, :, :, :2], axis=-1)  # (V, P, Q, J)
        both = ok[:, :, None] & (det[:, None, :, :, 2] > 0)  # (V, P, Q, J)
        count = both.sum(-1)
        mean = np.where(both, dist, 0.0).sum(-1) / np.maximum(count, 1)  # (V, P, Q)
        mean = np.where(count >= 3, mean, np.inf)
        best = mean.min(-1)  # (V, P)
        out[t] = np.where(np.isfinite(best), best, np.nan)
    return out


def match_to_gt(pred: Poses3D, gt: Poses3D, threshold_m: float = 0.5) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per GT frame, match predicted to GT people (Hungarian on MPJPE, below ``threshold_m``).

    Returns:
        ``gt_t (M,)`` GT frame indices, ``gt_p (M,)`` GT person indices, ``err_m (M, J)`` per-joint
        errors of the matched predictions (metres, NaN where either joint is missing).

    Example:
        >>> gt = Poses3D([0], [1], np.zeros((1, 1, 17, 3)), np.ones((1, 1, 17)))
        >>> pred = Poses3D([0], [5], np.full((1, 1, 17, 3), 0.01), np.ones((1, 1, 17)))
        >>> t, p, err = match_to_gt(pred, gt)
        >>> t.tolist(), p.tolist(), round(float(err.mean()), 4)
        ([0], [0], 0.0173)
    """
    from scipy.optimize import linear_sum_assignment

    from closecap.metrics import pairwise_mpjpe

    J = gt.joint_set.num_joints
    lookup = {f: i for i, f in enumerate(pred.frames.tolist())}
    aligned = np.full((gt.num_frames, pred.num_people, J, 3), np.nan)
    for t, number in enumerate(gt.frames.tolist()):
        if number in lookup:
            aligned[t] = pred.joints[lookup[number]]
    cost = pairwise_mpjpe(gt.joints, aligned)  # (T, Pg, Pp)
    rows_t, rows_p, errs = [], [], []
    for t in range(gt.num_frames):
        c = cost[t]
        if not np.isfinite(c).any():
            continue
        r, k = linear_sum_assignment(np.where(np.isfinite(c), c, 1e6))
        keep = c[r, k] < threshold_m
        r, k = r[keep], k[keep]
        rows_t.append(np.full(len(r), t))
        rows_p.append(r)
        errs.append(np.linalg.norm(gt.joints[t, r] - aligned[t, k], axis=-1))
    if not rows_t:
        return np.zeros(0, int), np.zeros(0, int), np.zeros((0, J))
    return np.concatenate(rows_t), np.concatenate(rows_p), np.concatenate(errs)


# ----------------------------------------------------------------------------- plots (PNG bytes)


def plot_tracks(pred: Poses3D) -> bytes:
    """PNG: each id's pelvis x and y (metres) against frame, and a presence raster."""
    plt = _mpl()
    pelvis = np.nanmean(pred.joints[:, :, pred.joint_set.indices(["left_hip", "right_hip"])], axis=2) \
        if pred.num_people else np.zeros((pred.num_frames, 0, 3))  # (T, P, 3)
    fig, axes = plt.subplots(3, 1, figsize=(9, 6.2), sharex=True, gridspec_kw={"height_ratios": [3, 3, 1.4]})
    for p, pid in enumerate(pred.ids.tolist()):
        for k, ax in enumerate(axes[:2]):
            ax.plot(pred.frames, pelvis[:, p, k], color=_hex(pid), lw=1.6, label=f"id {pid}")
        present = pred.present[:, p]
        axes[2].scatter(pred.frames[present], np.full(present.sum(), p), color=_hex(pid), marker="|", s=60)
    axes[0].set_ylabel("pelvis x (m)")
    axes[1].set_ylabel("pelvis y (m)")
    axes[2].set_yticks(range(pred.num_people), [f"id {pid}" for pid in pred.ids.tolist()])
    axes[2].set_ylim(-0.7, max(pred.num_people, 1) - 0.3)
    axes[2].set_ylabel("present")
    axes[2].set_xlabel("frame")
    if pred.num_people:
        axes[0].legend(loc="upper right", fontsize=8, ncol=min(pred.num_people, 6))
    axes[0].set_title("Tracks over time (pelvis = mean of the hips)")
    for ax in axes:
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return figure_png(fig)


def plot_reprojection_errors(errors_px: np.ndarray, rig: Rig, ids: Sequence[int], *, near_px: float = 30.0) -> bytes:
    """PNG: distribution of the reprojection error per camera (box plot) and its median per id.

    A large error usually means the person is not detected in that view (occluded): the nearest
    detection is someone else. The tick labels give the fraction of person-frames within ``near_px``.

    Args:
        errors_px: ``(T, V, P)`` pixels from :func:`reprojection_errors_per_camera`.
        rig: the calibration (camera names, ``V``).
        ids: ``P`` person ids.
        near_px: threshold of the fraction in the tick labels, pixels.
    """
    plt = _mpl()
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 3.8), gridspec_kw={"width_ratios": [3, 2]})
    data = [e[np.isfinite(e)] for e in np.moveaxis(errors_px, 1, 0).reshape(len(rig), -1)]
    ax.boxplot([d if len(d) else [np.nan] for d in data], showfliers=False)
    ax.set_xticks(range(1, len(rig) + 1), [f"{n}\n{np.mean(d <= near_px) if len(d) else 0:.0%} <= {near_px:g} px"
                                           for n, d in zip(rig.names, data)], fontsize=8)
    ax.set_ylabel("reprojection error (px)")
    ax.set_title("Reprojection error per camera (3D person vs nearest 2D detection)")
    ax.grid(alpha=0.3, axis="y")
    width = 0.8 / max(len(ids), 1)
    for p, pid in enumerate(ids):
        with np.errstate(all="ignore"):
            med = [np.nanmedian(errors_px[:, v, p]) if np.isfinite(errors_px[:, v, p]).any() else np.nan
                   for v in range(len(rig))]
        ax2.bar(np.arange(len(rig)) + (p - (len(ids) - 1) / 2) * width, med, width, color=_hex(pid), label=f"id {pid}")
    ax2.set_xticks(range(len(rig)), rig.names, fontsize=8)
    ax2.set_ylabel("median (px)")
    ax2.set_title("Median per camera and id")
    if len(ids):
        ax2.legend(fontsize=7)
    ax2.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    return figure_png(fig)


def plot_joint_errors(pred: Poses3D, gt: Poses3D) -> bytes:
    """PNG: mean and median error per joint (millimetres) of the predictions matched to ground truth."""
    plt = _mpl()
    _, _, err = match_to_gt(pred, gt)
    err_mm = err * 1000.0
    names = gt.joint_set.joint_names
    with np.errstate(all="ignore"):
        mean = np.nanmean(err_mm, axis=0) if len(err_mm) else np.full(len(names), np.nan)
        median = np.nanmedian(err_mm, axis=0) if len(err_mm) else np.full(len(names), np.nan)
    fig, ax = plt.subplots(figsize=(10, 3.8))
    x = np.arange(len(names))
    ax.bar(x - 0.2, mean, 0.4, label="mean", color="tab:blue")
    ax.bar(x + 0.2, median, 0.4, label="median", color="tab:orange")
    ax.set_xticks(x, names, rotation=45, ha="right", fontsize=8)
    ax.set_ylabel("error (mm)")
    ax.set_title(f"Per-joint error of matched people ({len(err_mm)} person-frames)")
    ax.legend()
    ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    return figure_png(fig)


def plot_error_vs_distance(pred: Poses3D, gt: Poses3D) -> bytes:
    """PNG: per person-frame MPJPE (mm) against the distance to the nearest other GT person (m)."""
    from closecap.metrics import nearest_other_distance

    plt = _mpl()
    t, p, err = match_to_gt(pred, gt)
    with np.errstate(all="ignore"):
        mpjpe_mm = np.nanmean(err, axis=1) * 1000.0 if len(err) else np.zeros(0)
    near_m = nearest_other_distance(gt.joints)[t, p] if len(t) else np.zeros(0)
    ok = np.isfinite(near_m) & np.isfinite(mpjpe_mm)
    fig, ax = plt.subplots(figsize=(8, 3.8))
    ax.scatter(near_m[ok], mpjpe_mm[ok], s=8, alpha=0.5, color="tab:blue", label="person-frame")
    if ok.sum() >= 4:
        edges = np.quantile(near_m[ok], np.linspace(0, 1, min(8, ok.sum() // 2) + 1))
        edges = np.unique(edges)
        which = np.clip(np.searchsorted(edges, near_m[ok], side="right") - 1, 0, len(edges) - 2)
        centers = [np.median(near_m[ok][which == b]) for b in range(len(edges) - 1) if (which == b).any()]
        medians = [np.median(mpjpe_mm[ok][which == b]) for b in range(len(edges) - 1) if (which == b).any()]
        ax.plot(centers, medians, "-o", color="tab:red", label="binned median")
    ax.set_xlabel("distance to the nearest other person (m, closest joints, ground truth)")
    ax.set_ylabel("MPJPE (mm)")
    ax.set_title("Error against closeness")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return figure_png(fig)


# ----------------------------------------------------------------------------- 3D


def camera_frustums(rig: Rig, depth_m: float = _FRUSTUM_DEPTH_M) -> np.ndarray:
    """``(V, 5, 3)`` metres, world frame: each camera's centre and its image corners at ``depth_m``.

    Example:
        >>> from closecap.cameras import ring_rig
        >>> rig = ring_rig(3)
        >>> f = camera_frustums(rig, 1.0)
        >>> f.shape, np.allclose(f[:, 0], rig.centers_world)
        ((3, 5, 3), True)
    """
    sizes = rig.image_sizes.astype(float)  # (V, 2)
    corners = np.stack([np.zeros_like(sizes), np.stack([sizes[:, 0], np.zeros(len(rig))], -1), sizes,
                        np.stack([np.zeros(len(rig)), sizes[:, 1]], -1)], axis=1) - 0.5  # (V, 4, 2)
    homo = np.concatenate([corners, np.ones((len(rig), 4, 1))], -1)  # (V, 4, 3)
    rays_cam = np.einsum("vij,vkj->vki", np.linalg.inv(rig.K), homo)  # (V, 4, 3), z = 1
    points_cam = rays_cam * depth_m
    points_world = np.einsum("vji,vkj->vki", rig.R, points_cam - rig.t[:, None])  # R^T (x - t)
    return np.concatenate([rig.centers_world[:, None], points_world], axis=1)


def _frustum_lines(frustum: np.ndarray) -> np.ndarray:
    """``(5, 3)`` centre + corners -> ``(N, 3)`` polyline with NaN breaks (edges of the pyramid)."""
    c, a, b, d, e = frustum
    nan = np.full(3, np.nan)
    return np.stack([c, a, nan, c, b, nan, c, d, nan, c, e, nan, a, b, d, e, a])


def _bone_lines(joints: np.ndarray, bones: np.ndarray) -> np.ndarray:
    """``(J, 3)`` -> ``(3B, 3)`` segments separated by NaN rows (missing joints give NaN segments)."""
    seg = joints[bones]  # (B, 2, 3)
    return np.concatenate([seg, np.full((len(bones), 1, 3), np.nan)], axis=1).reshape(-1, 3)


def _scene_limits(points: np.ndarray, margin_m: float = 0.3) -> tuple[np.ndarray, np.ndarray]:
    """Axis-aligned box ``(lo (3,), hi (3,))`` metres around the finite ``points (N, 3)``, plus a margin."""
    pts = points[np.isfinite(points).all(-1)]
    if len(pts) == 0:
        return np.full(3, -1.0), np.full(3, 1.0)
    return pts.min(0) - margin_m, pts.max(0) + margin_m


def scene_3d_html(pred: Poses3D, rig: Rig, *, gt: Poses3D | None = None, max_frames: int = 150,
                  div_id: str = "closecap-3d") -> str | None:
    """An interactive 3D view as an HTML fragment (plotly, with plotly.js inline), or None without plotly.

    The figure shows the cameras as frustums (``world/cameras/<name>``, camera-from-world, pyramids of
    ``0.4`` m), the predicted people coloured by id and the ground truth in grey; a slider and a play
    button step through at most ``max_frames`` frames (evenly subsampled).

    Args:
        pred: 3D people (metres, world frame).
        rig: the calibration.
        gt: optional ground truth, drawn in grey (frames matched by number).
        max_frames: most frames in the slider.
        div_id: the HTML id of the figure's div.
    """
    try:
        import plotly.graph_objects as go
        import plotly.io as pio
    except ImportError:
        return None
    bones = pred.joint_set.bone_indices
    T = pred.num_frames
    show = np.unique(np.linspace(0, T - 1, min(T, max_frames)).round().astype(int)) if T else np.zeros(0, int)
    gt_lookup = {f: i for i, f in enumerate(gt.frames.tolist())} if gt is not None else {}
    frustums = camera_frustums(rig)

    def people_traces(t: int) -> list:
        traces = []
        if gt is not None:
            tg = gt_lookup.get(int(pred.frames[t]))
            lines = [_bone_lines(j, bones) for j in (gt.joints[tg] if tg is not None else np.zeros((0, 17, 3)))]
            xyz = np.concatenate(lines) if lines else np.full((1, 3), np.nan)
            traces.append(go.Scatter3d(x=xyz[:, 0], y=xyz[:, 1], z=xyz[:, 2], mode="lines", name="ground truth",
                                       line=dict(color="rgba(120,120,120,0.6)", width=9), hoverinfo="skip"))
        for p, pid in enumerate(pred.ids.tolist()):
            xyz = _bone_lines(pred.joints[t, p], bones)
            if not np.isfinite(xyz).any():
                xyz = np.full((1, 3), np.nan)
            traces.append(go.Scatter3d(x=xyz[:, 0], y=xyz[:, 1], z=xyz[:, 2], mode="lines+markers", name=f"id {pid}",
                                       line=dict(color=_hex(pid), width=5), marker=dict(size=2.5, color=_hex(pid))))
        return traces

    camera_traces = []
    for name, fr in zip(rig.names, frustums):
        xyz = _frustum_lines(fr)
        camera_traces.append(go.Scatter3d(x=xyz[:, 0], y=xyz[:, 1], z=xyz[:, 2], mode="lines",
                                          name=f"world/cameras/{name}",
                                          line=dict(color="black", width=2), showlegend=False, hoverinfo="name"))
    centers = rig.centers_world
    camera_traces.append(go.Scatter3d(x=centers[:, 0], y=centers[:, 1], z=centers[:, 2], mode="text",
                                      text=list(rig.names),
                                      textposition="top center", showlegend=False, hoverinfo="skip"))
    first = int(show[0]) if len(show) else 0
    n_cam = len(camera_traces)
    fig = go.Figure(data=camera_traces + (people_traces(first) if T else []))
    frames = [go.Frame(data=people_traces(int(t)), name=str(int(pred.frames[t])),
                       traces=list(range(n_cam, n_cam + len(pred.ids) + (gt is not None)))) for t in show]
    fig.frames = frames
    every = np.concatenate([frustums.reshape(-1, 3), pred.joints.reshape(-1, 3)])
    lo, hi = _scene_limits(every)
    steps = [dict(method="animate", label=str(int(pred.frames[t])),
                  args=[[str(int(pred.frames[t]))], dict(mode="immediate", frame=dict(duration=0, redraw=True),
                                                          transition=dict(duration=0))]) for t in show]
    fig.update_layout(
        height=620, margin=dict(l=0, r=0, t=30, b=0), legend=dict(x=0.0, y=1.0),
        scene=dict(xaxis=dict(range=[lo[0], hi[0]], title="x (m)"), yaxis=dict(range=[lo[1], hi[1]], title="y (m)"),
                   zaxis=dict(range=[lo[2], hi[2]], title="z (m)"), aspectmode="data",
                   camera=dict(eye=dict(x=0.8, y=-1.1, z=0.7))),
        sliders=[dict(active=0, steps=steps, currentvalue=dict(prefix="frame "), pad=dict(t=10), x=0.14, len=0.86)],
        updatemenus=[dict(type="buttons", showactive=False, x=0.0, y=0.0, xanchor="left", yanchor="top",
                          direction="left",
                          buttons=[dict(label="play", method="animate",
                                        args=[None, dict(frame=dict(duration=60, redraw=True), fromcurrent=True)]),
                                   dict(label="pause", method="animate",
                                        args=[[None], dict(mode="immediate", frame=dict(duration=0, redraw=False))])])],
    )
    return pio.to_html(fig, include_plotlyjs=True, full_html=False, div_id=div_id, auto_play=False)


def plot_frame(pred: Poses3D, rig: Rig, path: str | Path, *, frame_index: int | None = None,
               gt: Poses3D | None = None, view: int = 0) -> int:
    """Save a PNG with a 3D view (cameras, predicted people coloured by id, ground truth in grey)
    and the reprojection of the prediction into camera ``view``.

    Args:
        pred: 3D people (metres, world frame).
        rig: the calibration.
        path: output PNG (written atomically).
        frame_index: index into ``pred.frames``; default the frame where the people are closest to
            each other.
        gt: optional ground truth (grey).
        view: camera index of the 2D panel.

    Returns:
        The frame index drawn.
    """
    from closecap.config import atomic_write_bytes

    frame_index, png = plot_frame_png(pred, rig, frame_index=frame_index, gt=gt, view=view)
    atomic_write_bytes(path, png)
    return frame_index


def plot_frame_png(pred: Poses3D, rig: Rig, *, frame_index: int | None = None, gt: Poses3D | None = None,
                   view: int = 0) -> tuple[int, bytes]:
    """:func:`plot_frame` without the file: ``(frame index drawn, PNG bytes)``."""
    plt = _mpl()
    if frame_index is None:
        frame_index = _closest_frame(gt if gt is not None else pred)
        if gt is not None:  # the GT frame index -> the prediction's frame index of the same number
            number = int(gt.frames[frame_index])
            hits = np.flatnonzero(pred.frames == number)
            frame_index = int(hits[0]) if len(hits) else 0
    bones = pred.joint_set.bone_indices
    fig = plt.figure(figsize=(13, 5.5))
    grid = fig.add_gridspec(1, 2, width_ratios=(1.25, 1), wspace=0.15)
    ax3d = fig.add_subplot(grid[0], projection="3d")
    ax2d = fig.add_subplot(grid[1])
    frustums = camera_frustums(rig)
    for name, fr in zip(rig.names, frustums):
        xyz = _frustum_lines(fr)
        ax3d.plot(xyz[:, 0], xyz[:, 1], xyz[:, 2], c="k", lw=0.8)
        ax3d.text(*fr[0], f" {name}", fontsize=7, clip_on=True)
    gt_joints = np.zeros((0,) + pred.joints.shape[2:])
    if gt is not None:
        t_gt = int(np.searchsorted(gt.frames, pred.frames[frame_index]))
        if t_gt < gt.num_frames and gt.frames[t_gt] == pred.frames[frame_index]:
            gt_joints = gt.joints[t_gt]
            for joints in gt_joints:
                xyz = _bone_lines(joints, bones)
                ax3d.plot(xyz[:, 0], xyz[:, 1], xyz[:, 2], c="0.6", lw=3, alpha=0.6)
    cam = rig[view]
    for p, pid in enumerate(pred.ids.tolist()):
        joints = pred.joints[frame_index, p]
        if not np.isfinite(joints).any():
            continue
        color = _hex(pid)
        xyz = _bone_lines(joints, bones)
        ax3d.plot(xyz[:, 0], xyz[:, 1], xyz[:, 2], c=color, lw=1.8)
        uv, _ = cam.project(joints)
        uv_lines = _bone_lines(np.concatenate([uv, np.zeros((len(uv), 1))], -1), bones)
        ax2d.plot(uv_lines[:, 0], uv_lines[:, 1], c=color, lw=2, label=f"id {pid}")
        top = joints[np.isfinite(joints).all(-1)]
        if len(top):
            ax3d.text(*top.mean(0)[:2], top[:, 2].max() + 0.1, f"id {pid}", color=color, fontsize=8)
    # one cube around the cameras and the people: labels and frustums stay inside the axes
    every = np.concatenate([frustums.reshape(-1, 3), pred.joints[frame_index].reshape(-1, 3), gt_joints.reshape(-1, 3)])
    lo, hi = _scene_limits(every)
    ax3d.set_xlim(lo[0], hi[0])
    ax3d.set_ylim(lo[1], hi[1])
    ax3d.set_zlim(lo[2], hi[2])
    ax3d.set_box_aspect(tuple(hi - lo))  # one scale on all axes
    ax2d.set_xlim(-0.5, cam.width - 0.5)
    ax2d.set_ylim(cam.height - 0.5, -0.5)
    ax2d.set_aspect("equal")
    if pred.num_people:
        ax2d.legend(fontsize=8, loc="upper right")
    ax2d.set_title(f"{cam.name}: reprojected prediction, frame {int(pred.frames[frame_index])}")
    ax3d.set_title("3D: prediction (colour = id), ground truth (grey)" if gt is not None else "3D prediction")
    ax3d.set_xlabel("x (m)")
    ax3d.set_ylabel("y (m)")
    ax3d.set_zlabel("z (m)")
    return frame_index, figure_png(fig)


def _closest_frame(poses: Poses3D) -> int:
    """Index of the frame where two people come closest (any joints); 0 with fewer than two people."""
    from closecap.metrics import nearest_other_distance

    if poses.num_people < 2 or poses.num_frames == 0:
        return 0
    d = nearest_other_distance(poses.joints).min(-1)  # (T,)
    return int(np.argmin(d)) if np.isfinite(d).any() else 0
