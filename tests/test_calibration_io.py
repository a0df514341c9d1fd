"""Calibration I/O: every real calibration in ../shared loads with sane geometry; every writer round-trips;
the same rig stored in two formats gives the same cameras; malformed inputs give one-line InputErrors."""
from __future__ import annotations

import json
import tempfile
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from closecap.cameras import Camera, Rig, ring_rig
from closecap.errors import InputError
from closecap.io.calibration import WRITE_FORMATS, load_rig, save_rig

try:  # Python >= 3.11
    import tomllib
except ModuleNotFoundError:  # pragma: no cover
    import tomli as tomllib

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
CALIB = SHARED / "calibrations"
REAL_QCA = SHARED / "real" / "pose2sim-demo-multiperson" / "calibration" / "Calib.qca.txt"

needs_shared = pytest.mark.skipif(not CALIB.is_dir(), reason="../shared/calibrations is absent")


# ----------------------------------------------------------------------------- helpers


def look_at_point(rig: Rig) -> np.ndarray:
    """``(3,)`` metres: least-squares point nearest to all optical axes."""
    centers = rig.centers_world  # (V, 3)
    axes = rig.R[:, 2, :]  # (V, 3) camera z axes in the world
    proj = np.eye(3)[None] - axes[:, :, None] * axes[:, None, :]  # (V, 3, 3)
    return np.linalg.solve(proj.sum(0), np.einsum("vij,vj->i", proj, centers))


def rotation_angle_deg(Ra: np.ndarray, Rb: np.ndarray) -> np.ndarray:
    """``(..., 3, 3)`` pairs -> ``(...)`` degrees."""
    cos = (np.einsum("...ij,...ij->...", Ra, Rb) - 1.0) / 2.0
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def random_rig(seed: int, num_cameras: int) -> Rig:
    """Random cameras: any rotation, focal 200-3000 px, principal point inside the image, real-lens distortion."""
    rng = np.random.default_rng(seed)
    cameras = []
    for i in range(num_cameras):
        q = rng.normal(size=4)
        q /= np.linalg.norm(q)
        w, x, y, z = q
        R = np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                      [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                      [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]])
        width, height = (int(v) for v in rng.integers(64, 4000, size=2))
        f = rng.uniform(200, 3000)
        K = np.array([[f, rng.uniform(-1, 1) * (i % 2), rng.uniform(0.3, 0.7) * width],
                      [0.0, f * rng.uniform(0.9, 1.1), rng.uniform(0.3, 0.7) * height], [0.0, 0.0, 1.0]])
        dist = np.concatenate([rng.uniform(-0.3, 0.3, 2), rng.uniform(-0.01, 0.01, 2),
                               [0.0 if rng.random() < 0.5 else rng.uniform(-0.1, 0.1)]])
        cameras.append(Camera(f"cam-{i} {seed % 97}", K, dist, R, rng.uniform(-5, 5, 3), width, height))
    return Rig(tuple(cameras))


def assert_same_rig(a: Rig, b: Rig, *, atol: float = 1e-9) -> None:
    assert a.names == b.names
    np.testing.assert_array_equal(a.image_sizes, b.image_sizes)
    np.testing.assert_allclose(a.K, b.K, rtol=1e-12, atol=atol)
    np.testing.assert_allclose(a.dist, b.dist, atol=atol)
    np.testing.assert_allclose(a.R, b.R, atol=atol)
    np.testing.assert_allclose(a.t, b.t, atol=atol)


# ----------------------------------------------------------------------------- real calibrations


