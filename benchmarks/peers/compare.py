"""closecap's baseline vs Pose2Sim on held-out synthetic close-interaction scenes.

Usage (from the repository root, closecap's venv)::

    .venv/bin/python benchmarks/peers/compare.py [--frames 120] [--scenes s1,s2] [--work benchmarks/peers/work/compare]

For each scene of :data:`SCENES` (fixed rigs and seeds, so reruns give the same numbers):

1. writes the rig (:func:`closecap.cameras.ring_rig`, some with lens distortion) as closecap JSON;
2. ``closecap synth --calib RIG --people P --frames N --seed S --split test --noise realistic --out SCENE``
   (held-out motion-library takes, the realistic OpenPose-fitted 2D noise);
3. ``closecap reconstruct --method baseline`` and ``pose2sim_runner.py`` on the same files, timed;
4. scores both with :func:`closecap.metrics.evaluate` on the 13 joints both produce (COCO-17 without eyes and
   ears, which Pose2Sim's BODY_25 skeleton lacks), plus the baseline on all 17 joints for reference;
5. writes ``benchmarks/peers/results.md`` (and ``WORK/results.json``).
"""
from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
FACE_JOINTS = ("left_eye", "right_eye", "left_ear", "right_ear")


@dataclass(frozen=True)
class SceneSpec:
    """One benchmark scene: a ring rig and a synth seed.

    Attributes:
        name: scene name (folder name).
        cameras: number of cameras on the ring.
        people: number of people.
        seed: ``closecap synth --seed``.
        radius_m: ring radius, metres. height_m: camera height, metres.
        k1: radial distortion of every camera (0 = pinhole).
        arc_deg: 360 = full ring; less = cameras on one side only.
    """

    name: str
    cameras: int
    people: int
    seed: int
    radius_m: float = 4.0
    height_m: float = 2.2
    k1: float = 0.0
    arc_deg: float = 360.0


SCENES = (
    SceneSpec("s1_4cam_2p", cameras=4, people=2, seed=1101, radius_m=3.5),
    SceneSpec("s2_5cam_3p", cameras=5, people=3, seed=1102, k1=-0.12),
    SceneSpec("s3_6cam_4p", cameras=6, people=4, seed=1103),
    SceneSpec("s4_8cam_2p", cameras=8, people=2, seed=1104, radius_m=4.5, k1=-0.08),
    SceneSpec("s5_4cam_4p", cameras=4, people=4, seed=1105, radius_m=4.0, height_m=2.6),
    SceneSpec("s6_8cam_3p", cameras=8, people=3, seed=1106, arc_deg=220.0, k1=-0.05),
)


def make_rig(spec: SceneSpec):
    """The ring rig of ``spec`` (names ``cam1``..``camN``: their alphabetical order differs from the rig order
    past 9, and Pose2Sim pairs by order, so the runner's renaming is exercised)."""
    from closecap.cameras import Camera, Rig, ring_rig

    rig = ring_rig(spec.cameras, radius_m=spec.radius_m, height_m=spec.height_m, arc_deg=spec.arc_deg,
                   name_format="cam{}")
    cams = [Camera(f"cam{i + 1}", c.K, [spec.k1, 0, 0, 0, 0], c.R, c.t, c.width, c.height)
            for i, c in enumerate(rig.cameras)]
    return Rig(tuple(cams))


def _run(cmd: list[str]) -> float:
    """Run ``cmd`` from the repo root; return its wall time in seconds; raise with its stderr on failure."""
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"command failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stderr[-3000:]}")
    return seconds


def _rel(path: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(REPO))
    except ValueError:
        return str(path)


def without_face(poses):
    """``poses`` with eyes and ears set missing (NaN, confidence 0): the 13 joints Pose2Sim can produce."""
    from closecap.poses import Poses3D

    joints = np.array(poses.joints)
    conf = np.array(poses.confidence)
    face = poses.joint_set.indices(list(FACE_JOINTS))
    joints[:, :, face] = np.nan
    conf[:, :, face] = 0.0
    return Poses3D(poses.frames, poses.ids, joints, conf, poses.joint_set)


