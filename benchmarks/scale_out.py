"""Scale-out: ``closecap batch`` on Ray (identity with separate runs, resume, failures, 1 vs 2 workers, two Ray
nodes on one machine), synthesis on Ray workers (samples/s, byte-identical samples) and the peak memory of
streaming reconstruction on a long generated recording versus a 1-minute one.

Usage: .venv/bin/python benchmarks/scale_out.py [--parts batch,nodes,synth,memory] [--minutes 10]
           [--recordings 12] [--samples 48] [--no-write]
Writes the "scale-out" section of benchmarks/results.md. Needs ``ray`` (``pip install 'closecap[ray]'``);
``ray stop`` is run after the two-node part whatever happens. Wall-clock numbers share the machine's 2 cores
with whatever else runs (the load average is printed with them).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import update_section  # noqa: E402

PYTHON = sys.executable
RAY = str(Path(sys.executable).with_name("ray"))


def _load() -> str:
    return " / ".join(f"{x:.1f}" for x in os.getloadavg())


def make_recordings(root: Path, count: int, frames: int, people: int) -> list[Path]:
    from closecap.pipelines import run_synth

    scenes = []
    for k in range(count):
        scene = root / f"rec{k:02d}"
        if not (scene / "gt.json").exists():
            run_synth(scene, people=(people, people), frames=frames, seed=100 + k)
        scenes.append(scene)
    return scenes


def write_manifest(path: Path, scenes: list[Path], broken: Path | None = None) -> Path:
    lines = []
    for scene in scenes:
        lines += ["[[recording]]", f'name = "{scene.name}"', f'calib = "{scene / "calibration.json"}"',
                  f'keypoints2d = "{scene / "keypoints2d"}"', ""]
    if broken is not None:
        lines += ["[[recording]]", f'name = "{broken.name}"', f'calib = "{broken / "calibration.json"}"',
                  f'keypoints2d = "{broken / "keypoints2d"}"', ""]
    path.write_text("\n".join(lines))
    return path


def part_batch(work: Path, count: int) -> list[str]:
    from closecap.batch import read_manifest, run_batch
    from closecap.reconstruct import reconstruct_files

    t0 = time.perf_counter()
    scenes = make_recordings(work / "recs", count, 60, 3)
    gen_s = time.perf_counter() - t0
    manifest = write_manifest(work / "manifest.toml", scenes)
    out = [f"### closecap batch: {count} generated recordings (3 people, 60 frames, 5 cameras)", "",
           f"Recordings made with `closecap.pipelines.run_synth` (seeds 100..{99 + count}) in {gen_s:.1f} s. "
           f"Load average before: {_load()}.", ""]
    # separate runs
    t0 = time.perf_counter()
    for rec in read_manifest(manifest):
        reconstruct_files(rec.calib, rec.keypoints2d, work / "alone" / f"{rec.name}.json")
    alone_s = time.perf_counter() - t0
    rows = ["| run | engine | workers (CPUs) | wall s | recordings/s | done / skipped / failed |", "|---|---|---|---|---|---|"]
    rows.append(f"| {count} separate `reconstruct_files` calls | one process | 1 | {alone_s:.1f} | {count / alone_s:.2f} | – |")
    results = {}
    for cpus in (1, 2):
        target = work / f"ray{cpus}"
        shutil.rmtree(target, ignore_errors=True)
        summary = run_batch(manifest, target, progress=False, use_ray=True, num_cpus=cpus)
        d = summary.to_dict()
        results[cpus] = summary
        rows.append(f"| `run_batch(..., num_cpus={cpus})` | Ray (local; start + stop included) | {cpus} | "
                    f"{summary.seconds:.1f} | {count / summary.seconds:.2f} | {d['done']} / {d['skipped']} / {d['failed']} |")
    import ray

    warm = {}
    for cpus in (1, 2):  # the same on a running Ray instance whose workers have imported closecap
        ray.init(num_cpus=cpus, include_dashboard=False, log_to_driver=False, configure_logging=False)
        try:
            ray.get([ray.remote(lambda: __import__("closecap.reconstruct") and 0).remote() for _ in range(cpus)])
            target = work / f"warm{cpus}"
            shutil.rmtree(target, ignore_errors=True)
            warm[cpus] = run_batch(manifest, target, progress=False)
        finally:
            ray.shutdown()
        rows.append(f"| `run_batch` on a running local Ray (`ray.init(num_cpus={cpus})`, workers warm) | Ray | {cpus} | "
                    f"{warm[cpus].seconds:.1f} | {count / warm[cpus].seconds:.2f} | {len(warm[cpus].results)} / 0 / 0 |")
    target = work / "serial"
    shutil.rmtree(target, ignore_errors=True)
    serial = run_batch(manifest, target, progress=False, use_ray=False)
    rows.append(f"| `run_batch(..., use_ray=False)` | serial | 1 | {serial.seconds:.1f} | {count / serial.seconds:.2f} | "
                f"{len([r for r in serial.results if r.status == 'done'])} / 0 / 0 |")
    again = run_batch(manifest, work / "ray2", progress=False, use_ray=True, num_cpus=2)
    d = again.to_dict()
    rows.append(f"| rerun into the `num_cpus=2` folder | Ray | 2 | {again.seconds:.2f} | – | {d['done']} / {d['skipped']} / {d['failed']} |")
    identical = all((work / folder / f"{s.name}.json").read_bytes() == (work / "alone" / f"{s.name}.json").read_bytes()
                    for folder in ("ray1", "ray2", "warm1", "warm2", "serial") for s in scenes)
    # one broken recording among the 12: a keypoint file that is not JSON
    broken = work / "recs" / "broken"
    if not broken.exists():
        shutil.copytree(scenes[0], broken)
        victim = sorted((broken / "keypoints2d" / "cam02").iterdir())[7]
        victim.write_text("{this is not json")
    bad_manifest = write_manifest(work / "manifest_broken.toml", scenes[:-1], broken=broken)
    shutil.rmtree(work / "broken_out", ignore_errors=True)
    failing = run_batch(bad_manifest, work / "broken_out", progress=False, use_ray=True, num_cpus=2)
    d = failing.to_dict()
    rows.append(f"| {count - 1} good + 1 broken recording | Ray | 2 | {failing.seconds:.1f} | – | "
                f"{d['done']} / {d['skipped']} / {d['failed']} |")
    error = failing.failed[0].error if failing.failed else "(none)"
    out += rows + ["", f"- Outputs byte-identical to the separate runs (all {count} JSON files, Ray with 1 and 2 "
                       f"workers and serial): **{identical}**.",
                   f"- The broken recording's one-line error: `{error}`.",
                   f"- Ray with 2 vs 1 worker: {results[1].seconds / results[2].seconds:.2f}x "
                   "(each batch includes starting and stopping a local Ray instance, a few seconds); on a running instance "
                   f"with warm workers {warm[1].seconds / warm[2].seconds:.2f}x.", ""]
    return out


def part_nodes(work: Path, count: int) -> list[str]:
    from closecap.batch import run_batch

    scenes = make_recordings(work / "recs", count, 60, 3)
    manifest = write_manifest(work / "manifest.toml", scenes)
    port = 6391
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    commands = [[RAY, "start", "--head", "--num-cpus", "1", "--port", str(port), "--include-dashboard", "false",
                 "--disable-usage-stats"],
                [RAY, "start", "--address", f"127.0.0.1:{port}", "--num-cpus", "1"]]
    lines = ["### Two Ray nodes on this machine", "",
             "```", *[" ".join(["ray"] + c[1:]) for c in commands], "```", ""]
    try:
        for command in commands:
            subprocess.run(command, check=True, capture_output=True, env=env, timeout=180)
        time.sleep(3)
        shutil.rmtree(work / "nodes_out", ignore_errors=True)
        summary = run_batch(manifest, work / "nodes_out", address=f"127.0.0.1:{port}", progress=False)
    finally:
        subprocess.run([RAY, "stop", "--force"], capture_output=True, timeout=120)
    by_node: dict[str, list[str]] = {}
    for r in summary.results:
        by_node.setdefault(r.node, []).append(r.name)
    lines += [f"`run_batch(manifest, out, address=\"127.0.0.1:{port}\")`: {len(summary.results)} recordings in "
              f"{summary.seconds:.1f} s, statuses {sorted({r.status for r in summary.results})}; tasks per node:", ""]
    lines += ["| node id | tasks | recordings |", "|---|---|---|"]
    lines += [f"| `{node[:16]}…` | {len(names)} | {', '.join(names)} |" for node, names in by_node.items()]
    lines += ["", f"`ray stop --force` afterwards. Load average: {_load()}.", ""]
    return lines


def part_synth(samples: int, repeats: int = 3, block: int = 4) -> list[str]:
    """Samples/s of serial, 1-worker and 2-worker synthesis: workers started and warmed (library loaded) before
    timing, ``samples / block`` tasks so both workers stay busy to the end, the driver only waits in ``ray.get``,
    best of ``repeats`` runs of each."""
    import ray

    from closecap.pipelines import default_rig
    from closecap.synth.distributed import SceneMaker, produce, sample_digest
    from closecap.synth.generate import SynthConfig
    from closecap.synth.scenes import SceneConfig

    make = SceneMaker(default_rig(), SynthConfig(scene=SceneConfig(num_people=(3, 3), num_frames=150, fps=30.0)))
    load_before = os.getloadavg()
    rows = ["| producer | workers | samples | tasks (samples each) | wall s, best of " f"{repeats} (all) | samples/s |",
            "|---|---|---|---|---|---|"]
    produce(make, seed=42, count=2, start=10_000)  # library loaded, code warm
    walls = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        serial = produce(make, seed=42, count=samples)
        walls.append(time.perf_counter() - t0)
    rows.append(f"| serial (this process) | – | {samples} | – | {min(walls):.2f} ({', '.join(f'{w:.2f}' for w in walls)}) | "
                f"{samples / min(walls):.2f} |")
    digests = {"serial": [sample_digest(s) for s in serial]}
    del serial
    rates = {}
    for workers in (1, 2):
        ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False, configure_logging=False)
        try:  # start every worker process and load the library in each before timing
            produce(make, seed=42, count=2 * workers * block, start=10_000, workers=workers, block=block)
            walls = []
            for _ in range(repeats):
                t0 = time.perf_counter()
                made = produce(make, seed=42, count=samples, workers=workers, block=block)
                walls.append(time.perf_counter() - t0)
        finally:
            ray.shutdown()
        rates[workers] = samples / min(walls)
        digests[workers] = [sample_digest(s) for s in made]
        del made
        rows.append(f"| Ray, local, `num_cpus={workers}` | {workers} | {samples} | {-(-samples // block)} ({block}) | "
                    f"{min(walls):.2f} ({', '.join(f'{w:.2f}' for w in walls)}) | {rates[workers]:.2f} |")
    same = digests["serial"] == digests[1] == digests[2]
    load_after = os.getloadavg()
    busy = max(load_before[0], load_after[0]) > 1.0
    return ["### Synthesis on Ray workers", "",
            f"One sample = one scene of 3 people, 150 frames at 30 fps, 5 cameras, realistic detector noise "
            f"(`SceneMaker`), seed 42; sample i seeded by `SeedSequence(42, spawn_key=(i,))`. Worker processes were "
            f"started and warmed (library loaded) before timing; {samples} samples in tasks of {block} so both workers "
            f"stay busy; the driver only waits in `ray.get`; best of {repeats} runs. Load average (1 / 5 / 15 min) "
            f"before: {' / '.join(f'{x:.1f}' for x in load_before)}, after: {' / '.join(f'{x:.1f}' for x in load_after)}.",
            "", *rows, "",
            f"- 2 workers / 1 worker: **{rates[2] / rates[1]:.2f}x** samples/s (target >= 1.7x).",
            f"- SHA-256 of every sample identical for serial, 1 and 2 workers: **{same}**.",
            *([f"- **The machine was not idle** (1-min load above 1.0 before or after): other jobs shared the 2 cores, "
               "so the ratio understates the speed-up; rerun on a quiet machine."] if busy else []), ""]


def write_long_recording(root: Path, minutes: float, people: int = 3, seed: int = 0, chunk: int = 900) -> Path:
    """A 5-camera recording of ``minutes`` at 30 fps, written chunk by chunk (30 s scenes, new people each chunk)."""
    from closecap.io.calibration import save_rig
    from closecap.io.keypoints import write_openpose
    from closecap.pipelines import default_rig
    from closecap.poses import Detections2D
    from closecap.synth.generate import SynthConfig, make_scene
    from closecap.synth.library import load_library
    from closecap.synth.scenes import SceneConfig

    total = int(round(minutes * 60 * 30))
    done = root / "done.txt"
    if done.exists() and done.read_text() == str(total):
        return root
    shutil.rmtree(root, ignore_errors=True)
    rig = default_rig()
    save_rig(rig, root / "calibration.json")
    library = load_library()
    for k, start in enumerate(range(0, total, chunk)):
        n = min(chunk, total - start)
        config = SynthConfig(scene=SceneConfig(num_people=(people, people), num_frames=n, fps=30.0), seed=seed + k)
        _, det = make_scene(rig, config, library)
        write_openpose(Detections2D(det.camera_names, tuple(f + start for f in det.frames), det.keypoints),
                       root / "keypoints2d")
    done.write_text(str(total))
    return root


def _peak_rss(code: str) -> tuple[float, float]:
    """Run ``code`` in a fresh Python under ``/usr/bin/time -v``: (max RSS MiB, wall s)."""
    t0 = time.perf_counter()
    proc = subprocess.run(["/usr/bin/time", "-v", PYTHON, "-c", code], capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-2000:])
    kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr).group(1))
    return kb / 1024.0, wall


def part_memory(work: Path, minutes: float) -> list[str]:
    rows = ["| recording | frames | files | command | max RSS MiB | wall s |", "|---|---|---|---|---|---|"]
    rss = {}
    for label, mins in (("1 min", 1.0), (f"{minutes:g} min", minutes)):
        t0 = time.perf_counter()
        root = write_long_recording(work / f"long_{mins:g}", mins)
        gen_s = time.perf_counter() - t0
        frames = int(round(mins * 1800))
        code = ("from closecap.stream import reconstruct_stream; "
                f"s = reconstruct_stream('{root}/calibration.json', '{root}/keypoints2d', '{root}/pred.jsonl'); "
                "print(s.frames, s.people)")
        rss[mins], wall = _peak_rss(code)
        rows.append(f"| {label} (generated in {gen_s:.0f} s) | {frames} | {frames * 5} | `reconstruct_stream` → .jsonl | "
                    f"{rss[mins]:.1f} | {wall:.0f} |")
        if mins == 1.0:
            code = ("from closecap.reconstruct import reconstruct_files; "
                    f"reconstruct_files('{root}/calibration.json', '{root}/keypoints2d', '{root}/whole.json')")
            whole_rss, whole_wall = _peak_rss(code)
            rows.append(f"| {label} | {frames} | {frames * 5} | whole-clip `reconstruct_files` → .json | "
                        f"{whole_rss:.1f} | {whole_wall:.0f} |")
            from closecap.stream import jsonl_to_json

            same = jsonl_to_json(root / "pred.jsonl", root / "conv.json").read_bytes() == (root / "whole.json").read_bytes()
    ratio = rss[minutes] / rss[1.0]
    return ["### Streaming reconstruction: peak memory", "",
            f"5 cameras (the demo ring), 3 people, 30 fps, realistic detector noise; the OpenPose folder is written "
            f"30 s at a time (`make_scene` per chunk, seeds 0, 1, ...). Peak memory is `/usr/bin/time -v`'s maximum "
            f"resident set size of a fresh `python -c` (imports included). `StreamConfig()` defaults: chunks of 1800 "
            f"frames, 150 frames of context. Load average: {_load()}.", "", *rows, "",
            f"- {minutes:g} min / 1 min peak memory: **{ratio:.3f}x** (target <= 1.2x).",
            f"- 1-minute streamed JSON Lines converted with `jsonl_to_json` byte-identical to the whole-clip JSON: **{same}**.",
            ""]


def part_gpu(steps: int = 20) -> list[str]:
    """Training steps and network inference on the CPU and, when there is one, on CUDA (same batches)."""
    import torch

    from closecap.model import VolumetricNet
    from closecap.pipelines import default_rig
    from closecap.train import TrainConfig, compute_losses, sample_stream

    lines = ["### GPU", ""]
    if not torch.cuda.is_available():
        return lines + ["No CUDA device on this machine (this session was not lent a GPU by the `device` tool): the GPU "
                        "speed-up is not measured. Training (`closecap train --device auto|cpu|cuda`) and volumetric "
                        "inference (`VolumetricConfig.device`) use CUDA when present; checkpoints are saved on the CPU "
                        "and load on either."]
    config = TrainConfig(batch_size=8, steps=steps, seed=3)
    stream = sample_stream(config, default_rig())
    batches = [next(stream) for _ in range(steps)]
    rows = []
    for device in ("cpu", "cuda"):
        torch.manual_seed(0)
        model = VolumetricNet(config.model).to(device)
        optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
        timings = []
        for batch in batches:
            batch = batch.to(device)
            start = time.perf_counter()
            losses = compute_losses(model, batch, config)
            optimizer.zero_grad(set_to_none=True)
            losses.total.backward()
            optimizer.step()
            if device == "cuda":
                torch.cuda.synchronize()
            timings.append(time.perf_counter() - start)
        model.eval()
        cubes = batches[0].to(device)
        with torch.inference_mode():
            model(cubes.unprojected[:3], cubes.anchors[:3], cubes.centers_world[:3])
            start = time.perf_counter()
            for _ in range(10):
                model(cubes.unprojected[:3], cubes.anchors[:3], cubes.centers_world[:3])
            if device == "cuda":
                torch.cuda.synchronize()
        rows.append((device, float(np.median(timings[2:])), (time.perf_counter() - start) / 10))
    name = torch.cuda.get_device_name(0)
    lines += [f"{steps} training steps of batch 8 (median after 2 warm-up steps) and HEM + KLM on 3 person cubes "
              f"(mean of 10), CPU ({os.cpu_count()} cores) vs {name}:", "",
              "| device | training step s | inference of 3 cubes ms |", "|---|---|---|"]
    lines += [f"| {d} | {t:.3f} | {1000 * i:.1f} |" for d, t, i in rows]
    lines += ["", f"- Speed-up on the GPU: training **{rows[0][1] / rows[1][1]:.1f}x**, inference "
                  f"**{rows[0][2] / rows[1][2]:.1f}x**."]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--parts", default="batch,nodes,synth,memory,gpu")
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--recordings", type=int, default=12)
    parser.add_argument("--samples", type=int, default=48)
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "closecap_scale_out")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    parts = args.parts.split(",")
    import ray

    lines = [f"Machine: {os.cpu_count()} cores (shared with other jobs), Python {platform.python_version()}, "
             f"ray {ray.__version__}.", ""]
    makers = {"batch": lambda: part_batch(args.work, args.recordings), "nodes": lambda: part_nodes(args.work, args.recordings),
              "synth": lambda: part_synth(args.samples), "memory": lambda: part_memory(args.work, args.minutes),
              "gpu": part_gpu}
    for name, make in makers.items():  # each part is saved; a rerun of one part keeps the others' latest text
        saved = args.work / f"part_{name}.md"
        if name in parts:
            saved.write_text("\n".join([f"Command: `.venv/bin/python benchmarks/scale_out.py --parts {name} "
                                         f"--minutes {args.minutes:g} --recordings {args.recordings} "
                                         f"--samples {args.samples}`.", ""] + make()))
        if saved.exists():
            lines += saved.read_text().splitlines()
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        update_section("scale-out", "## Scale-out (Ray batch, distributed synthesis, streaming memory, GPU)\n\n" + text)


if __name__ == "__main__":
    main()
