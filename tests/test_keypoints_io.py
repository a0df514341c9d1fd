"""Round trips and error messages of closecap.io.keypoints (2D detections and 3D poses)."""
from __future__ import annotations

import csv
import json
import math
import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from closecap.errors import InputError
from closecap.io.keypoints import (
    openpose_frame_number, read_detections, read_poses, write_coco, write_openpose, write_poses,
)
from closecap.poses import Detections2D, Poses3D
from closecap.skeleton import BODY25, COCO17, COCO18

J = COCO17.num_joints
SETTINGS = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# ----------------------------------------------------------------------------- strategies and helpers


@st.composite
def people_2d(draw, max_people: int = 3) -> np.ndarray:
    """``(P, 17, 3)``: finite pixels (any sign), scores exactly 0 (missing) or in (0, 1]."""
    P = draw(st.integers(0, max_people))
    uv_px = draw(hnp.arrays(float, (P, J, 2), elements=st.floats(-5000, 5000, allow_nan=False, width=64)))
    score = draw(hnp.arrays(float, (P, J), elements=st.one_of(st.just(0.0), st.floats(1e-6, 1.0))))
    return np.concatenate([uv_px, score[..., None]], -1)


@st.composite
def detections(draw) -> Detections2D:
    V = draw(st.integers(1, 3))
    frames = sorted(draw(st.sets(st.integers(0, 10**7), min_size=1, max_size=3)))
    keypoints = tuple(tuple(draw(people_2d()) for _ in range(V)) for _ in frames)
    return Detections2D(tuple(f"cam{v}" for v in range(V)), tuple(frames), keypoints)


def canonical(arr: np.ndarray) -> np.ndarray:
    """The module's convention: missing joints are (0, 0, 0), people with no joint are dropped."""
    detected = arr[..., 2] > 0
    arr = np.where(detected[..., None], arr, 0.0)
    return arr[detected.any(-1)]


def assert_same_detections(back: Detections2D, expected: Detections2D, *, drop_empty_frames: bool = False) -> None:
    exp_frames = []
    exp_kp = []
    for frame, views in zip(expected.frames, expected.keypoints):
        views = [canonical(a) for a in views]
        if drop_empty_frames and all(len(a) == 0 for a in views):
            continue
        exp_frames.append(frame)
        exp_kp.append(views)
    assert back.camera_names == expected.camera_names
    assert back.frames == tuple(exp_frames)
    for got_views, exp_views in zip(back.keypoints, exp_kp):
        for got, exp in zip(got_views, exp_views):
            assert got.shape == exp.shape
            assert np.array_equal(got, exp)  # exact, not approximate


@st.composite
def poses_3d(draw) -> Poses3D:
    frames = sorted(draw(st.sets(st.integers(0, 10**6), min_size=1, max_size=4)))
    ids = draw(st.lists(st.integers(-3, 500), min_size=0, max_size=3, unique=True))
    T, P = len(frames), len(ids)
    joints = draw(hnp.arrays(float, (T, P, J, 3), elements=st.floats(-50, 50, allow_nan=False, width=64)))
    missing = draw(hnp.arrays(bool, (T, P, J)))
    confidence = draw(hnp.arrays(float, (T, P, J), elements=st.floats(0, 1)))
    joints[missing] = np.nan
    return Poses3D(np.array(frames), np.array(ids, dtype=np.int64), joints, confidence)


def openpose_person(values_per_joint: list[list[float]] | None = None, n_joints: int = 25) -> dict:
    flat = [0.0] * (3 * n_joints) if values_per_joint is None else [x for row in values_per_joint for x in row]
    return {"person_id": [-1], "pose_keypoints_2d": flat}


def write_json(path: Path, obj) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj))
    return path


def valid_pose_doc(**changes) -> dict:
    doc = {"format": "closecap-3d", "version": 1, "units": "m", "skeleton": "coco17",
           "joint_names": list(COCO17.joint_names), "convention": "world frame of the calibration",
           "frames": [{"frame": 0, "people": [{"id": 1, "joints": [[0.0, 0.0, 1.0]] * J, "confidence": [1.0] * J}]}]}
    doc.update(changes)
    return doc


# ----------------------------------------------------------------------------- 2D round trips