def summarize(result) -> dict:
    """The numbers the tables show, from an :class:`closecap.metrics.EvalResult`."""
    d = result.to_dict()
    bins = [{"label": b["label"], "count": b["count"], "recall": b["recall"], "mpjpe_mm": b["mpjpe_mm"], "pck": b["pck"]}
            for b in d["distance_bins"]]
    return {
        "mpjpe_mm": d["mpjpe_mm"], "pa_mpjpe_mm": d["pa_mpjpe_mm"], "recall_500mm": d["recall_500mm"],
        "pck100": d["pck"]["100"], "matched": d["num_matched"], "num_gt": d["num_gt"], "missed": d["num_missed"],
        "false_positives": d["num_false_positives"], "id_switches": d["id_switches"], "mota": d["mota"],
        "joints_missing": d["joints_missing"], "distance_bins": bins,
    }


def synthesize(spec: SceneSpec, calib: Path, scene: Path, frames: int) -> str:
    """Write the scene folder: what ``closecap synth --calib CALIB --people P --frames N --seed S --split test
    --noise realistic --out SCENE`` does (its function, ``closecap.pipelines.run_synth``, when present; else the
    same composition through :func:`closecap.synth.generate.make_scene` and :func:`closecap.io.scene.write_scene`).
    Returns which of the two made the scene."""
    try:
        from closecap.pipelines import run_synth
    except ImportError:
        run_synth = None
    if run_synth is not None:
        run_synth(scene, calib=calib, people=(spec.people, spec.people), frames=frames, seed=spec.seed,
                  noise="realistic", split="test", camera_type=None)
        return "closecap.pipelines.run_synth (the function behind `closecap synth`)"
    from closecap.io.calibration import load_rig
    from closecap.io.scene import write_scene
    from closecap.synth.generate import SynthConfig, make_scene
    from closecap.synth.scenes import SceneConfig

    rig = load_rig(calib)
    config = SynthConfig(scene=SceneConfig(num_people=(spec.people, spec.people), num_frames=frames),
                         seed=spec.seed, split="test")
    gt, detections = make_scene(rig, config)
    if isinstance(detections, tuple):  # simulate_detections now returns (detections, trace); make_scene may pass both
        detections = detections[0]
    write_scene(scene, rig, detections, gt, {"synth": config.to_dict(), "calibration": str(calib)})
    return "closecap.synth.generate.make_scene + closecap.io.scene.write_scene (closecap.pipelines absent)"


