"""Synthesis on Ray workers: data-parallel sample producers, deterministic whatever the worker count.

Sample ``i`` of a run with seed ``s`` is drawn from its own generator,
``np.random.default_rng(np.random.SeedSequence(s, spawn_key=(i,)))`` — exactly the ``i``-th child of
``np.random.SeedSequence(s).spawn(n)`` for any ``n > i`` — so it does not depend on which worker makes
it, how many workers there are, or how samples are grouped into tasks. :func:`produce` returns samples in
index order; :func:`iter_produce` streams them to a consumer (a trainer) with a bounded number of tasks in
flight. Without Ray (or with ``workers=None``) the same functions run serially in this process and give
the same samples.

A producer is any picklable ``make(index, rng) -> sample``; :class:`SceneMaker` makes closecap synthetic
scenes (ground truth + simulated detections) in a rig, and :class:`TrainSceneMaker` the training batches of
:func:`closecap.train.scene_samples`, seeded as :func:`closecap.train.sample_stream` seeds them
(``rng([seed, scene index])``) so a trainer fed by it sees the same batches as the serial stream.
:func:`write_scenes` (``closecap synth --scenes K --workers N``) writes ``K`` scene folders, each made and
written by a worker (:class:`SceneWriter`): the files are the same for any ``N``, serial included.

Example:
    >>> from closecap.pipelines import default_rig
    >>> from closecap.synth.generate import SynthConfig
    >>> from closecap.synth.scenes import SceneConfig
    >>> make = SceneMaker(default_rig(), SynthConfig(scene=SceneConfig(num_people=(2, 2), num_frames=5)))
    >>> a = produce(make, seed=7, count=3)
    >>> b = produce(make, seed=7, count=3, block=2)   # grouped differently: same samples
    >>> [sample_digest(x) == sample_digest(y) for x, y in zip(a, b)]
    [True, True, True]
"""
from __future__ import annotations

import dataclasses
import hashlib
import pickle
from collections import deque
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from closecap.cameras import Rig
from closecap.errors import InputError


def sample_seed(seed: int, index: int) -> np.random.SeedSequence:
    """The seed sequence of sample ``index``: the ``index``-th child of ``SeedSequence(seed).spawn``.

    Example:
        >>> children = np.random.SeedSequence(5).spawn(4)
        >>> sample_seed(5, 3).generate_state(2).tolist() == children[3].generate_state(2).tolist()
        True
    """
    if int(index) < 0:
        raise InputError(None, "index", f"must be >= 0, got {index}")
    return np.random.SeedSequence(int(seed), spawn_key=(int(index),))


def sample_rng(seed: int, index: int) -> np.random.Generator:
    """``np.random.default_rng(sample_seed(seed, index))``: the generator of sample ``index``.

    Example:
        >>> float(sample_rng(0, 1).random()) == float(sample_rng(0, 1).random())
        True
    """
    return np.random.default_rng(sample_seed(seed, index))


def _make_block(make: Callable[[int, np.random.Generator], Any], seed: int, indices: list[int]) -> list:
    """Samples ``indices`` in order (the body of one task)."""
    return [make(i, sample_rng(seed, i)) for i in indices]


def _blocks(start: int, count: int | None, block: int) -> Iterator[list[int]]:
    i = int(start)
    stop = None if count is None else int(start) + int(count)
    while stop is None or i < stop:
        j = i + block if stop is None else min(i + block, stop)
        yield list(range(i, j))
        i = j


def iter_produce(make: Callable[[int, np.random.Generator], Any], seed: int, start: int = 0,
                 count: int | None = None, *, workers: int | None = None, block: int = 1, prefetch: int = 4,
                 address: str | None = None) -> Iterator:
    """Stream samples ``start, start + 1, ...`` in index order, made on Ray workers or serially.

    Args:
        make: picklable ``make(index, rng) -> sample``.
        seed: run seed; sample ``i`` uses :func:`sample_rng(seed, i) <sample_rng>`.
        start: first sample index (a resumed run continues from where it stopped).
        count: number of samples; ``None`` = endless.
        workers: Ray worker processes (tasks of 1 CPU each; ``None`` = serial, no Ray needed). With Ray
            already initialised, its cluster is used; otherwise a local instance of ``workers`` CPUs (or
            ``address``) is started and stopped when the iterator is closed or exhausted.
        block: samples per task (amortises task overhead for small samples).
        prefetch: tasks in flight per worker (bounds memory).
        address: an existing Ray cluster.

    Yields:
        Samples, in index order.

    Example:
        >>> [round(float(x), 6) for x in iter_produce(lambda i, rng: rng.random(), seed=1, count=2)] == \\
        ...     [round(float(sample_rng(1, i).random()), 6) for i in range(2)]
        True
    """
    if int(block) < 1:
        raise InputError(None, "block", f"must be >= 1, got {block}")
    if workers is None:
        for indices in _blocks(start, count, int(block)):
            yield from _make_block(make, seed, indices)
        return
    if int(workers) < 1:
        raise InputError(None, "workers", f"must be >= 1, got {workers}")
    try:
        import ray
    except ImportError:
        raise InputError(None, "workers", "Ray workers need the ray package: pip install 'closecap[ray]'") from None
    started = not ray.is_initialized()
    if started:
        kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "configure_logging": False}
        if address is None:
            kwargs["num_cpus"] = int(workers)
        ray.init(address=address, **kwargs)
    try:
        task = ray.remote(num_cpus=1)(_make_block)
        make_ref = ray.put(make)
        in_flight: deque = deque()
        blocks = _blocks(start, count, int(block))
        limit = max(int(workers) * max(int(prefetch), 1), 1)
        for indices in blocks:
            in_flight.append(task.remote(make_ref, seed, indices))
            if len(in_flight) >= limit:
                yield from ray.get(in_flight.popleft())
        while in_flight:
            yield from ray.get(in_flight.popleft())
    finally:
        if started:
            ray.shutdown()


