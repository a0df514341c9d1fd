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
    args = parser.parse_args()
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
