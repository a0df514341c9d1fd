"""Motion library, rig generators and the close-interaction scene composer."""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from closecap.cameras import ring_rig
from closecap.errors import InputError
from closecap.skeleton import COCO17
from closecap.synth.library import (TEST_TAKES, MotionLibrary, build_library, default_library_path, load_library,
                                    save_library)
from closecap.synth.rigs import RigConfig, dome, half_ring, look_at_point, random_rig, ring
from closecap.metrics import nearest_other_distance
from closecap.synth.scenes import (SceneConfig, closest_joint_distance, compose_controlled, compose_scene,
                                   compose_scene_detailed, place_around, segment_distance, torso_distance)

MOCAP = Path(__file__).resolve().parents[1].parent / "shared" / "mocap"


@pytest.fixture(scope="module")
def library() -> MotionLibrary:
    return load_library()


# ----------------------------------------------------------------------------- library


def test_library_file_is_small_and_fast(library):
    size = default_library_path().stat().st_size if hasattr(default_library_path(), "stat") else \
        len(default_library_path().read_bytes())
    assert size < 4e6
    start = time.perf_counter()
    load_library()
    assert time.perf_counter() - start < 1.0


def test_library_contents_and_split(library):
    assert library.fps == 15.0
    assert len(library.pairs()) == 16 and len(library.singles()) == 82
    train, test = library.split("train"), library.split("test")
    assert len(train) + len(test) == len(library)
    assert not set(train.take_ids) & set(test.take_ids)  # whole takes held out
    assert len(test.pairs()) == 2
    assert 0.1 < len(test.singles()) / len(library.singles()) < 0.2
    assert set(test.take_ids) == set(TEST_TAKES)
    for clip in library:
        assert clip.joints_world.shape[0] == (2 if clip.kind == "pair" else 1)
        assert np.isfinite(clip.joints_world).all()
        assert np.percentile(clip.joints_world[..., 15:, 2], 1) > -0.1  # floor at z = 0
    with pytest.raises(InputError, match="split"):
        library.split("val")


def test_library_pairs_are_in_contact(library):
    """The two dancers share one world frame: joints of both come within 10 cm in most clips."""
    close = 0
    for clip in library.pairs():
        a, b = clip.joints_world[0], clip.joints_world[1]
        close += closest_joint_distance(a, b[:, None]) < 0.1
    assert close >= 12


@pytest.mark.skipif(not MOCAP.exists(), reason="../shared/mocap not available")
def test_library_matches_sources_and_roundtrips(library, tmp_path):
    src = np.load(MOCAP / "pair_cmu_60_61_05.npz")["coco17"]  # (2, T, 17, 3) 30 fps
    clip = library["pair_cmu_60_61_05"]
    np.testing.assert_allclose(clip.joints_world, src[:, ::2], atol=0.0006)  # int16 mm
    small = MotionLibrary(library.clips[:3] + library.clips[-2:])
    save_library(small, tmp_path / "lib.npz")
    again = load_library(tmp_path / "lib.npz")
    assert again.names == small.names
    for a, b in zip(again, small):
        np.testing.assert_allclose(a.joints_world, b.joints_world, atol=0.0006)
        assert (a.kind, a.split, a.take_id) == (b.kind, b.split, b.take_id)


@pytest.mark.skipif(not MOCAP.exists(), reason="../shared/mocap not available")
def test_shipped_library_is_what_the_builder_makes(library):
    built = build_library(MOCAP)
    assert built.names == library.names
    assert [c.split for c in built] == [c.split for c in library]


# ----------------------------------------------------------------------------- rigs


def _cylinder_points(config: RigConfig) -> np.ndarray:
    az = np.linspace(0, 2 * np.pi, 12, endpoint=False)
    ring_xy = 0.95 * config.capture_radius_m * np.stack([np.cos(az), np.sin(az)], 1)
    return np.concatenate([np.column_stack([ring_xy, np.full(12, z)]) for z in (0.0, config.capture_height_m)])


@pytest.mark.parametrize("make", [ring, dome, half_ring, random_rig])
def test_rig_generators(make):
    config = RigConfig()
    for seed in range(8):
        rig = make(np.random.default_rng(seed), config)
        again = make(np.random.default_rng(seed), config)
        assert np.array_equal(rig.K, again.K) and np.array_equal(rig.dist, again.dist)
        assert 3 <= len(rig) <= 10
        # every camera frames the capture volume (the whole cylinder is inside every image)
        uv, depth = rig.project(_cylinder_points(config))
        assert rig.in_image(uv, depth).all()
        # the optical axes meet near the centre
        assert np.linalg.norm(look_at_point(rig)[:2]) < 1.0
        assert np.all((rig.dist[:, 0] >= -0.3) & (rig.dist[:, 0] <= 0.05))


