"""2D keypoint heatmaps: render Gaussians, find peaks, map image <-> heatmap pixels.

Pixel convention (one, everywhere): pixel ``(0, 0)`` is the *centre* of the top-left pixel, in the
image and in the heatmap alike. Heatmap pixel ``i`` covers image pixels ``[i * stride, (i + 1) * stride)``,
so its centre sits at image coordinate ``i * stride + (stride - 1) / 2``:

    u_hm = (u_px - (stride - 1) / 2) / stride        u_px = u_hm * stride + (stride - 1) / 2

A heatmap of an image of ``W x H`` pixels has ``ceil(W / stride) x ceil(H / stride)`` pixels.

Rendering draws, for every keypoint with score > 0, an isotropic Gaussian of amplitude = score
(``score * exp(-d^2 / (2 sigma_hm^2))``, ``sigma_hm = sigma_px / stride``) inside a window of
``+-ceil(window_sigmas * sigma_hm)`` heatmap pixels; people overlap by maximum, not sum. Only the
windows are touched (a strided view of the heatmaps, one scatter per "layer" of people), so the cost
is that of the keypoints, not of the heatmap area: :class:`HeatmapRenderer` renders frame after frame
into one reused buffer, clearing only what it drew before (the training path; ~15x faster than a new
array per frame at 1920 x 1080).
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

from typing import NamedTuple, Sequence

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
        ``(V, J, H_hm, W_hm)`` heatmaps, a new array (see :class:`HeatmapRenderer` to render frame after
        frame into one reused buffer, which is much faster for large images).

    Example:
        >>> views = [np.array([[[9.5, 9.5, 1.0], [0, 0, 0]]]), np.zeros((0, 2, 3))]
        >>> hm = render_heatmaps_batch(views, (64, 48))
        >>> hm.shape, float(hm[0, 0].max()), float(hm[1].max())
        ((2, 2, 12, 16), 1.0, 0.0)
    """
    flat, slot, num_joints = _flatten_views(keypoints, "keypoints")
    _check_sigma(sigma_px)
    width_hm, height_hm = heatmap_size(image_size, stride)
    heatmaps = np.zeros((_count_views(keypoints), num_joints, height_hm, width_hm), dtype=dtype)
    windows = _gaussian_windows(flat, slot, (height_hm, width_hm), stride, sigma_px, window_sigmas)
    _draw(heatmaps.reshape(-1, height_hm, width_hm), windows, fresh=True)
    return heatmaps


class HeatmapRenderer:
    """Renders frame after frame of keypoints into one reused heatmap buffer (the fast path for training).

    Each call draws the windowed Gaussians of :func:`render_heatmaps_batch` (same values, bit for bit) into
    a buffer allocated once, after clearing only the windows the previous call drew: no 10-50 MB allocation
    and zero-fill per frame. The returned array *is* the buffer: it is overwritten by the next call (copy it,
    or use it, before rendering again).

    Args:
        num_views: ``V`` views per frame (all of the same image size).
        num_joints: ``J`` joints.
        image_size: ``(W, H)`` image pixels.
        stride, sigma_px, window_sigmas, dtype: as in :func:`render_heatmaps` (``np.float16`` halves the memory).
        max_frames: ``B``, the most frames one :meth:`render_frames` call takes.

    Attributes:
        buffer: ``(B, V, J, H_hm, W_hm)`` the heatmaps of the last call (frames beyond its count are zero).

    Example:
        >>> renderer = HeatmapRenderer(2, 17, (1032, 776), max_frames=4)
        >>> kp = np.zeros((2, 1, 17, 3)); kp[..., 0], kp[..., 1], kp[..., 2] = 500.0, 300.0, 0.9   # (V, P, J, 3)
        >>> hm = renderer.render(kp)
        >>> hm.shape, bool(np.array_equal(hm, render_heatmaps_batch(kp, (1032, 776))))
        ((2, 17, 194, 258), True)
        >>> renderer.render_frames([kp, kp[:, :0]]).shape, float(renderer.buffer[1].max())
        ((2, 2, 17, 194, 258), 0.0)
    """

    def __init__(self, num_views: int, num_joints: int, image_size: Sequence[int], stride: int = 4,
                 sigma_px: float = 8.0, window_sigmas: float = 3.0, dtype=np.float32, max_frames: int = 1) -> None:
        _check_sigma(sigma_px)
        if int(num_views) < 1 or int(num_joints) < 1 or int(max_frames) < 1:
            raise InputError(None, "HeatmapRenderer", "num_views, num_joints and max_frames must be >= 1")
        width_hm, height_hm = heatmap_size(image_size, stride)
        self.num_views, self.num_joints = int(num_views), int(num_joints)
        self.image_size = (int(image_size[0]), int(image_size[1]))
        self.stride, self.sigma_px, self.window_sigmas = int(stride), float(sigma_px), float(window_sigmas)
        shape = (int(max_frames), self.num_views, self.num_joints, height_hm, width_hm)
        self.buffer = np.full(shape, 0, dtype=dtype)  # touched now, not page by page while rendering
        self._drawn: _Windows | None = None  # the windows the last call drew

    def render(self, keypoints: np.ndarray | Sequence[np.ndarray]) -> np.ndarray:
        """One frame: ``(V, P, J, 3)`` or ``V`` arrays ``(P_v, J, 3)`` -> ``(V, J, H_hm, W_hm)`` (a view of the buffer)."""
        return self.render_frames([keypoints])[0]

    def render_frames(self, frames: Sequence[np.ndarray | Sequence[np.ndarray]]) -> np.ndarray:
        """Several frames: ``B' <= B`` items as in :meth:`render` (e.g. ``Detections2D.keypoints[t0:t1]``) ->
        ``(B', V, J, H_hm, W_hm)`` (a view of the buffer)."""
        num_frames = len(frames)
        if not 1 <= num_frames <= self.buffer.shape[0]:
            raise InputError(None, "frames", f"expected 1..{self.buffer.shape[0]} frames, got {num_frames}")
        parts, slots = [], []
        for f, views in enumerate(frames):
            if _count_views(views) != self.num_views:
                raise InputError(None, f"frames[{f}]", f"expected {self.num_views} views, got {_count_views(views)}")
            flat, slot, num_joints = _flatten_views(views, f"frames[{f}]")
            if flat.shape[0] and num_joints != self.num_joints:
                raise InputError(None, f"frames[{f}]", f"expected {self.num_joints} joints, got {num_joints}")
            parts.append(flat)
            slots.append(slot + f * self.num_views * self.num_joints)
        heatmaps = self.buffer.reshape((-1,) + self.buffer.shape[-2:])  # (B * V * J, H, W)
        if self._drawn is not None:
            _clear(heatmaps, self._drawn)
        self._drawn = _gaussian_windows(np.concatenate(parts), np.concatenate(slots), self.buffer.shape[-2:], self.stride,
                                        self.sigma_px, self.window_sigmas)
        _draw(heatmaps, self._drawn, fresh=True)
        return self.buffer[:num_frames]


