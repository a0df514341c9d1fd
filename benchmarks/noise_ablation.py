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

Controlled distances (``--controlled``): in composed scenes, people far from everyone also stand near the rig's edge,
so the distance bins above mix "contact" with "position in the rig". ``--controlled`` instead composes the same people
(``closecap.synth.scenes.compose_controlled``: same clips, windows, turns) at fixed separations symmetric about the
rig's look-at point, with the same noise draws, so that only the separation changes between columns; it writes the
"noise-ablation-controlled" section. Usage: ``... --controlled --people 2 3 --seed-sets 3 --scenes 4 --frames 120
--workers 2 [--rows ...] --json X.json``; ``... --controlled --from-json X.json --others Y.json`` writes the section.
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
EXTRA = ("occlusion", "peak_interference", "gross", "joint_miss", "person_miss")  # all-but-one rows
BBOX_ROW = "all, bbox-scaled jitter (extra)"  # NoiseConfig(jitter_body_scale=False): the jitter size before issue 4's fix
OLD_ROW = "all, before issue 4's fix (extra)"  # bbox-scaled jitter and no peak interference = the previous NoiseConfig()
CONTROL_PX = 6.0
CONTROL_ROW = f"gaussian {CONTROL_PX:g} px (control)"  # the same pixel noise for everybody: the rig's geometry alone
#: `all` on seeds 0-7 with the code of commit 0efb857 (before the head-sphere fix), MPJPE mm per bin, measured
#: with this script (``PYTHONPATH=<0efb857>/src ... --rows all``).
PRE_FIX_ALL = "30.4 / 29.8 / 30.3 / 34.6 mm"


def variants() -> list[tuple[str, NoiseConfig]]:
    rows = [("none", NoiseConfig.none())]
    rows += [(effect, NoiseConfig.only(effect)) for effect in EFFECTS]
    rows.append(("all", NoiseConfig()))
    rows += [(f"all but {effect} (extra)", NoiseConfig.only(*[e for e in EFFECTS if e != effect])) for effect in EXTRA]
    rows.append((BBOX_ROW, NoiseConfig(jitter_body_scale=False)))
    rows.append((OLD_ROW, NoiseConfig(jitter_body_scale=False, heatmap_sigma_frac=0.0)))
    rows.append((CONTROL_ROW, NoiseConfig.gaussian(CONTROL_PX)))
    return rows


def concat(poses: list[Poses3D]) -> Poses3D:
    """Scenes one after another: frames offset by 100000 per scene, each scene's people in columns 0.. (ids 0..).

    Columns are shared between scenes (a scene's frames only hold its own people), so the pooled arrays stay
    ``(sum T, max P)``; ``evaluate`` matches people frame by frame, so MPJPE, recall, PCK and the distance bins are
    those of the scenes pooled (identity metrics are not, and are not used here). Side-by-side columns made
    ``evaluate``'s ``(T, Pg, Pp, J)`` arrays quadratic in the total number of people (24 scenes: > 20 GB).
    """
    T, P = sum(p.num_frames for p in poses), max(p.num_people for p in poses)
    J = poses[0].joint_set.num_joints
    joints = np.full((T, P, J, 3), np.nan)
    confidence = np.zeros((T, P, J))
    frames = []
    t0 = 0
    for k, p in enumerate(poses):
        joints[t0:t0 + p.num_frames, :p.num_people] = p.joints
        confidence[t0:t0 + p.num_frames, :p.num_people] = p.confidence
        frames.append(p.frames + 100000 * k)
        t0 += p.num_frames
    return Poses3D(np.concatenate(frames), np.arange(P), joints, confidence, poses[0].joint_set)


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


