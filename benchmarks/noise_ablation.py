"""Which detector-noise effect hurts the geometric baseline, and how much, by how close people are.

Held-out scenes (``make_scene`` with ``SynthConfig(split="test")``, 2-4 people, contact included) in the 5-camera
default rig (``closecap.pipelines.default_rig()``) are reconstructed by ``reconstruct_baseline`` (default config)
from detections simulated with the noise model's effects switched on ONE AT A TIME (``NoiseConfig.only(effect)``
for each effect of ``EFFECTS``), with no effect (``none``) and with all of them (``all`` = ``NoiseConfig()``).
The same seeds give the same ground truth for every row (the composition draws come first). Scored with
``closecap.metrics.evaluate`` over all scenes pooled; MPJPE (mm, matched people) and recall per bin of the
distance from each GT person to the nearest other one (``EvalConfig(distance_bins_m=(0.3, 0.6, 1.0))``).

Rows beyond the one-at-a-time design (marked "extra"): ``all`` minus one effect, for the effects that act
through others (``occlusion`` only raises the other effects' rates for hidden joints, so alone it does
nearly nothing).

Usage: .venv/bin/python benchmarks/noise_ablation.py [--scenes 8] [--frames 150] [--seed 0]
Writes the "noise-ablation" section of benchmarks/results.md and benchmarks/noise_ablation.png.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import update_section  # noqa: E402

from closecap.baseline import BaselineConfig, reconstruct_baseline  # noqa: E402
from closecap.config import atomic_write_bytes  # noqa: E402
from closecap.metrics import EvalConfig, evaluate  # noqa: E402
from closecap.pipelines import default_rig  # noqa: E402
from closecap.poses import Poses3D  # noqa: E402
from closecap.synth.generate import SynthConfig, make_scene  # noqa: E402
from closecap.synth.library import load_library  # noqa: E402
from closecap.synth.noise import EFFECTS, NoiseConfig  # noqa: E402
from closecap.synth.scenes import SceneConfig  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
BINS_M = (0.3, 0.6, 1.0)
EXTRA = ("occlusion", "gross", "joint_miss", "person_miss")  # all-but-one rows
#: `all` on seeds 0-7 with the code of commit 0efb857 (before the head-sphere fix), MPJPE mm per bin, measured
#: with this script (``PYTHONPATH=<0efb857>/src ... --rows all``).
PRE_FIX_ALL = "30.4 / 29.8 / 30.3 / 34.6 mm"


def variants() -> list[tuple[str, NoiseConfig]]:
    rows = [("none", NoiseConfig.none())]
    rows += [(effect, NoiseConfig.only(effect)) for effect in EFFECTS]
    rows.append(("all", NoiseConfig()))
    rows += [(f"all but {effect} (extra)", NoiseConfig.only(*[e for e in EFFECTS if e != effect])) for effect in EXTRA]
    rows.append(("all, jitter_body_scale (extra)", NoiseConfig(jitter_body_scale=True)))
    return rows


def concat(poses: list[Poses3D]) -> Poses3D:
    """Scenes side by side: frames offset by 100000 per scene, ids by 10000 (people of a scene are only there)."""
    T, P = sum(p.num_frames for p in poses), sum(p.num_people for p in poses)
    J = poses[0].joint_set.num_joints
    joints = np.full((T, P, J, 3), np.nan)
    confidence = np.zeros((T, P, J))
    frames, ids = [], []
    t0 = p0 = 0
    for k, p in enumerate(poses):
        joints[t0:t0 + p.num_frames, p0:p0 + p.num_people] = p.joints
        confidence[t0:t0 + p.num_frames, p0:p0 + p.num_people] = p.confidence
        frames.append(p.frames + 100000 * k)
        ids.append(p.ids + 10000 * k)
        t0, p0 = t0 + p.num_frames, p0 + p.num_people
    return Poses3D(np.concatenate(frames), np.concatenate(ids), joints, confidence, poses[0].joint_set)


def run(args) -> tuple[list[dict], dict]:
    rig = default_rig()
    library = load_library()
    scene = SceneConfig(num_people=(2, 4), num_frames=args.frames, contact_fraction=args.contact_fraction)
    gts, results = None, []
    for name, noise in variants():
        if args.rows and name not in args.rows:
            continue
        start = time.perf_counter()
        gt_list, pred_list = [], []
        for k in range(args.scenes):
            config = SynthConfig(scene=scene, noise=noise, seed=args.seed + k, split="test")
            gt, detections = make_scene(rig, config, library)
            gt_list.append(gt)
            pred_list.append(reconstruct_baseline(detections, rig, BaselineConfig()))
        if gts is None:
            gts = concat(gt_list)
        else:  # same seeds, same ground truth, whatever the noise
            assert np.array_equal(concat(gt_list).joints, gts.joints, equal_nan=True)
        result = evaluate(concat(pred_list), gts, EvalConfig(distance_bins_m=BINS_M))
        results.append({"effect": name, "mpjpe_mm": result.mpjpe_mm, "recall": result.num_matched / max(result.num_gt, 1),
                        "bins": [{"label": b.label, "count": b.count, "recall": b.recall, "mpjpe_mm": b.mpjpe_mm, "pck": b.pck}
                                 for b in result.distance_bins]})
        print(f"{name:<28} MPJPE {result.mpjpe_mm:6.1f} mm  "
              + "  ".join(f"{b.label}: {b.mpjpe_mm:6.1f} mm r={b.recall:.3f}" for b in result.distance_bins)
              + f"  ({time.perf_counter() - start:.0f} s)", flush=True)
    people = [g.num_people for g in gt_list]
    meta = {"people_per_scene": people, "gt_person_frames": int(gts.present.sum()), "seed": args.seed,
            "scenes": args.scenes, "frames": args.frames}
    return results, meta


def fmt(x: float, spec: str = ".1f") -> str:
    return "–" if x is None or not np.isfinite(x) else format(x, spec)


def markdown(results: list[dict], meta: dict, args, others: list[dict] = ()) -> str:
    labels = [b["label"] for b in results[0]["bins"]]
    counts = [b["count"] for b in results[0]["bins"]]
    lines = [
        "## Noise ablation: the geometric baseline under each detector-noise effect (issue 4)",
        "",
        f"{args.scenes} held-out scenes (`SynthConfig(split=\"test\")`, seeds {args.seed}-{args.seed + args.scenes - 1}, "
        f"{args.frames} frames each, people per scene {meta['people_per_scene']}, `contact_fraction={args.contact_fraction}`), "
        "5-camera `default_rig()` (1920 x 1080), `reconstruct_baseline` with `BaselineConfig()`, `evaluate` over the scenes pooled. "
        "One row per noise setting: `NoiseConfig.only(effect)` (one effect at a time), `none`, `all` = `NoiseConfig()`; "
        "'extra' rows switch everything on but one effect. Bins: distance from each GT person to the nearest other "
        f"GT person (closest joint pair); GT person-frames per bin: {', '.join(f'{l} {c}' for l, c in zip(labels, counts))}.",
        "",
        "MPJPE (mm) of matched people, by distance to the nearest other person:",
        "",
        "| noise | " + " | ".join(labels) + " | all | recall |",
        "|---|" + "---|" * (len(labels) + 2),
    ]
    for r in results:
        lines.append(f"| {r['effect']} | " + " | ".join(fmt(b["mpjpe_mm"]) for b in r["bins"])
                     + f" | {fmt(r['mpjpe_mm'])} | {fmt(r['recall'], '.3f')} |")
    if others:
        lines += [
            "",
            "The same rows on other scene sets (seed-to-seed spread; `--rows ... --seed S --json`, shown with `--others`):",
            "",
            "| noise | scenes (seeds) | " + " | ".join(labels) + " | all |",
            "|---|---|" + "---|" * (len(labels) + 1),
        ]
        runs = [{"results": results, "meta": meta}] + list(others)
        for name in dict.fromkeys(r["effect"] for o in others for r in o["results"]):
            for run_ in runs:
                m = run_["meta"]
                for r in run_["results"]:
                    if r["effect"] == name:
                        lines.append(f"| {name} | {m['seed']}-{m['seed'] + m['scenes'] - 1} | "
                                     + " | ".join(fmt(b["mpjpe_mm"]) for b in r["bins"]) + f" | {fmt(r['mpjpe_mm'])} |")
    lines += [
        "",
        "PCK@100 mm by the same bins (missing joints and missed people fail, so a baseline that drops hard joints "
        "is not flattered here):",
        "",
        "| noise | " + " | ".join(labels) + " |",
        "|---|" + "---|" * len(labels),
    ]
    for r in results:
        lines.append(f"| {r['effect']} | " + " | ".join(fmt(b["pck"], ".3f") for b in r["bins"]) + " |")
    lines += [
        "",
        "Recall (fraction of GT person-frames matched within 0.5 m) by the same bins:",
        "",
        "| noise | " + " | ".join(labels) + " |",
        "|---|" + "---|" * len(labels),
    ]
    for r in results:
        lines.append(f"| {r['effect']} | " + " | ".join(fmt(b["recall"], ".3f") for b in r["bins"]) + " |")
    lines += ["", "Is close contact the hardest (highest MPJPE in the first bin)?", ""]
    runs = [{"results": results, "meta": meta}] + list(others)
    for name in ("all", "all, jitter_body_scale (extra)"):
        verdicts = []
        for run_ in runs:
            row = next((r for r in run_["results"] if r["effect"] == name), None)
            if row is None:
                continue
            values = np.array([b["mpjpe_mm"] for b in row["bins"]], dtype=float)
            rest = np.nanmax(values[1:])
            verdicts.append(f"seeds {run_['meta']['seed']}-{run_['meta']['seed'] + run_['meta']['scenes'] - 1}: "
                            f"{'yes' if values[0] > rest else 'no'} ({values[0]:.1f} vs {rest:.1f} mm)")
        if verdicts:
            lines.append(f"- `{name}`: " + "; ".join(verdicts) + ".")
    deltas = []
    for run_ in runs:
        rows = {r["effect"]: r for r in run_["results"]}
        if "all" in rows and "all but occlusion (extra)" in rows:
            d = [a["mpjpe_mm"] - b["mpjpe_mm"] for a, b in zip(rows["all"]["bins"], rows["all but occlusion (extra)"]["bins"])]
            deltas.append(f"seeds {run_['meta']['seed']}-{run_['meta']['seed'] + run_['meta']['scenes'] - 1}: "
                          + " / ".join(f"{x:+.1f}" for x in d))
    lines += [
        "Findings:",
        "",
        "- One effect at a time, only `jitter` moves the error: every other effect alone is absorbed by the baseline's "
        "robust 5-view triangulation (recall stays 1.0), and `occlusion` alone only down-weights scores (it acts by "
        "raising the other effects' rates for hidden joints).",
        "- The contact-specific error comes through occlusion: `all` minus `all but occlusion`, mm per bin "
        f"({', '.join(labels)}): {'; '.join(deltas) if deltas else '–'}.",
        "- Jitter, the largest term, is not contact-specific and is even a little smaller in contact: it is a fraction "
        "of each frame's bbox diagonal, which is ~12 % smaller for people in contact (compact poses; median metric "
        "diagonal 1.39 m in the < 0.3 m bin vs 1.58 m in the >= 1 m bin over seeds 0-15); the rest of the gap varies "
        "with the scene set. `jitter_body_scale=True` (a pose-independent size; not measured, off by default) removes the "
        "first part; it does not make contact reliably the hardest either.",
        "- So the requirement holds only marginally and not on every scene set: the noise model's contact effects are "
        "real but small next to jitter, and they are drawn independently per view, which 5 views outvote "
        "(cross-view correlation of detector failures is not in stats.json, so it is not modelled).",
        f"- Before the head-sphere fix (at commit 0efb857 the head capsule, of length 0, never occluded anything) `all` on "
        f"seeds 0-7 gave {PRE_FIX_ALL}: contact was not the hardest bin.",
    ]
    lines += [
        "",
        "![noise ablation](noise_ablation.png)",
        "",
        f"Reproduce: `.venv/bin/python benchmarks/noise_ablation.py --scenes {args.scenes} --frames {args.frames} --seed {args.seed}"
        " --json main.json`; other scene sets: `... --rows none jitter all \"all but occlusion (extra)\" "
        "\"all, jitter_body_scale (extra)\" --seed 8 --json s8.json` (and `--seed 16`), then "
        "`... --from-json main.json --others s8.json s16.json`.",
    ]
    return "\n".join(lines)


def plot(results: list[dict], path: Path) -> None:
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [b["label"] for b in results[0]["bins"]]
    names = [r["effect"].replace(" (extra)", "*") for r in results]
    values = np.array([[b["mpjpe_mm"] for b in r["bins"]] for r in results], dtype=float)  # (rows, bins)
    x = np.arange(len(names))
    width = 0.8 / len(labels)
    fig, ax = plt.subplots(figsize=(13, 4.8), dpi=110)
    for i, label in enumerate(labels):
        ax.bar(x + (i - (len(labels) - 1) / 2) * width, np.nan_to_num(values[:, i]), width, label=f"nearest other {label}")
    ax.set_xticks(x, names, rotation=35, ha="right")
    ax.set_ylabel("MPJPE of matched people (mm)")
    ax.set_title("Geometric baseline on held-out synthetic scenes, one noise effect at a time (* = all but one)")
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    atomic_write_bytes(path, buffer.getvalue())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenes", type=int, default=8)
    parser.add_argument("--frames", type=int, default=150)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--contact-fraction", type=float, default=0.5, help="SceneConfig.contact_fraction")
    parser.add_argument("--rows", nargs="+", help="only these rows (e.g. none all); implies --no-write")
    parser.add_argument("--json", type=Path, help="save the raw numbers here")
    parser.add_argument("--from-json", type=Path, help="write the table and figure of a saved --json run (no rerun)")
    parser.add_argument("--others", type=Path, nargs="*", default=[], help="saved --json runs on other seeds to show")
    parser.add_argument("--no-write", action="store_true", help="do not write results.md / the PNG")
    args = parser.parse_args()
    args.no_write |= bool(args.rows)
    if args.from_json:
        saved = json.loads(args.from_json.read_text())
        results, meta = saved["results"], saved["meta"]
        for key in ("scenes", "frames", "seed"):  # runs saved before these were recorded: from the command line
            meta.setdefault(key, getattr(args, key))
            setattr(args, key, meta[key])
    else:
        results, meta = run(args)
    if args.json:
        args.json.write_text(json.dumps({"results": results, "meta": meta}, indent=1))
    others = [json.loads(path.read_text()) for path in args.others]
    text = markdown(results, meta, args, others)
    if not args.no_write:
        plot(results, ROOT / "benchmarks" / "noise_ablation.png")
        update_section("noise-ablation", text)
    print(text)


if __name__ == "__main__":
    main()