# ----------------------------------------------------------------------------- rendering internals


def _check_sigma(sigma_px: float) -> None:
    if not sigma_px > 0:
        raise InputError(None, "sigma_px", f"must be positive, got {sigma_px}")


def _count_views(keypoints) -> int:
    if isinstance(keypoints, np.ndarray) and keypoints.ndim == 4:
        return keypoints.shape[0]
    return len(keypoints)


def _flatten_views(keypoints, field: str) -> tuple[np.ndarray, np.ndarray, int]:
    """``(V, P, J, 3)`` or ``V`` arrays ``(P_v, J, 3)`` -> drawable keypoints ``(N, 3)``, their slot ``v * J + j`` ``(N,)``, ``J``."""
    if isinstance(keypoints, np.ndarray) and keypoints.ndim == 4:
        num_views, num_people, num_joints = keypoints.shape[:3]
        if keypoints.shape[-1] != 3 or num_views == 0:
            raise InputError(None, field, f"expected (V, P, J, 3) with V >= 1, got {keypoints.shape}")
        flat = keypoints.reshape(-1, 3).astype(float, copy=False)  # (N, 3)
        slot = np.broadcast_to(np.arange(num_views * num_joints).reshape(num_views, 1, num_joints),
                               (num_views, num_people, num_joints)).reshape(-1)
    else:
        views = [np.asarray(k, dtype=float) for k in keypoints]
        if not views:
            raise InputError(None, field, "no views")
        num_joints = views[0].shape[1] if views[0].ndim == 3 else 0
        for v, arr in enumerate(views):
            if arr.ndim != 3 or arr.shape[1:] != (num_joints, 3):
                raise InputError(None, f"{field}[{v}]", f"expected (P, {num_joints}, 3), got {arr.shape}")
        flat = np.concatenate([a.reshape(-1, 3) for a in views])  # (N, 3)
        counts = np.array([a.shape[0] for a in views])  # (V,) people per view
        view_of = np.repeat(np.arange(len(views)), counts)  # (sum P_v,)
        slot = (view_of[:, None] * num_joints + np.arange(num_joints)).reshape(-1)
    keep = (flat[:, 2] > 0) & np.isfinite(flat).all(-1)
    return flat[keep], slot[keep].astype(np.int64), num_joints


class _Windows(NamedTuple):
    """Square windows of ``K x K`` heatmap pixels, one per keypoint, sorted by ``layer``."""

    slot: np.ndarray  #: (N,) heatmap ``frame * V * J + v * J + j``
    start_y: np.ndarray  #: (N,) first row of the window
    start_x: np.ndarray  #: (N,) first column
    values: np.ndarray  #: (N, K, K) float64, 0 outside the keypoint's +-radius window and outside the heatmap
    layer: np.ndarray  #: (N,) 0, 1, ... numbering the keypoints of one slot: one layer never repeats a slot
    fits: bool  #: the heatmap holds a whole window (else windows hang over its border, see _draw)


