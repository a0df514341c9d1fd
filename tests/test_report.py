"""The HTML report: one self-contained page from a run dir, which a real headless browser renders.

The browser test needs Debian's chromium (``apt-get install -y chromium``); it is skipped without it.
"""
from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess

import cv2
import numpy as np
import pytest

from closecap.cameras import ring_rig
from closecap.errors import InputError
from closecap.io.calibration import save_rig
from closecap.io.keypoints import write_openpose, write_poses
from closecap.metrics import evaluate
from closecap.poses import Detections2D, Poses3D
from closecap.report import SECTIONS, write_report


def _run_dir(tmp_path, *, with_gt=True, with_detections=True, videos=False):
    """A small run dir like ``closecap demo`` writes (3 cameras, 2 people, 8 frames)."""
    rng = np.random.default_rng(0)
    rig = ring_rig(3, width=480, height=270, focal_px=260.0)
    T, P = 8, 2
    joints = np.zeros((T, P, 17, 3))
    joints[..., 2] = np.linspace(0.1, 1.7, 17)
    joints[..., 1] = np.arange(P)[None, :, None] * 0.6 - 0.3 + np.linspace(0, 0.3, T)[:, None, None]
    joints += rng.normal(scale=0.03, size=joints.shape)
    gt = Poses3D(np.arange(T), np.array([0, 1]), joints, np.ones((T, P, 17)))
    pred = Poses3D(np.arange(T), np.array([3, 5]), joints + rng.normal(scale=0.02, size=joints.shape),
                   np.ones((T, P, 17)))
    run = tmp_path / "run"
    run.mkdir()
    save_rig(rig, run / "calibration.json")
    config = {"reconstruct": {"method": "baseline"}, "calibration": str(run / "calibration.json")}
    if with_detections:
        uv, _ = rig.project(joints)  # (V, T, P, J, 2)
        kp = tuple(tuple(np.concatenate([uv[v, t], np.ones((P, 17, 1))], -1) for v in range(3)) for t in range(T))
        write_openpose(Detections2D(rig.names, tuple(range(T)), kp), run / "keypoints2d")
        config["keypoints2d"] = str(run / "keypoints2d")
    if with_gt:
        write_poses(gt, run / "gt.json")
        (run / "metrics.json").write_text(json.dumps(evaluate(pred, gt).to_dict()))
        (run / "settings.json").write_text(json.dumps({"synth": {"seed": 0}}))
    if videos:
        for name in rig.names:
            (tmp_path / "videos" / name).mkdir(parents=True)
            for t in range(T):
                green = np.full((270, 480, 3), (0, 90, 0), np.uint8)
                cv2.imwrite(str(tmp_path / "videos" / name / f"{t:03d}.png"), green)
        config["videos"] = str(tmp_path / "videos")
    write_poses(pred, run / "pred.json")
    (run / "pred.config.json").write_text(json.dumps(config))
    return run


def _section_ids(text: str) -> list[str]:
    return re.findall(r'<section id="([^"]+)"', text)


def _data_images(text: str) -> list[np.ndarray]:
    import base64

    images = []
    for mime, payload in re.findall(r'<img[^>]*src="data:image/(png|jpeg);base64,([A-Za-z0-9+/=]+)"', text):
        images.append(cv2.imdecode(np.frombuffer(base64.b64decode(payload), np.uint8), cv2.IMREAD_COLOR))
    return images


@pytest.fixture(scope="module")
def full_report(tmp_path_factory):
    """``(run dir, page)`` of a full run dir (GT, detections, metrics, settings), built once."""
    run = _run_dir(tmp_path_factory.mktemp("full"))
    return run, write_report(run)


def test_full_run_dir_gives_every_section(full_report):
    run, page = full_report
    assert page == run / "report.html"
    text = page.read_text()
    assert _section_ids(text) == list(SECTIONS)
    assert "MPJPE (mm)" in text and "pred.config.json" in text and "settings.json" in text
    images = _data_images(text)
    assert len(images) >= 3 * 3 + 4 and all(img is not None and img.std() > 3 for img in images)
    assert not re.search(r'<(script|img|link)[^>]*(src|href)="(https?:)?//', text)  # nothing fetched from the net


def test_minimal_run_dir_calibration_and_pred_only(tmp_path):
    run = _run_dir(tmp_path, with_gt=False, with_detections=False)
    (run / "pred.config.json").unlink()
    out = write_report(run, tmp_path / "elsewhere" / "r.html")
    ids = _section_ids(out.read_text())
    assert ids == ["view-3d", "overlays", "tracks", "settings"]
    assert not (run / "report.html").exists()


def test_overlays_use_the_video_frames(tmp_path):
    pytest.importorskip("closecap.io.media")
    run = _run_dir(tmp_path, videos=True)
    text = write_report(run).read_text()
    assert "on the video frames" in text
    section = text.split('<section id="overlays">')[1].split("</section>")[0]
    overlays = _data_images(section)
    assert len(overlays) >= 3
    # the green video background shows through (blank canvases are white)
    assert all(np.median(img[..., 1]) > 60 and np.median(img[..., 2]) < 40 for img in overlays)


def test_missing_inputs_raise_input_error(tmp_path):
    with pytest.raises(InputError, match="not a folder"):
        write_report(tmp_path / "nope")
    run = _run_dir(tmp_path, with_gt=False, with_detections=False)
    (run / "pred.json").unlink()
    with pytest.raises(InputError, match="pred.json"):
        write_report(run)


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def test_report_renders_in_a_headless_browser(full_report, tmp_path):
    browser = _chromium()
    if browser is None:
        pytest.skip("chromium is not installed (Debian: apt-get install -y chromium)")
    _, page = full_report
    shot = tmp_path / "shot.png"
    # one browser run: the DOM after the scripts ran on stdout, the screenshot to a file
    dom = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                          "--disable-dev-shm-usage", "--no-first-run", "--virtual-time-budget=3000",
                          "--window-size=1280,2000", f"--screenshot={shot}", "--dump-dom", page.as_uri()],
                         capture_output=True, text=True, timeout=90)
    assert dom.returncode == 0 and shot.exists(), dom.stderr[-2000:]
    for sid in SECTIONS:
        assert f'id="{sid}"' in dom.stdout, sid
    if importlib.util.find_spec("plotly") is not None:  # plotly.js ran in the page and built the 3D view
        assert "js-plotly-plot" in dom.stdout and "main-svg" in dom.stdout
    img = cv2.imread(str(shot))
    assert img.shape[:2] == (2000, 1280)
    assert img.astype(float).var() > 100  # not blank
    assert (img.reshape(-1, 3) < 100).all(-1).mean() > 0.001  # there is dark ink (text, lines)