def test_rig_portrait_and_distortion_monotone():
    config = RigConfig(image_sizes=((1920, 1080),), portrait_probability=1.0, hfov_deg=(85.0, 90.0),
                       k1=(-0.3, -0.3), k2=(-0.05, -0.05))
    rig = random_rig(np.random.default_rng(0), config)
    assert rig.image_sizes.tolist() == [[1080, 1920]] * len(rig)
    cam = rig[0]
    r_max = np.hypot(cam.width, cam.height) / 2 / cam.K[0, 0]
    r = np.linspace(0, r_max, 200)
    k1, k2 = cam.dist[:2]
    assert np.all(np.diff(r * (1 + k1 * r ** 2 + k2 * r ** 4)) > 0)


# ----------------------------------------------------------------------------- geometry


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-2, 2), min_size=12, max_size=12))
@example([0.0, 0.0, 2.327272067197394e-09] + [0.0] * 9)  # a 2 nm segment ending at a point: distance 0, not 2 nm
def test_segment_distance_matches_brute_force(values):
    a0, a1, b0, b1 = np.array(values).reshape(4, 3)
    s = np.linspace(0, 1, 401)
    pa = a0 + s[:, None] * (a1 - a0)
    pb = b0 + s[:, None] * (b1 - b0)
    brute = np.linalg.norm(pa[:, None] - pb[None], axis=-1).min()
    got = float(segment_distance(a0, a1, b0, b1))
    assert got <= brute + 1e-9
    assert brute - got < 0.02 * (np.linalg.norm(a1 - a0) + np.linalg.norm(b1 - b0)) + 1e-9


# ----------------------------------------------------------------------------- scenes


def _rigs():
    return [ring_rig(5), random_rig(np.random.default_rng(11)), random_rig(np.random.default_rng(12)),
            dome(np.random.default_rng(13)), half_ring(np.random.default_rng(14))]


def test_scene_is_deterministic(library):
    rig, config = ring_rig(6), SceneConfig(num_people=(2, 6))
    a = compose_scene(library, rig, config, np.random.default_rng(42))
    b = compose_scene(library, rig, config, np.random.default_rng(42))
    c = compose_scene(library, rig, config, np.random.default_rng(43))
    assert np.array_equal(a.joints, b.joints) and np.array_equal(a.ids, b.ids)
    assert a.joints.shape != c.joints.shape or not np.array_equal(a.joints, c.joints)


def test_scene_contact_non_penetration_and_visibility(library):
    train = library.split("train")
    config = SceneConfig(num_people=(2, 6), contact_fraction=1.0, num_frames=24)
    rng = np.random.default_rng(0)
    sizes, pair_scenes = [], 0
    for rig in _rigs():
        for _ in range(5):
            scene = compose_scene_detailed(train, rig, config, rng)
            joints = scene.poses.joints  # (T, P, 17, 3)
            T, P = joints.shape[:2]
            assert T == 24 and 2 <= P <= 6 and scene.poses.ids.tolist() == list(range(P))
            sizes.append(P)
            pair_scenes += scene.roles[0] == "pair"
            assert set(scene.clip_names) <= set(train.names)
            # everyone inside >= min_views images at every frame
            uv, depth = rig.project(joints)
            inside = rig.in_image(uv, depth, config.margin_px).all(-1)  # (V, T, P)
            assert np.all(inside.sum(0) >= config.min_views)
            for p, role in enumerate(scene.roles):
                if role != "placed":
                    continue
                others = np.delete(joints, p, axis=1)
                # contact: a joint within 10 cm of the other's joints, or torsos < 0.3 m apart, at some frame
                closest = closest_joint_distance(joints[:, p], others)
                torsos = torso_distance(joints[:, p], others)
                assert closest < 0.1 or torsos.min() < 0.3
                # the target was met against the people placed before (later ones can only come closer)
                before = closest_joint_distance(joints[:, p], joints[:, :p])
                assert abs(before - scene.target_distance_m[p]) <= config.distance_tolerance_m + 1e-9
                # no capsule interpenetration with anyone, at any frame
                assert torsos.min() >= 2 * config.torso_radius_m - 1e-6
    assert pair_scenes > 0 and max(sizes) > 3


def test_scene_distance_distribution_reached(library):
    config = SceneConfig(num_people=(3, 4), contact_fraction=0.0, near_distance_m=(0.4, 0.8), num_frames=16)
    rng = np.random.default_rng(5)
    reached = []
    for _ in range(8):
        scene = compose_scene_detailed(library, ring_rig(6, radius_m=5.0), config, rng)
        joints = scene.poses.joints
        for p, role in enumerate(scene.roles):
            if role == "placed":
                reached.append(closest_joint_distance(joints[:, p], joints[:, :p]))  # vs those placed before
    reached = np.array(reached)
    assert len(reached) >= 8
    assert np.all((reached > 0.4 - 0.031) & (reached < 0.8 + 0.031))
    assert reached.std() > 0.05  # spread over the range, not one value