def run_scene(spec: SceneSpec, frames: int, work: Path) -> dict:
    """Generate, reconstruct with both methods, evaluate; return one result record.

    Both methods run on the files of the scene folder. The baseline runs in this process through
    ``closecap.reconstruct.reconstruct_files`` (the function behind ``closecap reconstruct``); Pose2Sim runs
    through ``pose2sim_runner.py`` in a subprocess. Reported times exclude interpreter start-up and imports for
    both: the baseline's call (read, reconstruct, write) vs the runner's preparation plus Pose2Sim's three steps
    (each reads and writes its own files); the runner's whole wall time is recorded as well.
    """
    from closecap.io.calibration import save_rig
    from closecap.io.keypoints import read_poses
    from closecap.metrics import evaluate
    from closecap.reconstruct import ReconstructConfig, reconstruct_files
    from pose2sim_runner import _scene_frame_rate

    work.mkdir(parents=True, exist_ok=True)
    calib = work / f"{spec.name}_rig.json"
    scene = work / spec.name
    save_rig(make_rig(spec), calib)
    synth_via = synthesize(spec, calib, scene, frames)
    cli = ".venv/bin/closecap"
    synth_cmd = (f"{cli} synth --calib {_rel(calib)} --people {spec.people} --frames {frames} --seed {spec.seed} "
                 f"--split test --noise realistic --out {_rel(scene)}")

    base_pred = work / f"{spec.name}_baseline.json"
    base_cmd = (f"{cli} reconstruct --calib {_rel(scene / 'calibration.json')} --keypoints2d {_rel(scene / 'keypoints2d')} "
                f"--method baseline --out {_rel(base_pred)}")
    start = time.perf_counter()
    reconstruct_files(scene / "calibration.json", scene / "keypoints2d", base_pred, ReconstructConfig(method="baseline"))
    base_s = time.perf_counter() - start

    p2s_pred = work / f"{spec.name}_pose2sim.json"
    p2s_work = work / f"{spec.name}_pose2sim_project"
    p2s_argv = [sys.executable, _rel(HERE / "pose2sim_runner.py"), "--scene", _rel(scene), "--out", _rel(p2s_pred),
                "--work", _rel(p2s_work)]
    p2s_wall = _run(p2s_argv)
    p2s_steps = json.loads((p2s_work / "timing.json").read_text())
    p2s_s = sum(v for k, v in p2s_steps.items() if k != "pose2sim_process")

    gt = read_poses(scene / "gt.json")
    base = read_poses(base_pred)
    p2s = read_poses(p2s_pred)
    gt13 = without_face(gt)
    return {
        "scene": spec.__dict__, "frames": frames, "fps": _scene_frame_rate(scene), "gt_people": int(gt.num_people), "synth_via": synth_via,
        "commands": [synth_cmd, base_cmd, ".venv/bin/python " + " ".join(p2s_argv[1:]),
                     f"{cli} eval --pred {_rel(p2s_pred)} --gt {_rel(scene / 'gt.json')}"],
        "seconds": {"baseline": base_s, "pose2sim": p2s_s, "pose2sim_runner_wall": p2s_wall,
                    "pose2sim_steps": p2s_steps},
        "baseline13": summarize(evaluate(without_face(base), gt13)),
        "pose2sim13": summarize(evaluate(without_face(p2s), gt13)),
        "baseline17": summarize(evaluate(base, gt)),
    }


def _f(value, spec=".1f", scale=1.0) -> str:
    return "–" if value is None else format(value * scale, spec)


def _diff(a, b, spec=".1f", scale=1.0) -> str:
    return "–" if a is None or b is None else format((a - b) * scale, "+" + spec)


def _ratio(a, b) -> str:
    return "–" if a is None or b is None or a == 0 else f"{b / a:.2f}×"