@pytest.mark.parametrize("joint_set", ["body25", "coco18"])
@SETTINGS
@given(det=detections())
def test_openpose_round_trip_is_exact(joint_set, det):
    with tempfile.TemporaryDirectory() as tmp:
        files = write_openpose(det, tmp, joint_set=joint_set)
        assert len(files) == det.num_frames * det.num_views
        expected_values = 3 * (BODY25 if joint_set == "body25" else COCO18).num_joints
        doc = json.loads(files[0].read_text())
        assert doc["version"] == 1.3
        assert all(len(p["pose_keypoints_2d"]) == expected_values and p["face_keypoints_2d"] == []
                   for p in doc["people"])
        back = read_detections(tmp, det.camera_names)
    assert_same_detections(back, det)


@SETTINGS
@given(det=detections())
def test_coco_round_trip_is_exact(det):
    nobody = all(len(canonical(a)) == 0 for views in det.keypoints for a in views)
    with tempfile.TemporaryDirectory() as tmp:
        write_coco(det, tmp)
        if nobody:  # COCO results cannot hold a frame without people
            with pytest.raises(InputError, match="no frames"):
                read_detections(tmp, det.camera_names)
            return
        back = read_detections(tmp, det.camera_names)
    assert_same_detections(back, det, drop_empty_frames=True)


def test_body25_neck_and_mid_hip_are_mid_points_with_min_score(tmp_path):
    kp = np.zeros((1, J, 3))
    kp[0, COCO17.indices(["left_shoulder", "right_shoulder", "left_hip"])] = [[10, 2, 0.9], [20, 4, 0.7], [5, 5, 0.5]]
    write_openpose(Detections2D(("c",), (0,), ((kp,),)), tmp_path)
    values = json.loads((tmp_path / "c" / "c_000000000000_keypoints.json").read_text())
    body = np.array(values["people"][0]["pose_keypoints_2d"]).reshape(25, 3)
    assert body[BODY25.index("neck")].tolist() == [15.0, 3.0, 0.7]
    assert body[BODY25.index("mid_hip")].tolist() == [0.0, 0.0, 0.0]  # right hip missing
    assert body[BODY25.index("left_big_toe")].tolist() == [0.0, 0.0, 0.0]


# ----------------------------------------------------------------------------- OpenPose reading details


@pytest.mark.parametrize("name", ["cam1_000000000012_keypoints.json", "12_keypoints.json",
                                  "video_0012_keypoints.json"])
def test_frame_number_from_openpose_file_names(tmp_path, name):
    assert openpose_frame_number(name) == 12
    write_json(tmp_path / "cam1" / name, {"people": []})
    assert read_detections(tmp_path, ["cam1"]).frames == (12,)


def test_openpose_name_without_frame_number_raises(tmp_path):
    bad = write_json(tmp_path / "cam1" / "video_keypoints.json", {"people": []})
    with pytest.raises(InputError, match=bad.name):
        read_detections(tmp_path, ["cam1"])


def test_missing_frame_file_in_one_view_means_no_detections(tmp_path):
    person = openpose_person([[100.0 + j, 50.0, 0.5] for j in range(25)])
    write_json(tmp_path / "a_json" / "a_0_keypoints.json", {"people": [person]})
    write_json(tmp_path / "a_json" / "a_1_keypoints.json", {"people": [person, person]})
    write_json(tmp_path / "b" / "b_0_keypoints.json", {"people": [person]})
    det = read_detections(tmp_path, ["a", "b", "c"])  # c has no folder at all
    assert det.frames == (0, 1)
    assert [a.shape[0] for a in det.for_frame(0)] == [1, 1, 0]
    assert [a.shape[0] for a in det.for_frame(1)] == [2, 0, 0]
    nose = det.for_frame(0)[0][0, COCO17.index("nose")]
    left_wrist = det.for_frame(0)[0][0, COCO17.index("left_wrist")]
    assert nose.tolist() == [100.0, 50.0, 0.5]
    assert left_wrist.tolist() == [100.0 + BODY25.index("left_wrist"), 50.0, 0.5]


def test_coco18_input_and_missing_joints(tmp_path):
    rows = [[10.0 * j, 1.0, 0.8] for j in range(18)]
    rows[COCO18.index("left_knee")] = [0.0, 0.0, 0.0]
    write_json(tmp_path / "c" / "0_keypoints.json", {"people": [openpose_person(rows, 18)]})
    kp = read_detections(tmp_path, ["c"]).for_frame(0)[0][0]
    assert kp[COCO17.index("left_knee")].tolist() == [0.0, 0.0, 0.0]
    assert kp[COCO17.index("right_ear")].tolist() == [10.0 * COCO18.index("right_ear"), 1.0, 0.8]