def geometry(args) -> dict:
    """Why same-type peak interference is (or is not) a contact effect here: per distance bin, the share of GT joints
    whose same-type joint of another person is within 10 cm in 3D, within 2 heatmap sigmas in >= 1 / >= 2 views, and
    lost to another person's peak in >= 1 view (``NoiseConfig()``); and person-views by occluded fraction with the
    realised person-miss rate per occlusion bin (stats.json's bins)."""
    from closecap.metrics import nearest_other_distance
    from closecap.synth.noise import simulate_detections

    rig, library, cfg = default_rig(), load_library(), NoiseConfig()
    scene = SceneConfig(num_people=(2, 4), num_frames=args.frames, contact_fraction=args.contact_fraction)
    acc = {b: np.zeros(5) for b in range(len(BINS_M) + 1)}  # joints, same type < 10 cm, < 2 sigma 1 / 2 views, lost
    views = {b: np.zeros(4) for b in acc}  # person-views by occluded-fraction bin
    missed = {b: np.zeros(4) for b in acc}  # of which missed
    for k in range(args.scenes):
        gt, _ = make_scene(rig, SynthConfig(scene=scene, noise=NoiseConfig.none(), seed=args.seed + k, split="test"), library)
        joints = gt.joints  # (T, P, J, 3)
        _, trace = simulate_detections(joints, rig, cfg, np.random.default_rng(args.seed + k))
        which = np.searchsorted(np.asarray(BINS_M), nearest_other_distance(joints), side="right")  # (T, P)
        present = np.isfinite(joints).all(-1)  # (T, P, J)
        P = joints.shape[1]
        off = ~np.eye(P, dtype=bool)[:, :, None]
        d3 = np.linalg.norm(joints[:, :, None] - joints[:, None], axis=-1)  # (T, P, Q, J)
        near3 = (np.where(off, np.nan_to_num(d3, nan=np.inf), np.inf) < 0.10).any(2)  # (T, P, J)
        d2 = np.linalg.norm(trace.uv_gt_px[:, :, :, None] - trace.uv_gt_px[:, :, None], axis=-1)  # (T, V, P, Q, J)
        sigma = cfg.heatmap_sigma_frac * np.nan_to_num(trace.person_size_px)[..., None, None]
        both = trace.in_image[:, :, :, None] & trace.in_image[:, :, None]
        views2 = ((np.nan_to_num(d2, nan=np.inf) < 2 * sigma) & both & off).any(3).sum(1)  # (T, P, J) views
        lost = trace.peak_lost.any(1)  # (T, P, J)
        n_in = trace.in_image.sum(-1)
        occ_bin = np.digitize(trace.occluded.sum(-1) / np.maximum(n_in, 1), [1e-9, 0.25 + 1e-9, 0.5 + 1e-9])  # (T, V, P)
        for b in acc:
            sel = (which == b)[..., None] & present  # (T, P, J)
            acc[b][0] += sel.sum()
            acc[b][1] += (near3 & sel).sum()
            acc[b][2] += ((views2 >= 1) & sel).sum()
            acc[b][3] += ((views2 >= 2) & sel).sum()
            acc[b][4] += (lost & sel).sum()
            person_views = ((which == b) & present.any(-1))[:, None, :] & (n_in > 0)  # (T, V, P)
            views[b] += [((occ_bin == o) & person_views).sum() for o in range(4)]
            missed[b] += [((occ_bin == o) & person_views & trace.person_missed).sum() for o in range(4)]
    out = []
    for b, (label, _, _) in enumerate(_bin_labels()):
        a, miss = acc[b], missed[b]
        out.append({"label": label, "joints": int(a[0]), "same_type_3d_10cm": a[1] / max(a[0], 1),
                    "same_type_2sigma_1view": a[2] / max(a[0], 1), "same_type_2sigma_2views": a[3] / max(a[0], 1),
                    "peak_lost_1view": a[4] / max(a[0], 1), "person_views_by_occluded_frac": (views[b] / max(views[b].sum(), 1)).tolist(),
                    "person_miss_by_occluded_frac": (miss / np.maximum(views[b], 1)).tolist()})
    return {"scenes": args.scenes, "seed": args.seed, "frames": args.frames, "bins": out}


def _bin_labels() -> list[tuple[str, float, float]]:
    edges = (0.0,) + BINS_M + (np.inf,)
    return [(f"< {edges[1]:g} m" if i == 0 else f">= {edges[i]:g} m" if not np.isfinite(edges[i + 1])
             else f"{edges[i]:g}-{edges[i + 1]:g} m", edges[i], edges[i + 1]) for i in range(len(edges) - 1)]


def _verdict(row: dict) -> tuple[bool, float, float]:
    values = np.array([b["mpjpe_mm"] for b in row["bins"]], dtype=float)
    rest = float(np.nanmax(values[1:]))
    return bool(values[0] > rest), float(values[0]), rest