def test_scene_people_are_real_motion(library):
    """Composition is rigid per person (turn, move, mirror): each frame's bone lengths are a frame of the clip's."""
    scene = compose_scene_detailed(library, ring_rig(5), SceneConfig(num_people=(4, 4)), np.random.default_rng(8))
    joints = scene.poses.joints
    bones = COCO17.bone_indices

    def lengths(j):  # (..., 17, 3) -> (N, B) sorted (mirroring swaps left/right bones)
        return np.sort(np.linalg.norm(j[..., bones[:, 0], :] - j[..., bones[:, 1], :], axis=-1).reshape(-1, len(bones)), -1)

    for p, name in enumerate(scene.clip_names):
        mine, ref = lengths(joints[:, p]), lengths(library[name].joints_world)
        gap = np.abs(mine[:, None] - ref[None]).max(-1).min(-1)  # (T,) best-matching clip frame
        assert gap.max() < 0.002


def test_scene_config_validation():
    with pytest.raises(InputError, match="num_people"):
        SceneConfig(num_people=(1, 3))
    with pytest.raises(InputError, match="num_people"):
        SceneConfig(num_people=(2, 7))
    with pytest.raises(InputError, match="unknown key"):
        SceneConfig.from_dict({"people": 3})
    assert SceneConfig.from_dict(SceneConfig().to_dict()) == SceneConfig()


# ----------------------------------------------------------------------------- controlled separation


@pytest.mark.parametrize("num_people", [2, 3])
def test_controlled_scenes_change_only_the_separation(library, num_people):
    rig, config = ring_rig(5, radius_m=4.5), SceneConfig(num_frames=20)
    separations = (0.05, 0.45, 0.8, 1.5)
    scenes = compose_controlled(library.split("test"), rig, num_people, separations, config, np.random.default_rng(4))
    again = compose_controlled(library.split("test"), rig, num_people, separations, config, np.random.default_rng(4))
    assert all(np.array_equal(a.poses.joints, b.poses.joints) for a, b in zip(scenes, again))  # deterministic
    reference = None
    for scene, separation in zip(scenes, separations):
        joints = scene.poses.joints  # (T, P, 17, 3)
        assert joints.shape == (20, num_people, 17, 3) and scene.roles == ("controlled",) * num_people
        assert np.all(scene.target_distance_m == separation) and scene.clip_names == scenes[0].clip_names
        # the same motion, only moved: each person relative to its own mean position is identical in every scene
        relative = joints - joints.mean((0, 2), keepdims=True)
        if reference is None:
            reference = relative
        np.testing.assert_allclose(relative, reference, atol=1e-9)
        # placed symmetrically about the rig's look-at point
        centres = joints[..., [11, 12], :2].mean((0, 2))  # (P, 2) mean hip mid-points
        np.testing.assert_allclose(centres.mean(0), look_at_point(rig)[:2], atol=1e-9)
        radii = np.linalg.norm(centres - look_at_point(rig)[:2], axis=-1)
        np.testing.assert_allclose(radii, radii[0], atol=1e-9)
        # median frame at the separation (or closer only if bodies stop it: contact), no interpenetration, in view
        closest = nearest_other_distance(joints).min(1)  # (T,) the scene's closest pair per frame
        if separation >= 0.45:
            assert abs(np.median(closest) - separation) < 0.005
        else:
            assert np.median(closest) < 0.3
        assert closest.min() >= config.contact_distance_m[0] - 1e-3
        for p in range(num_people):
            assert torso_distance(joints[:, p], np.delete(joints, p, axis=1)).min() >= 2 * config.torso_radius_m - 1e-3
        uv, depth = rig.project(joints)
        assert np.all(rig.in_image(uv, depth, config.margin_px).all(-1).sum(0) >= config.min_views)


@settings(max_examples=25, deadline=None)
@given(separation=st.floats(0.3, 2.0), angle=st.floats(0, 2 * np.pi), people=st.integers(2, 4),
       quantile=st.sampled_from([0.0, 0.5]))
def test_place_around_reaches_the_separation(separation, angle, people, quantile):
    rng = np.random.default_rng(0)
    arm = np.linspace(0.0, 0.4, 6)  # an arm swinging out: the distance varies over frames
    tracks = np.zeros((people, 6, 17, 3))
    tracks[..., 2] = np.linspace(0.1, 1.7, 17)
    tracks[..., COCO17.index("left_wrist"), 0] = arm
    tracks += rng.normal(0, 0.01, tracks.shape)
    placed = place_around(tracks, np.array([0.5, -0.2]), separation, angle, quantile=quantile)
    diff = placed[:, None, :, :, None] - placed[None, :, :, None, :]  # (P, P, T, 17, 17, 3)
    dist = np.linalg.norm(diff, axis=-1).min((-1, -2))  # (P, P, T)
    dist[np.arange(people), np.arange(people)] = np.inf
    reached = np.quantile(dist.min((0, 1)), quantile)
    assert separation - 1e-9 <= reached < separation + 0.003
    with pytest.raises(InputError):
        place_around(tracks[:1], np.zeros(2), separation)