def test_min_score_and_frames_selection(tmp_path):
    rows = [[1.0, 1.0, 0.2]] * 25
    strong = [[1.0, 1.0, 0.2]] * 25
    strong[0] = [7.0, 7.0, 0.9]
    for frame in range(3):
        write_json(tmp_path / "c" / f"{frame}_keypoints.json",
                   {"people": [openpose_person(rows), openpose_person(strong)]})
    det = read_detections(tmp_path, ["c"], frames=[2, 0], min_score=0.5)
    assert det.frames == (0, 2)
    kp = det.for_frame(2)[0]
    assert kp.shape == (1, J, 3)  # the weak person has no joint left
    assert kp[0, 0].tolist() == [7.0, 7.0, 0.9] and np.all(kp[0, 1:] == 0)
    with pytest.raises(InputError, match="frames: 1 requested frame"):
        read_detections(tmp_path, ["c"], frames=[0, 5])


def test_coco_visibility_flags_and_scores(tmp_path):
    flags = [0, 0, 0] * J
    flags[0:3] = [5, 6, 2]  # nose visible
    flags[3:6] = [8, 9, 1]  # left eye labelled, not visible
    scores = [0.0] * (3 * J)
    scores[0:3] = [5.0, 6.0, 0.25]
    data = {"a": [{"image_id": 3, "keypoints": flags, "score": 0.75, "category_id": 1},
                  {"image_id": 3, "keypoints": flags, "score": 0.9, "category_id": 2}],  # not a person
            "b": [{"frame": 4, "keypoints": scores, "score": 0.1}]}
    det = read_detections(write_json(tmp_path / "results.json", data), ["a", "b"])
    assert det.frames == (3, 4)
    a = det.for_frame(3)[0]
    assert a.shape == (1, J, 3)
    assert a[0, :2].tolist() == [[5.0, 6.0, 0.75], [8.0, 9.0, 0.75]] and np.all(a[0, 2:] == 0)
    b = det.for_frame(4)[1]
    assert b[0, 0].tolist() == [5.0, 6.0, 0.25]


# ----------------------------------------------------------------------------- bad 2D input


def good_openpose(tmp_path: Path) -> Path:
    return write_json(tmp_path / "cam0" / "cam0_000000000000_keypoints.json", {"people": [openpose_person()]})


@pytest.mark.parametrize("content, match", [
    ("{not json", "not valid JSON"),
    (json.dumps({"people": [{"pose_keypoints_2d": [0.0] * 75}, {"pose_keypoints_2d": [0.0] * 51}]}),
     r"people\[1\]\.pose_keypoints_2d: expected 75 or 54 values \(25 or 18 joints x 3\), got 51"),
    ('{"people": [{"pose_keypoints_2d": [NaN' + ", 0.0" * 74 + "]}]}", r"pose_keypoints_2d\[0\]: expected a finite"),
    (json.dumps({"people": [{"pose_keypoints_2d": ["1.0"] + [0.0] * 74}]}),
     r"pose_keypoints_2d\[0\]: expected a number"),
    (json.dumps({"people": [{"pose_keypoints_2d": [0.0] * 74 + [None]}]}),
     r"pose_keypoints_2d\[74\]: expected a number"),
    (json.dumps({"people": [{"pose_keypoints_2d": [0.0] * 74 + [-0.5]}]}), "negative score"),
    (json.dumps({"persons": []}), "people: missing"),
])
def test_bad_openpose_file_raises_naming_it(tmp_path, content, match):
    good_openpose(tmp_path)
    bad = tmp_path / "cam1_json" / "cam1_000000000000_keypoints.json"
    bad.parent.mkdir()
    bad.write_text(content)
    with pytest.raises(InputError, match=match) as err:
        read_detections(tmp_path, ["cam0", "cam1"])
    assert str(err.value).startswith(str(bad) + ": ")
    assert "\n" not in str(err.value)


def test_unknown_camera_folder_raises_naming_it(tmp_path):
    good_openpose(tmp_path)
    (tmp_path / "camX").mkdir()
    with pytest.raises(InputError, match="keypoint folder 'camX' is not a camera") as err:
        read_detections(tmp_path, ["cam0"])
    assert str(tmp_path / "camX") in str(err.value)