@needs_shared
def test_panoptic_real_file():
    path = CALIB / "cmu_panoptic_160906" / "calibration_160906_band1.json"
    assert len(load_rig(path)) == 520
    counts = {kind: len(load_rig(path, camera_type=kind)) for kind in ("hd", "vga", "kinect-color")}
    assert counts == {"hd": 31, "vga": 479, "kinect-color": 10}
    hd = load_rig(path, camera_type="hd")
    assert {tuple(s) for s in hd.image_sizes.tolist()} == {(1920, 1080)}
    assert {tuple(s) for s in load_rig(path, camera_type="vga").image_sizes.tolist()} == {(640, 480)}
    centers = hd.centers_world
    radius = np.linalg.norm(centers - centers.mean(0), axis=1)  # metres (the file is in cm)
    assert 2.0 < np.median(radius) < 3.2 and radius.max() < 3.5
    # every HD camera looks towards the dome's middle (the world origin region)
    towards_origin = -centers / np.linalg.norm(centers, axis=1, keepdims=True)
    assert np.all(np.einsum("vi,vi->v", hd.R[:, 2], towards_origin) > 0.8)
    assert hd.names[0] == "00_00" and hd.K[0, 0, 0] > 1000


@needs_shared
def test_shelf_voxelpose_and_4dassoc_agree():
    vp = load_rig(CALIB / "shelf" / "calibration_shelf.json")
    fa = load_rig(CALIB / "shelf" / "calibration_4dassoc.json")
    assert vp.names == fa.names == ("0", "1", "2", "3", "4")
    assert {tuple(s) for s in vp.image_sizes.tolist()} == {tuple(s) for s in fa.image_sizes.tolist()} == {(1032, 776)}
    assert np.all(rotation_angle_deg(vp.R, fa.R) < 0.1)  # both files round R to ~6 digits
    np.testing.assert_allclose(vp.t, fa.t, atol=2e-3)  # t = -R T / 1000, rounded in the files
    np.testing.assert_allclose(vp.K, fa.K, rtol=1e-5)
    points = np.random.default_rng(0).uniform([-2, -2, 0], [2, 2, 2], size=(50, 3))
    np.testing.assert_allclose(vp.project(points)[0], fa.project(points)[0], atol=1.0)
    distance = np.linalg.norm(vp.centers_world - look_at_point(vp), axis=1)
    assert np.all((distance > 2.5) & (distance < 4.5))  # README: 2.9-4.0 m from the scene centre


@needs_shared
def test_campus_real_file():
    rig = load_rig(CALIB / "campus" / "calibration_campus.json")
    assert len(rig) == 3 and {tuple(s) for s in rig.image_sizes.tolist()} == {(360, 288)}
    distance = np.linalg.norm(rig.centers_world - look_at_point(rig), axis=1)
    assert np.all((distance > 5) & (distance < 15))  # README: 8-12 m from the scene
    assert np.all(rig.centers_world[:, 2] > 1.0)  # z up: cameras above ground
    other = load_rig(CALIB / "campus" / "calibration_campus.json", image_size=(352, 288))
    assert {tuple(s) for s in other.image_sizes.tolist()} == {(352, 288)}


@needs_shared
def test_voxelpose_size_is_inferred_without_the_known_file_name(tmp_path):
    renamed = tmp_path / "campus_copy.json"
    renamed.write_bytes((CALIB / "campus" / "calibration_campus.json").read_bytes())
    rig = load_rig(renamed)  # median principal point (184, 139) -> 2c + 1 = (369, 280) -> snapped to 360x288
    assert {tuple(s) for s in rig.image_sizes.tolist()} == {(360, 288)}
    per_camera = load_rig(renamed, image_size={"0": (360, 288), "1": (360, 288), "2": (720, 576)})
    assert per_camera.image_sizes.tolist() == [[360, 288], [360, 288], [720, 576]]
    with pytest.raises(InputError, match=r"image_size: no size given for camera '2'"):
        load_rig(renamed, image_size={"0": (360, 288), "1": (360, 288)})


