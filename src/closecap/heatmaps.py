"""2D keypoint heatmaps: render Gaussians, find peaks, map image <-> heatmap pixels.

Pixel convention (one, everywhere): pixel ``(0, 0)`` is the *centre* of the top-left pixel, in the
image and in the heatmap alike. Heatmap pixel ``i`` covers image pixels ``[i * stride, (i + 1) * stride)``,
so its centre sits at image coordinate ``i * stride + (stride - 1) / 2``:

    u_hm = (u_px - (stride - 1) / 2) / stride        u_px = u_hm * stride + (stride - 1) / 2

A heatmap of an image of ``W x H`` pixels has ``ceil(W / stride) x ceil(H / stride)`` pixels.

Rendering draws, for every keypoint with score > 0, an isotropic Gaussian of amplitude = score
(``score * exp(-d^2 / (2 sigma_hm^2))``, ``sigma_hm = sigma_px / stride``) inside a window of
``+-ceil(window_sigmas * sigma_hm)`` heatmap pixels; people overlap by maximum, not sum.
:func:`find_peaks` inverts it: 3x3 local maxima above a threshold, refined to sub-pixel by a
quadratic fit to the log heatmap (exact for a Gaussian), which also recovers the amplitude.

Example:
    >>> kp = np.array([[[40.0, 30.0, 0.9]]])          # one person, one joint: (P, J, 3)
    >>> hm = render_heatmaps(kp, image_size=(128, 96), stride=4, sigma_px=8.0)
    >>> hm.shape
    (1, 24, 32)
    >>> peaks = find_peaks(hm, threshold=0.1)
    >>> np.round(heatmap_to_image(peaks[0][:, :2], 4), 3).tolist(), round(float(peaks[0][0, 2]), 3)
    ([[40.0, 30.0]], 0.9)
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from closecap.errors import InputError


def heatmap_size(image_size: Sequence[int], stride: int) -> tuple[int, int]:
    """``(W_hm, H_hm)`` heatmap pixels of an image of ``image_size = (W, H)`` pixels.

    Example:
        >>> heatmap_size((1032, 776), 4)
        (258, 194)
    """
    width, height = int(image_size[0]), int(image_size[1])
    stride = int(stride)
    if width <= 0 or height <= 0 or stride <= 0:
        raise InputError(None, "image_size", f"image size and stride must be positive, got {width}x{height}, stride {stride}")
    return -(-width // stride), -(-height // stride)


def image_to_heatmap(uv_px: np.ndarray, stride: int) -> np.ndarray:
    """Image pixels -> heatmap pixels: ``(..., 2)`` -> ``(..., 2)`` (pixel centres at integers in both).

    Example:
        >>> image_to_heatmap(np.array([1.5, 5.5]), 4).tolist()
        [0.0, 1.0]
    """
    return (np.asarray(uv_px, dtype=float) - (stride - 1) / 2.0) / stride


def heatmap_to_image(uv_hm: np.ndarray, stride: int) -> np.ndarray:
    """Heatmap pixels -> image pixels: ``(..., 2)`` -> ``(..., 2)``; inverse of :func:`image_to_heatmap`.

    Example:
        >>> heatmap_to_image(np.array([0.0, 1.0]), 4).tolist()
        [1.5, 5.5]
    """
    return np.asarray(uv_hm, dtype=float) * stride + (stride - 1) / 2.0


def render_heatmaps(keypoints: np.ndarray, image_size: Sequence[int], stride: int = 4, sigma_px: float = 8.0,
                    window_sigmas: float = 3.0, dtype=np.float32) -> np.ndarray:
    """Render the keypoints of one view as per-joint Gaussian heatmaps.

    Args:
        keypoints: ``(P, J, 3)`` ``u_px, v_px, score`` in image pixels of one view; score 0 = missing.
        image_size: ``(W, H)`` image pixels.
        stride: image pixels per heatmap pixel.
        sigma_px: Gaussian sigma in *image* pixels (``sigma_px / stride`` heatmap pixels).
        window_sigmas: each Gaussian is drawn within ``+-ceil(window_sigmas * sigma_hm)`` heatmap pixels.
        dtype: output dtype.

    Returns:
        ``(J, H_hm, W_hm)`` heatmaps: maximum over people of ``score * exp(-d^2 / (2 sigma_hm^2))``.

    Example:
        >>> hm = render_heatmaps(np.array([[[5.5, 5.5, 0.5]]]), (16, 16), stride=4, sigma_px=4.0)
        >>> hm.shape, float(hm[0, 1, 1])
        ((1, 4, 4), 0.5)
    """
    keypoints = np.asarray(keypoints, dtype=float)
    if keypoints.ndim != 3 or keypoints.shape[-1] != 3:
        raise InputError(None, "keypoints", f"expected (P, J, 3), got {keypoints.shape}")
    return render_heatmaps_batch(keypoints[None], image_size, stride, sigma_px, window_sigmas, dtype)[0]


def render_heatmaps_batch(keypoints: np.ndarray | Sequence[np.ndarray], image_size: Sequence[int], stride: int = 4,
                          sigma_px: float = 8.0, window_sigmas: float = 3.0, dtype=np.float32) -> np.ndarray:
    """Render the heatmaps of several views (all of the same image size) at once.

    Args:
        keypoints: ``(V, P, J, 3)`` array, or a sequence of ``V`` arrays ``(P_v, J, 3)`` (``P_v`` may differ,
            e.g. ``Detections2D.keypoints[t]``); ``u_px, v_px, score``.
        image_size, stride, sigma_px, window_sigmas, dtype: as in :func:`render_heatmaps`.

    Returns:
        ``(V, J, H_hm, W_hm)`` heatmaps.

    Example:
        >>> views = [np.array([[[9.5, 9.5, 1.0], [0, 0, 0]]]), np.zeros((0, 2, 3))]
        >>> hm = render_heatmaps_batch(views, (64, 48))
        >>> hm.shape, float(hm[0, 0].max()), float(hm[1].max())
        ((2, 2, 12, 16), 1.0, 0.0)
    """
    if isinstance(keypoints, np.ndarray) and keypoints.ndim == 4:
        views = [keypoints[v] for v in range(keypoints.shape[0])]
    else:
        views = [np.asarray(k, dtype=float) for k in keypoints]
    if not views:
        raise InputError(None, "keypoints", "no views")
    num_joints = views[0].shape[1] if views[0].ndim == 3 else 0
    for v, arr in enumerate(views):
        if arr.ndim != 3 or arr.shape[1:] != (num_joints, 3):
            raise InputError(None, f"keypoints[{v}]", f"expected (P, {num_joints}, 3), got {arr.shape}")
    if sigma_px <= 0:
        raise InputError(None, "sigma_px", f"must be positive, got {sigma_px}")
    width_hm, height_hm = heatmap_size(image_size, stride)
    V = len(views)
    heatmaps = np.zeros((V, num_joints, height_hm, width_hm), dtype=dtype)
    view_idx = np.concatenate([np.full(a.shape[0] * num_joints, v) for v, a in enumerate(views)]).astype(np.int64)
    joint_idx = np.concatenate([np.tile(np.arange(num_joints), a.shape[0]) for a in views]).astype(np.int64)
    flat = np.concatenate([a.reshape(-1, 3) for a in views]) if view_idx.size else np.zeros((0, 3))  # (N, 3)
    keep = (flat[:, 2] > 0) & np.isfinite(flat).all(-1)
    if not keep.any():
        return heatmaps
    flat, view_idx, joint_idx = flat[keep], view_idx[keep], joint_idx[keep]
    sigma_hm = sigma_px / stride
    radius = int(np.ceil(window_sigmas * sigma_hm))
    centre_hm = image_to_heatmap(flat[:, :2], stride)  # (N, 2)
    anchor = np.round(centre_hm).astype(np.int64)  # (N, 2) window centre pixel
    offsets = np.arange(-radius, radius + 1)  # (K,)
    xs = anchor[:, 0:1] + offsets  # (N, K)
    ys = anchor[:, 1:2] + offsets  # (N, K)
    gx = np.exp(-((xs - centre_hm[:, 0:1]) ** 2) / (2 * sigma_hm**2))  # (N, K)
    gy = np.exp(-((ys - centre_hm[:, 1:2]) ** 2) / (2 * sigma_hm**2)) * flat[:, 2:3]  # (N, K), amplitude folded in
    values = gy[:, :, None] * gx[:, None, :]  # (N, K, K) separable outer product
    inside = ((ys >= 0) & (ys < height_hm))[:, :, None] & ((xs >= 0) & (xs < width_hm))[:, None, :]  # (N, K, K)
    base = (view_idx * num_joints + joint_idx) * (height_hm * width_hm)  # (N,)
    index = base[:, None, None] + ys[:, :, None] * width_hm + xs[:, None, :]  # (N, K, K)
    np.maximum.at(heatmaps.reshape(-1), index[inside], values[inside].astype(dtype))
    return heatmaps


def find_peaks(heatmaps: np.ndarray, threshold: float = 0.1) -> tuple[np.ndarray, ...]:
    """Local maxima of each joint's heatmap, refined to sub-pixel.

    A peak is a pixel strictly above ``threshold`` and not below any of its 8 neighbours (ties broken
    towards the first pixel in raster order). The position is refined per axis by a parabola through
    the log values of the pixel and its two neighbours (exact for a Gaussian), and the score is the
    fitted maximum (the Gaussian's amplitude).

    Args:
        heatmaps: ``(J, H, W)`` heatmaps of one view.
        threshold: minimum peak value.

    Returns:
        ``J`` arrays ``(N_j, 3)`` of ``u_hm, v_hm, score`` in *heatmap* pixels (use :func:`heatmap_to_image`),
        sorted by descending score.

    Example:
        >>> hm = render_heatmaps(np.array([[[21.3, 17.8, 0.7]], [[50.0, 40.0, 0.8]]]), (64, 64), stride=4)
        >>> p = find_peaks(hm, 0.2)[0]
        >>> p.shape, np.round(heatmap_to_image(p[:, :2], 4), 3).tolist()
        ((2, 3), [[50.0, 40.0], [21.3, 17.8]])
    """
    heatmaps = np.asarray(heatmaps, dtype=float)
    if heatmaps.ndim != 3:
        raise InputError(None, "heatmaps", f"expected (J, H, W), got {heatmaps.shape}")
    J, H, W = heatmaps.shape
    padded = np.pad(heatmaps, ((0, 0), (1, 1), (1, 1)), constant_values=-np.inf)  # (J, H+2, W+2)
    is_peak = heatmaps > threshold
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            if dy == 0 and dx == 0:
                continue
            neighbour = padded[:, 1 + dy:1 + dy + H, 1 + dx:1 + dx + W]
            # earlier neighbours (raster order) must be strictly lower, later ones not higher
            is_peak &= (heatmaps > neighbour) if (dy, dx) < (0, 0) else (heatmaps >= neighbour)
    j_idx, y_idx, x_idx = np.nonzero(is_peak)
    log_pad = np.log(np.maximum(np.where(np.isfinite(padded), padded, 0.0), 1e-30))  # (J, H+2, W+2)
    centre = log_pad[j_idx, y_idx + 1, x_idx + 1]

    def fit(minus, plus):
        slope = 0.5 * (plus - minus)
        curv = plus + minus - 2 * centre
        ok = curv < -1e-12
        safe = np.where(ok, curv, -1.0)
        offset = np.where(ok, np.clip(-slope / safe, -0.5, 0.5), 0.0)
        gain = np.where(ok, slope * offset + 0.5 * curv * offset**2, 0.0)
        return offset, gain

    ox, gain_x = fit(log_pad[j_idx, y_idx + 1, x_idx], log_pad[j_idx, y_idx + 1, x_idx + 2])
    oy, gain_y = fit(log_pad[j_idx, y_idx, x_idx + 1], log_pad[j_idx, y_idx + 2, x_idx + 1])
    score = np.exp(centre + gain_x + gain_y)
    peaks = np.stack([x_idx + ox, y_idx + oy, score], axis=-1)  # (N, 3)
    out = []
    for j in range(J):
        mine = peaks[j_idx == j]
        out.append(mine[np.argsort(-mine[:, 2], kind="stable")])
    return tuple(out)