def markdown(results: list[dict], meta: dict, args, others: list[dict] = (), geo: dict | None = None) -> str:
    labels = [b["label"] for b in results[0]["bins"]]
    counts = [b["count"] for b in results[0]["bins"]]
    rows = {r["effect"]: r for r in results}
    seeds = f"{meta['seed']}-{meta['seed'] + meta['scenes'] - 1}"
    lines = [
        "## Noise ablation: the geometric baseline under each detector-noise effect (issue 4)",
        "",
        f"{meta['scenes']} held-out scenes pooled (`SynthConfig(split=\"test\")`, seeds {seeds}, {meta['frames']} frames "
        f"each, 2-4 people, people per scene {meta['people_per_scene']}, `contact_fraction={args.contact_fraction}`), "
        "5-camera `default_rig()` (1920 x 1080), `reconstruct_baseline` with `BaselineConfig()`, `evaluate` over the "
        "scenes pooled. One row per noise setting: `NoiseConfig.only(effect)` (one effect at a time), `none`, `all` = "
        "`NoiseConfig()`; 'extra' rows switch everything on but one effect, or change one setting of `all`; the "
        f"control row is `NoiseConfig.gaussian({CONTROL_PX:g})` (the same pixel noise for everybody: what the rig's "
        "geometry and the baseline alone do by bin). Bins: distance from each GT person to the nearest other GT person "
        f"(closest joint pair); GT person-frames per bin: {', '.join(f'{l} {c}' for l, c in zip(labels, counts))}.",
        "",
        "MPJPE (mm) of matched people, by distance to the nearest other person (current `NoiseConfig()`):",
        "",
        "| noise | " + " | ".join(labels) + " | all | recall |",
        "|---|" + "---|" * (len(labels) + 2),
    ]
    for r in results:
        lines.append(f"| {r['effect']} | " + " | ".join(fmt(b["mpjpe_mm"]) for b in r["bins"])
                     + f" | {fmt(r['mpjpe_mm'])} | {fmt(r['recall'], '.3f')} |")
    for other in others:
        m = other["meta"]
        lines += [
            "",
            f"{m.get('label', 'Other run')} (same scenes, seeds {m['seed']}-{m['seed'] + m['scenes'] - 1}):",
            "",
            "| noise | " + " | ".join(labels) + " | all | recall |",
            "|---|" + "---|" * (len(labels) + 2),
        ]
        for r in other["results"]:
            lines.append(f"| {r['effect']} | " + " | ".join(fmt(b["mpjpe_mm"]) for b in r["bins"])
                         + f" | {fmt(r['mpjpe_mm'])} | {fmt(r['recall'], '.3f')} |")
    lines += ["", "PCK@100 mm by the same bins (missing joints and missed people fail):", "",
              "| noise | " + " | ".join(labels) + " |", "|---|" + "---|" * len(labels)]
    for r in results:
        lines.append(f"| {r['effect']} | " + " | ".join(fmt(b["pck"], ".3f") for b in r["bins"]) + " |")
    lines += ["", "Is close contact the hardest (highest MPJPE in the first bin)?", ""]
    for name, row, where in ([(n, rows[n], "now") for n in ("all", BBOX_ROW, CONTROL_ROW, "jitter") if n in rows]
                             + [(r["effect"], r, o["meta"].get("label", "other")) for o in others for r in o["results"]
                                if r["effect"] in ("all", OLD_ROW, CONTROL_ROW)]):
        yes, first, rest = _verdict(row)
        where = where if len(where) < 40 else "before, seeds 0-23"
        lines.append(f"- `{name}` ({where}): {'**yes**' if yes else '**no**'} ({first:.1f} mm vs {rest:.1f} mm at most elsewhere).")
    lines += ["", f"The same, after subtracting the geometric control (`row` minus `{CONTROL_ROW}` of the same scenes, "
              "mm per bin: the error the detector noise adds beyond what uniform pixel noise gives at that place in the rig):", ""]
    runs = [{"results": results, "meta": meta}] + list(others)
    for run_ in runs:
        m = run_["meta"]
        control = next((r for r in run_["results"] if r["effect"] == CONTROL_ROW), None)
        if control is None and (m["seed"], m["scenes"]) == (meta["seed"], meta["scenes"]):
            control = rows.get(CONTROL_ROW)
        if control is None:
            continue
        for r in run_["results"]:
            if r["effect"] in ("all", OLD_ROW, BBOX_ROW):
                excess = [a["mpjpe_mm"] - c["mpjpe_mm"] for a, c in zip(r["bins"], control["bins"])]
                verdict = "contact highest" if excess[0] > max(excess[1:]) else "contact not highest"
                where = "now" if run_ is runs[0] else "before" if m.get("label", "").startswith("Before") else "now"
                lines.append(f"- `{r['effect']}` ({where}, seeds {m['seed']}-{m['seed'] + m['scenes'] - 1}): "
                             + " / ".join(f"{x:+.1f}" for x in excess)
                             + f" ({verdict}).")
    lines += ["", "What each effect adds on top of the rest, by bin (`all` minus `all but X`, mm):", "",
              "| effect X | " + " | ".join(labels) + " |", "|---|" + "---|" * len(labels)]
    for effect in EXTRA:
        name = f"all but {effect} (extra)"
        if "all" in rows and name in rows:
            lines.append(f"| {effect} | " + " | ".join(f"{a['mpjpe_mm'] - b['mpjpe_mm']:+.1f}" for a, b in
                                                        zip(rows["all"]["bins"], rows[name]["bins"])) + " |")
    if "all" in rows and BBOX_ROW in rows:
        lines.append("| pose-independent jitter size (`all` minus `" + BBOX_ROW + "`) | " + " | ".join(
            f"{a['mpjpe_mm'] - b['mpjpe_mm']:+.1f}" for a, b in zip(rows["all"]["bins"], rows[BBOX_ROW]["bins"])) + " |")
    if geo:
        lines += ["", f"Geometry of the same scenes (seeds {geo['seed']}-{geo['seed'] + geo['scenes'] - 1}, `--geometry`): "
                  "share of GT joints whose same-type joint of another person is within 10 cm in 3D, within 2 heatmap "
                  "sigmas (`heatmap_sigma_frac` x size) in the image in >= 1 / >= 2 views, and that lose their peak to "
                  "another person in >= 1 view; person-views by the fraction of their joints occluded by another person "
                  "(stats.json's bins 0 / <= .25 / <= .5 / > .5) and the realised person-miss rate in each "
                  "(stats.json: 0.015 / 0.003 / 0.074 / 0.729):", "",
                  "| bin | same type < 10 cm (3D) | < 2 sigma, >= 1 view | < 2 sigma, >= 2 views | peak lost | "
                  "person-views by occluded frac | person-miss rate by occluded frac |", "|---|---|---|---|---|---|---|"]
        for g in geo["bins"]:
            lines.append(f"| {g['label']} | {g['same_type_3d_10cm']:.4f} | {g['same_type_2sigma_1view']:.3f} | "
                         f"{g['same_type_2sigma_2views']:.4f} | {g['peak_lost_1view']:.4f} | "
                         + " / ".join(f"{x:.2f}" for x in g["person_views_by_occluded_frac"]) + " | "
                         + " / ".join(f"{x:.2f}" for x in g["person_miss_by_occluded_frac"]) + " |")
    lines += ["", "Findings:", ""] + list(FINDINGS)
    lines += [
        "",
        "![noise ablation](noise_ablation.png)",
        "",
        f"Reproduce (about 100 s per row on the 2 shared cores): `.venv/bin/python benchmarks/noise_ablation.py --scenes "
        f"{meta['scenes']} --frames {meta['frames']} --seed {meta['seed']} --rows " + " ".join(f'"{r["effect"]}"' for r in results)
        + " --json after.json`; the previous model is the row `\"" + OLD_ROW + "\"` (bit-identical to `NoiseConfig()` "
        "before this change; the table above was run with the code of commit 7d01605 and `--rows none jitter all "
        "\"all but occlusion (extra)\" \"all but person_miss (extra)\"`, `--json before.json`, then labelled); geometry: "
        "`... --geometry --json geo.json`; scene sets: `... --scenes 8 --seed S --rows all \"" + OLD_ROW + "\" --json sS.json "
        "--label \"Scene set seeds S-S+7\"` (S = 0, 8, 16) and `... --scenes 24 --seed 24 --rows all \"" + OLD_ROW
        + "\" \"" + CONTROL_ROW + "\" --json s24.json --label \"Scene set seeds 24-47\"`; this section: `... --from-json "
        "after.json --others before.json s0.json s8.json s16.json s24.json --geometry-from geo.json`.",
    ]
    return "\n".join(lines)