@needs_shared
def test_easymocap_anerf_real_folder():
    rig = load_rig(CALIB / "easymocap_anerf_6cam")
    assert rig.names == ("2", "3", "4", "5", "6", "7")
    assert {tuple(s) for s in rig.image_sizes.tolist()} == {(1920, 1080)}  # inferred from cx, cy = 960, 540
    np.testing.assert_allclose(rig.K[:, :2, 2], [[960, 540]] * 6)
    distance = np.linalg.norm(rig.centers_world - look_at_point(rig), axis=1)
    assert np.all((distance > 3.4) & (distance < 5.2))  # README: 3.7-4.9 m
    assert load_rig(CALIB / "easymocap_anerf_6cam" / "intri.yml").names == rig.names


@needs_shared
def test_easymocap_studio_uses_the_intersection_of_names():
    rig = load_rig(CALIB / "easymocap_studio_11cam")
    assert sorted(rig.names, key=int) == ["7", "9", "11", "12", "13", "15", "17", "19", "25", "27", "31"]
    assert "29" not in rig.names  # intrinsics only
    assert {tuple(s) for s in rig.image_sizes.tolist()} == {(1920, 1080)}
    assert np.all(rig.dist[:, 1] != 0)  # real distortion
    distance = np.linalg.norm(rig.centers_world - look_at_point(rig), axis=1)
    assert np.all((distance > 2.8) & (distance < 4.3))  # README: 3.1-4.0 m
    sized = load_rig(CALIB / "easymocap_studio_11cam", image_size=(2048, 1080), names=["9", "7"])
    assert sized.names == ("9", "7") and sized.image_sizes.tolist() == [[2048, 1080]] * 2


@needs_shared
def test_pose2sim_toml_real_file():
    rig = load_rig(CALIB / "pose2sim_demo_4cam" / "Calib_scene.toml")
    assert len(rig) == 4 and {tuple(s) for s in rig.image_sizes.tolist()} == {(1088, 1920)}
    assert np.all(rig.dist[:, 4] == 0) and np.all(rig.dist[:, 0] < 0)
    distance = np.linalg.norm(rig.centers_world - look_at_point(rig), axis=1)
    assert np.all((distance > 3.0) & (distance < 4.3))  # README: 3.4-3.9 m from the subject


@needs_shared
def test_anipose_millimetres_need_units():
    path = CALIB / "anipose_webcam_3cam" / "calibration.toml"
    with pytest.raises(InputError, match=r"calibration\.toml: translation: .*units='mm'"):
        load_rig(path)
    rig = load_rig(path, units="mm")
    assert rig.names == ("A", "B", "C") and {tuple(s) for s in rig.image_sizes.tolist()} == {(1920, 1080)}
    spread = np.linalg.norm(rig.centers_world[:, None] - rig.centers_world[None], axis=-1)
    assert 0.1 < spread.max() < 2.0  # three webcams on a desk, metres
    assert np.linalg.norm(rig.centers_world[0]) < 0.1  # world frame near camera A
    np.testing.assert_allclose(load_rig(path, units="m").t, rig.t * 1000)


@needs_shared
@pytest.mark.parametrize("path", [CALIB / "pose2sim_demo_4cam" / "Calib.qca.txt", REAL_QCA], ids=["calibrations", "real"])
def test_qualisys_matches_the_pose2sim_toml_of_the_same_rig(path):
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    qca = load_rig(path)
    toml = load_rig(CALIB / "pose2sim_demo_4cam" / "Calib_scene.toml")
    assert qca.names == ("cam01", "cam02", "cam03", "cam04")
    assert {tuple(s) for s in qca.image_sizes.tolist()} == {(1088, 1920)}
    assert abs(qca.K[0, 0, 0] - 107599.671875 / 64) < 1e-6  # sensor units / 64
    assert abs(qca.K[0, 0, 2] - 34110.316406 / 64) < 1e-6  # fov_video left = 0
    # two independent calibrations of one rig: centres within 20 cm, orientations within 4 degrees
    assert np.all(np.linalg.norm(qca.centers_world - toml.centers_world, axis=1) < 0.2)
    assert np.all(rotation_angle_deg(qca.R, toml.R) < 4.0)
    # as-is distortion has the scene calibration's magnitude; /64 is Pose2Sim's variant
    assert np.all(np.abs(qca.dist[:, 0] - toml.dist[:, 0]) < 0.03)
    div64 = load_rig(path, qualisys_distortion="/64")
    np.testing.assert_allclose(div64.dist, qca.dist / 64)
    np.testing.assert_allclose(div64.K, qca.K)