def test_two_folders_for_one_camera_raise(tmp_path):
    good_openpose(tmp_path)
    (tmp_path / "cam0_json").mkdir()
    with pytest.raises(InputError, match="two keypoint folders for camera 'cam0'"):
        read_detections(tmp_path, ["cam0"])


def test_no_frames_and_no_input_raise(tmp_path):
    (tmp_path / "cam0").mkdir()
    with pytest.raises(InputError, match="no frames found"):
        read_detections(tmp_path, ["cam0"])
    with pytest.raises(InputError, match="no such file or folder"):
        read_detections(tmp_path / "absent", ["cam0"])
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match="no detections"):
        read_detections(empty, ["cam0"])


@pytest.mark.parametrize("results, match", [
    ([{"image_id": 0, "keypoints": [0.0] * 50}], r"cam0\.json: \[0\]\.keypoints: expected 51 values"),
    ([{"keypoints": [0.0] * 51}], r"\[0\]: missing 'image_id' or 'frame'"),
    ([{"image_id": 0, "frame": 1, "keypoints": [0.0] * 51}], "disagree"),
    ([{"image_id": "0", "keypoints": [0.0] * 51}], r"\[0\]\.image_id: expected an integer"),
    ([{"image_id": 0, "keypoints": [0.0] * 50 + [math.inf]}], r"keypoints\[50\]: expected a finite"),
    ({"image_id": 0}, "expected a list of results"),
])
def test_bad_coco_results_raise_naming_the_file(tmp_path, results, match):
    write_json(tmp_path / "cam0.json", results)
    with pytest.raises(InputError, match=match) as err:
        read_detections(tmp_path, ["cam0"])
    assert str(tmp_path / "cam0.json") in str(err.value)


def test_coco_unknown_camera_raises(tmp_path):
    write_json(tmp_path / "cam0.json", [])
    write_json(tmp_path / "camZ.json", [])
    with pytest.raises(InputError, match="'camZ.json' is not <camera>.json"):
        read_detections(tmp_path, ["cam0"])
    one_file = write_json(tmp_path / "all" / "dets.json", {"camZ": []})
    with pytest.raises(InputError, match="dets.json: camZ: not a camera"):
        read_detections(one_file, ["cam0"])


# ----------------------------------------------------------------------------- 3D round trips


@SETTINGS
@given(poses=poses_3d())
def test_poses_json_round_trip_rounds_to_micrometres(poses):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "poses.json"
        write_poses(poses, path, config={"voxel_size_m": 0.05})
        doc = json.loads(path.read_text())
        back = read_poses(path)
    assert doc["format"] == "closecap-3d" and doc["units"] == "m" and doc["config"] == {"voxel_size_m": 0.05}
    assert doc["joint_names"] == list(COCO17.joint_names)
    assert np.array_equal(back.frames, poses.frames)
    assert np.array_equal(back.ids, poses.ids)  # same ids in the same order, also people never present
    assert np.array_equal(back.joints, np.round(poses.joints, 6), equal_nan=True)
    assert np.array_equal(back.confidence, np.round(poses.confidence, 6))
    # absent people are not listed
    assert sum(len(f["people"]) for f in doc["frames"]) == int(poses.present.sum())


@SETTINGS
@given(poses=poses_3d())
def test_poses_npz_round_trip_is_exact(poses):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "poses.npz"
        assert write_poses(poses, path) == [path]
        back = read_poses(path)
        assert sorted(p.name for p in Path(tmp).iterdir()) == ["poses.npz"]  # no 'poses.npz.npz', no temp file
    assert np.array_equal(back.frames, poses.frames) and np.array_equal(back.ids, poses.ids)
    assert np.array_equal(back.joints, poses.joints, equal_nan=True)
    assert np.array_equal(back.confidence, poses.confidence)


def test_csv_rows_and_values(tmp_path):
    joints = np.full((2, 2, J, 3), np.nan)
    joints[0, 0] = np.arange(J * 3).reshape(J, 3) / 10
    joints[1, 1, :5] = 1.25
    confidence = np.full((2, 2, J), 0.5)
    poses = Poses3D(np.array([10, 11]), np.array([7, 3]), joints, confidence)
    path = tmp_path / "out.csv"
    write_poses(poses, path)
    rows = list(csv.DictReader(path.open()))
    assert len(rows) == 2 * J  # person 7 in frame 10, person 3 in frame 11
    first = rows[1]
    assert (first["frame"], first["id"], first["joint"]) == ("10", "7", "left_eye")
    assert [float(first[k]) for k in ("x_m", "y_m", "z_m", "confidence")] == [0.3, 0.4, 0.5, 0.5]
    last = rows[-1]
    assert (last["frame"], last["id"], last["x_m"], last["confidence"]) == ("11", "3", "", "0.000000")


