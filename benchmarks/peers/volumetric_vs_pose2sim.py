"""closecap's volumetric method (the shipped network) vs Pose2Sim and the baseline, on the peer scenes.

Reads what ``benchmarks/peers/compare.py`` left in its work folder (the six held-out scenes, their rigs, and
Pose2Sim's predictions), runs ``closecap reconstruct --method volumetric`` (by default with the shipped
checkpoint, which was trained on another rig: these 4-8 camera rigs, some with lens distortion, are new to
it) and scores all three on the 13 joints Pose2Sim outputs.

Usage (from the repository root; run compare.py first)::

    .venv/bin/python benchmarks/peers/volumetric_vs_pose2sim.py [--model M.pt] [--work benchmarks/peers/work/compare]

Writes the "volumetric-vs-pose2sim" section of benchmarks/results.md (unless --no-write).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))
from _results import update_section  # noqa: E402
from compare import SCENES, without_face  # noqa: E402

from closecap.io.keypoints import read_poses  # noqa: E402
from closecap.metrics import EvalConfig, evaluate  # noqa: E402
from closecap.reconstruct import ReconstructConfig, reconstruct_files  # noqa: E402

CONTACT = EvalConfig(distance_bins_m=(0.3,))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, default=HERE / "work" / "compare", help="compare.py's work folder")
    parser.add_argument("--model", default="", help="conditional checkpoint (default: the shipped one)")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    rows = []
    for spec in SCENES:
        scene = args.work / spec.name
        p2s_pred = args.work / f"{spec.name}_pose2sim.json"
        if not (scene / "gt.json").exists() or not p2s_pred.exists():
            print(f"{spec.name}: no scene or Pose2Sim prediction in {args.work}; run benchmarks/peers/compare.py first",
                  file=sys.stderr)
            return 2
        vol_pred = args.work / f"{spec.name}_volumetric.json"
        start = time.perf_counter()
        reconstruct_files(scene / "calibration.json", scene / "keypoints2d", vol_pred,
                          ReconstructConfig(method="volumetric", model_path=args.model))
        seconds = time.perf_counter() - start
        gt = without_face(read_poses(scene / "gt.json"))
        scores = {name: evaluate(without_face(read_poses(path)), gt, CONTACT) for name, path in
                  (("volumetric", vol_pred), ("baseline", args.work / f"{spec.name}_baseline.json"),
                   ("pose2sim", p2s_pred))}
        rows.append((spec, scores, seconds, gt.num_frames))
        print(spec.name, {k: round(v.mpjpe_mm, 1) for k, v in scores.items()}, f"{seconds:.1f} s", flush=True)
    model = args.model or "the shipped checkpoint (`closecap/data/volumetric_default.pt`, trained on the demo's 5-camera ring)"
    out = ["## Volumetric method vs Pose2Sim on the peer scenes (issue 5)", "",
           f"Command: `.venv/bin/python benchmarks/peers/volumetric_vs_pose2sim.py{' --model ' + args.model if args.model else ''}` "
           "(after `benchmarks/peers/compare.py --frames 120`, whose scenes and Pose2Sim 0.10.49 predictions it reuses).", "",
           f"Model: {model}. The six held-out scenes of `benchmarks/peers/results.md` (realistic noise, 4-8 cameras, "
           "rigs the network was not trained on, some with lens distortion); 13 joints (no eyes or ears, which "
           "Pose2Sim lacks). MPJPE over the joints each method outputs; missing = share of matched GT joints without one.", "",
           "| scene | cams | people | volumetric MPJPE mm | baseline | Pose2Sim | volumetric < 0.3 m | baseline < 0.3 m | "
           "Pose2Sim < 0.3 m | recall@500 vol / base / P2S | missing vol / base / P2S | volumetric frames/s |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    wins = 0
    for spec, s, seconds, frames in rows:
        contact = [r.distance_bins[0] for r in (s["volumetric"], s["baseline"], s["pose2sim"])]
        cells = [f"{b.mpjpe_mm:.1f}" if b.count else "–" for b in contact]
        wins += s["volumetric"].mpjpe_mm < s["pose2sim"].mpjpe_mm
        out.append(f"| {spec.name} | {spec.cameras} | {spec.people} | {s['volumetric'].mpjpe_mm:.1f} | "
                   f"{s['baseline'].mpjpe_mm:.1f} | {s['pose2sim'].mpjpe_mm:.1f} | " + " | ".join(cells) + " | "
                   + " / ".join(f"{s[k].recall_500mm:.3f}" for k in ("volumetric", "baseline", "pose2sim")) + " | "
                   + " / ".join(f"{s[k].joints_missing:.3f}" for k in ("volumetric", "baseline", "pose2sim"))
                   + f" | {frames / seconds:.1f} |")
    mean = {k: np.mean([s[k].mpjpe_mm for _, s, _, _ in rows]) for k in ("volumetric", "baseline", "pose2sim")}
    out += ["", f"Mean MPJPE: volumetric {mean['volumetric']:.1f}, baseline {mean['baseline']:.1f}, Pose2Sim "
                f"{mean['pose2sim']:.1f} mm. The volumetric method is more accurate than Pose2Sim on {wins} of "
                f"{len(rows)} scenes. frames/s includes reading and writing the files."]
    text = "\n".join(out)
    print(text)
    if not args.no_write:
        update_section("volumetric-vs-pose2sim", text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