# ----------------------------------------------------------------------------- round trips


def _save_load(rig: Rig, fmt: str, folder: Path) -> Rig:
    target = {"closecap": folder / "rig.json", "panoptic": folder / "panoptic.json",
              "toml": folder / "calib.toml", "easymocap": folder / "easymocap"}[fmt]
    save_rig(rig, target, format=fmt if fmt == "panoptic" else None)
    return load_rig(target)


@pytest.mark.parametrize("fmt", WRITE_FORMATS)
@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), num_cameras=st.integers(1, 4))
def test_round_trip_random_rigs(fmt, seed, num_cameras):
    rig = random_rig(seed, num_cameras)
    if fmt == "toml" and num_cameras > 1:  # the mm guard: keep random rigs below 100 m (they are: |t| <= 5 m)
        assert np.ptp(rig.centers_world, axis=0).max() < 100
    with tempfile.TemporaryDirectory() as tmp:
        back = _save_load(rig, fmt, Path(tmp))
        leftovers = [p.name for p in Path(tmp).rglob("*") if p.name.endswith(".tmp")]
    assert not leftovers
    assert_same_rig(rig, back)
    points = np.random.default_rng(seed).uniform(-3, 3, size=(20, 3))
    uv, depth = rig.project(points)
    uv_back, depth_back = back.project(points)
    ok = depth > 0.1
    np.testing.assert_allclose(uv_back[ok], uv[ok], atol=1e-6)
    np.testing.assert_allclose(depth_back, depth, atol=1e-9)


def test_easymocap_files_look_like_easymocap(tmp_path):
    rig = ring_rig(2)
    save_rig(rig, tmp_path / "calib")
    intri = (tmp_path / "calib" / "intri.yml").read_text()
    extri = (tmp_path / "calib" / "extri.yml").read_text()
    for text in (intri, extri):
        assert text.startswith("%YAML:1.0\n---\n") and 'names:\n   - cam00\n   - cam01\n' in text.replace('"', "")
    assert "K_cam00: !!opencv-matrix" in intri and "W_cam01: 1920" in intri and "H_cam01: 1080" in intri
    # read back exactly as EasyMocap does: cv2.FileStorage, Rodrigues R_, 1x5 dist, 3x1 T
    fs = cv2.FileStorage(str(tmp_path / "calib" / "extri.yml"), cv2.FILE_STORAGE_READ)
    rvec, rot, T = (fs.getNode(f"{k}_cam01").mat() for k in ("R", "Rot", "T"))
    assert rvec.shape == (3, 1) and rot.shape == (3, 3) and T.shape == (3, 1)
    np.testing.assert_allclose(cv2.Rodrigues(rvec)[0], rig[1].R, atol=1e-12)
    np.testing.assert_allclose(T[:, 0], rig[1].t)
    fs = cv2.FileStorage(str(tmp_path / "calib" / "intri.yml"), cv2.FILE_STORAGE_READ)
    assert fs.getNode("dist_cam00").mat().shape == (1, 5)