def _gaussian_windows(flat: np.ndarray, slot: np.ndarray, shape_hm: Sequence[int], stride: int, sigma_px: float,
                      window_sigmas: float) -> _Windows:
    """The window of every keypoint ``flat (N, 3)`` (u_px, v_px, score > 0) of heatmap ``slot (N,)``.

    A window covers ``+-radius`` heatmap pixels around the keypoint's nearest pixel; windows crossing the
    border are shifted inside and their pixels beyond ``radius`` get 0, so every window lies in its heatmap
    (when the heatmap is at least one window large) and the nonzero values are exactly those of the
    unshifted, border-clipped window.
    """
    height_hm, width_hm = int(shape_hm[0]), int(shape_hm[1])
    order = np.argsort(slot, kind="stable")
    sorted_slot = slot[order]
    layer = np.empty_like(slot)
    layer[order] = np.arange(slot.size) - np.searchsorted(sorted_slot, sorted_slot, side="left")
    by_layer = np.argsort(layer, kind="stable")
    flat, slot, layer = flat[by_layer], slot[by_layer], layer[by_layer]
    sigma_hm = sigma_px / stride
    radius = int(np.ceil(window_sigmas * sigma_hm))
    size = 2 * radius + 1
    offsets = np.arange(size)  # (K,)
    centre_hm = image_to_heatmap(flat[:, :2], stride)  # (N, 2)
    anchor = np.round(centre_hm).astype(np.int64)  # (N, 2) window centre pixel
    start_x = np.clip(anchor[:, 0] - radius, 0, max(width_hm - size, 0))
    start_y = np.clip(anchor[:, 1] - radius, 0, max(height_hm - size, 0))
    xs = start_x[:, None] + offsets  # (N, K)
    ys = start_y[:, None] + offsets  # (N, K)
    gx = np.exp(-((xs - centre_hm[:, 0:1]) ** 2) / (2 * sigma_hm**2))  # (N, K)
    gy = np.exp(-((ys - centre_hm[:, 1:2]) ** 2) / (2 * sigma_hm**2)) * flat[:, 2:3]  # (N, K), amplitude folded in
    ok_x = (np.abs(xs - anchor[:, 0:1]) <= radius) & (xs < width_hm)  # (N, K)
    ok_y = (np.abs(ys - anchor[:, 1:2]) <= radius) & (ys < height_hm)
    values = (gy * ok_y)[:, :, None] * (gx * ok_x)[:, None, :]  # (N, K, K) separable outer product
    return _Windows(slot, start_y, start_x, values, layer, size <= min(width_hm, height_hm))


def _window_view(buffer: np.ndarray, size: int) -> np.ndarray:
    """``(S, H, W)`` buffer -> writable view ``(S, H - K + 1, W - K + 1, K, K)``: ``[s, y, x]`` is the window at (y, x)."""
    s0, s1, s2 = buffer.strides
    S, H, W = buffer.shape
    return np.lib.stride_tricks.as_strided(buffer, (S, H - size + 1, W - size + 1, size, size), (s0, s1, s2, s1, s2))


def _draw(buffer: np.ndarray, windows: _Windows, fresh: bool) -> None:
    """``buffer (S, H, W)`` = its maximum with the windows, layer by layer (no slot twice in one scatter).

    ``fresh``: the windows' pixels are all 0 in the buffer, so layer 0 is a plain write.
    """
    values = windows.values.astype(buffer.dtype)
    if not windows.fits:  # heatmaps smaller than one window: clip the windows pixel by pixel
        size = values.shape[-1]
        ys = windows.start_y[:, None, None] + np.arange(size)[:, None]  # (N, K, 1)
        xs = windows.start_x[:, None, None] + np.arange(size)  # (N, 1, K)
        inside = (ys < buffer.shape[1]) & (xs < buffer.shape[2])  # (N, K, K)
        index = (windows.slot[:, None, None] * buffer.shape[1] + ys) * buffer.shape[2] + xs  # (N, K, K)
        np.maximum.at(buffer.reshape(-1), index[inside], values[inside])
        return
    view = _window_view(buffer, values.shape[-1])
    layer = windows.layer
    bounds = np.searchsorted(layer, np.arange(int(layer.max()) + 2 if layer.size else 0))  # layers are sorted
    for k in range(len(bounds) - 1):
        part = slice(bounds[k], bounds[k + 1])
        where = (windows.slot[part], windows.start_y[part], windows.start_x[part])
        view[where] = values[part] if k == 0 and fresh else np.maximum(view[where], values[part])


def _clear(buffer: np.ndarray, windows: _Windows) -> None:
    """Zero the pixels of ``windows`` in ``buffer (S, H, W)``."""
    if windows.fits:
        _window_view(buffer, windows.values.shape[-1])[windows.slot, windows.start_y, windows.start_x] = 0
    elif windows.slot.size:
        buffer[np.unique(windows.slot)] = 0


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