def test_trc_one_file_per_person(tmp_path):
    joints = np.full((3, 2, J, 3), np.nan)
    joints[:, 0] = [1.0, 2.0, 3.0]
    joints[1, 1, 0] = [4.0, 5.0, 6.0]
    poses = Poses3D(np.array([0, 1, 2]), np.array([0, 5]), joints, np.ones((3, 2, J)))
    files = write_poses(poses, tmp_path / "run.trc", fps=60, trc_axes="yzx")
    assert [f.name for f in files] == ["run_id0.trc", "run_id5.trc"]
    assert not (tmp_path / "run.trc").exists()
    lines = files[0].read_text().splitlines()
    assert lines[0].startswith("PathFileType\t4\t(X/Y/Z)")
    assert lines[2].split("\t")[:5] == ["60", "60", "3", str(J), "m"]
    assert lines[3].split("\t")[2] == "nose" and lines[3].split("\t")[5] == "left_eye"
    assert lines[4].split("\t")[2:5] == ["X1", "Y1", "Z1"]
    data = [line.split("\t") for line in lines[6:]]
    assert len(data) == 3 and all(len(row) == 2 + 3 * J for row in data)
    assert data[1][:5] == ["1", f"{1 / 60:.6f}", "2.000000", "3.000000", "1.000000"]  # (Y, Z, X)
    other = [line.split("\t") for line in files[1].read_text().splitlines()[6:]]
    assert other[0][2:5] == ["", "", ""] and other[1][2:5] == ["5.000000", "6.000000", "4.000000"]


def test_unknown_pose_suffix_and_bad_trc_options(tmp_path):
    poses = Poses3D(np.array([0]), np.array([1]), np.zeros((1, 1, J, 3)), np.ones((1, 1, J)))
    with pytest.raises(InputError, match="unknown pose format '.bvh'"):
        write_poses(poses, tmp_path / "x.bvh")
    with pytest.raises(InputError, match="trc_axes"):
        write_poses(poses, tmp_path / "x.trc", trc_axes="xxz")
    with pytest.raises(InputError, match="fps"):
        write_poses(poses, tmp_path / "x.trc", fps=0)
    with pytest.raises(InputError, match="x.csv: cannot read poses"):
        read_poses(tmp_path / "x.csv")


def test_writers_reject_unusable_detections(tmp_path):
    kp = np.zeros((0, J, 3))
    with pytest.raises(InputError, match="frame numbers must be >= 0"):
        write_openpose(Detections2D(("a",), (-1,), ((kp,),)), tmp_path)
    with pytest.raises(InputError, match="cannot be used as a file or folder name"):
        write_coco(Detections2D(("../a",), (0,), ((kp,),)), tmp_path)
    with pytest.raises(InputError, match="joint_set: expected 'body25' or 'coco18'"):
        write_openpose(Detections2D(("a",), (0,), ((kp,),)), tmp_path, joint_set="coco17")
    assert list(tmp_path.iterdir()) == []


# ----------------------------------------------------------------------------- bad 3D input


def _null_joint(doc):
    doc["frames"][0]["people"][0]["joints"][3] = [0.1, float("nan"), 0.2]
    return doc


def _dup_id(doc):
    doc["frames"][0]["people"].append(doc["frames"][0]["people"][0])
    return doc


def _dup_frame(doc):
    doc["frames"].append(doc["frames"][0])
    return doc