FINDINGS: tuple[str, ...] = (
    "- **Verdict: no, not robustly.** Under the full model contact is the hardest bin on seeds 0-23 pooled, but only by "
    "0.3 mm (before: no, 29.3 vs 30.5 mm); per scene set it is on seeds 0-7 and 16-23 and is not on 8-15 and on "
    "24-47 (24 more scenes: 32.8 vs 36.0 mm), exactly as before the change (the previous model: yes / no / yes / no). "
    "The changes moved contact up relative to the rest (+1.5 mm vs the >= 1 m bin on seeds 0-23) but not past the "
    "scene-to-scene spread.",
    "- The >= 1 m bin is hard for reasons outside the noise model: with the same 6 px Gaussian noise for everybody "
    "(control row) it is the worst bin, by 0.7-1.6 mm on seeds 0-23 and 3.8-5.7 mm on seeds 24-47 (people far from "
    "everyone stand at the edge of the rig, with worse view geometry), and without any noise the baseline's own "
    "association makes contact the worst bin (`none`). Jitter alone inherits the geometric ordering (lowest in "
    "contact). Net of the control, the detector noise now adds the most error in contact in both scene sets (list "
    "above; the previous model: only on seeds 24-47); "
    "the ranking by raw MPJPE mixes that with where people stand, which is a property of the scene composer and the "
    "rig, not of the noise model.",
    "- Pose-independent jitter size (the fix of the jitter scale): stats.json measures jitter relative to the bbox of "
    "the 14 Shelf joints *including the top of head*; the model used the bbox of the 17 COCO joints of each frame, "
    "7 % smaller for a standing person and ~12 % smaller again for compact poses in contact. A bottom-up detector "
    "(what stats.json measures) sees the image at one scale, so the jitter now scales with a pose-independent size "
    "calibrated to stats.json's definition (`body_size_ratio`). It raises the error everywhere (+2.5 mm in contact, "
    "+1.5 mm at >= 1 m) and brings the model's jitter to stats.json's (noise_stats.md: sigma 0.0155 vs 0.0152; was 0.0141).",
    "- Peak interference (new effect `peak_interference`): physically right but small here: +0.4 mm in contact, 0.0 mm at "
    ">= 1 m on top of the rest. Its errors are below stats.json's gross threshold (a merged peak moves a joint by at most "
    "~1 heatmap sigma = 0.03 x size), so it leaves the measured gross / on-other-person rates unchanged by construction; "
    "it adds missed joints (peaks lost to the other person). It is correlated across views only when same-type joints are "
    "close in 3D, and in these scenes they almost never are (geometry table: 0.1 % of contact joints have another "
    "person's same-type joint within 10 cm; 13 % are within 2 sigma in some view, < 1 % in two views). People in contact "
    "touch with different joint types (a hand on a shoulder), which a heatmap detector keeps in different channels.",
    "- Occlusion is the contact effect that matters (+3.5 mm in contact, +0.4 mm at >= 1 m); person misses add "
    "+2.1 mm in contact, +0.2 mm at >= 1 m. The person-miss chain is applied per view with that view's occluded fraction (geometry table): "
    "in contact 9 % of person-views are more than half occluded and are missed at 0.67 (stats.json 0.73); the Markov "
    "persistence carries misses into the next, less occluded frames, so the (0.25, 0.5] bin is missed at ~0.19 "
    "(stats.json 0.074). Left as measured; a per-frame-exact chain (thresholding a persistent latent by each frame's "
    "rate) would fix both bins.",
)


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


