"""Distributed synthesis: per-sample seeds from SeedSequence.spawn, same samples whatever the grouping or workers."""
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from closecap.errors import InputError
from closecap.pipelines import default_rig
from closecap.synth.distributed import SceneMaker, iter_produce, produce, sample_digest, sample_seed, write_scenes
from closecap.synth.generate import SynthConfig
from closecap.synth.scenes import SceneConfig


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(0, 50))
def test_sample_seed_is_the_spawned_child(seed, index):
    child = np.random.SeedSequence(seed).spawn(index + 1)[index]
    assert np.array_equal(sample_seed(seed, index).generate_state(4), child.generate_state(4))


def _maker():
    return SceneMaker(default_rig(), SynthConfig(scene=SceneConfig(num_people=(2, 3), num_frames=6)))


def test_samples_do_not_depend_on_grouping_or_start():
    make = _maker()
    whole = [sample_digest(s) for s in produce(make, seed=11, count=5)]
    assert [sample_digest(s) for s in produce(make, seed=11, count=5, block=3)] == whole
    assert [sample_digest(s) for s in produce(make, seed=11, count=2, start=3)] == whole[3:]
    assert len(set(whole)) == 5  # samples differ from each other
    assert [sample_digest(s) for s in produce(make, seed=12, count=1)] != whole[:1]
    endless = iter_produce(lambda i, rng: i, seed=0)
    assert [next(endless) for _ in range(3)] == [0, 1, 2]


def test_bad_arguments(monkeypatch):
    with pytest.raises(InputError, match="block"):
        produce(lambda i, rng: i, seed=0, count=1, block=0)
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(InputError, match="closecap\\[ray\\]"):
        produce(lambda i, rng: i, seed=0, count=1, workers=2)


def _files(root):
    """Every file under ``root``: relative path -> bytes."""
    return {str(f.relative_to(root)): f.read_bytes() for f in sorted(Path(root).rglob("*")) if f.is_file()}


_SCENE = SynthConfig(scene=SceneConfig(num_people=(2, 3), num_frames=5, fps=30.0))  # as the CLI builds it


def test_write_scenes_same_files_whatever_the_grouping(tmp_path):
    rig = default_rig()
    folders = write_scenes(tmp_path / "a", rig, _SCENE, 3, seed=9)
    assert [f.name for f in folders] == ["scene_0000", "scene_0001", "scene_0002"]
    whole = _files(tmp_path / "a")
    assert whole == _files(write_scenes(tmp_path / "b", rig, _SCENE, 3, seed=9, block=2)[0].parent)
    write_scenes(tmp_path / "c", rig, _SCENE, 2, seed=9, start=1)  # a resumed run continues with the same scenes
    assert {k: v for k, v in whole.items() if not k.startswith("scene_0000")} == _files(tmp_path / "c")
    assert whole["scene_0000/gt.json"] != whole["scene_0001/gt.json"]  # scenes differ from each other
    settings = json.loads(whole["scene_0002/settings.json"])
    assert settings["scene_index"] == 2 and "SeedSequence(9, spawn_key=(2,))" in settings["scene_seed"]
    assert _files(write_scenes(tmp_path / "d", rig, _SCENE, 1, seed=10)[0]) != _files(folders[0])
    with pytest.raises(InputError, match="scenes"):
        write_scenes(tmp_path / "e", rig, _SCENE, 0, seed=9)


def test_cli_synth_scenes(tmp_path):
    from closecap.cli import main

    args = ["synth", "--people", "2-3", "--frames", "5", "--seed", "9", "--noise", "realistic"]
    assert main(args + ["--out", str(tmp_path / "cli"), "--scenes", "2"]) == 0
    cli = _files(tmp_path / "cli")
    assert sorted({k.split("/")[0] for k in cli}) == ["scene_0000", "scene_0001"]
    api = _files(write_scenes(tmp_path / "api", default_rig(), _SCENE, 2, seed=9)[0].parent)
    assert cli.keys() == api.keys()
    assert all(cli[k] == api[k] for k in cli if not k.endswith("settings.json"))  # the CLI adds its preset name
    assert main(args + ["--out", str(tmp_path / "one")]) == 0  # default: one scene, as before
    assert (tmp_path / "one" / "gt.json").exists()
    assert main(args + ["--out", str(tmp_path / "x"), "--scenes", "0"]) == 2
    assert main(args + ["--out", str(tmp_path / "x"), "--address", "127.0.0.1:1"]) == 2


@pytest.fixture(scope="module")
def local_ray():
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield ray
    ray.shutdown()


def test_ray_workers_give_byte_identical_samples(local_ray):
    make = _maker()
    serial = [sample_digest(s) for s in produce(make, seed=3, count=4)]
    assert [sample_digest(s) for s in produce(make, seed=3, count=4, workers=2, block=1)] == serial


def test_ray_workers_write_byte_identical_scenes(local_ray, tmp_path):
    serial = _files(write_scenes(tmp_path / "serial", default_rig(), _SCENE, 3, seed=5)[0].parent)
    for workers, block in ((1, 2), (2, 1)):
        out = tmp_path / f"ray{workers}"
        write_scenes(out, default_rig(), _SCENE, 3, seed=5, workers=workers, block=block)
        assert _files(out) == serial