def produce(make: Callable[[int, np.random.Generator], Any], seed: int, count: int, start: int = 0, *,
            workers: int | None = None, block: int = 1, address: str | None = None) -> list:
    """``count`` samples in index order (see :func:`iter_produce`).

    Example:
        >>> len(produce(lambda i, rng: i, seed=0, count=3))
        3
    """
    return list(iter_produce(make, seed, start, count, workers=workers, block=block, address=address))


def sample_digest(sample: Any) -> str:
    """SHA-256 of a sample's arrays and values (NumPy arrays and torch tensors by their bytes, dtype and
    shape; dataclasses field by field), for comparing samples byte for byte.

    Example:
        >>> sample_digest((np.zeros(3), 1)) == sample_digest((np.zeros(3), 1)), sample_digest(np.zeros(3)) == sample_digest(np.ones(3))
        (True, False)
    """
    digest = hashlib.sha256()

    def feed(obj: Any) -> None:
        if isinstance(obj, np.ndarray):
            digest.update(f"nd{obj.dtype.str}{obj.shape}".encode())
            digest.update(np.ascontiguousarray(obj).tobytes())
        elif type(obj).__module__.startswith("torch") and hasattr(obj, "numpy"):
            feed(obj.detach().cpu().numpy())
        elif dataclasses.is_dataclass(obj) and not isinstance(obj, type):
            digest.update(type(obj).__name__.encode())
            for f in dataclasses.fields(obj):
                digest.update(f.name.encode())
                feed(getattr(obj, f.name))
        elif isinstance(obj, (list, tuple)):
            digest.update(f"seq{len(obj)}".encode())
            for item in obj:
                feed(item)
        elif isinstance(obj, dict):
            for key in sorted(obj, key=str):
                digest.update(str(key).encode())
                feed(obj[key])
        else:
            digest.update(pickle.dumps(obj, protocol=4))

    feed(sample)
    return digest.hexdigest()


class SceneMaker:
    """``make(index, rng)`` for synthetic scenes: ``(gt Poses3D, Detections2D)`` in ``rig``, as
    :func:`closecap.synth.generate.make_scene` composes them but drawn from ``rng`` (``config.seed`` is not
    used: the run seed and the index decide). The motion library is loaded once per worker.

    Example:
        >>> from closecap.pipelines import default_rig
        >>> from closecap.synth.generate import SynthConfig
        >>> from closecap.synth.scenes import SceneConfig
        >>> gt, det = SceneMaker(default_rig(), SynthConfig(scene=SceneConfig(num_people=(2, 2), num_frames=4)))(0, sample_rng(0, 0))
        >>> gt.joints.shape, len(det.frames)
        ((4, 2, 17, 3), 4)
    """

    def __init__(self, rig: Rig, config=None, library=None) -> None:
        from closecap.synth.generate import SynthConfig

        self.rig = rig
        self.config = SynthConfig() if config is None else config
        self._library = library

    def __getstate__(self) -> dict:
        return {"rig": self.rig, "config": self.config, "_library": None}  # workers load their own library

    def __call__(self, index: int, rng: np.random.Generator):
        from closecap.synth.library import load_library
        from closecap.synth.noise import simulate_detections
        from closecap.synth.scenes import compose_scene

        if self._library is None:
            self._library = load_library()
        gt = compose_scene(self._library.split(self.config.split), self.rig, self.config.scene, rng)
        detections, _ = simulate_detections(gt.joints, self.rig, self.config.noise, rng, frames=gt.frames)
        return gt, detections