# ----------------------------------------------------------------------------- controlled-distance experiment
SEPARATIONS_M = (0.05, 0.45, 0.8, 1.5)  # median-frame closest distance; 0.05 = contact, limited by the bodies
SEP_LABELS = ("contact (< 0.3 m)", "0.45 m", "0.8 m", "1.5 m")


PREV_ROW = "all, session-1 model (extra)"  # NoiseConfig() before the gross rate by occluded fraction (bit-identical)


def controlled_rows() -> list[tuple[str, NoiseConfig]]:
    """The one-at-a-time rows, `none`, `all`, the Gaussian control and `all` of the previous model (the other 'extra'
    rows are left out)."""
    previous = NoiseConfig(gross_person_occlusion_scale=(1.0,) * 4, merge_needs_occlusion=False)
    return [(n, c) for n, c in variants() if "(extra)" not in n] + [(PREV_ROW, previous)]


def _controlled_task(task):
    """One (row, people, seed): the scene at every separation, same noise seed -> per separation predictions."""
    name, noise_dict, scenes_joints, rig_seed = task
    from closecap.synth.noise import simulate_detections

    rig, noise = default_rig(), NoiseConfig.from_dict(noise_dict)
    preds = []
    for joints in scenes_joints:  # same noise draws at every separation (common random numbers)
        detections, _ = simulate_detections(joints, rig, noise, np.random.default_rng(rig_seed))
        preds.append(reconstruct_baseline(detections, rig, BaselineConfig()))
    return preds


def run_controlled(args) -> dict:
    """The controlled-distance experiment: same clips, same rig, same place, same noise draws; only the separation
    changes. Returns per row, per separation: MPJPE pooled and per seed set, recall; and per actual-distance bin."""
    from multiprocessing import get_context

    from closecap.metrics import nearest_other_distance
    from closecap.synth.scenes import compose_controlled

    rig, library = default_rig(), load_library().split("test")
    config = SceneConfig(num_frames=args.frames)
    seps = tuple(args.separations)
    seeds = [args.seed + k for k in range(args.seed_sets * args.scenes)]
    gts = {}  # (P, seed) -> list over separations of Poses3D
    for P in args.people:
        for seed in seeds:
            scenes = compose_controlled(library, rig, P, seps, config, np.random.default_rng([P, seed]))
            gts[(P, seed)] = [sc.poses for sc in scenes]
    keys = list(gts)
    distances = {s: np.concatenate([nearest_other_distance(gts[k][i].joints).ravel() for k in keys])
                 for i, s in enumerate(seps)}
    rows = [(n, c) for n, c in controlled_rows() if not args.rows or n in args.rows]
    tasks = [(n, c.to_dict(), [g.joints for g in gts[k]], [k[0], k[1], 7]) for n, c in rows for k in keys]
    start = time.perf_counter()
    if args.workers > 1:
        with get_context("fork").Pool(args.workers) as pool:
            outputs = pool.map(_controlled_task, tasks, chunksize=1)
    else:
        outputs = [_controlled_task(t) for t in tasks]
    print(f"{len(tasks)} tasks in {time.perf_counter() - start:.0f} s", flush=True)
    results = []
    for r, (name, _) in enumerate(rows):
        preds = {k: outputs[r * len(keys) + i] for i, k in enumerate(keys)}
        row = {"effect": name, "separations": []}
        for i, s in enumerate(seps):
            def score(subset):
                gt = concat([gts[k][i] for k in subset])
                pred = concat([preds[k][i] for k in subset])
                return evaluate(pred, gt, EvalConfig())
            pooled = score(keys)
            per_set = []
            for j in range(args.seed_sets):
                subset = [k for k in keys if seeds[j * args.scenes] <= k[1] < seeds[j * args.scenes] + args.scenes]
                per_set.append(score(subset).mpjpe_mm)
            row["separations"].append({"separation_m": s, "mpjpe_mm": pooled.mpjpe_mm, "per_set_mpjpe_mm": per_set,
                                       "recall": pooled.num_matched / max(pooled.num_gt, 1)})
        results.append(row)
        print(f"{name:<28} " + "  ".join(f"{x['separation_m']}: {x['mpjpe_mm']:5.1f} ("
                                         + "/".join(f"{v:.1f}" for v in x["per_set_mpjpe_mm"]) + f") r={x['recall']:.3f}"
                                         for x in row["separations"]), flush=True)
    meta = {"people": list(args.people), "seeds": [seeds[0], seeds[-1]], "seed_sets": args.seed_sets,
            "scenes_per_set": args.scenes, "frames": args.frames, "separations_m": list(seps),
            "distance_quantiles_m": {str(s): [float(np.percentile(d, q)) for q in (10, 50, 90)] for s, d in distances.items()},
            "distance_bin_share": {str(s): [float(np.mean((d >= lo) & (d < hi))) for lo, hi in
                                            zip((0.0,) + BINS_M, BINS_M + (np.inf,))] for s, d in distances.items()}}
    return {"results": results, "meta": meta}


