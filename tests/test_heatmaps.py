"""Tests of closecap.heatmaps: render -> find_peaks round trip, amplitude, pixel conventions, batching."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from closecap.errors import InputError
from closecap.heatmaps import (HeatmapRenderer, find_peaks, heatmap_size, heatmap_to_image, image_to_heatmap,
                               render_heatmaps, render_heatmaps_batch)


@settings(max_examples=60, deadline=None)
@given(u=st.floats(20, 300), v=st.floats(20, 220), score=st.floats(0.2, 1.0), stride=st.sampled_from([1, 2, 4, 8]),
       sigma=st.floats(1.5, 3.0))
def test_render_then_find_peaks_recovers_keypoint_and_score(u, v, score, stride, sigma):
    sigma_px = sigma * stride  # 1.5-3 heatmap pixels
    hm = render_heatmaps(np.array([[[u, v, score]]]), (320, 240), stride=stride, sigma_px=sigma_px)
    peaks = find_peaks(hm, threshold=0.05)[0]
    assert peaks.shape == (1, 3)
    expected_hm = image_to_heatmap(np.array([u, v]), stride)
    assert np.abs(peaks[0, :2] - expected_hm).max() < 0.1  # heatmap pixels
    assert peaks[0, 2] == pytest.approx(score, rel=1e-3)


def test_several_people_and_joints_max_not_sum():
    kp = np.array([[[40.0, 40.0, 0.9], [100.0, 60.0, 0.5]],
                   [[41.0, 40.0, 0.4], [200.0, 150.0, 0.7]]])  # (P=2, J=2, 3); joint 0 of both overlaps
    hm = render_heatmaps(kp, (256, 192), stride=4, sigma_px=8.0)
    assert hm.shape == (2, 48, 64)
    assert hm[0].max() <= 0.9 + 1e-6  # overlapping Gaussians take the maximum
    peaks = find_peaks(hm, 0.1)
    assert len(peaks[0]) == 1 and len(peaks[1]) == 2
    assert peaks[1][0, 2] == pytest.approx(0.7, rel=1e-3) and peaks[1][1, 2] == pytest.approx(0.5, rel=1e-3)
    np.testing.assert_allclose(heatmap_to_image(peaks[1][:, :2], 4), [[200.0, 150.0], [100.0, 60.0]], atol=0.3)


def test_missing_and_outside_keypoints_draw_nothing_and_edges_are_clipped():
    kp = np.array([[[50.0, 50.0, 0.0], [-100.0, 10.0, 1.0], [1.0, 1.0, 1.0]]])
    hm = render_heatmaps(kp, (128, 128), stride=4)
    assert hm[0].max() == 0 and hm[1].max() == 0
    assert hm[2].max() > 0.9


def test_batch_equals_per_view_and_accepts_ragged_views():
    rng = np.random.default_rng(0)
    views = [np.concatenate([rng.uniform(0, 300, (p, 17, 2)), rng.uniform(0, 1, (p, 17, 1))], -1) for p in (3, 0, 1)]
    batch = render_heatmaps_batch(views, (320, 240), stride=4, sigma_px=6.0)
    assert batch.shape == (3, 17, 60, 80) and batch.dtype == np.float32
    for v, kp in enumerate(views):
        single = render_heatmaps(kp.reshape(-1, 17, 3), (320, 240), stride=4, sigma_px=6.0)
        np.testing.assert_array_equal(batch[v], single)


def test_pixel_mapping_round_trip_and_sizes():
    uv = np.random.default_rng(1).uniform(-5, 500, (10, 2))
    for stride in (1, 2, 4):
        np.testing.assert_allclose(heatmap_to_image(image_to_heatmap(uv, stride), stride), uv)
    # the centre of heatmap pixel 0 is the centre of image pixels 0..stride-1
    assert image_to_heatmap(np.array([1.5, 1.5]), 4).tolist() == [0.0, 0.0]
    assert heatmap_size((1032, 776), 4) == (258, 194)
    assert heatmap_size((1030, 775), 4) == (258, 194)
    with pytest.raises(InputError):
        heatmap_size((0, 10), 4)
    with pytest.raises(InputError):
        render_heatmaps(np.zeros((2, 3)), (10, 10))


def test_plateau_gives_one_peak():
    hm = np.zeros((1, 10, 10))
    hm[0, 4:6, 4:6] = 1.0
    assert len(find_peaks(hm, 0.5)[0]) == 1


def _dense_reference(views, image_size, stride, sigma_px, window_sigmas=3.0):
    """The definition, pixel by pixel over the whole heatmap: max over people of the windowed Gaussians."""
    width_hm, height_hm = heatmap_size(image_size, stride)
    sigma_hm = sigma_px / stride
    radius = int(np.ceil(window_sigmas * sigma_hm))
    J = views[0].shape[1]
    out = np.zeros((len(views), J, height_hm, width_hm))
    ys, xs = np.mgrid[0:height_hm, 0:width_hm]
    for v, kp in enumerate(views):
        for person in kp:
            for j, (u, w, score) in enumerate(person):
                if not score > 0:
                    continue
                cu, cv = image_to_heatmap(np.array([u, w]), stride)
                au, av = np.round(cu), np.round(cv)
                inside = (np.abs(xs - au) <= radius) & (np.abs(ys - av) <= radius)
                g = np.exp(-((xs - cu) ** 2) / (2 * sigma_hm**2)) * (np.exp(-((ys - cv) ** 2) / (2 * sigma_hm**2)) * score)
                out[v, j] = np.maximum(out[v, j], np.where(inside, g, 0.0))
    return out


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10**6), width=st.integers(3, 90), height=st.integers(3, 70), stride=st.sampled_from([1, 2, 4]),
       sigma=st.floats(0.5, 10.0))
def test_windowed_rendering_matches_the_dense_definition_even_at_borders(seed, width, height, stride, sigma):
    rng = np.random.default_rng(seed)
    views = [np.concatenate([rng.uniform(-20, [width + 20, height + 20], (p, 3, 2)), rng.uniform(-0.3, 1, (p, 3, 1))], -1)
             for p in rng.integers(0, 4, size=2)]
    hm = render_heatmaps_batch(views, (width, height), stride=stride, sigma_px=sigma, dtype=np.float64)
    np.testing.assert_allclose(hm, _dense_reference(views, (width, height), stride, sigma), rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_renderer_reuses_its_buffer_and_equals_fresh_rendering(dtype):
    rng = np.random.default_rng(3)
    size = (330, 250)
    frames = [[np.concatenate([rng.uniform(-10, 340, (p, 17, 2)), rng.uniform(-0.2, 1, (p, 17, 1))], -1)
               for p in rng.integers(0, 5, size=3)] for _ in range(6)]
    renderer = HeatmapRenderer(3, 17, size, stride=4, sigma_px=6.0, dtype=dtype, max_frames=3)
    for t, views in enumerate(frames):  # one frame at a time: what the previous frame drew is cleared
        hm = renderer.render(views)
        assert hm.dtype == dtype and hm.shape == (3, 17, 63, 83)
        np.testing.assert_array_equal(hm, render_heatmaps_batch(views, size, stride=4, sigma_px=6.0, dtype=dtype))
    batch = renderer.render_frames(frames[:3])  # several frames at once
    assert batch.shape == (3, 3, 17, 63, 83)
    for t in range(3):
        np.testing.assert_array_equal(batch[t], render_heatmaps_batch(frames[t], size, stride=4, sigma_px=6.0, dtype=dtype))
    assert renderer.render_frames(frames[3:4]).shape[0] == 1 and not renderer.buffer[1:].any()
    with pytest.raises(InputError):
        renderer.render_frames(frames[:4])
    with pytest.raises(InputError):
        renderer.render(frames[0][:2])


def test_dense_array_input_equals_ragged_views():
    rng = np.random.default_rng(5)
    kp = np.concatenate([rng.uniform(0, 200, (2, 3, 17, 2)), rng.uniform(0, 1, (2, 3, 17, 1))], -1)  # (V, P, J, 3)
    np.testing.assert_array_equal(render_heatmaps_batch(kp, (200, 160)), render_heatmaps_batch(list(kp), (200, 160)))
    with pytest.raises(InputError):
        render_heatmaps_batch(np.zeros((0, 1, 17, 3)), (200, 160))
