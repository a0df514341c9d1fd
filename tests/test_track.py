"""Identities over time and temporal filters."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from closecap.errors import InputError
from closecap.track import (OneEuroFilter, TrackConfig, Tracker, contiguous_runs, fill_gaps, median_joint_distance,
                            smooth_offline, smooth_online, track_people)

J = 17


def walker(start, velocity, num_frames, rng, spread=0.3):
    """A rigid random 'person' ``(T, J, 3)`` metres moving at ``velocity`` metres per frame."""
    body = rng.normal(scale=spread, size=(J, 3))
    steps = np.arange(num_frames)[:, None, None] * np.asarray(velocity)[None, None]
    return body[None] + np.asarray(start)[None, None] + steps


def as_frames(people, present=None):
    """``people (T, P, J, 3)`` -> per-frame ``(joints, confidence)`` with rows shuffled, absent people left out."""
    rng = np.random.default_rng(0)
    T, P = people.shape[:2]
    present = np.ones((T, P), bool) if present is None else present
    out = []
    for t in range(T):
        rows = rng.permutation(np.flatnonzero(present[t]))
        out.append((people[t, rows], np.ones((len(rows), J))))
    return out


def test_median_joint_distance_ignores_missing_joints():
    a = np.zeros((2, J, 3))
    b = np.ones((1, J, 3))
    b[0, :5] = np.nan
    a[1, 5:] = np.nan
    d = median_joint_distance(a, b)
    assert d.shape == (2, 1)
    assert d[0, 0] == pytest.approx(np.sqrt(3)) and np.isinf(d[1, 0])


def test_tracker_keeps_ids_through_reordering_and_close_people():
    rng = np.random.default_rng(1)
    a = walker([0, 0, 1], [0.01, 0, 0], 40, rng)
    b = walker([0.25, 0, 1], [0.01, 0, 0], 40, rng)  # 0.25 m apart, same motion
    c = walker([2, 1, 1], [0, -0.02, 0], 40, rng)
    truth = np.stack([a, b, c], axis=1)  # (T, 3, J, 3)
    tracker = Tracker(TrackConfig())
    seen = []
    for t in range(40):
        order = rng.permutation(3)
        ids = tracker.update(truth[t, order])
        seen.append(ids[np.argsort(order)])
    seen = np.array(seen)
    assert np.all(seen == seen[0]) and sorted(seen[0].tolist()) == [0, 1, 2]


def test_tracker_births_deaths_and_gate():
    config = TrackConfig(max_missed_frames=2, max_match_distance_m=0.3)
    tracker = Tracker(config)
    person = np.zeros((1, J, 3))
    assert tracker.update(person).tolist() == [0]
    assert tracker.update(np.zeros((0, J, 3))).tolist() == []
    assert tracker.update(np.zeros((0, J, 3))).tolist() == []
    assert tracker.update(person + 0.01).tolist() == [0]  # missed 2 frames: still alive
    for _ in range(3):
        tracker.update(np.zeros((0, J, 3)))
    assert tracker.live_ids == ()  # missed 3 > 2 frames: dead
    assert tracker.update(person).tolist() == [1]  # comes back as a new person
    assert tracker.update(person + 1.0).tolist() == [2]  # a jump beyond the gate is someone else


def test_track_people_drops_short_tracks_and_numbers_ids():
    rng = np.random.default_rng(2)
    T = 30
    truth = np.stack([walker([0, 0, 1], [0.01, 0, 0], T, rng), walker([2, 0, 1], [0, 0.01, 0], T, rng),
                      walker([-3, 0, 1], [0, 0, 0], T, rng)], axis=1)
    present = np.ones((T, 3), bool)
    present[:, 2] = False
    present[10:13, 2] = True  # a 3-frame spurious person
    present[:5, 1] = False  # person 1 appears at frame 5
    poses = track_people(range(100, 100 + T), as_frames(truth, present), TrackConfig(smoothing="none", min_track_len=5))
    assert poses.ids.tolist() == [0, 1]
    assert poses.frames.tolist() == list(range(100, 100 + T))
    np.testing.assert_allclose(poses.joints[:, 0], truth[:, 0])
    assert not poses.present[:5, 1].any()
    np.testing.assert_allclose(poses.joints[5:, 1], truth[5:, 1])


def test_track_people_fills_short_gaps_only():
    rng = np.random.default_rng(3)
    T = 30
    truth = walker([0, 0, 1], [0.01, 0.005, 0], T, rng)[:, None]  # (T, 1, J, 3), linear motion
    present = np.ones((T, 1), bool)
    present[10:12] = False  # 2-frame gap: filled
    present[20:25] = False  # 5-frame gap: left empty
    poses = track_people(range(T), as_frames(truth, present), TrackConfig(smoothing="none", fill_gap_frames=2))
    assert poses.num_people == 1
    np.testing.assert_allclose(poses.joints[10:12, 0], truth[10:12, 0], atol=1e-12)
    assert np.all(poses.confidence[10:12] > 0) and np.all(poses.confidence[10:12] < 1)
    assert not poses.present[20:25, 0].any()


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), max_gap=st.integers(1, 6))
def test_fill_gaps_is_exact_on_linear_motion(seed, max_gap):
    rng = np.random.default_rng(seed)
    T = 40
    line = rng.normal(size=(1, 4, 3)) + np.arange(T)[:, None, None] * rng.normal(size=(1, 4, 3))  # (T, 4, 3)
    holes = line.copy()
    holes[rng.random((T, 4)) < 0.3] = np.nan
    filled = fill_gaps(holes, max_gap)
    done = np.isfinite(filled).all(-1)
    np.testing.assert_allclose(filled[done], line[done], atol=1e-9)
    runs = contiguous_runs(~np.isfinite(holes).all(-1))
    for col, start, stop in runs:
        inner = start > 0 and stop < T
        assert done[start:stop, col].all() == (inner and stop - start <= max_gap)


def test_contiguous_runs():
    mask = np.array([[0, 1], [1, 1], [1, 0], [0, 1]], bool)
    assert contiguous_runs(mask).tolist() == [[0, 1, 3], [1, 0, 2], [1, 3, 4]]
    assert contiguous_runs(np.zeros((3, 2), bool)).shape == (0, 3)


def test_smooth_offline_removes_jitter_keeps_motion_and_nan():
    rng = np.random.default_rng(4)
    T = 120
    t = np.arange(T) / 30.0
    motion = np.stack([np.sin(2 * np.pi * 0.5 * t), 0.3 * t, np.cos(2 * np.pi * 0.8 * t)], -1)  # (T, 3) slow
    noisy = motion[:, None] + rng.normal(scale=0.01, size=(T, 5, 3))  # (T, 5, 3)
    noisy[50:53, 2] = np.nan  # joint 2: a gap splits it into two runs
    noisy[:, 3] = np.nan
    noisy[60:62, 3] = motion[60:62]  # a 2-frame run: left unchanged
    noisy[80:86, 4] = np.nan
    noisy[81:86, 4] = motion[81:86] + 0.001  # a 5-frame run: filtered with a short pad
    out = smooth_offline(noisy, 30.0, 3.0)
    assert np.array_equal(np.isnan(out), np.isnan(noisy))
    err_in = np.sqrt(np.nanmean((noisy[:, :3] - motion[:, None]) ** 2))
    err_out = np.sqrt(np.nanmean((out[:, :3] - motion[:, None]) ** 2))
    assert err_out < 0.6 * err_in
    np.testing.assert_array_equal(out[60:62, 3], noisy[60:62, 3])
    np.testing.assert_allclose(out[81:86, 4], noisy[81:86, 4], atol=0.02)


def test_one_euro_constant_static_noise_and_nan():
    f = OneEuroFilter(fps=30.0, min_cutoff_hz=1.0, beta=10.0)
    const = np.full((2, J, 3), 0.7)
    assert all(np.allclose(f(const), 0.7) for _ in range(5))
    rng = np.random.default_rng(5)
    g = OneEuroFilter(fps=30.0, min_cutoff_hz=1.0, beta=10.0)
    noisy = 1.0 + rng.normal(scale=0.01, size=(200, 1, J, 3))
    out = np.stack([g(x) for x in noisy])
    assert out[50:].std() < 0.5 * noisy[50:].std()
    h = OneEuroFilter(fps=30.0)
    x = np.zeros((1, 2, 3))
    h(x)
    gap = x.copy()
    gap[0, 1] = np.nan
    assert np.isnan(h(gap)[0, 1]).all() and np.isfinite(h(gap)[0, 0]).all()
    back = x + 5.0
    assert np.allclose(h(back)[0, 1], 5.0)  # a point that reappears restarts from its value
    with pytest.raises(InputError, match="shape"):
        h(np.zeros((2, 2, 3)))


def test_online_smoothing_is_causal():
    rng = np.random.default_rng(6)
    x = rng.normal(size=(30, 2, J, 3))
    y = x.copy()
    y[20:] += 1.0
    a, b = smooth_online(x, TrackConfig()), smooth_online(y, TrackConfig())
    np.testing.assert_array_equal(a[:20], b[:20])
    assert not np.allclose(a[20:], b[20:])


@pytest.mark.parametrize("mode", ["offline", "online", "none"])
def test_track_people_smoothing_modes_keep_ids(mode):
    rng = np.random.default_rng(7)
    T = 40
    truth = np.stack([walker([0, 0, 1], [0.01, 0, 0], T, rng), walker([0.3, 0, 1], [0.01, 0, 0], T, rng)], axis=1)
    noisy = truth + rng.normal(scale=0.005, size=truth.shape)
    poses = track_people(range(T), as_frames(noisy), TrackConfig(smoothing=mode))
    assert poses.num_people == 2
    err = np.linalg.norm(poses.joints - truth, axis=-1).mean()
    assert err < 0.02


def test_track_config_validation():
    with pytest.raises(InputError, match="smoothing"):
        TrackConfig(smoothing="kalman")
    with pytest.raises(InputError, match="cutoff_hz"):
        TrackConfig(fps=10.0, cutoff_hz=6.0)
    with pytest.raises(InputError, match="people_per_frame"):
        track_people(range(3), [], TrackConfig())
    assert TrackConfig.from_dict(TrackConfig(beta=2.0).to_dict()) == TrackConfig(beta=2.0)


def test_bone_lengths_become_constant_and_error_drops():
    from closecap.skeleton import COCO17
    from closecap.track import enforce_bone_lengths

    rng = np.random.default_rng(0)
    T = 60
    template = rng.normal(scale=0.3, size=(17, 3))
    angle = np.linspace(0, 1.0, T)
    rot = np.stack([np.stack([np.cos(angle), -np.sin(angle), 0 * angle], -1),
                    np.stack([np.sin(angle), np.cos(angle), 0 * angle], -1),
                    np.stack([0 * angle, 0 * angle, 1 + 0 * angle], -1)], -2)  # (T, 3, 3)
    truth = np.einsum("tij,kj->tki", rot, template)[:, None]  # (T, 1, 17, 3) rigid motion: constant bones
    noisy = truth + rng.normal(scale=0.02, size=truth.shape)
    fixed = enforce_bone_lengths(noisy, COCO17.bone_indices, iterations=4)
    a, b = COCO17.bone_indices.T
    length = np.linalg.norm(fixed[:, :, a] - fixed[:, :, b], axis=-1)  # (T, 1, B)
    assert length.std(0).max() < 0.004 < np.linalg.norm(noisy[:, :, a] - noisy[:, :, b], axis=-1).std(0).max()
    err = lambda x: np.linalg.norm(x - truth, axis=-1).mean()  # noqa: E731
    assert err(fixed) < err(noisy)


def test_temporal_outliers_flag_spikes_not_motion():
    from closecap.track import temporal_outliers

    t = np.linspace(0, 2, 60)
    x = np.stack([np.sin(2 * t), np.cos(2 * t), t], -1)[:, None, :]  # (T, 1, 3) smooth, fast-ish motion
    assert not temporal_outliers(x, 9, 0.1).any()
    x[30:32] += [0.3, 0.0, 0.0]  # a two-frame gross error
    assert np.flatnonzero(temporal_outliers(x, 9, 0.1)[:, 0]).tolist() == [30, 31]


def test_broken_track_is_stitched_and_distinct_people_are_not():
    from closecap.track import TrackConfig, track_people

    rng = np.random.default_rng(3)
    body = rng.normal(scale=0.2, size=(17, 3))
    people = []
    for t in range(40):
        a = body + [0.01 * t, 0, 1]
        b = body + [2.0, 0.01 * t, 1]
        if 18 <= t <= 21:  # person a lost for 4 frames, then found again with a wrong arm
            people.append((b[None], np.ones((1, 17))))
            continue
        a = a.copy()
        if t == 22:
            a[9] += 1.5
        people.append((np.stack([a, b]), np.ones((2, 17))))
    cfg = TrackConfig(max_missed_frames=2, smoothing="none", bone_iterations=0, fill_gap_frames=0)
    poses = track_people(range(40), people, cfg)
    assert poses.num_people == 2 and poses.present.sum(0).tolist() == [36, 40]
    unstitched = track_people(range(40), people, cfg.replace(stitch_gap_frames=0))
    assert unstitched.num_people == 3


def test_a_person_with_no_reconstructed_joint_does_not_break_tracking():
    from closecap.track import TrackConfig, track_people

    body = np.random.default_rng(5).normal(scale=0.2, size=(17, 3))
    people = [(np.stack([body + [0.01 * t, 0, 1], np.full((17, 3), np.nan)]), np.ones((2, 17))) for t in range(12)]
    poses = track_people(range(12), people, TrackConfig(smoothing="none"))
    assert poses.num_people == 1 and poses.present.all()


def test_link_joints_decide_identities_but_not_the_output():
    from closecap.track import TrackConfig, track_people

    rng = np.random.default_rng(7)
    body = rng.normal(scale=0.2, size=(17, 3))
    a = np.stack([body + [0.0, 0.005 * t, 1.0] for t in range(20)])  # (T, J, 3)
    b = np.stack([body + [0.3, -0.005 * t, 1.0] for t in range(20)])
    people = [(np.stack([a[t], b[t]]), np.ones((2, 17))) for t in range(20)]
    link = [np.stack([a[t], b[t]]) for t in range(20)]
    odd = np.full((2, 17, 3), np.nan)  # frame 10: row 0 (a) kept only 3 joints, which lie on b; row 1 (b), on a
    odd[0, :3], odd[1, 3:] = b[10, :3], a[10, 3:]
    people[10] = (odd, np.ones((2, 17)))
    cfg = TrackConfig(smoothing="none", bone_iterations=0, fill_gap_frames=0, stitch_gap_frames=0, min_track_len=1,
                      outlier_window=0)
    linked = track_people(range(20), people, cfg, link_joints=link)
    unlinked = track_people(range(20), people, cfg)
    assert linked.num_people == unlinked.num_people == 2
    np.testing.assert_array_equal(linked.joints[10, 0], odd[0])  # row 0 stays track 0; its output is its own joints
    np.testing.assert_array_equal(unlinked.joints[10, 0], odd[1])  # without: the rows swap tracks in this frame
    np.testing.assert_array_equal(linked.joints[11, 0], a[11])
    with pytest.raises(InputError):
        track_people(range(20), people, cfg, link_joints=link[:-1])
