"""Accuracy of the conditional volumetric network against the geometric baseline on held-out scenes.

Scenes: motion capture from the library's held-out ``test`` split, 2-4 people with contact included
(``contact_fraction`` 0.7), the default 5-camera ring (closecap.pipelines.default_rig()), the
occlusion-heavy detector-noise preset. Metrics from closecap.metrics, with the closeness breakdown
(``EvalConfig.distance_bins_m = (0.3, 1.0)``: nearest other person < 0.3 m, 0.3-1 m, >= 1 m).

Usage:
    # evaluate an existing checkpoint (and optionally an unconditional one)
    .venv/bin/python benchmarks/volumetric.py --checkpoint /tmp/closecap_models/fix.pt [--unconditional U.pt]
    # train first (CPU, on the default ring), then evaluate
    .venv/bin/python benchmarks/volumetric.py --train --checkpoint /tmp/closecap_models/bench.pt --steps 1000

Writes the "volumetric" section of benchmarks/results.md (unless --no-write).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import update_section  # noqa: E402

from closecap.baseline import reconstruct_baseline  # noqa: E402
from closecap.metrics import EvalConfig, evaluate  # noqa: E402
from closecap.pipelines import default_rig  # noqa: E402
from closecap.synth.generate import SynthConfig, make_scene  # noqa: E402
from closecap.synth.library import load_library  # noqa: E402
from closecap.synth.noise import NoiseConfig  # noqa: E402
from closecap.synth.scenes import SceneConfig  # noqa: E402
from closecap.train import TrainConfig, load_model, train  # noqa: E402
from closecap.volumetric import VolumetricConfig, reconstruct_volumetric  # noqa: E402

EVAL = EvalConfig(distance_bins_m=(0.3, 1.0))
FIRST_SEED = 500
"""Seeds of the held-out scenes: FIRST_SEED, FIRST_SEED + 1, ..."""


def scene(seed: int, frames: int, library):
    """One held-out scene on the default ring: (ground truth, detections)."""
    cfg = SynthConfig(scene=SceneConfig(num_people=(2, 4), num_frames=frames, fps=30.0, contact_fraction=0.7),
                      noise=NoiseConfig.occlusion_heavy(), seed=seed, split="test")
    return make_scene(default_rig(), cfg, library)


def pooled_bins(results) -> list[tuple[str, int, float, float]]:
    """Per closeness bin over all scenes: (label, GT person-frames, recall, MPJPE mm weighted by matches)."""
    rows = []
    for b, first in enumerate(results[0].distance_bins):
        count = sum(r.distance_bins[b].count for r in results)
        matched = np.array([r.distance_bins[b].count * r.distance_bins[b].recall if r.distance_bins[b].count else 0.0
                            for r in results])
        mpjpe = np.array([r.distance_bins[b].mpjpe_mm for r in results])
        ok = (matched > 0) & np.isfinite(mpjpe)
        rows.append((first.label, count, float(matched.sum() / count) if count else float("nan"),
                     float((mpjpe[ok] * matched[ok]).sum() / matched[ok].sum()) if ok.any() else float("nan")))
    return rows


def run(methods: dict, scenes: int, frames: int):
    """Evaluate every method on the held-out scenes: per-scene lines, pooled results, frames/s."""
    library = load_library()
    per_method = {name: [] for name in methods}
    seconds = {name: 0.0 for name in methods}
    lines = []
    total_frames = 0
    for i in range(scenes):
        gt, det = scene(FIRST_SEED + i, frames, library)
        total_frames += gt.num_frames
        for name, fn in methods.items():
            start = time.perf_counter()
            pred = fn(det)
            seconds[name] += time.perf_counter() - start
            result = evaluate(pred, gt, EVAL)
            per_method[name].append(result)
            line = (f"scene {FIRST_SEED + i} P={gt.num_people} {name:44s} MPJPE {result.mpjpe_mm:6.1f} mm  "
                    f"PCK@100 {result.pck[100.0]:.3f}  missed {result.num_missed}/{result.num_gt}  "
                    f"FP {result.num_false_positives}  IDsw {result.id_switches}")
            print(line, flush=True)
            lines.append(line)
    return per_method, {k: total_frames / v for k, v in seconds.items()}, lines


def markdown(per_method, fps, lines, command: str, scenes: int, frames: int, checkpoint: str, train_note: str) -> str:
    """The results section."""
    out = ["## volumetric: conditional network vs geometric baseline (held-out scenes)", "",
           f"Command: `{command}`", "",
           f"{scenes} held-out scenes (library split `test`), {frames} frames at 30 fps, 2-4 people, contact fraction "
           f"0.7, default 5-camera ring (the training rig: not a held-out rig), occlusion-heavy noise. "
           f"Checkpoint `{checkpoint}`. {train_note}", "",
           "| method | MPJPE mm | PCK@100 | recall@500 | missed / GT | FP | ID switches | frames/s |",
           "|---|---|---|---|---|---|---|---|"]
    for name, results in per_method.items():
        gt = sum(r.num_gt for r in results)
        matched = sum(r.num_matched for r in results)
        mpjpe = sum(r.mpjpe_mm * r.num_matched for r in results if np.isfinite(r.mpjpe_mm)) / max(matched, 1)
        pck = sum(r.pck[100.0] * r.num_gt for r in results) / max(gt, 1)
        rec = sum(r.recall_500mm * r.num_gt for r in results) / max(gt, 1)
        out.append(f"| {name} | {mpjpe:.1f} | {pck:.3f} | {rec:.3f} | {sum(r.num_missed for r in results)} / {gt} | "
                   f"{sum(r.num_false_positives for r in results)} | {sum(r.id_switches for r in results)} | "
                   f"{fps[name]:.1f} |")
    out += ["", "By distance to the nearest other person (MPJPE over matched person-frames; recall = matched share):", "",
            "| method | " + " | ".join(f"{label} (n={n})" for label, n, _, _ in pooled_bins(next(iter(per_method.values()))))
            + " |", "|---|" + "---|" * len(EVAL.distance_bins_m) + "---|"]
    for name, results in per_method.items():
        out.append(f"| {name} | " + " | ".join(f"{mp:.1f} mm (recall {rc:.3f})" for _, _, rc, mp in pooled_bins(results))
                   + " |")
    out += ["", "Per scene:", "", "```", *lines, "```"]
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", required=True, help="conditional checkpoint (.pt) to load, or to write with --train")
    parser.add_argument("--train", action="store_true", help="train the checkpoint first (resumes if it exists)")
    parser.add_argument("--steps", type=int, default=1000, help="training steps (--train)")
    parser.add_argument("--batch-size", type=int, default=4, help="training batch (--train)")
    parser.add_argument("--unconditional", default=None, help="optional unconditional checkpoint to compare")
    parser.add_argument("--scenes", type=int, default=4)
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--no-write", action="store_true", help="do not update benchmarks/results.md")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    train_note = ""
    if args.train:
        config = TrainConfig(steps=args.steps, batch_size=args.batch_size, lr=2e-3, checkpoint_every=50, seed=1)
        result = train(config, args.checkpoint, default_rig(), resume=True, progress=True)
        train_note = (f"Trained here: {result.steps} steps of batch {args.batch_size} in {result.seconds / 60:.1f} min "
                      f"(last-20-step KLM L1 {100 * result.klm_loss_m:.1f} cm).")
    model, config = load_model(args.checkpoint)
    if not train_note:
        train_note = (f"Trained {config.steps} steps of batch {config.batch_size} (lr {config.lr}, seed {config.seed}) on "
                      f"the default ring; to retrain: `.venv/bin/python benchmarks/volumetric.py --train --checkpoint "
                      f"CKPT --steps {config.steps}` (the same TrainConfig).")
    methods = {"baseline": lambda det: reconstruct_baseline(det, default_rig()),
               "volumetric (conditional)": lambda det: reconstruct_volumetric(det, default_rig(), model),
               "volumetric (conditional, no temporal filter)": lambda det: reconstruct_volumetric(
                   det, default_rig(), model, VolumetricConfig(temporal_filter=False))}
    if args.unconditional:
        unconditional, _ = load_model(args.unconditional)
        methods["volumetric-unconditional"] = lambda det: reconstruct_volumetric(det, default_rig(), unconditional)
    per_method, fps, lines = run(methods, args.scenes, args.frames)
    command = ".venv/bin/python benchmarks/volumetric.py " + " ".join(sys.argv[1:])
    text = markdown(per_method, fps, lines, command, args.scenes, args.frames, args.checkpoint, train_note)
    print(text)
    if not args.no_write:
        update_section("volumetric", text)


if __name__ == "__main__":
    main()