def test_toml_and_panoptic_layout(tmp_path):
    cams = list(ring_rig(2))
    cams[1] = Camera(cams[1].name, cams[1].K, [0.1, -0.05, 0.001, 0.002, 0.01], cams[1].R, cams[1].t, 1920, 1080)
    rig = Rig(tuple(cams))
    save_rig(rig, tmp_path / "calib.toml")
    doc = tomllib.loads((tmp_path / "calib.toml").read_text())
    assert list(doc) == ["cam_0", "cam_1", "metadata"]
    assert doc["cam_0"]["size"] == [1920, 1080] and doc["cam_0"]["fisheye"] is False
    assert len(doc["cam_0"]["distortions"]) == 4 and len(doc["cam_1"]["distortions"]) == 5  # as Pose2Sim
    np.testing.assert_allclose(cv2.Rodrigues(np.array(doc["cam_1"]["rotation"]))[0], rig[1].R, atol=1e-12)
    save_rig(rig, tmp_path / "pan.json", format="panoptic")
    pan = json.loads((tmp_path / "pan.json").read_text())
    np.testing.assert_allclose(np.array(pan["cameras"][1]["t"])[:, 0], rig[1].t * 100)  # centimetres
    assert load_rig(tmp_path / "pan.json", camera_type="hd").names == rig.names
    save_rig(rig, tmp_path / "x.json")
    saved = json.loads((tmp_path / "x.json").read_text())
    assert saved["format"] == "closecap-calibration" and saved["units"] == "m" and saved["version"] == 1


# ----------------------------------------------------------------------------- bad inputs

GOOD_TOML = """[cam_0]
name = "a"
size = [640, 480]
matrix = [[500.0, 0.0, 320.0], [0.0, 500.0, 240.0], [0.0, 0.0, 1.0]]
distortions = [0.0, 0.0, 0.0, 0.0]
rotation = [0.0, 0.0, 0.0]
translation = [0.0, 0.0, 3.0]
"""


def _closecap(**camera_changes):
    cam = {"name": "a", "width": 640, "height": 480, "K": [[500, 0, 320], [0, 500, 240], [0, 0, 1]],
           "dist": [0, 0, 0, 0, 0], "R": np.eye(3).tolist(), "t": [0, 0, 3]}
    cam.update(camera_changes)
    return json.dumps({"format": "closecap-calibration", "version": 1, "units": "m",
                       "convention": "x_cam = R x_world + t, OpenCV axes", "cameras": [cam]})


def _toml_cams(n=3, **changes):
    text = ""
    for i in range(n):
        table = GOOD_TOML.replace("[cam_0]", f"[cam_{i}]").replace('"a"', f'"c{i}"')
        if i == n - 1:
            for key, value in changes.items():
                lines = [ln for ln in table.splitlines() if not ln.startswith(f"{key} =")]
                table = "\n".join(lines + ([f"{key} = {value}"] if value is not None else [])) + "\n"
        text += table + "\n"
    return text


QCA = (CALIB / "pose2sim_demo_4cam" / "Calib.qca.txt")

