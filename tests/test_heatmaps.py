"""Tests of closecap.heatmaps: render -> find_peaks round trip, amplitude, pixel conventions, batching."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from closecap.errors import InputError
from closecap.heatmaps import (find_peaks, heatmap_size, heatmap_to_image, image_to_heatmap, render_heatmaps,
                               render_heatmaps_batch)


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