@pytest.mark.parametrize("edit, match", [
    (lambda d: {**d, "format": "pose2sim"}, "format: expected 'closecap-3d', got 'pose2sim'"),
    (lambda d: {**d, "version": 2}, "version: expected 1"),
    (lambda d: {**d, "units": "mm"}, "units: expected 'm'"),
    (lambda d: {**d, "skeleton": "smpl"}, "skeleton: unknown joint set"),
    (lambda d: {**d, "joint_names": list(COCO17.joint_names[::-1])}, r"joint_names\[0\]: expected 'nose'"),
    (lambda d: {**d, "joint_names": list(COCO17.joint_names[:15])}, "joint_names: expected 17 names"),
    (lambda d: {k: v for k, v in d.items() if k != "frames"}, "frames: missing"),
    (lambda d: {**d, "frames": [{"frame": 0, "people": [{"id": 1, "joints": [None] * 15}]}]},
     r"frames\[0\]\.people\[0\]\.joints: expected 17 joints"),
    (_null_joint, r"joints\[3\]\[1\]: expected a finite number"),
    (_dup_id, "person id 1 appears twice in frame 0"),
    (_dup_frame, "strictly increasing"),
    (lambda d: {**d, "ids": [2]}, "appear in frames but not in 'ids'"),
])
def test_bad_pose_json_raises_naming_the_file(tmp_path, edit, match):
    path = tmp_path / "gt.json"
    path.write_text(json.dumps(edit(valid_pose_doc())))  # json writes NaN literally
    with pytest.raises(InputError, match=match) as err:
        read_poses(path)
    assert str(err.value).startswith(str(path) + ": ")


def test_bad_pose_npz_raises(tmp_path):
    joints = np.zeros((1, 1, J, 3))
    base = dict(format="closecap-3d", version=1, units="m", skeleton="coco17", convention="x",
                joint_names=np.array(COCO17.joint_names), config="", frames=np.array([0]), ids=np.array([1]),
                joints=joints, confidence=np.ones((1, 1, J)))
    cases = [({"format": "other"}, "format: expected"),
             ({"joints": np.zeros((1, 1, 15, 3))}, r"joints: expected shape"),
             ({"joints": np.where(np.arange(3) == 0, np.nan, joints)}, r"joints\[0, 0, 0\]: NaN in some"),
             ({"joint_names": np.array(COCO17.joint_names[:16])}, "joint_names: expected 17")]
    for change, match in cases:
        path = tmp_path / "gt.npz"
        np.savez(path, **{**base, **change})
        with pytest.raises(InputError, match=match) as err:
            read_poses(path)
        assert str(path) in str(err.value)
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(InputError, match="junk.npz: not a readable .npz"):
        read_poses(tmp_path / "junk.npz")


# ----------------------------------------------------------------------------- no partial output


def _fail_on_call(n: int, real):
    calls = {"n": 0}

    def wrapped(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] >= n:
            raise RuntimeError("disk full (simulated)")
        return real(*args, **kwargs)
    return wrapped


def test_writers_leave_no_partial_output(tmp_path, monkeypatch):
    kp = np.zeros((1, J, 3))
    kp[0, :, 2] = 0.5
    det = Detections2D(("a", "b"), (0, 1), ((kp, kp), (kp, kp)))
    poses = Poses3D(np.array([0]), np.array([1]), np.zeros((1, 1, J, 3)), np.ones((1, 1, J)))
    write_poses(poses, tmp_path / "keep.json")
    before = (tmp_path / "keep.json").read_text()
    monkeypatch.setattr(json, "dumps", _fail_on_call(3, json.dumps))  # fails mid-way through the files
    with pytest.raises(RuntimeError):
        write_openpose(det, tmp_path / "op")
    assert not (tmp_path / "op").exists()
    monkeypatch.setattr(json, "dumps", _fail_on_call(2, json.dumps))
    with pytest.raises(RuntimeError):
        write_coco(det, tmp_path / "coco")
    assert not (tmp_path / "coco").exists()
    monkeypatch.setattr(json, "dumps", _fail_on_call(1, json.dumps))
    with pytest.raises(RuntimeError):
        write_poses(poses, tmp_path / "keep.json")
    assert (tmp_path / "keep.json").read_text() == before  # the old file is untouched
    monkeypatch.undo()
    monkeypatch.setattr(np, "savez_compressed", _fail_on_call(1, np.savez_compressed))
    with pytest.raises(RuntimeError):
        write_poses(poses, tmp_path / "p.npz")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.json"]


@pytest.mark.parametrize("name", ["p.json", "p.npz", "p.csv", "p.trc"])
def test_failed_rename_leaves_no_temp_file(tmp_path, monkeypatch, name):
    """A failure at the rename step (after the bytes hit the disk) leaves neither target nor temp file."""
    poses = Poses3D(np.array([0]), np.array([1]), np.zeros((1, 1, J, 3)), np.ones((1, 1, J)))
    monkeypatch.setattr(os, "replace", _fail_on_call(1, os.replace))
    with pytest.raises(RuntimeError):
        write_poses(poses, tmp_path / name)
    assert list(tmp_path.iterdir()) == []