class TrainSceneMaker:
    """``make(index, rng)`` for the trainer: :func:`closecap.train.scene_samples` of scene ``index`` with
    ``np.random.default_rng([config.seed, index])`` — the seeding of :func:`closecap.train.sample_stream`
    (the ``rng`` argument is ignored so that a distributed trainer reproduces the serial one).

    Example:
        >>> TrainSceneMaker.__name__
        'TrainSceneMaker'
    """

    def __init__(self, config, rig: Rig | None = None) -> None:
        self.config, self.rig = config, rig
        self._library = None

    def __getstate__(self) -> dict:
        return {"config": self.config, "rig": self.rig, "_library": None}

    def __call__(self, index: int, rng: np.random.Generator):
        from closecap.synth.library import load_library
        from closecap.train import scene_samples

        if self._library is None:
            self._library = load_library(getattr(self.config, "library_path", "") or None)
        return scene_samples(self.config, np.random.default_rng([self.config.seed, int(index)]), self.rig,
                             self._library)


def train_scene_stream(config, rig: Rig | None, start_scene: int = 0, *, workers: int | None = None,
                       prefetch: int = 4, address: str | None = None) -> Iterator:
    """Endless :class:`closecap.train.TrainBatch` of scenes ``start_scene, start_scene + 1, ...`` made on
    ``workers`` Ray workers (serially when ``None``): the drop-in producer for ``sample_stream``'s
    ``scene_samples(config, np.random.default_rng([config.seed, scene_index]), rig, library)`` calls.

    Example:
        >>> callable(train_scene_stream)
        True
    """
    return iter_produce(TrainSceneMaker(config, rig), seed=int(config.seed), start=start_scene, count=None,
                        workers=workers, prefetch=prefetch, address=address)


def scene_folder_name(index: int) -> str:
    """The folder of scene ``index`` in a multi-scene output: ``scene_0000``, ``scene_0001``, ...

    Example:
        >>> scene_folder_name(7)
        'scene_0007'
    """
    return f"scene_{int(index):04d}"


class SceneWriter:
    """``make(index, rng) -> Path``: a :class:`SceneMaker` scene written as a scene folder
    (:func:`closecap.io.scene.write_scene`) to ``root / scene_folder_name(index)``, by the worker that makes
    it (the driver only waits; on a cluster, ``root`` must be storage that every node sees).

    ``settings`` go to each scene's ``settings.json`` with ``scene_index`` and the seeding added.

    Example:
        >>> SceneWriter("/tmp/x", None, None, seed=1).root.name
        'x'
    """

    def __init__(self, root: str | Path, rig: Rig, config=None, *, seed: int, settings: dict | None = None) -> None:
        self.root = Path(root).absolute()
        self.maker = SceneMaker(rig, config)
        self.seed = int(seed)
        self.settings = dict(settings or {})

    def __call__(self, index: int, rng: np.random.Generator) -> Path:
        from closecap.io.scene import write_scene

        gt, detections = self.maker(index, rng)
        settings = {**self.settings, "scene_index": int(index),
                    "scene_seed": f"numpy.random.SeedSequence({self.seed}, spawn_key=({int(index)},))"}
        return write_scene(self.root / scene_folder_name(index), self.maker.rig, detections, gt, settings).root


def write_scenes(root: str | Path, rig: Rig, config, count: int, *, seed: int, settings: dict | None = None,
                 start: int = 0, workers: int | None = None, block: int = 1, address: str | None = None,
                 progress: bool = False) -> list[Path]:
    """Write ``count`` synthetic scenes ``root/scene_0000, ...`` (each a scene folder as ``closecap synth``
    writes one), made and written on ``workers`` Ray workers or serially. Scene ``i`` is drawn from
    :func:`sample_rng(seed, i) <sample_rng>`, so the files are the same whatever ``workers``, ``block`` or
    ``address`` (``config.seed`` is not used for drawing).

    Args:
        root: output folder (created). rig: the ``V`` cameras. config: a
            :class:`closecap.synth.generate.SynthConfig` (scene, noise, split). count: scenes to write.
        seed: run seed. settings: extra entries of each ``settings.json``. start: index of the first scene.
        workers: Ray worker processes (``None`` = serial, no Ray needed). block: scenes per task.
        address: an existing Ray cluster (``root`` must be shared storage then).
        progress: a progress bar over scenes.

    Returns:
        The ``count`` scene folders, in index order.

    Example:
        >>> import tempfile
        >>> from closecap.pipelines import default_rig
        >>> from closecap.synth.generate import SynthConfig
        >>> from closecap.synth.scenes import SceneConfig
        >>> config = SynthConfig(scene=SceneConfig(num_people=(2, 2), num_frames=3))
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     folders = write_scenes(tmp, default_rig(), config, 2, seed=4)
        ...     names = [(f.name, (f / "gt.json").exists()) for f in folders]
        >>> names
        [('scene_0000', True), ('scene_0001', True)]
    """
    if int(count) < 1:
        raise InputError(None, "scenes", f"must be >= 1, got {count}")
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    writer = SceneWriter(root, rig, config, seed=seed, settings=settings)
    items = iter_produce(writer, seed, start, int(count), workers=workers, block=block, address=address)
    if progress:
        from tqdm import tqdm

        items = tqdm(items, total=int(count), desc="scenes", unit="scene")
    return [Path(folder) for folder in items]