def render(records: list[dict], frames: int) -> str:
    """results.md text."""
    lines = [
        "# closecap baseline vs Pose2Sim 0.10.49",
        "",
        "Written by `benchmarks/peers/compare.py` (do not edit by hand). Held-out synthetic close-interaction scenes",
        f"(`closecap synth --split test --noise realistic`, {frames} frames at {records[0]['fps'] if records else '?'} fps each), same OpenPose BODY_25 input for both.",
        "Scores from `closecap.metrics.evaluate` on the **13 joints both methods output** (COCO-17 minus eyes and ears,",
        "absent from Pose2Sim's BODY_25 skeleton); GT person-frames are matched by Hungarian assignment (< 0.5 m).",
        "Δ = baseline − Pose2Sim; ratio = Pose2Sim / baseline. Recall@500 is VoxelPose's; PCK@100 counts missed",
        "people and missing joints as failures. Pose2Sim settings and quirks: `benchmarks/peers/README.md`.",
        f"Machine: {platform.machine()}, {platform.python_implementation()} {platform.python_version()}, CPU only.",
        "",
        "## Summary",
        "",
        "| scene | cams | people | MPJPE baseline (mm) | MPJPE Pose2Sim (mm) | ratio | recall@500 baseline | recall@500 Pose2Sim | PCK@100 baseline | PCK@100 Pose2Sim | time baseline (s) | time Pose2Sim (s) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in records:
        b, p, s = r["baseline13"], r["pose2sim13"], r["scene"]
        lines.append(
            f"| {s['name']} | {s['cameras']} | {r['gt_people']} | {_f(b['mpjpe_mm'])} | {_f(p['mpjpe_mm'])} | "
            f"{_ratio(b['mpjpe_mm'], p['mpjpe_mm'])} | {_f(b['recall_500mm'], '.3f')} | {_f(p['recall_500mm'], '.3f')} | "
            f"{_f(b['pck100'], '.3f')} | {_f(p['pck100'], '.3f')} | {r['seconds']['baseline']:.1f} | "
            f"{r['seconds']['pose2sim']:.1f} |")
    mean = lambda key, m: float(np.mean([r[m][key] for r in records if r[m][key] is not None])) if records else None  # noqa: E731
    lines.append(
        f"| **mean** | | | {_f(mean('mpjpe_mm', 'baseline13'))} | {_f(mean('mpjpe_mm', 'pose2sim13'))} | "
        f"{_ratio(mean('mpjpe_mm', 'baseline13'), mean('mpjpe_mm', 'pose2sim13'))} | "
        f"{_f(mean('recall_500mm', 'baseline13'), '.3f')} | {_f(mean('recall_500mm', 'pose2sim13'), '.3f')} | "
        f"{_f(mean('pck100', 'baseline13'), '.3f')} | {_f(mean('pck100', 'pose2sim13'), '.3f')} | "
        f"{np.mean([r['seconds']['baseline'] for r in records]):.1f} | "
        f"{np.mean([r['seconds']['pose2sim'] for r in records]):.1f} |")
    first_bin = records[0]["baseline13"]["distance_bins"][0]["label"] if records else "?"
    lines += ["", f"Close contact only (GT person-frames whose nearest other person is {first_bin} away):", "",
              "| scene | person-frames | recall baseline | recall Pose2Sim | MPJPE baseline (mm) | MPJPE Pose2Sim (mm) | PCK@100 baseline | PCK@100 Pose2Sim |",
              "|---|---|---|---|---|---|---|---|"]
    for r in records:
        bb, pb = r["baseline13"]["distance_bins"][0], r["pose2sim13"]["distance_bins"][0]
        lines.append(f"| {r['scene']['name']} | {bb['count']} | {_f(bb['recall'], '.3f')} | {_f(pb['recall'], '.3f')} | "
                     f"{_f(bb['mpjpe_mm'])} | {_f(pb['mpjpe_mm'])} | {_f(bb['pck'], '.3f')} | {_f(pb['pck'], '.3f')} |")
    lines += ["", "Scenes made with: " + ", ".join(sorted({r["synth_via"] for r in records})) + ".",
              "", "Times are wall-clock seconds on this machine without interpreter start-up and imports: the baseline's",
              "`reconstruct_files` call (read, reconstruct, write) vs the runner's project preparation plus Pose2Sim's",
              "three steps (each reads and writes its own files). Per-step times and the runner's whole wall time are",
              "listed per scene.", ""]

    for r in records:
        b, p, b17, s = r["baseline13"], r["pose2sim13"], r["baseline17"], r["scene"]
        lines += [
            f"## {s['name']}",
            "",
            f"{s['cameras']} cameras (ring r = {s['radius_m']} m, h = {s['height_m']} m, arc {s['arc_deg']:.0f}°, "
            f"k1 = {s['k1']}), {r['gt_people']} people, seed {s['seed']}, {r['frames']} frames.",
            "",
            "| metric (13 joints) | closecap baseline | Pose2Sim | Δ | ratio |",
            "|---|---|---|---|---|",
            f"| MPJPE (mm) | {_f(b['mpjpe_mm'])} | {_f(p['mpjpe_mm'])} | {_diff(b['mpjpe_mm'], p['mpjpe_mm'])} | {_ratio(b['mpjpe_mm'], p['mpjpe_mm'])} |",
            f"| PA-MPJPE (mm) | {_f(b['pa_mpjpe_mm'])} | {_f(p['pa_mpjpe_mm'])} | {_diff(b['pa_mpjpe_mm'], p['pa_mpjpe_mm'])} | {_ratio(b['pa_mpjpe_mm'], p['pa_mpjpe_mm'])} |",
            f"| recall@500 | {_f(b['recall_500mm'], '.3f')} | {_f(p['recall_500mm'], '.3f')} | {_diff(b['recall_500mm'], p['recall_500mm'], '.3f')} | |",
            f"| PCK@100 | {_f(b['pck100'], '.3f')} | {_f(p['pck100'], '.3f')} | {_diff(b['pck100'], p['pck100'], '.3f')} | |",
            f"| matched / GT person-frames | {b['matched']} / {b['num_gt']} | {p['matched']} / {p['num_gt']} | | |",
            f"| false positives | {b['false_positives']} | {p['false_positives']} | | |",
            f"| ID switches | {b['id_switches']} | {p['id_switches']} | | |",
            f"| MOTA | {_f(b['mota'], '.3f')} | {_f(p['mota'], '.3f')} | | |",
            f"| joints missing (matched) | {_f(b['joints_missing'], '.3f')} | {_f(p['joints_missing'], '.3f')} | | |",
            f"| wall time (s) | {r['seconds']['baseline']:.1f} | {r['seconds']['pose2sim']:.1f} | | |",
            "",
            "By distance to the nearest other person (GT):",
            "",
            "| bin | GT person-frames | recall baseline | recall Pose2Sim | MPJPE baseline (mm) | MPJPE Pose2Sim (mm) | PCK@100 baseline | PCK@100 Pose2Sim |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for bb, pb in zip(b["distance_bins"], p["distance_bins"]):
            lines.append(f"| {bb['label']} | {bb['count']} | {_f(bb['recall'], '.3f')} | {_f(pb['recall'], '.3f')} | "
                         f"{_f(bb['mpjpe_mm'])} | {_f(pb['mpjpe_mm'])} | {_f(bb['pck'], '.3f')} | {_f(pb['pck'], '.3f')} |")
        steps = r["seconds"]["pose2sim_steps"]
        lines += [
            "",
            f"Baseline on all 17 joints: MPJPE {_f(b17['mpjpe_mm'])} mm, recall@500 {_f(b17['recall_500mm'], '.3f')}, "
            f"PCK@100 {_f(b17['pck100'], '.3f')}. Pose2Sim steps (s): "
            + ", ".join(f"{k} {v:.1f}" for k, v in steps.items() if k != "pose2sim_process")
            + f"; runner wall time incl. start-up {r['seconds']['pose2sim_runner_wall']:.1f} s.",
            "",
            "Reproduce:",
            "",
            "```",
            *r["commands"],
            "```",
            "",
        ]
    lines += [
        "## Reproduce everything",
        "",
        "```",
        f".venv/bin/python benchmarks/peers/compare.py --frames {frames}",
        "```",
        "",
        "The rig files are written by `compare.py` (`make_rig`: `closecap.cameras.ring_rig` + the listed k1) before the",
        "commands above run; the Pose2Sim venv is created on first use (`benchmarks/peers/.venv-pose2sim`).",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=120, help="frames per scene, at the scene's frame rate")
    parser.add_argument("--scenes", default="", help="comma-separated scene names (default: all)")
    parser.add_argument("--work", type=Path, default=HERE / "work" / "compare", help="where scenes and predictions go")
    parser.add_argument("--results", type=Path, default=HERE / "results.md", help="markdown report to write")
    args = parser.parse_args(argv)

    chosen = [s for s in SCENES if not args.scenes or s.name in args.scenes.split(",")]
    records = []
    for spec in chosen:
        print(f"[{spec.name}] ...", flush=True)
        rec = run_scene(spec, args.frames, args.work)
        b, p = rec["baseline13"], rec["pose2sim13"]
        print(f"[{spec.name}] baseline MPJPE {_f(b['mpjpe_mm'])} mm recall {_f(b['recall_500mm'], '.3f')} | "
              f"Pose2Sim MPJPE {_f(p['mpjpe_mm'])} mm recall {_f(p['recall_500mm'], '.3f')} | "
              f"{rec['seconds']['baseline']:.1f} s vs {rec['seconds']['pose2sim']:.1f} s", flush=True)
        records.append(rec)
    (args.work / "results.json").write_text(json.dumps(records, indent=1))
    text = render(records, args.frames)
    tmp = args.results.with_suffix(".md.tmp")
    tmp.write_text(text)
    tmp.replace(args.results)
    print(f"wrote {args.results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
