"""Accuracy of the conditional volumetric network against the geometric baseline on held-out scenes.

Scenes: motion capture from the library's held-out ``test`` split, 2-4 people with contact included
(``contact_fraction`` 0.7), the default 5-camera ring (closecap.pipelines.default_rig()), the
occlusion-heavy detector-noise preset. Metrics from closecap.metrics, with the closeness breakdown
(``EvalConfig.distance_bins_m = (0.3, 1.0)``: nearest other person < 0.3 m, 0.3-1 m, >= 1 m).

Usage:
    # evaluate a checkpoint (and the unconditional ablation) on the training ring or a held-out ring
    .venv/bin/python benchmarks/volumetric.py --checkpoint C.pt --unconditional U.pt [--rig heldout] [--variants]
    # train first (CPU, on the default ring), then evaluate
    .venv/bin/python benchmarks/volumetric.py --train --checkpoint /tmp/closecap_models/bench.pt --steps 3000

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
from closecap.reconstruct import default_model_path  # noqa: E402
from closecap.synth.generate import SynthConfig, make_scene  # noqa: E402
from closecap.synth.library import load_library  # noqa: E402
from closecap.synth.noise import NoiseConfig  # noqa: E402
from closecap.synth.scenes import SceneConfig  # noqa: E402
from closecap.train import TrainConfig, load_model, train  # noqa: E402
from closecap.volumetric import VolumetricConfig, reconstruct_volumetric  # noqa: E402

EVAL = EvalConfig(distance_bins_m=(0.3, 1.0))
FIRST_SEED = 500
"""Seeds of the held-out scenes: FIRST_SEED, FIRST_SEED + 1, ..."""


def heldout_rig():
    """A 5-camera ring the network was not trained on: 5.2 m radius, 1.6 m high, 1280 x 720, f = 800 px,
    rotated by 36 degrees (no camera where a training camera was)."""
    from closecap.cameras import ring_rig

    rig = ring_rig(5, radius_m=5.2, height_m=1.6, target_world=(0.0, 0.0, 1.0), focal_px=800.0, width=1280, height=720)
    c, s_ = np.cos(np.pi / 5), np.sin(np.pi / 5)
    turn = np.array([[c, -s_, 0.0], [s_, c, 0.0], [0.0, 0.0, 1.0]])  # world -> world, about z
    from closecap.cameras import Camera, Rig

    return Rig(tuple(Camera(cam.name, cam.K, cam.dist, cam.R @ turn.T, cam.t, cam.width, cam.height) for cam in rig.cameras))


RIGS = {"default": default_rig, "heldout": heldout_rig}


def scene(seed: int, frames: int, library, rig=None):
    """One held-out scene (default: on the default ring): (ground truth, detections)."""
    cfg = SynthConfig(scene=SceneConfig(num_people=(2, 4), num_frames=frames, fps=30.0, contact_fraction=0.7),
                      noise=NoiseConfig.occlusion_heavy(), seed=seed, split="test")
    return make_scene(default_rig() if rig is None else rig, cfg, library)


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


def run(methods: dict, scenes: int, frames: int, rig=None):
    """Evaluate every method on the held-out scenes: per-scene lines, pooled results, frames/s."""
    library = load_library()
    per_method = {name: [] for name in methods}
    seconds = {name: 0.0 for name in methods}
    lines = []
    total_frames = 0
    for i in range(scenes):
        gt, det = scene(FIRST_SEED + i, frames, library, rig)
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


def pooled(results) -> tuple[float, float, float, int, int]:
    """(MPJPE mm over matched, PCK@100, recall@500, GT person-frames, matched) over scenes."""
    gt = sum(r.num_gt for r in results)
    matched = sum(r.num_matched for r in results)
    mpjpe = sum(r.mpjpe_mm * r.num_matched for r in results if np.isfinite(r.mpjpe_mm)) / max(matched, 1)
    pck = sum(r.pck[100.0] * r.num_gt for r in results) / max(gt, 1)
    rec = sum(r.recall_500mm * r.num_gt for r in results) / max(gt, 1)
    return mpjpe, pck, rec, gt, matched


def markdown(per_method, fps, lines, command: str, scenes: int, frames: int, rig_note: str, models_note: str,
             threads: int) -> str:
    """The results section."""
    out = [f"Command: `{command}`", "",
           f"{scenes} held-out scenes (library split `test`: takes never used in training), {frames} frames at 30 fps, "
           f"2-4 people, contact fraction 0.7, occlusion-heavy noise; rig: {rig_note}. {models_note} "
           f"frames/s: the whole method on this 2-core machine ({threads} torch threads), scene synthesis excluded. "
           "MPJPE is over the joints a method outputs; joints missing = share of the matched people's ground-truth "
           "joints it leaves out (joints no two views support).", "",
           "| method | MPJPE mm | joints missing | PCK@100 | recall@500 | missed / GT | FP | ID switches | frames/s |",
           "|---|---|---|---|---|---|---|---|---|"]
    for name, results in per_method.items():
        mpjpe, pck, rec, gt, matched = pooled(results)
        missing = sum(r.joints_missing * r.num_matched for r in results if np.isfinite(r.joints_missing)) / max(matched, 1)
        out.append(f"| {name} | {mpjpe:.1f} | {missing:.3f} | {pck:.3f} | {rec:.3f} | {sum(r.num_missed for r in results)} / {gt} | "
                   f"{sum(r.num_false_positives for r in results)} | {sum(r.id_switches for r in results)} | "
                   f"{fps[name]:.1f} |")
    bins = {name: pooled_bins(results) for name, results in per_method.items()}
    first = next(iter(bins.values()))
    out += ["", "By distance to the nearest other person (MPJPE over matched person-frames; recall = matched share):", "",
            "| method | " + " | ".join(f"{label} (n={n})" for label, n, _, _ in first) + " |",
            "|---|" + "---|" * len(first)]
    for name, rows in bins.items():
        out.append(f"| {name} | " + " | ".join(f"{mp:.1f} mm (recall {rc:.3f})" for _, _, rc, mp in rows) + " |")
    pairs = [(a, b) for a, b in (("conditional", "baseline"), ("conditional", "unconditional"),
                                 ("conditional, network only", "unconditional, network only")) if a in bins and b in bins]
    if pairs:
        out += ["", "Ratios of MPJPE (targets of issue 5: conditional / baseline <= 0.7 and conditional / unconditional "
                    "<= 0.85 at < 0.3 m; <= 1 where everyone is >= 1 m apart):", ""]
        for a, b in pairs:
            ratios = ", ".join(f"{label}: {ra / rb:.2f}" for (label, _, _, ra), (_, _, _, rb) in zip(bins[a], bins[b])
                               if np.isfinite(ra) and np.isfinite(rb) and rb > 0)
            out.append(f"- {a} / {b}: {ratios}")
    out += ["", "Per scene:", "", "```", *lines, "```"]
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default=str(default_model_path()),
                        help="conditional checkpoint (.pt) to load, or to write with --train (default: the shipped one)")
    parser.add_argument("--train", action="store_true", help="train the checkpoint first (resumes if it exists)")
    parser.add_argument("--steps", type=int, default=3000, help="training steps (--train)")
    parser.add_argument("--batch-size", type=int, default=4, help="training batch (--train)")
    parser.add_argument("--unconditional", default=None, help="unconditional checkpoint to compare (trained the same way)")
    parser.add_argument("--rig", choices=sorted(RIGS), default="default",
                        help="default = the training ring; heldout = a ring the network never saw")
    parser.add_argument("--scenes", type=int, default=4)
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--variants", action="store_true", help="also with the temporal filter (off by default)")
    parser.add_argument("--no-write", action="store_true", help="do not update benchmarks/results.md")
    parser.add_argument("--section", default="", help="results section to write (default: volumetric, or "
                                                         "volumetric-heldout-rig with --rig heldout)")
    parser.add_argument("--title", default="", help="heading of that section (default: by --rig)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.train:
        config = TrainConfig(steps=args.steps, batch_size=args.batch_size, lr=2e-3, checkpoint_every=100, seed=1)
        train(config, args.checkpoint, default_rig(), resume=True, progress=True)
    rig = RIGS[args.rig]()
    models = {"conditional": load_model(args.checkpoint)}
    if args.unconditional:
        models["unconditional"] = load_model(args.unconditional)
    notes = []
    for name, (_, config) in models.items():
        notes.append(f"`{name}`: {config.steps} steps of batch {config.batch_size}, lr {config.lr} ({config.lr_schedule}), "
                     f"seed {config.seed}, KLM KL weight {config.klm_heatmap_weight}, "
                     f"{'unconditional' if config.model.unconditional else 'anchors'}, trained on the default ring")
    models_note = "Models: " + "; ".join(notes) + (". To retrain: `.venv/bin/python benchmarks/volumetric.py --train "
                                                   "--checkpoint CKPT --steps 3000` (or `closecap train`).")
    raw = VolumetricConfig(refine_radius_m=0.0, soft_argmax_window=0)
    methods = {"baseline": lambda det: reconstruct_baseline(det, rig)}
    for name, (model, _) in models.items():
        methods[name] = (lambda m: lambda det: reconstruct_volumetric(det, rig, m))(model)
        methods[f"{name}, network only"] = (lambda m: lambda det: reconstruct_volumetric(det, rig, m, raw))(model)
        if args.variants:
            for label, cfg in (("per-joint refinement only (session 2)",
                                VolumetricConfig(refine_person_radius_m=0.0, drop_unsupported=False)),
                               ("with temporal filter", VolumetricConfig(temporal_filter=True)),
                               ("network only, with temporal filter", raw.replace(temporal_filter=True))):
                methods[f"{name}, {label}"] = (lambda m, c: lambda det: reconstruct_volumetric(det, rig, m, c))(model, cfg)
    per_method, fps, lines = run(methods, args.scenes, args.frames, rig)
    command = ".venv/bin/python benchmarks/volumetric.py " + " ".join(sys.argv[1:])
    rig_note = ("the default 5-camera ring, the rig the models were trained in" if args.rig == "default" else
                "a held-out 5-camera ring (5.2 m radius, 1.6 m high, 1280 x 720, f 800 px, turned 36 degrees) that "
                "no model was trained in")
    text = markdown(per_method, fps, lines, command, args.scenes, args.frames, rig_note, models_note, args.threads)
    title = {"default": "## volumetric: conditional network vs unconditional and the geometric baseline (held-out scenes)",
             "heldout": "## volumetric on a held-out rig"}[args.rig]
    text = (f"## {args.title}" if args.title else title) + "\n\n" + text
    print(text)
    if not args.no_write:
        update_section(args.section or ("volumetric" if args.rig == "default" else "volumetric-heldout-rig"), text)


if __name__ == "__main__":
    main()
