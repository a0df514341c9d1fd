"""Distributed synthesis: per-sample seeds from SeedSequence.spawn, same samples whatever the grouping or workers."""
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from closecap.errors import InputError
from closecap.pipelines import default_rig
from closecap.synth.distributed import SceneMaker, iter_produce, produce, sample_digest, sample_seed
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


def test_ray_workers_give_byte_identical_samples():
    pytest.importorskip("ray")
    make = _maker()
    serial = [sample_digest(s) for s in produce(make, seed=3, count=4)]
    assert [sample_digest(s) for s in produce(make, seed=3, count=4, workers=2, block=1)] == serial
