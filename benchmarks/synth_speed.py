"""Training-sample synthesis speed: one sample = one frame of a 5-camera scene with 2-4 people (composed from the
motion library), its simulated detector output (``NoiseConfig()``), and its per-view 17-joint heatmaps at 1/4
image resolution (stride 4, sigma 8 px).

Scenes are made the way training makes them: ``compose_scene`` (``SceneConfig(num_frames=32)``), one
``simulate_detections`` call for the whole scene, then the frames' heatmaps rendered one after the other into
one reused :class:`closecap.heatmaps.HeatmapRenderer` buffer. Reported: samples/s without and with the
composition, from the best of ``--repeats`` passes per stage (wall clock; the CPU time of this process is
printed too, since other jobs may share the 2 cores), single process; and the aggregate of ``--workers``
processes making scenes side by side.

Usage: .venv/bin/python benchmarks/synth_speed.py [--scenes 10] [--repeats 3] [--workers 2]
Writes the table to the "synth-speed" section of benchmarks/results.md (``--no-write`` to only print).
``--legacy`` renders with ``render_heatmaps_batch`` (a new array per frame), the only API of older versions:
with ``PYTHONPATH=<old checkout>/src`` it measures the code before the speed-up; ``--json`` saves the numbers
and ``--before`` puts such a saved run beside the new one.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import update_section  # noqa: E402

from closecap.cameras import ring_rig  # noqa: E402
from closecap.heatmaps import render_heatmaps_batch  # noqa: E402
from closecap.pipelines import default_rig  # noqa: E402
from closecap.skeleton import COCO17  # noqa: E402
from closecap.synth.library import load_library  # noqa: E402
from closecap.synth.noise import NoiseConfig, simulate_detections  # noqa: E402
from closecap.synth.scenes import SceneConfig, compose_scene  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
STRIDE, SIGMA_PX = 4, 8.0


def make_rig(name: str):
    """``default``: closecap.pipelines.default_rig() (5 x 1920x1080); ``shelf``: the Shelf calibration (5 x 1032x776)."""
    if name == "default":
        return default_rig()
    try:
        from closecap.io.calibration import load_rig

        return load_rig(SHARED / "calibrations/shelf/calibration_shelf.json")
    except (ImportError, OSError):
        return ring_rig(5, radius_m=4.0, width=1032, height=776, focal_px=1050.0, target_world=(0, 0, 1.0))


def run_scenes(rig_name: str, people: int, seeds: list[int], frames: int, legacy: bool) -> dict:
    """Per-stage wall and CPU seconds over the scenes of ``seeds`` (and the frame count)."""
    rig = make_rig(rig_name)
    library = load_library().split("train")
    size = tuple(int(s) for s in rig.image_sizes[0])
    renderer = None
    if not legacy:
        from closecap.heatmaps import HeatmapRenderer

        renderer = HeatmapRenderer(len(rig), COCO17.num_joints, size, stride=STRIDE, sigma_px=SIGMA_PX)
    config = SceneConfig(num_people=(people, people), num_frames=frames)
    wall = np.zeros(3)
    cpu = np.zeros(3)
    total_frames = 0
    for seed in seeds:
        rng = np.random.default_rng(seed)
        clocks = [(time.perf_counter(), time.process_time())]
        gt = compose_scene(library, rig, config, rng)
        clocks.append((time.perf_counter(), time.process_time()))
        detections, _ = simulate_detections(gt.joints, rig, NoiseConfig(), rng)
        clocks.append((time.perf_counter(), time.process_time()))
        for keypoints in detections.keypoints:
            if renderer is None:
                render_heatmaps_batch(keypoints, size, stride=STRIDE, sigma_px=SIGMA_PX)
            else:
                renderer.render(keypoints)
        clocks.append((time.perf_counter(), time.process_time()))
        c = np.array(clocks)  # (4, 2)
        wall += np.diff(c[:, 0])
        cpu += np.diff(c[:, 1])
        total_frames += detections.num_frames
    return {"frames": total_frames, "wall": wall.tolist(), "cpu": cpu.tolist()}


def _worker(args) -> int:
    rig_name, people, seeds, frames, legacy = args
    return run_scenes(rig_name, people, seeds, frames, legacy)["frames"]


def measure(rig_name: str, people: int, scenes: int, frames: int, repeats: int, workers: int, legacy: bool) -> dict:
    seeds = [1000 * people + s for s in range(scenes)]
    run_scenes(rig_name, people, seeds[:1], frames, legacy)  # warm-up: library, caches, buffers
    best_wall, best_cpu, n = np.full(3, np.inf), np.full(3, np.inf), 0
    for _ in range(repeats):
        r = run_scenes(rig_name, people, seeds, frames, legacy)
        best_wall = np.minimum(best_wall, r["wall"])
        best_cpu = np.minimum(best_cpu, r["cpu"])
        n = r["frames"]
    out = {"people": people, "rig": rig_name, "frames": n, "wall": best_wall.tolist(), "cpu": best_cpu.tolist()}
    if workers > 1:
        chunks = [(rig_name, people, seeds[w::workers] * repeats, frames, legacy) for w in range(workers)]
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            pool.map(_worker, [(rig_name, people, seeds[:1], frames, legacy)] * workers)  # warm-up
            start = time.perf_counter()
            done = sum(pool.map(_worker, chunks))
            out["parallel"] = {"workers": workers, "samples_per_s": done / (time.perf_counter() - start)}
    return out


def rates(r: dict, clock: str) -> tuple[float, float, float, float]:
    """samples/s: simulate, heatmaps, without composition, with composition."""
    compose, simulate, heatmaps = r[clock]
    n = r["frames"]
    return n / simulate, n / heatmaps, n / (simulate + heatmaps), n / (compose + simulate + heatmaps)


def table(results: list[dict], before: dict | None) -> list[str]:
    lines = ["| rig | people | simulate (samples/s) | heatmaps (samples/s) | **without composition** (samples/s) | "
             "**with composition** (samples/s) | same, CPU time of the process | "
             + ("before: without / with composition | " if before else "") + "parallel workers, with composition |",
             "|---|---|---|---|---|---|---|" + ("---|" if before else "") + "---|"]
    for r in results:
        sim, hm, excl, incl = rates(r, "wall")
        _, _, excl_cpu, incl_cpu = rates(r, "cpu")
        row = f"| {r['rig']} | {r['people']} | {sim:.0f} | {hm:.0f} | **{excl:.0f}** | **{incl:.0f}** | {excl_cpu:.0f} / {incl_cpu:.0f} |"
        if before:
            old = next((b for b in before["results"] if b["people"] == r["people"] and b["rig"] == r["rig"]), None)
            row += f" {rates(old, 'wall')[2]:.0f} / {rates(old, 'wall')[3]:.0f} |" if old else " – |"
        par = r.get("parallel")
        row += f" {par['samples_per_s']:.0f} ({par['workers']} processes) |" if par else " – |"
        lines.append(row)
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenes", type=int, default=10, help="scenes per people count")
    parser.add_argument("--frames", type=int, default=32, help="frames per scene (SceneConfig default)")
    parser.add_argument("--repeats", type=int, default=3, help="passes; the best is kept per stage")
    parser.add_argument("--workers", type=int, default=2, help="processes of the parallel measurement (1 = skip)")
    parser.add_argument("--people", type=int, nargs="+", default=[2, 3, 4])
    parser.add_argument("--rigs", nargs="+", default=["default", "shelf"], choices=["default", "shelf"])
    parser.add_argument("--legacy", action="store_true", help="render with render_heatmaps_batch (older API)")
    parser.add_argument("--json", type=Path, help="save the raw numbers here")
    parser.add_argument("--before", type=Path, help="a --json file of an earlier run to show beside this one")
    parser.add_argument("--no-write", action="store_true", help="do not write benchmarks/results.md")
    args = parser.parse_args()
    results = [measure(rig, p, args.scenes, args.frames, args.repeats, args.workers, args.legacy)
               for rig in args.rigs for p in args.people]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    raw = {"results": results, "load_average_1min": load, "legacy": args.legacy}
    if args.json:
        args.json.write_text(json.dumps(raw, indent=1))
    before = json.loads(args.before.read_text()) if args.before else None
    lines = [
        "## Synthesis speed: training samples per second (issue 4)",
        "",
        f"A sample = one frame of a 5-camera scene: its people composed from the motion library "
        f"(`SceneConfig(num_frames={args.frames})`, train split), simulated detections (`NoiseConfig()`), and its "
        f"5 x 17 heatmaps at stride {STRIDE} (sigma {SIGMA_PX:g} px; 480 x 270 px for the default rig's 1920 x 1080 images, "
        f"258 x 194 px for Shelf's 1032 x 776) rendered "
        + ("with `render_heatmaps_batch` (a new array per frame). " if args.legacy
           else "into a reused `HeatmapRenderer` buffer (float32). ")
        + f"{args.scenes} scenes per row, best of {args.repeats} passes per stage, wall clock, one process; "
        f"{os.cpu_count()} CPU cores, Python {platform.python_version()}, NumPy {np.__version__}; 1-min load average "
        f"{load:.1f} at the end (other jobs shared the cores; the CPU-time column is this process's own time). "
        "Target: >= 500 samples/s on 2 cores.",
        "",
        *table(results, before),
        "",
    ]
    if load > (os.cpu_count() or 1):
        lines.append(f"The machine was loaded by other jobs (1-min load {load:.1f} on {os.cpu_count()} cores): the "
                     "parallel column could not use 2 free cores and understates what 2 processes give on an idle "
                     "machine; the single-process columns are the best of several passes.")
        lines.append("")
    lines.append("Composition (`compose_scene`: placing 3-4 people in contact without interpenetration, retried until "
                 "they fit the rig) is the largest cost for 4 people, most of all in the Shelf rig.")
    lines.append("")
    if before:
        lines.append("'before' = the same measurement of the code before the speed-up (commit 0efb857, "
                     "`render_heatmaps_batch` per frame, `--legacy`), run in the same session.")
        lines.append("")
    lines.append("Reproduce: `.venv/bin/python benchmarks/synth_speed.py` (before: `git archive 0efb857 | tar -x -C /tmp/old && "
                 "PYTHONPATH=/tmp/old/src .venv/bin/python benchmarks/synth_speed.py --legacy --no-write --json before.json`, "
                 "then `--before before.json`)")
    if not args.no_write:
        update_section("synth-speed", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