def _controlled_table(results: list[dict], labels: list[str]) -> list[str]:
    lines = ["| noise | " + " | ".join(labels) + " | contact - worst other | min over sets | recall |",
             "|---|" + "---|" * (len(labels) + 3)]
    for r in results:
        cells = [f"{fmt(x['mpjpe_mm'])} (" + " / ".join(fmt(v) for v in x["per_set_mpjpe_mm"]) + ")" for x in r["separations"]]
        pooled = [x["mpjpe_mm"] for x in r["separations"]]
        margins = [x0 - max(xs) for x0, *xs in zip(*[x["per_set_mpjpe_mm"] for x in r["separations"]])]
        recall = np.mean([x["recall"] for x in r["separations"]])
        lines.append(f"| {r['effect']} | " + " | ".join(cells) + f" | {pooled[0] - max(pooled[1:]):+.1f} | "
                     f"{min(margins):+.1f} | {recall:.3f} |")
    return lines


def _controlled_verdict(rows: dict) -> list[str]:
    """The verdict line: is contact the hardest column under `all`, in every seed set, beyond the sets' spread?"""
    if "all" not in rows:
        return []
    seps = rows["all"]["separations"]
    per_set = np.array([x["per_set_mpjpe_mm"] for x in seps])  # (columns, sets)
    margins = per_set[0] - per_set[1:].max(0)  # (sets,) contact minus the worst other column
    pooled = seps[0]["mpjpe_mm"] - max(x["mpjpe_mm"] for x in seps[1:])
    spread = per_set[0].max() - per_set[0].min()
    yes = bool(np.all(margins > 0))
    text = (f"- **Verdict: {'yes' if yes else 'no'}, close contact is {'' if yes else 'not '}the hardest** under the full "
            f"model (`all`): contact minus the worst other column is {pooled:+.1f} mm pooled and "
            + " / ".join(f"{m:+.1f}" for m in margins) + " mm in the seed sets one by one")
    if CONTROL_ROW in rows:
        control = [x["mpjpe_mm"] for x in rows[CONTROL_ROW]["separations"]]
        text += (f"; the same pixel noise for everybody (control) stays within {max(control) - min(control):.1f} mm across "
                 f"the columns (contact {control[0] - max(control[1:]):+.1f} mm vs the worst other)")
    text += (f". The seed sets differ by up to {spread:.1f} mm in absolute contact MPJPE (which motions were drawn), but "
             "the paired difference (same scenes, only the separation changed) is "
             + ("positive in every set." if yes else "not positive in every set."))
    lines = [text]
    if PREV_ROW in rows:
        prev = np.array([x["per_set_mpjpe_mm"] for x in rows[PREV_ROW]["separations"]])
        prev_pooled = rows[PREV_ROW]["separations"][0]["mpjpe_mm"] - max(x["mpjpe_mm"] for x in rows[PREV_ROW]["separations"][1:])
        lines.append(f"- The session-1 model (`{PREV_ROW}`, bit-identical to `NoiseConfig()` before this change) gives the same "
                     f"answer here: {prev_pooled:+.1f} mm pooled, " + " / ".join(f"{m:+.1f}" for m in prev[0] - prev[1:].max(0))
                     + " mm per seed set. So the earlier non-robust result came from the composed scenes (distance to "
                     "others confounded with the position in the rig), not from the noise model; the recalibration below "
                     f"moves the contact excess from {prev_pooled:+.1f} to {pooled:+.1f} mm.")
    return lines