BAD_FILES = [
    ("calib.toml", _toml_cams(matrix="[[1.0, 0, 0, 0], [0, 1.0, 0, 0], [0, 0, 1.0, 0]]"),
     "calib.toml: cam_2.matrix: expected 3x3, got 3x4"),
    ("calib.toml", _toml_cams(rotation=None), "calib.toml: cam_2.rotation: missing"),
    ("calib.toml", _toml_cams(translation='["a", 0, 1]'), "calib.toml: cam_2.translation: expected 3 values"),
    ("calib.toml", _toml_cams(size="[640.5, 480]"), "calib.toml: cam_2.size: expected two positive whole numbers"),
    ("calib.toml", _toml_cams(fisheye="true"), "calib.toml: cam_2.fisheye: fisheye cameras are not supported"),
    ("calib.toml", _toml_cams(distortions="[0.1, 0.2]"), "calib.toml: cam_2.distortions: expected 4 or 5"),
    ("calib.toml", _toml_cams(name='"c0"'), "calib.toml: cameras: duplicate camera names ['c0']"),
    ("calib.toml", "[cam_0\nname=", "calib.toml: not valid TOML"),
    ("calib.toml", "[metadata]\n", "calib.toml: no camera tables"),
    ("rig.json", "{not json", "rig.json: not valid JSON"),
    ("rig.json", "[1, 2]", "rig.json: unknown calibration JSON"),
    ("rig.json", '{"hello": 1}', "rig.json: unknown calibration JSON"),
    ("rig.json", _closecap(R=[[1, 0, 0], [0, 1, 0], [0, 0, 2]]), "rig.json: cameras[0].R: not a rotation matrix"),
    ("rig.json", _closecap(K=[[1, 0], [0, 1]]), "rig.json: cameras[0].K: expected 3x3, got 2x2"),
    ("rig.json", _closecap(colour="red"), "rig.json: cameras[0].colour: unknown key"),
    ("rig.json", _closecap(t=[0, 0, float("nan")]), "rig.json: cameras[0].t: contains NaN"),
    ("rig.json", _closecap().replace('"version": 1', '"version": 2'), "rig.json: version: expected 1, got 2"),
    ("rig.json", _closecap().replace('"width": 640, ', ""), "rig.json: cameras[0].width: missing"),
    ("rig.json", '{"format": "other"}', "rig.json: format: expected 'closecap-calibration'"),
    ("pan.json", '{"cameras": [{"name": "a", "resolution": [640, 480], "K": [[1, 0], [0, 1]]}]}',
     "pan.json: cameras[0].K: expected 3x3, got 2x2"),
    ("pan.json", '{"cameras": [{"name": "a", "resolution": [640, 480]}]}', "pan.json: cameras[0].K: missing"),
    ("vp.json", '{"0": {"T": [0, 0, 0], "fx": 1, "fy": 1, "cy": 1, "R": [[1,0,0],[0,1,0],[0,0,1]], "k": [0,0,0], "p": [0,0]}}',
     "vp.json: 0.cx: missing"),
    ("fa.json", '{"0": {"K": [1,0,0,0,1,0,0,0,1], "RT": [1,0,0,0,0,1,0,0,0,0,1], "imgSize": [10, 10]}}',
     "fa.json: 0.RT: expected 3x4, got 11 values"),
    ("calib.qca.txt", "<calibration><cameras><camera", "calib.qca.txt: not a Qualisys XML file"),
    ("calib.qca.txt", "<calibration></calibration>", "calib.qca.txt: cameras: no <calibration><cameras><camera>"),
    ("calib.txt", "hello", "calib.txt: unknown calibration format"),
    ("calib.bin", b"\x00\xff\xfe", "calib.bin: unknown calibration format"),
    ("rig.json", b"\xff\xfe{", "rig.json: not a JSON file"),
]


@pytest.mark.parametrize("name, content, message", BAD_FILES, ids=[m.split(": ", 1)[1][:40] for _, _, m in BAD_FILES])
def test_bad_files_give_one_line_input_errors(tmp_path, name, content, message):
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    with pytest.raises(InputError) as info:
        load_rig(path)
    text = str(info.value)
    assert text.startswith(str(tmp_path)) and message in text and "\n" not in text
    if message.endswith("expected 3x3, got 3x4"):
        assert text.endswith("calib.toml: cam_2.matrix: expected 3x3, got 3x4")


@needs_shared
@pytest.mark.parametrize("attribute, replacement, message", [
    ('x="1460.2323709212087"', 'x="far"', "camera[cam01].transform.x: expected a number, got 'far'"),
    ('r11="0.5536380477336265"', 'r11="5.5"', "camera[cam01].transform: not a rotation matrix"),
    ('<fov_video bottom="1919" left="0" right="1087" top="0"/>', "", "camera[cam01].fov_video: missing"),
    ('centerPointU="34110.316406"', "", "camera[cam01].intrinsic.centerPointU: missing"),
])
def test_bad_qualisys_fields(tmp_path, attribute, replacement, message):
    text = QCA.read_text()
    assert attribute in text
    path = tmp_path / "Calib.qca.txt"
    path.write_text(text.replace(attribute, replacement, 1))
    with pytest.raises(InputError, match=message.replace("[", r"\[").replace("]", r"\]").replace(".", r"\.")):
        load_rig(path)


