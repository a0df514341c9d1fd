"""Streaming reconstruction: lazy OpenPose input, chunked offline filters, JSON Lines out — equal to the whole clip."""
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from closecap.baseline import BaselineConfig, reconstruct_baseline
from closecap.errors import InputError
from closecap.io.calibration import load_rig
from closecap.io.keypoints import read_detections, read_poses, write_openpose, write_poses
from closecap.pipelines import run_synth
from closecap.poses import Detections2D
from closecap.reconstruct import ReconstructConfig, reconstruct_files
from closecap.stream import (OpenPoseStream, StreamConfig, _chunks, jsonl_to_json, read_stream, reconstruct_stream,
                             stream_frames)


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    return run_synth(tmp_path_factory.mktemp("stream") / "scene", people=(3, 3), frames=90, seed=5)


def _config(smoothing):
    base = ReconstructConfig()
    return base.replace(baseline=base.baseline.replace(track=base.baseline.track.replace(smoothing=smoothing)))


@pytest.mark.parametrize("smoothing", ["offline", "online", "none"])
def test_stream_json_is_byte_identical_to_whole_clip(scene, tmp_path, smoothing):
    config = _config(smoothing)
    whole = tmp_path / "whole.json"
    reconstruct_files(scene.calibration, scene.keypoints2d, whole, config)
    streamed = tmp_path / "pred.jsonl"
    summary = reconstruct_stream(scene.calibration, scene.keypoints2d, streamed, config,
                                 StreamConfig(chunk_frames=25, margin_frames=150))
    assert summary.frames == 90 and (tmp_path / "pred.config.json").exists()
    assert jsonl_to_json(streamed, tmp_path / "conv.json").read_bytes() == whole.read_bytes()
    assert len(streamed.read_text().splitlines()) == 1 + 90  # header + one line per frame
    if smoothing == "offline":  # .json out: streamed, then converted
        reconstruct_stream(scene.calibration, scene.keypoints2d, tmp_path / "direct.json", config)
        assert (tmp_path / "direct.json").read_bytes() == whole.read_bytes()
        # five windows smaller than the clip (each track assembled and cleaned on its own): still the same bytes
        reconstruct_stream(scene.calibration, scene.keypoints2d, tmp_path / "windows.json", config,
                           StreamConfig(chunk_frames=20, margin_frames=60))
        assert (tmp_path / "windows.json").read_bytes() == whole.read_bytes()


def test_short_margin_differs_only_near_seams(scene, tmp_path):
    reconstruct_files(scene.calibration, scene.keypoints2d, tmp_path / "w.json")
    whole = read_poses(tmp_path / "w.json")
    reconstruct_stream(scene.calibration, scene.keypoints2d, tmp_path / "s.jsonl",
                       stream=StreamConfig(chunk_frames=30, margin_frames=60))
    streamed = read_stream(tmp_path / "s.jsonl")
    assert np.array_equal(np.isnan(whole.joints), np.isnan(streamed.joints))
    assert np.nanmax(np.abs(whole.joints - streamed.joints)) <= 1.0e-6 + 1e-12  # rounding to 1 um at most
    reconstruct_stream(scene.calibration, scene.keypoints2d, tmp_path / "s0.jsonl",
                       stream=StreamConfig(chunk_frames=30, margin_frames=0))
    assert not np.array_equal(np.nan_to_num(read_stream(tmp_path / "s0.jsonl").joints),
                              np.nan_to_num(whole.joints))  # the margin matters: the test can fail


def test_broken_tracks_are_stitched_as_offline(scene, tmp_path):
    """One person vanishes from every view for 15 frames (> max_missed_frames): the online tracker gives a new id,
    the offline repair joins the two tracks; streaming must do the same."""
    rig = load_rig(scene.calibration)
    det = read_detections(scene.keypoints2d, rig.names)
    gt = read_poses(scene.gt)
    keypoints = []
    for t, views in enumerate(det.keypoints):
        if 30 <= t < 45:  # drop the 2D person nearest to ground-truth person 0 in every view
            uv, _ = rig.project(gt.joints[t, 0])  # (V, J, 2)
            views = tuple(np.delete(v, np.argmin(np.nanmean(np.where(v[..., 2:] > 0, np.linalg.norm(
                v[..., :2] - uv[k], axis=-1)[..., None], np.nan), axis=(1, 2))), axis=0) if len(v) else v
                          for k, v in enumerate(views))
        keypoints.append(views)
    cut = Detections2D(det.camera_names, det.frames, tuple(keypoints))
    config = ReconstructConfig()
    whole = reconstruct_baseline(cut, rig, config.baseline)
    unstitched = reconstruct_baseline(cut, rig, config.baseline.replace(
        track=config.baseline.track.replace(stitch_gap_frames=0)))
    assert whole.num_people == 3 and unstitched.num_people == 4  # the repair happened
    reader = list(zip(cut.frames, cut.keypoints))
    work = tmp_path / "work"
    work.mkdir()
    out = tmp_path / "cut.jsonl"
    stream_frames(reader, rig, work, out, config, StreamConfig(chunk_frames=20, margin_frames=100), run_config={})
    write_poses(whole, tmp_path / "whole.json", config={})
    assert jsonl_to_json(out, tmp_path / "conv.json").read_bytes() == (tmp_path / "whole.json").read_bytes()