def markdown_controlled(saved: dict, others: list[dict] = ()) -> str:
    """The "noise-ablation-controlled" section of results.md; ``others``: smaller runs of more rows, shown below."""
    results, meta = saved["results"], saved["meta"]
    seps = meta["separations_m"]
    labels = [SEP_LABELS[SEPARATIONS_M.index(s)] if s in SEPARATIONS_M else f"{s:g} m" for s in seps]
    rows = {r["effect"]: r for r in results}
    n_sets, per_set = meta["seed_sets"], meta["scenes_per_set"]
    people = meta["people"]
    lines = [
        "## Noise ablation at controlled distances (issue 4)",
        "",
        f"The same people at {len(seps)} separations: `compose_controlled` draws {' and '.join(map(str, people))} "
        f"held-out single-person clips (`split=\"test\"`, {meta['frames']} frames, random windows, mirrors and turns; "
        "horizontal travel removed so the separation holds over the scene) and places them symmetrically about the "
        "look-at point of the 5-camera `default_rig()` (`place_around`: two people face each other across it, three "
        "sit on a triangle) so that the median frame's closest joint distance is the separation (contact: as close as "
        "non-interpenetrating torsos and a 2 cm joint floor allow). Everything but the separation is identical between "
        "the columns: clips, windows, turns, rig position and the noise model's random draws (same seed). Seeds "
        f"{meta['seeds'][0]}-{meta['seeds'][1]} per people count = {n_sets} seed sets of {per_set}; "
        f"{len(people) * n_sets * per_set} scenes per column. `reconstruct_baseline` (`BaselineConfig()`), scored with "
        "`evaluate` over the scenes of a column pooled.",
        "",
        "Closest distance to the nearest other person actually realised per column (p10 / median / p90 over person-frames, m) "
        "and its share in the bins < 0.3 / 0.3-0.6 / 0.6-1 / >= 1 m:",
        "",
        "| column | p10 / p50 / p90 (m) | share per bin |",
        "|---|---|---|",
    ]
    for s, label in zip(seps, labels):
        q = meta["distance_quantiles_m"][str(s)]
        share = meta["distance_bin_share"][str(s)]
        lines.append(f"| {label} | {q[0]:.2f} / {q[1]:.2f} / {q[2]:.2f} | " + " / ".join(f"{x:.2f}" for x in share) + " |")
    lines += ["", "MPJPE (mm, matched people) by separation, pooled; in brackets the seed sets one by one; last columns: "
              "contact minus the worst other column (pooled, and the smallest over seed sets), recall over all columns:", ""]
    lines += _controlled_table(results, labels)
    for other in others:
        m = other["meta"]
        lines += ["", f"{m.get('label', 'Other rows')}: seeds {m['seeds'][0]}-{m['seeds'][1]} "
                  f"per people count = {m['seed_sets']} seed sets of {m['scenes_per_set']}, "
                  f"{len(m['people']) * m['seed_sets'] * m['scenes_per_set']} scenes per column, same layout:", ""]
        lines += _controlled_table(other["results"], labels)
    control = rows.get(CONTROL_ROW)
    if control is not None:
        lines += ["", f"Net of the geometric control (row minus `{CONTROL_ROW}`, mm per column, pooled):", ""]
        for name in ("none", "all"):
            if name in rows:
                excess = [a["mpjpe_mm"] - c["mpjpe_mm"] for a, c in zip(rows[name]["separations"], control["separations"])]
                lines.append(f"- `{name}`: " + " / ".join(f"{x:+.1f}" for x in excess))
    lines += ["", "Findings:", ""] + _controlled_verdict(rows) + list(CONTROLLED_FINDINGS)
    command = (f"nice -n 10 .venv/bin/python benchmarks/noise_ablation.py --controlled --people {' '.join(map(str, people))} "
               f"--frames {meta['frames']} --workers 2 --seed {meta['seeds'][0]} --seed-sets {n_sets}")
    quoted = " ".join(f'"{r["effect"]}"' if " " in r["effect"] else r["effect"] for r in results)
    lines += ["", f"Reproduce (2 processes; about 1 s of CPU per scene and row): `{command} --scenes {per_set} --rows {quoted} "
              "--json controlled.json`"]
    for k, other in enumerate(others):
        m = other["meta"]
        rows_k = " ".join(f'"{r["effect"]}"' if " " in r["effect"] else r["effect"] for r in other["results"])
        other_command = (f"nice -n 10 .venv/bin/python benchmarks/noise_ablation.py --controlled --people "
                         f"{' '.join(map(str, m['people']))} --frames {m['frames']} --workers 2 --seed {m['seeds'][0]} "
                         f"--seed-sets {m['seed_sets']} --scenes {m['scenes_per_set']} --rows {rows_k}"
                         + (f" --label \"{m['label']}\"" if "label" in m else ""))
        lines[-1] += f", `{other_command} --json effects{k}.json`"
    lines[-1] += (", then this section: `.venv/bin/python benchmarks/noise_ablation.py --controlled --from-json controlled.json"
                  + "".join(f" --others effects{k}.json" for k in range(len(others))) + "`.")
    return "\n".join(lines)


