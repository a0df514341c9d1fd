"""Pictures: overlays land where the cameras see the people, reprojection errors measure what they say,
frustums are the cameras' pyramids, plots and videos come out as valid files."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from closecap import viz
from closecap.cameras import ring_rig
from closecap.poses import Detections2D, Poses3D


def _people(T: int = 4, P: int = 2, seed: int = 0) -> Poses3D:
    rng = np.random.default_rng(seed)
    joints = np.zeros((T, P, 17, 3))
    joints[..., 2] = np.linspace(0.1, 1.7, 17)
    joints[..., 0] = rng.normal(scale=0.05, size=(T, P, 17))
    # side by side as cam00 (on the +x axis) sees them
    joints[..., 1] = rng.normal(scale=0.05, size=(T, P, 17)) + np.arange(P)[None, :, None] * 0.6 - 0.3
    return Poses3D(np.arange(T), np.arange(P) + 1, joints, np.ones((T, P, 17)))


def _detections(pred: Poses3D, rig, offset_px=(3.0, 4.0)) -> Detections2D:
    uv, _ = rig.project(pred.joints)  # (V, T, P, J, 2)
    frames = []
    for t in range(pred.num_frames):
        frames.append(tuple(np.concatenate([uv[v, t] + offset_px, np.ones((pred.num_people, 17, 1))], -1)
                            for v in range(len(rig))))
    return Detections2D(rig.names, tuple(pred.frames.tolist()), tuple(frames))


def test_overlay_draws_each_id_in_its_colour_where_it_projects():
    rig = ring_rig(3, width=320, height=240, focal_px=150.0)
    pred = _people()
    img = viz.draw_overlay(rig[0], pred, 0)
    assert img.shape == (240, 320, 3)
    for p, pid in enumerate(pred.ids):
        uv, _ = rig[0].project(pred.joints[0, p])
        u, v = np.round(uv[8]).astype(int)  # a joint: a filled dot in the id's colour
        patch = img[v - 1:v + 2, u - 1:u + 2].reshape(-1, 3).astype(int)
        want = np.array(viz.id_color(pid)[::-1])
        assert np.abs(patch - want).sum(-1).min() < 60, pid


def test_overlay_keeps_the_video_frame_and_draws_detections_grey():
    rig = ring_rig(2, width=160, height=120, focal_px=80.0)
    pred = _people(T=1, P=1)
    frame = np.full((120, 160, 3), 30, np.uint8)
    det = np.zeros((1, 17, 3))
    det[0, :, 0], det[0, :, 1], det[0, :, 2] = np.linspace(20, 140, 17), 100.0, 1.0
    img = viz.draw_overlay(rig[1], pred, 0, detections=det, image=frame)
    assert (frame == 30).all()  # the input is not drawn on
    assert img[5:15, 100:150].mean() == pytest.approx(30, abs=1)  # background kept away from drawings
    assert (np.abs(img[100, 20:140].astype(int) - 150) < 30).all(-1).mean() > 0.5  # grey detection line


def test_reprojection_error_equals_the_pixel_offset():
    rig = ring_rig(4)
    pred = _people()
    det = _detections(pred, rig, offset_px=(3.0, 4.0))
    err = viz.reprojection_errors_per_camera(pred, rig, det)
    assert err.shape == (pred.num_frames, 4, pred.num_people)
    np.testing.assert_allclose(err, 5.0, atol=1e-9)


def test_reprojection_error_picks_the_nearest_detection_and_nan_without_one():
    rig = ring_rig(2)
    pred = _people(T=2, P=2)
    det = _detections(pred, rig, offset_px=(0.0, 0.0))
    # swap the order of people in one view: matching must not depend on it; drop view 1 of frame 1
    kp = [list(views) for views in det.keypoints]
    kp[0][0] = kp[0][0][::-1]
    kp[1][1] = np.zeros((0, 17, 3))
    det = Detections2D(det.camera_names, det.frames, tuple(tuple(v) for v in kp))
    err = viz.reprojection_errors_per_camera(pred, rig, det)
    np.testing.assert_allclose(err[0], 0.0, atol=1e-9)
    assert np.isnan(err[1, 1]).all() and np.allclose(err[1, 0], 0.0)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32 - 1), st.floats(0.2, 3.0))
def test_frustum_corners_project_to_the_image_corners(seed, depth):
    rng = np.random.default_rng(seed)
    rig = ring_rig(3, radius_m=rng.uniform(2, 6), height_m=rng.uniform(0.5, 3), focal_px=rng.uniform(300, 2000))
    fr = viz.camera_frustums(rig, depth)
    for v, cam in enumerate(rig.cameras):
        uv, z = cam.project(fr[v, 1:])
        np.testing.assert_allclose(z, depth, rtol=1e-9)
        np.testing.assert_allclose(uv, [[-0.5, -0.5], [cam.width - 0.5, -0.5], [cam.width - 0.5, cam.height - 0.5],
                                        [-0.5, cam.height - 0.5]], atol=1e-6)


def test_match_to_gt_pairs_people_regardless_of_order():
    gt = _people(T=3, P=2)
    swapped = Poses3D(gt.frames, np.array([7, 9]), gt.joints[:, ::-1] + 0.01, gt.confidence)
    t, p, err = viz.match_to_gt(swapped, gt)
    assert sorted(zip(t.tolist(), p.tolist())) == [(a, b) for a in range(3) for b in range(2)]
    np.testing.assert_allclose(err, np.sqrt(3) * 0.01, atol=1e-12)


def _is_png(data: bytes) -> np.ndarray:
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert img is not None and img.std() > 5  # not blank
    return img


def test_plots_are_pngs(tmp_path):
    rig = ring_rig(3)
    pred = _people(T=6, P=2)
    det = _detections(pred, rig)
    err = viz.reprojection_errors_per_camera(pred, rig, det)
    for data in (viz.plot_tracks(pred), viz.plot_reprojection_errors(err, rig, pred.ids.tolist()),
                 viz.plot_joint_errors(pred, pred), viz.plot_error_vs_distance(pred, pred)):
        _is_png(data)
    assert viz.plot_frame(pred, rig, tmp_path / "f.png") == viz._closest_frame(pred)
    _is_png((tmp_path / "f.png").read_bytes())


def test_plot_frame_keeps_camera_labels_inside_the_axes(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rig = ring_rig(5, radius_m=4.5)
    pred = _people()
    captured = {}
    real_png = viz.figure_png

    def spy(fig):
        ax3d = fig.axes[0]
        limits = np.array([ax3d.get_xlim3d(), ax3d.get_ylim3d(), ax3d.get_zlim3d()])  # (3, 2)
        anchors = np.array([t.get_position_3d() for t in ax3d.texts if t.get_text().strip().startswith("cam")])
        captured["inside"] = [bool(((a >= limits[:, 0]) & (a <= limits[:, 1])).all()) for a in anchors]
        return real_png(fig)

    viz.figure_png = spy
    try:
        viz.plot_frame(pred, rig, tmp_path / "f.png")
    finally:
        viz.figure_png = real_png
        plt.close("all")
    assert len(captured["inside"]) == 5 and all(captured["inside"])


def test_overlay_video_has_every_frame(tmp_path):
    rig = ring_rig(2, width=320, height=240, focal_px=150.0)
    pred = _people(T=5, P=2)
    path = viz.write_overlay_video(pred, rig, tmp_path / "o.mp4", view="cam01", detections=_detections(pred, rig),
                                   fps=10)
    cap = cv2.VideoCapture(str(path))
    count = 0
    while cap.read()[0]:
        count += 1
    cap.release()
    assert count == 5
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary left


def test_overlay_video_draws_on_the_recorded_frames(tmp_path):
    pytest.importorskip("closecap.io.media")
    rig = ring_rig(1, width=160, height=120, focal_px=80.0)
    pred = _people(T=3, P=1)
    (tmp_path / "videos" / "cam00").mkdir(parents=True)
    for i in range(3):
        cv2.imwrite(str(tmp_path / "videos" / "cam00" / f"{i}.png"), np.full((120, 160, 3), 60 * (i + 1), np.uint8))
    frames = viz.video_frames(tmp_path / "videos", rig, [0, 2])
    assert sorted(frames) == [0, 2] and int(frames[2][0][0, 0, 0]) == 180
    path = viz.write_overlay_video(pred, rig, tmp_path / "o.mp4", videos_dir=tmp_path / "videos")
    cap = cv2.VideoCapture(str(path))
    means = []
    while True:
        ok, img = cap.read()
        if not ok:
            break
        means.append(float(np.median(img)))
    cap.release()
    np.testing.assert_allclose(means, [60, 120, 180], atol=6)


def test_scene_3d_html_is_self_contained():
    pytest.importorskip("plotly")
    rig = ring_rig(3)
    pred = _people(T=12, P=2)
    page = viz.scene_3d_html(pred, rig, gt=pred, max_frames=5)
    import re

    assert re.search(r"<script[^>]*src=", page) is None and len(page) > 1_000_000  # plotly.js inline
    assert page.count("world\\u002fcameras\\u002fcam0") + page.count("world/cameras/cam0") >= 3
    assert "Plotly.newPlot" in page or "Plotly.react" in page
    assert '"sliders"' in page