def test_lazy_reader_equals_read_detections(tmp_path):
    rng = np.random.default_rng(0)
    frames = (3, 4, 9, 120)
    keypoints = tuple(tuple(np.concatenate([rng.uniform(0, 500, (p, 17, 2)), rng.uniform(0.2, 1, (p, 17, 1))], -1)
                            for p in (1, 2)) for _ in frames)
    det = Detections2D(("a", "b"), frames, keypoints)
    write_openpose(det, tmp_path / "kp")
    (tmp_path / "kp" / "b" / "b_000000000004_keypoints.json").unlink()  # nobody there in view b
    # another naming in view a: not zero-padded, so the names are kept
    for f in (tmp_path / "kp" / "a").iterdir():
        f.rename(f.with_name(f"run_{int(f.name.split('_')[1])}_keypoints.json"))
    expected = read_detections(tmp_path / "kp", ["a", "b", "c"])
    stream = OpenPoseStream(tmp_path / "kp", ["a", "b", "c"])
    assert stream.frames.tolist() == list(expected.frames)
    for (frame, views), want in zip(stream, expected.keypoints):
        assert len(views) == 3 and all(np.array_equal(v, w) for v, w in zip(views, want))


def test_bad_inputs_are_one_line_errors(scene, tmp_path):
    with pytest.raises(InputError, match="not a camera"):
        (tmp_path / "kp" / "nocam").mkdir(parents=True)
        OpenPoseStream(tmp_path / "kp", ["a"])
    with pytest.raises(InputError, match=".jsonl"):
        reconstruct_stream(scene.calibration, scene.keypoints2d, tmp_path / "pred.npz")
    bad = tmp_path / "bad"
    (bad / "cam00").mkdir(parents=True)
    (bad / "cam00" / "cam00_000000000000_keypoints.json").write_text("{not json")
    with pytest.raises(InputError, match="cam00_000000000000_keypoints.json"):
        reconstruct_stream(scene.calibration, bad, tmp_path / "p.jsonl")
    assert not (tmp_path / "p.jsonl").exists()
    (tmp_path / "x.jsonl").write_text('{"format": "other"}\n')
    with pytest.raises(InputError, match="format"):
        read_stream(tmp_path / "x.jsonl")


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 400), st.integers(1, 100), st.integers(0, 50))
def test_chunks_cover_every_frame_once(T, chunk, margin):
    covered = []
    for c0, c1, w0, w1 in _chunks(T, chunk, margin):
        assert 0 <= w0 <= c0 < c1 <= w1 <= T and c0 - w0 <= margin and w1 - c1 <= margin
        covered.extend(range(c0, c1))
    assert covered == list(range(T))


def _window_reference(t, ids, joints, confidence, column, rank, k, W):
    """The dense, row-by-row merge of one output track (what the whole clip's stitching does)."""
    out_j, out_c = np.full((W, 17, 3), np.nan), np.zeros((W, 17))
    for f in range(W):
        rows = np.flatnonzero(t == f)
        for i in rows[np.argsort(rank[ids[rows]], kind="stable")].tolist():
            if column[ids[i]] != k:
                continue
            mine = np.isfinite(out_j[f]).all(-1).any()
            if not mine or (rank[ids[i]] > 0 and confidence[i].sum() > out_c[f].sum()):
                out_j[f], out_c[f] = joints[i], confidence[i]
    return out_j, out_c


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_track_window_merges_chain_overlaps_as_the_dense_merge(seed):
    from closecap.stream import _Rows, _track_window

    rng = np.random.default_rng(seed)
    W, P_raw = int(rng.integers(1, 12)), int(rng.integers(1, 6))
    column = rng.integers(-1, 2, P_raw)  # raw id -> output track 0, 1 or dropped
    rank = rng.integers(0, 3, P_raw)  # position in its chain
    t, ids = [], []
    for f in range(W):  # each frame: distinct raw ids, in the tracker's order
        here = rng.permutation(P_raw)[:int(rng.integers(0, P_raw + 1))]
        t += [f] * len(here)
        ids += here.tolist()
    t, ids = np.array(t, dtype=np.int64), np.array(ids, dtype=np.int64)
    joints = rng.normal(size=(len(t), 17, 3))
    joints[rng.random(len(t)) < 0.2] = np.nan  # a raw person with no joint: the slot counts as empty
    confidence = rng.random((len(t), 17))
    rows = _Rows(t + 5, ids, joints, confidence)
    for k in (0, 1):
        got = _track_window(rows, column[ids], rank, k, 5, 5 + W)
        want = _window_reference(t, ids, joints, confidence, column, rank, k, W)
        assert np.array_equal(got[0], want[0], equal_nan=True) and np.array_equal(got[1], want[1])