CONTROLLED_FINDINGS: tuple[str, ...] = (
    "- One effect at a time (small run below; exact projections otherwise): only jitter moves the error, flat across "
    "the columns; each other effect alone leaves every column at the same value (the 5-view RANSAC triangulation "
    "absorbs missed joints, rare gross errors and false people when the rest is exact; `occlusion` and `merge` alone "
    "do nothing, as merges now need hidden joints), except peak interference (+0.8 mm at contact only). The contact "
    "penalty of `all` (net of the control +18.1 mm at contact vs +14.0-15.0 elsewhere) comes from the effects acting "
    "together (occlusion raises the miss and gross rates in the views where a person is hidden, and the remaining "
    "jittered views out-vote them less well); the all-but-one rows of the section above measure that on composed scenes.",
    "- Why the distance bins of composed scenes (section noise-ablation) were not robust: there, people far from "
    "everyone also stand far from the rig's centre, and the 6 px control row is itself worst at >= 1 m (by 0.7-5.7 mm, "
    "depending on the scene set). Here the control row is flat across the columns, so what remains is what closeness "
    "does. Without noise (`none`) the baseline is identical in every column: its association does not fail at contact "
    "on exact input.",
    "- Why contact is hard in the model, as in the real detector (`benchmarks/noise_stats.md`): a joint hidden behind "
    "another person is missed at 0.42 and grossly wrong at 0.12 (vs 0.069 / 0.012 not hidden), and, new in this change, "
    "the *visible* joints of a partly hidden person err more too. stats.json's gross rate of detected joints by the "
    "fraction of the person's joints hidden behind another person is 0.0077 / 0.037 / 0.079 / 0.080 (0, <= .25, <= .5, "
    "> .5); the model gave 0.017 / 0.026 / 0.046 / 0.110 (too many errors on people nobody hides, too few on partly "
    "hidden ones), now 0.0091 / 0.037 / 0.077 / 0.117 (`NoiseConfig.gross_person_occlusion_scale` = 0.55 / 2.6 / 8 / 1; "
    "`merge_needs_occlusion`: merged detections only for people with hidden joints, which removed 0.0054 of the 0.0177 "
    "gross rate of people nobody hides). The other rows of noise_stats.md moved closer or stayed (gross rate all 0.0252 "
    "-> 0.0239, real 0.0157; not occluded 0.0189 -> 0.0175, real 0.0124; merged share 0.079 -> 0.064, real 0.057; "
    "on other person, same joint type 0.0105 -> 0.0082, real 0.0058; its relation same / mirror / other type "
    "0.75 / 0.10 / 0.15 -> 0.68 / 0.12 / 0.20, real 0.66 / 0.06 / 0.27), except gross persistence (P(gross -> gross) "
    "0.47 -> 0.42, real 0.49; gross run 1.88 -> 1.71 frames, real 1.89: fewer of the persistent merges), the swap share "
    "of gross errors (0.27 -> 0.29, real 0.23) and the gross rates of shoulders and hips (0.0106 -> 0.0117 and "
    "0.0196 -> 0.0225, real 0.0058 and 0.0150; the other five groups moved closer).",
)


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
    parser.add_argument("--label", help="name of this run in other runs' --others tables (saved with --json)")
    parser.add_argument("--geometry", action="store_true", help="only the interference / occlusion geometry (to --json)")
    parser.add_argument("--geometry-from", type=Path, help="a saved --geometry run to show")
    parser.add_argument("--controlled", action="store_true",
                        help="the controlled-distance experiment (compose_controlled); writes its own section")
    parser.add_argument("--people", type=int, nargs="+", default=[2, 3], help="--controlled: people per scene")
    parser.add_argument("--separations", type=float, nargs="+", default=list(SEPARATIONS_M), help="--controlled: metres")
    parser.add_argument("--seed-sets", type=int, default=3, help="--controlled: seed sets of --scenes seeds each")
    parser.add_argument("--workers", type=int, default=1, help="--controlled: processes")
    args = parser.parse_args()
    if args.controlled:
        saved = json.loads(args.from_json.read_text()) if args.from_json else run_controlled(args)
        if args.label:
            saved["meta"]["label"] = args.label
        if args.json:
            args.json.write_text(json.dumps(saved, indent=1))
        if not args.no_write and not args.rows:
            text = markdown_controlled(saved, [json.loads(path.read_text()) for path in args.others])
            update_section("noise-ablation-controlled", text)
            print(text)
        return
    if args.geometry:
        geo = geometry(args)
        if args.json:
            args.json.write_text(json.dumps(geo, indent=1))
        print(json.dumps(geo, indent=1))
        return
    args.no_write |= bool(args.rows)
    if args.from_json:
        saved = json.loads(args.from_json.read_text())
        results, meta = saved["results"], saved["meta"]
        for key in ("scenes", "frames", "seed"):  # runs saved before these were recorded: from the command line
            meta.setdefault(key, getattr(args, key))
            setattr(args, key, meta[key])
    else:
        results, meta = run(args)
    if args.label:
        meta["label"] = args.label
    if args.json:
        args.json.write_text(json.dumps({"results": results, "meta": meta}, indent=1))
    others = [json.loads(path.read_text()) for path in args.others]
    geo = json.loads(args.geometry_from.read_text()) if args.geometry_from else None
    text = markdown(results, meta, args, others, geo)
    if not args.no_write:
        plot(results, ROOT / "benchmarks" / "noise_ablation.png")
        update_section("noise-ablation", text)
    print(text)


if __name__ == "__main__":
    main()
