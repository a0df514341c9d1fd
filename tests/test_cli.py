"""The CLI end to end on generated scenes, and its behaviour on bad input: one line, exit 2, nothing written."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from closecap.cli import main


@pytest.fixture(scope="module")
def exact_scene(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "scene"
    assert main(["synth", "--out", str(out), "--people", "3", "--frames", "40", "--noise", "none", "--seed", "3"]) == 0
    return out


def run(argv, capsys):
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_synth_reconstruct_eval_round_trip_is_exact(exact_scene, tmp_path, capsys):
    pred = tmp_path / "pred.json"
    code, out, err = run(["reconstruct", "--calib", exact_scene / "calibration.json", "--keypoints2d",
                          exact_scene / "keypoints2d", "--out", pred, "--smoothing", "none"], capsys)
    assert code == 0, err
    assert (tmp_path / "pred.config.json").exists()
    doc = json.loads(pred.read_text())
    assert doc["format"] == "closecap-3d" and doc["units"] == "m" and len(doc["joint_names"]) == 17
    code, out, err = run(["eval", "--pred", pred, "--gt", exact_scene / "gt.json", "--json"], capsys)
    assert code == 0, err
    metrics = json.loads(out)
    assert metrics["mpjpe_mm"] < 1.0
    assert metrics["ap_percent"]["25"] > 99.99
    assert metrics["recall_500mm"] == 1.0
    assert metrics["id_switches"] == 0
    # the table form prints too
    code, out, _ = run(["eval", "--pred", pred, "--gt", exact_scene / "gt.json"], capsys)
    assert code == 0 and "MPJPE" in out


def test_npz_output(exact_scene, tmp_path, capsys):
    pred = tmp_path / "pred.npz"
    code, _, err = run(["reconstruct", "--calib", exact_scene / "calibration.json", "--keypoints2d",
                        exact_scene / "keypoints2d", "--out", pred], capsys)
    assert code == 0, err
    with np.load(pred) as data:
        assert data["joints"].ndim == 4 and data["joints"].shape[2:] == (17, 3)


def _copy(scene, tmp_path):
    dst = tmp_path / "scene"
    shutil.copytree(scene, dst)
    return dst


def _first_file(scene):
    cam_dir = sorted((scene / "keypoints2d").iterdir())[0]
    return sorted(cam_dir.glob("*_keypoints.json"))[0]


def _break_not_json(scene):
    _first_file(scene).write_text("{not json")
    return _first_file(scene).name


def _break_joint_count(scene):
    f = _first_file(scene)
    doc = json.loads(f.read_text())
    doc["people"][0]["pose_keypoints_2d"] = doc["people"][0]["pose_keypoints_2d"][:51]
    f.write_text(json.dumps(doc))
    return "pose_keypoints_2d"


def _break_nan(scene):
    f = _first_file(scene)
    doc = json.loads(f.read_text())
    doc["people"][0]["pose_keypoints_2d"][0] = float("nan")
    f.write_text(json.dumps(doc))  # writes a bare NaN token, as some tools do
    return f.name


def _break_unknown_camera(scene):
    cam_dir = sorted((scene / "keypoints2d").iterdir())[0]
    cam_dir.rename(cam_dir.with_name("not_a_camera"))
    return "not_a_camera"


def _break_no_frames(scene):
    for cam_dir in (scene / "keypoints2d").iterdir():
        for f in cam_dir.iterdir():
            f.unlink()
    return "no frames"


def _break_calibration_camera(scene):
    doc = json.loads((scene / "calibration.json").read_text())
    doc["cameras"] = doc["cameras"][1:]
    (scene / "calibration.json").write_text(json.dumps(doc))
    return "keypoints2d"


def _break_calibration_matrix(scene):
    doc = json.loads((scene / "calibration.json").read_text())
    doc["cameras"][1]["K"] = doc["cameras"][1]["K"][:2]
    (scene / "calibration.json").write_text(json.dumps(doc))
    return "K"


@pytest.mark.parametrize("breaker", [_break_not_json, _break_joint_count, _break_nan, _break_unknown_camera,
                                     _break_no_frames, _break_calibration_camera, _break_calibration_matrix])
def test_bad_input_is_one_line_and_writes_nothing(exact_scene, tmp_path, capsys, breaker):
    scene = _copy(exact_scene, tmp_path)
    expected = breaker(scene)
    out_file = tmp_path / "out" / "pred.json"
    code, _, err = run(["reconstruct", "--calib", scene / "calibration.json", "--keypoints2d", scene / "keypoints2d",
                        "--out", out_file], capsys)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert expected in lines[0], lines[0]
    assert not out_file.exists() and not out_file.with_name("pred.config.json").exists()


def test_missing_calibration_file(tmp_path, capsys):
    code, _, err = run(["reconstruct", "--calib", tmp_path / "nope.json", "--keypoints2d", tmp_path,
                        "--out", tmp_path / "p.json"], capsys)
    assert code == 2 and "nope.json" in err and len(err.strip().splitlines()) == 1


def test_console_script_help_and_exit_code(tmp_path):
    exe = Path(sys.executable).with_name("closecap")
    done = subprocess.run([str(exe), "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "reconstruct" in done.stdout and "demo" in done.stdout
    done = subprocess.run([str(exe), "eval", "--pred", str(tmp_path / "a.json"), "--gt", str(tmp_path / "b.json")],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "a.json" in done.stderr and "Traceback" not in done.stderr


def test_train_then_volumetric_reconstruct_through_the_cli(tmp_path, capsys):
    """A (barely) trained checkpoint goes through `closecap train` -> `reconstruct --method volumetric`."""
    scene = tmp_path / "scene"
    assert main(["synth", "--out", str(scene), "--people", "2", "--frames", "6", "--noise", "none", "--seed", "5"]) == 0
    model = tmp_path / "model.pt"
    code, out, err = run(["train", "--out", model, "--steps", "1", "--batch-size", "1"], capsys)
    assert code == 0, err
    assert model.exists() and (tmp_path / "model.config.json").exists()
    args = ["reconstruct", "--calib", scene / "calibration.json", "--keypoints2d", scene / "keypoints2d",
            "--out", tmp_path / "vol.json", "--method", "volumetric"]
    code, _, err = run(args[:-2] + ["--method", "volumetric-unconditional"], capsys)  # no shipped ablation model
    assert code == 2 and "closecap train" in err and not (tmp_path / "vol.json").exists()
    code, _, err = run(args + ["--model", model], capsys)
    assert code == 0, err
    doc = json.loads((tmp_path / "vol.json").read_text())
    assert doc["format"] == "closecap-3d" and len(doc["frames"]) == 6
    code, _, err = run(args[:-2] + ["--method", "volumetric-unconditional", "--model", model], capsys)
    assert code == 2 and "conditional" in err
    # cameras the model was not trained for: one clear line, nothing written
    from closecap.cameras import ring_rig
    from closecap.config import save_json
    from closecap.io.calibration import rig_to_dict

    moved = tmp_path / "moved.json"
    save_json(moved, rig_to_dict(ring_rig(5, radius_m=6.0, name_format="cam{:02d}")))
    out = tmp_path / "moved_out.json"
    code, _, err = run(["reconstruct", "--calib", moved, "--keypoints2d", scene / "keypoints2d", "--out", out,
                        "--method", "volumetric", "--model", model], capsys)
    assert code == 2 and "trained for another rig" in err and "closecap train" in err and not out.exists()


def test_volumetric_reconstruct_uses_the_shipped_model_on_any_rig(tmp_path, capsys, caplog):
    """No --model: the shipped checkpoint; on cameras it was not trained for it runs and says a model for them is better."""
    from closecap.cameras import ring_rig
    from closecap.config import save_json
    from closecap.io.calibration import rig_to_dict
    from closecap.reconstruct import default_model_path

    assert default_model_path().is_file() and default_model_path().stat().st_size < 4 * 2**20
    scene = tmp_path / "scene"
    assert main(["synth", "--out", str(scene), "--people", "2", "--frames", "8", "--noise", "none", "--seed", "3"]) == 0
    out = tmp_path / "vol.json"
    code, _, err = run(["reconstruct", "--calib", scene / "calibration.json", "--keypoints2d", scene / "keypoints2d",
                        "--out", out, "--method", "volumetric"], capsys)
    assert code == 0, err
    assert json.loads(out.read_text())["format"] == "closecap-3d"
    moved = tmp_path / "moved.json"
    save_json(moved, rig_to_dict(ring_rig(5, radius_m=6.0, name_format="cam{:02d}")))
    synth_moved = tmp_path / "moved_scene"
    assert main(["synth", "--out", str(synth_moved), "--calib", str(moved), "--people", "2", "--frames", "8",
                 "--noise", "none", "--seed", "3"]) == 0
    out = tmp_path / "moved.json.out.json"
    with caplog.at_level("WARNING", logger="closecap.reconstruct"):
        code, _, err = run(["reconstruct", "--calib", moved, "--keypoints2d", synth_moved / "keypoints2d", "--out", out,
                            "--method", "volumetric"], capsys)
    assert code == 0, err
    assert out.exists() and "closecap train" in caplog.text


def test_report_overlay_and_export_commands(exact_scene, tmp_path, capsys):
    pred = tmp_path / "pred.json"
    assert run(["reconstruct", "--calib", exact_scene / "calibration.json", "--keypoints2d", exact_scene / "keypoints2d",
                "--out", pred], capsys)[0] == 0
    code, _, err = run(["overlay", "--calib", exact_scene / "calibration.json", "--pred", pred,
                        "--keypoints2d", exact_scene / "keypoints2d", "--out", tmp_path / "ov"], capsys)
    assert code == 0, err
    import cv2

    mp4s = sorted((tmp_path / "ov").glob("*.mp4"))
    assert len(mp4s) == 5 and len(list((tmp_path / "ov").glob("*.png"))) == 5
    assert int(cv2.VideoCapture(str(mp4s[0])).get(cv2.CAP_PROP_FRAME_COUNT)) == 40
    code, out, err = run(["export", "--pred", pred, "--out", tmp_path / "people.bvh"], capsys)
    assert code == 0 and len(list(tmp_path.glob("people_id*.bvh"))) == 3, err
    code, out, err = run(["export", "--pred", pred, "--out", tmp_path / "people.csv"], capsys)
    assert code == 0 and (tmp_path / "people.csv").read_text().startswith("frame,id,joint")
    run_dir = tmp_path / "run"
    shutil.copytree(exact_scene, run_dir)
    shutil.copy(pred, run_dir / "pred.json")
    code, out, err = run(["report", run_dir], capsys)
    assert code == 0 and (run_dir / "report.html").stat().st_size > 10_000, err


def test_train_on_your_own_motions(tmp_path, capsys):
    from closecap.skeleton import COCO17
    from closecap.synth.library import load_library

    motions = tmp_path / "mocap"
    motions.mkdir()
    for i, clip in enumerate(load_library().singles()[:3]):
        np.savez(motions / f"take{i}.npz", joints=clip.joints_world[0], fps=clip.fps,
                 joint_names=np.array(COCO17.joint_names))
    model = tmp_path / "mine.pt"
    code, out, err = run(["train", "--out", model, "--steps", "1", "--batch-size", "1", "--motions", motions], capsys)
    assert code == 0, err
    assert "3 clips" in out and (tmp_path / "mine.motions.npz").exists()
    saved = json.loads((tmp_path / "mine.config.json").read_text())
    assert saved["train"]["library_path"] == str((tmp_path / "mine.motions.npz").resolve())
    code, _, err = run(["train", "--out", tmp_path / "x.pt", "--steps", "1", "--motions", tmp_path / "nothing"], capsys)
    assert code == 2 and "nothing" in err and not (tmp_path / "x.pt").exists()


def test_demo_runs_the_shipped_network_offline(tmp_path, capsys):
    code, out, err = run(["demo", "--out", tmp_path / "demo", "--frames", "20", "--method", "volumetric"], capsys)
    assert code == 0, err
    assert "method 'volumetric'" in out
    metrics = json.loads((tmp_path / "demo" / "metrics.json").read_text())
    assert metrics["recall_500mm"] >= 0.95 and metrics["mpjpe_mm"] < 60.0  # the baseline gets about 30 mm here
    code, _, err = run(["demo", "--out", tmp_path / "bad", "--method", "volumetric-unconditional"], capsys)
    assert code == 2 and "--method" in err and not (tmp_path / "bad").exists()