def _easymocap_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "emc"
    save_rig(ring_rig(2), folder)
    return folder


def test_bad_easymocap_folders(tmp_path):
    folder = _easymocap_folder(tmp_path)
    extri = (folder / "extri.yml").read_text()
    # R_ and Rot_ disagree
    start = extri.index("R_cam01:")
    data_at = extri.index("data: [", start)
    end = extri.index("]", data_at)
    (folder / "extri.yml").write_text(extri[:data_at] + "data: [ 0.5, 0.0, 0.0 " + extri[end:])
    with pytest.raises(InputError, match=r"extri\.yml: R_cam01: disagrees with Rot_cam01"):
        load_rig(folder)
    # missing extri.yml
    (folder / "extri.yml").unlink()
    with pytest.raises(InputError, match=r"extri\.yml: missing"):
        load_rig(folder)
    # intri.yml that is not YAML
    (folder / "extri.yml").write_text(extri)
    (folder / "intri.yml").write_text("K_: [unclosed\n\t{")
    with pytest.raises(InputError, match=r"intri\.yml"):
        load_rig(folder)
    # a missing K
    save_rig(ring_rig(2), folder)
    intri = (folder / "intri.yml").read_text()
    (folder / "intri.yml").write_text(intri.replace("K_cam01:", "Kx_cam01:"))
    with pytest.raises(InputError, match=r"intri\.yml: K_cam01: missing"):
        load_rig(folder)


def test_bad_options_and_paths(tmp_path):
    save_rig(ring_rig(2), tmp_path / "rig.json")
    cases = [
        (dict(names=["cam00", "zz"]), r"rig\.json: names: camera 'zz' is not in the calibration"),
        (dict(names="cam00"), r"rig\.json: names: expected a list"),
        (dict(camera_type="hd"), r"rig\.json: camera_type: only Panoptic"),
        (dict(image_size=(640, 480)), r"rig\.json: image_size: the closecap format stores"),
        (dict(units="mm"), r"rig\.json: units: the closecap format has a fixed length unit"),
        (dict(units="inch"), r"rig\.json: units: expected one of"),
        (dict(qualisys_distortion="/32"), r"rig\.json: qualisys_distortion: expected one of"),
    ]
    for kwargs, pattern in cases:
        with pytest.raises(InputError, match=pattern):
            load_rig(tmp_path / "rig.json", **kwargs)
    with pytest.raises(InputError, match=r"nowhere\.json: no such file"):
        load_rig(tmp_path / "nowhere.json")
    with pytest.raises(InputError, match=r"pass the folder"):
        (tmp_path / "cams.yml").write_text("%YAML:1.0\n---\na: 1\n")
        load_rig(tmp_path / "cams.yml")


@needs_shared
def test_panoptic_unknown_camera_type_lists_the_types():
    with pytest.raises(InputError, match=r"camera_type: no cameras of type 'HD'; the file has types \['hd', 'kinect-color', 'vga'\]"):
        load_rig(CALIB / "cmu_panoptic_160906" / "calibration_160906_band1.json", camera_type="HD")


def test_save_errors_leave_nothing_behind(tmp_path):
    rig = Rig((Camera.look_at("cam.1", [0, -4, 1.5], [0, 0, 1]),))
    with pytest.raises(InputError, match=r"names: EasyMocap .* rename cameras \['cam\.1'\]"):
        save_rig(rig, tmp_path / "emc")
    with pytest.raises(InputError, match=r"format: cannot tell the format from suffix '\.yml'"):
        save_rig(rig, tmp_path / "calib.yml")
    with pytest.raises(InputError, match=r"format: cannot write 'qualisys'"):
        save_rig(rig, tmp_path / "calib.qca.txt", format="qualisys")
    assert list(tmp_path.iterdir()) == []
