"""Detector-noise model vs the real detector: the statistics of ../shared/detector-noise/README.md, measured
on synthetic detections of real two-person MoCap (CMU salsa pairs) in the Shelf 5-camera rig.

Writes ``benchmarks/noise_stats.md`` (table model vs real) and prints the synthesis speed
(frames of a 5-camera scene per second, detections + heatmaps at stride 4).

Run: ``.venv/bin/python benchmarks/noise_stats.py [--frames 300] [--seed 0]``; the model before issue 4's peak
interference and pose-independent jitter size: ``--set jitter_body_scale=false heatmap_sigma_frac=0 --out X.md``.
``--size-ratio`` prints the calibration of ``NoiseConfig.body_size_ratio`` (README person size over
``focal_px / depth x body length`` on the mocap library in the Shelf rig) and exits.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from scipy.optimize import linear_sum_assignment

from closecap.cameras import ring_rig
from closecap.config import atomic_write_text
from closecap.heatmaps import render_heatmaps_batch
from closecap.skeleton import COCO17
from closecap.synth.noise import HEAD_TOP_RATIO, NoiseConfig, head_top, simulate_detections

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
CLIPS = ("pair_cmu_60_61_01", "pair_cmu_60_61_02", "pair_cmu_60_61_05", "pair_cmu_60_61_07", "pair_cmu_60_61_09_b")

# eval joints as in the README: head (mid-ears) + the 12 body joints; the neck has no COCO-17 joint
BODY = ("right_shoulder", "right_elbow", "right_wrist", "left_shoulder", "left_elbow", "left_wrist",
        "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle")
EVAL = ("head",) + BODY
GROUP = {"head": "head", **{n: n.split("_")[1] + "s" for n in BODY}}
MIRROR = {n: (n.replace("left", "right") if n.startswith("left") else n.replace("right", "left")) for n in BODY}
MIRROR["head"] = "head"
FACE = COCO17.indices(("nose", "left_eye", "right_eye", "left_ear", "right_ear"))
EARS = COCO17.indices(("left_ear", "right_ear"))
BODY_IDX = COCO17.indices(BODY)
CHAINS = tuple(COCO17.indices([f"{side}_{n}" for n in ("ankle", "knee", "hip", "shoulder", "ear")]) for side in ("left", "right"))


def readme_size(joints: np.ndarray, rig) -> np.ndarray:
    """README Method 1 person size ``(T, V, P)`` px: bbox diagonal of the 12 body joints and the top of head
    (estimated, :func:`closecap.synth.noise.head_top`) projected; COCO-17's face points are not Shelf joints."""
    pts = np.concatenate([joints[:, :, BODY_IDX], head_top(joints)[:, :, None]], 2)  # (T, P, 13, 3)
    uv, _ = rig.project(np.nan_to_num(pts))  # (V, T, P, 13, 2)
    uv = np.moveaxis(uv, 0, 1)
    return np.linalg.norm(uv.max(-2) - uv.min(-2), axis=-1)  # (T, V, P)


def size_ratio(rig, target_xy: np.ndarray) -> None:
    """Print README size / (focal / depth x body length) over the mocap clips (calibrates ``body_size_ratio``)."""
    for label, pattern in (("single-person clips", "[!p]*.npz"), ("salsa pair clips", "pair_*.npz")):
        ratios = []
        for path in sorted((SHARED / "mocap").glob(pattern)):
            x = np.load(path)["coco17"].astype(float).reshape(-1, 17, 3)[::5]  # people of a pair one after another
            x = x[np.isfinite(x).all((-1, -2))]
            x[..., :2] += target_xy - np.nanmean(x[..., :2], axis=(0, 1))
            body = np.median(np.mean([np.linalg.norm(np.diff(x[:, c], axis=1), axis=-1).sum(-1) for c in CHAINS], 0))
            _, depth = rig.project(x)  # (V, T, 17)
            ref = rig.K[:, 0, 0][:, None] * body / np.median(depth, -1)  # (V, T)
            ratios.append((readme_size(x[:, None], rig)[:, :, 0].T / ref).ravel())
        r = np.concatenate(ratios)
        print(f"{label}: README size / (focal / depth x body length) p10 / p50 / p90 = "
              f"{np.percentile(r, 10):.3f} / {np.percentile(r, 50):.3f} / {np.percentile(r, 90):.3f}  (n = {r.size})")


def load_rig():
    try:
        from closecap.io.calibration import load_rig as load

        rig = load(SHARED / "calibrations/shelf/calibration_shelf.json")
        target = _look_point(rig)
        return rig, target, "Shelf calibration (5 views, 1032x776)"
    except (ImportError, OSError):
        rig = ring_rig(5, radius_m=4.0, width=1032, height=776, focal_px=1050.0, target_world=(0, 0, 1.0))
        return rig, np.zeros(2), "ring_rig(5, 1032x776, f=1050)"


def _look_point(rig) -> np.ndarray:
    """Point nearest to all optical axes (xy), where the scene is placed."""
    A, b = np.zeros((3, 3)), np.zeros(3)
    for c, d in zip(rig.centers_world, rig.R[:, 2, :]):
        M = np.eye(3) - np.outer(d, d)
        A += M
        b += M @ c
    return np.linalg.solve(A, b)[:2]


def load_scene(name: str, frames: int, target_xy: np.ndarray) -> np.ndarray:
    """``(T, 2, 17, 3)`` metres, both dancers, centred on ``target_xy``."""
    data = np.load(SHARED / "mocap" / f"{name}.npz")
    joints = np.moveaxis(data["coco17"].astype(float), 0, 1)[:frames]  # (T, 2, 17, 3)
    centre = np.nanmean(joints[..., :2], axis=(0, 1, 2))
    joints[..., :2] += target_xy - centre
    return joints


def eval_points(kp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """COCO-17 ``(..., 17, 3)`` detections -> eval joints ``(..., 13, 2)`` and found ``(..., 13)`` (README head rule)."""
    found = kp[..., 2] > 0
    ears = found[..., EARS].all(-1)
    face_found = found[..., FACE]
    face_mean = (kp[..., FACE, :2] * face_found[..., None]).sum(-2) / np.maximum(face_found.sum(-1, keepdims=True), 1)
    head = np.where(ears[..., None], kp[..., EARS, :2].mean(-2), face_mean)
    pts = np.concatenate([head[..., None, :], kp[..., BODY_IDX, :2]], -2)
    ok = np.concatenate([face_found.any(-1, keepdims=True), found[..., BODY_IDX]], -1)
    return pts, ok


def gt_points(uv: np.ndarray, in_image: np.ndarray, occluded: np.ndarray):
    """GT ``(..., 17, 2)`` -> eval joints ``(..., 13, 2)``, in image ``(..., 13)``, occluded ``(..., 13)``."""
    head = uv[..., EARS, :].mean(-2)
    pts = np.concatenate([head[..., None, :], uv[..., BODY_IDX, :]], -2)
    vis = np.concatenate([in_image[..., EARS].all(-1, keepdims=True), in_image[..., BODY_IDX]], -1)
    occ = np.concatenate([occluded[..., EARS].all(-1, keepdims=True), occluded[..., BODY_IDX]], -1)
    return pts, vis, occ


def analyse(runs) -> dict:
    """The README's statistics over a list of (detections, trace, README person size (T, V, P)) runs."""
    E = len(EVAL)
    mirror_idx = np.array([EVAL.index(MIRROR[n]) for n in EVAL])
    rec = {k: [] for k in ("err", "group", "joint", "occ", "score", "gross", "cat", "rel")}
    miss = {"n": np.zeros((2, E)), "miss": np.zeros((2, E))}  # [not occluded, occluded]
    person = {"n": np.zeros(4), "miss": np.zeros(4)}
    by_frac = {"n": np.zeros(4), "miss": np.zeros(4), "det": np.zeros(4), "gross": np.zeros(4)}  # joints by person bin
    fp = merged = dets = vf = 0
    sizes = []
    tracks = []  # per run: (T, V, P, E) status (0 absent, 1 correct, 2 gross, 3 missing) and jitter (T, V, P, E, 2)
    interference = {"pulled": 0, "lost": 0, "n": 0}
    for det, tr, size in runs:
        T, V, P = tr.person_size_px.shape
        gt, vis, occ = gt_points(np.nan_to_num(tr.uv_gt_px), tr.in_image, tr.occluded)  # (T, V, P, E, 2)
        if tr.pull_px is not None:  # noise-model bookkeeping (not a README statistic): body joints in the image
            body_in = tr.in_image[..., BODY_IDX]
            pull = np.linalg.norm(tr.pull_px[..., BODY_IDX, :], axis=-1) / size[..., None]
            interference["pulled"] += int(((pull > 0.01) & body_in).sum())
            interference["lost"] += int((tr.peak_lost[..., BODY_IDX] & body_in).sum())
            interference["n"] += int(body_in.sum())
        status = np.zeros((T, V, P, E), dtype=np.int8)
        error = np.full((T, V, P, E, 2), np.nan)
        for t in range(T):
            for v in range(V):
                kp = det.keypoints[t][v]
                visible = vis[t, v].sum(-1) >= (E + 1) // 2  # README: >= 7 of 14 eval joints in image
                pts, ok = eval_points(kp)  # (D, E, 2), (D, E)
                D = len(kp)
                vf += 1
                dets += D
                # agreement: joints within 0.15 x size of the person's joint
                d = np.linalg.norm(pts[:, None] - gt[t, v][None], axis=-1)  # (D, P, E)
                agree = (d < 0.15 * size[t, v][None, :, None]) & ok[:, None] & vis[t, v][None]
                count = np.where(visible[None], agree.sum(-1), 0)  # (D, P)
                rows, cols = linear_sum_assignment(-count) if D and P else (np.array([], int), np.array([], int))
                match = {int(c): int(r) for r, c in zip(rows, cols) if count[r, c] >= 2}
                near_any = (count >= 2).any(-1) if P else np.zeros(D, bool)
                fp += int((~near_any).sum())
                # merged: >= 2 people each nearest (same joint type) to >= 2 of the detection's joints
                if P > 1 and D:
                    dn = np.where(vis[t, v][None], d, np.inf)
                    owner = np.where(ok & np.isfinite(dn.min(1)), dn.argmin(1), -1)  # (D, E)
                    per = np.stack([(owner == p).sum(-1) for p in range(P)], -1)
                    merged += int(((per >= 2).sum(-1) >= 2).sum())
                for p in range(P):
                    if not visible[p]:
                        continue
                    sizes.append(size[t, v, p])
                    ofrac = occ[t, v, p][vis[t, v, p]].mean() if vis[t, v, p].any() else 0.0
                    b = 0 if ofrac == 0 else 1 if ofrac <= 0.25 else 2 if ofrac <= 0.5 else 3
                    person["n"][b] += 1
                    if p not in match:
                        person["miss"][b] += 1
                        status[t, v, p] = np.where(vis[t, v, p], 3, 0)
                        continue
                    r = match[p]
                    for e in range(E):
                        if not vis[t, v, p, e]:
                            continue
                        o = int(occ[t, v, p, e])
                        miss["n"][o, e] += 1
                        by_frac["n"][b] += 1
                        if not ok[r, e]:
                            miss["miss"][o, e] += 1
                            by_frac["miss"][b] += 1
                            status[t, v, p, e] = 3
                            continue
                        err = (pts[r, e] - gt[t, v, p, e]) / size[t, v, p]
                        gross = np.linalg.norm(err) > 0.10
                        by_frac["det"][b] += 1
                        by_frac["gross"][b] += gross
                        cat = rel = ""
                        if gross:
                            cat, rel = classify(pts[r, e], t, v, p, e, gt, vis, size, mirror_idx)
                        status[t, v, p, e] = 2 if gross else 1
                        error[t, v, p, e] = err
                        if e == 0 and not kp[r, EARS, 2].all():
                            continue  # README: head jitter only where both ears were found
                        for key, val in (("err", err), ("group", GROUP[EVAL[e]]), ("joint", e), ("occ", o),
                                         ("score", kp[r, FACE, 2].max() if e == 0 else kp[r, BODY_IDX[e - 1], 2]),
                                         ("gross", gross), ("cat", cat), ("rel", rel)):
                            rec[key].append(val)
        tracks.append((status, error))
    out = summarise(rec, miss, person, fp, merged, dets, vf, np.array(sizes), tracks)
    out["joint_miss_by_frac"] = by_frac["miss"] / np.maximum(by_frac["n"], 1)
    out["gross_by_frac"] = by_frac["gross"] / np.maximum(by_frac["det"], 1)
    out["joints_by_frac_n"] = by_frac["n"]
    out["interference"] = (interference["pulled"] / max(interference["n"], 1), interference["lost"] / max(interference["n"], 1))
    return out


def classify(point, t, v, p, e, gt, vis, size, mirror_idx):
    """README Method 6: swap / on_other_person (same, mirror, other type) / on_own_other_joint / elsewhere."""
    own = np.linalg.norm(point - gt[t, v, p, e]) / size[t, v, p]
    m = mirror_idx[e]
    if m != e and vis[t, v, p, m]:
        dm = np.linalg.norm(point - gt[t, v, p, m]) / size[t, v, p]
        if dm < 0.10 and dm < own:
            return "left_right_swap", ""
    P = gt.shape[2]
    best = None
    for q in range(P):
        if q == p:
            continue
        dq = np.where(vis[t, v, q], np.linalg.norm(gt[t, v, q] - point, axis=-1) / size[t, v, q], np.inf)
        k = int(dq.argmin())
        if dq[k] < 0.10 and dq[k] * size[t, v, q] < own * size[t, v, p] and (best is None or dq[k] < best[0]):
            best = (dq[k], k)
    if best is not None:
        k = best[1]
        return "on_other_person", "same_type" if k == e else "mirror_type" if k == m else "other_type"
    d_own = np.where(vis[t, v, p], np.linalg.norm(gt[t, v, p] - point, axis=-1) / size[t, v, p], np.inf)
    d_own[e] = np.inf
    if d_own.min() < 0.10:
        return "on_own_other_joint", ""
    return "elsewhere", ""


def summarise(rec, miss, person, fp, merged, dets, vf, sizes, tracks) -> dict:
    err = np.array(rec["err"])
    group = np.array(rec["group"])
    joint = np.array(rec["joint"])
    occ = np.array(rec["occ"], bool)
    score = np.array(rec["score"])
    gross = np.array(rec["gross"], bool)
    cat = np.array(rec["cat"])
    rel = np.array(rec["rel"])
    out: dict = {"person_size_px": {"median": np.median(sizes), "p10": np.percentile(sizes, 10), "p90": np.percentile(sizes, 90)}}
    correct = ~gross
    bias = np.zeros((len(EVAL), 2))
    for e in range(len(EVAL)):
        sel = correct & (joint == e)
        if sel.any():
            bias[e] = np.median(err[sel], axis=0)
    jitter = err - bias[joint]
    radial = np.linalg.norm(jitter, axis=-1)
    out["sigma"] = {g: np.median(radial[correct & (group == g)]) / 1.1774 for g in dict.fromkeys(GROUP.values())}
    out["sigma"]["all"] = np.median(radial[correct]) / 1.1774
    rc = radial[correct]
    out["tail_ratio"] = np.percentile(rc, 99) / np.percentile(rc, 50)
    groups = list(dict.fromkeys(GROUP.values()))
    gidx = {g: [e for e in range(len(EVAL)) if GROUP[EVAL[e]] == g] for g in groups}
    out["miss"] = {g: (miss["miss"][0, gidx[g]].sum() / max(miss["n"][0, gidx[g]].sum(), 1),
                       miss["miss"][1, gidx[g]].sum() / max(miss["n"][1, gidx[g]].sum(), 1)) for g in groups}
    out["miss"]["all"] = (miss["miss"][0].sum() / miss["n"][0].sum(), miss["miss"][1].sum() / max(miss["n"][1].sum(), 1))
    out["frac_occluded"] = miss["n"][1].sum() / miss["n"].sum()
    out["gross"] = {g: gross[group == g].mean() for g in groups}
    out["gross"]["all"] = gross.mean()
    out["gross_occ"] = (gross[~occ].mean(), gross[occ].mean() if occ.any() else np.nan)
    cats = ("left_right_swap", "on_other_person", "on_own_other_joint", "elsewhere")
    out["share"] = {c: (cat[gross] == c).mean() for c in cats}
    on_other = cat == "on_other_person"
    out["relation"] = {r: (rel[on_other] == r).mean() for r in ("same_type", "mirror_type", "other_type")}
    out["swap_rate"] = (cat == "left_right_swap").mean()
    out["other_rate"] = on_other.mean()
    out["same_type_rate"] = (on_other & (rel == "same_type")).mean()
    out["same_type_rate_occ"] = ((on_other & (rel == "same_type"))[~occ].mean(), (on_other & (rel == "same_type"))[occ].mean())
    out["person_miss"] = person["miss"].sum() / person["n"].sum()
    out["person_miss_bins"] = person["miss"] / np.maximum(person["n"], 1)
    out["person_bins_n"] = person["n"]
    sc, sg = score[correct], score[gross]
    out["score"] = {"correct_p50": np.median(sc), "gross_p50": np.median(sg) if sg.size else np.nan,
                    "correct_ge05": (sc >= 0.5).mean(), "gross_ge05": (sg >= 0.5).mean() if sg.size else np.nan,
                    "auc": auc(sc, sg)}
    out["fp_per_view_frame"] = fp / vf
    out["merged_share"] = merged / max(dets, 1)
    out.update(temporal(tracks, bias))
    return out


def auc(a: np.ndarray, b: np.ndarray) -> float:
    """P(a > b) + 0.5 P(a = b)."""
    if not a.size or not b.size:
        return float("nan")
    allv = np.concatenate([a, b])
    ranks = np.argsort(np.argsort(allv, kind="stable"), kind="stable").astype(float)
    # average ranks of ties
    _, inv, counts = np.unique(allv, return_inverse=True, return_counts=True)
    sums = np.bincount(inv, ranks)
    ranks = sums[inv] / counts[inv]
    return float((ranks[: a.size].sum() - a.size * (a.size - 1) / 2) / (a.size * b.size))


def temporal(tracks, bias) -> dict:
    """Autocorrelations, frame-to-frame change, runs and transitions over (view, person, joint) tracks."""
    out: dict = {}
    pairs = {1: [], 5: [], 10: []}
    pairs_dm = {1: [], 5: [], 10: []}
    change = []
    runs = {"gross": [], "miss": []}
    trans = np.zeros((4, 4))
    for status, error in tracks:
        T = status.shape[0]
        jit = error - bias[None, None, None]  # (T, V, P, E, 2)
        correct = status == 1
        mean = np.nansum(np.where(correct[..., None], jit, 0), 0) / np.maximum(correct.sum(0), 1)[..., None]
        dm = jit - mean[None]
        for lag in pairs:
            both = correct[:-lag] & correct[lag:]
            pairs[lag].append(np.stack([jit[:-lag][both], jit[lag:][both]], 0))
            pairs_dm[lag].append(np.stack([dm[:-lag][both], dm[lag:][both]], 0))
        both = correct[:-1] & correct[1:]
        change.append((jit[1:] - jit[:-1])[both])
        s0, s1 = status[:-1].ravel(), status[1:].ravel()
        np.add.at(trans, (s0, s1), 1)
        flat = status.reshape(T, -1)
        for code, key in ((2, "gross"), (3, "miss")):
            on = np.concatenate([np.zeros((1, flat.shape[1]), bool), flat == code, np.zeros((1, flat.shape[1]), bool)])
            d = np.diff(on.astype(np.int8), axis=0)
            starts = np.argwhere(d.T == 1)
            ends = np.argwhere(d.T == -1)
            runs[key].extend((ends[:, 1] - starts[:, 1]).tolist())
    for lag in pairs:
        a = np.concatenate(pairs[lag], 1)
        b = np.concatenate(pairs_dm[lag], 1)
        out[f"ac{lag}"] = np.mean([np.corrcoef(a[0, :, k], a[1, :, k])[0, 1] for k in range(2)])
        out[f"ac{lag}_dm"] = np.mean([np.corrcoef(b[0, :, k], b[1, :, k])[0, 1] for k in range(2)])
    ch = np.concatenate(change)
    out["change_sigma"] = 1.4826 * np.median(np.abs(ch - np.median(ch, 0)), 0)
    out["gross_run"] = np.mean(runs["gross"]) if runs["gross"] else np.nan
    out["miss_run"] = np.mean(runs["miss"]) if runs["miss"] else np.nan
    out["ok_to_gross"] = trans[1, 2] / trans[1].sum()
    out["gross_to_gross"] = trans[2, 2] / max(trans[2].sum(), 1)
    out["ok_to_miss"] = trans[1, 3] / trans[1].sum()
    out["miss_to_miss"] = trans[3, 3] / max(trans[3].sum(), 1)
    return out


def speed(rig, scene_joints: np.ndarray, cfg: NoiseConfig, seed: int, stride: int = 4) -> dict:
    """Frames per second: simulation alone, heatmaps alone, and both (one frame = all views)."""
    T = scene_joints.shape[0]
    t0 = time.perf_counter()
    det, _ = simulate_detections(scene_joints, rig, cfg, np.random.default_rng(seed))
    t1 = time.perf_counter()
    size = rig.image_sizes[0]
    for t in range(T):
        render_heatmaps_batch(det.keypoints[t], size, stride=stride, sigma_px=8.0)
    t2 = time.perf_counter()
    return {"frames": T, "people": scene_joints.shape[1], "sim_fps": T / (t1 - t0), "heatmap_fps": T / (t2 - t1),
            "total_fps": T / (t2 - t0)}


def fmt(x, digits=4) -> str:
    if isinstance(x, (tuple, list, np.ndarray)):
        return " / ".join(fmt(v, digits) for v in x)
    if x is None or (isinstance(x, float) and np.isnan(x)):
        return "–"
    return f"{x:.{digits}g}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=300, help="frames per clip (Shelf: 301)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "noise_stats.md")
    parser.add_argument("--set", nargs="+", default=[], metavar="FIELD=JSON",
                        help="NoiseConfig overrides, e.g. jitter_body_scale=false heatmap_sigma_frac=0")
    parser.add_argument("--size-ratio", action="store_true", help="print the body_size_ratio calibration and exit")
    args = parser.parse_args()
    stats = json.loads((SHARED / "detector-noise" / "stats.json").read_text())
    real = stats["openpose_body25_shelf"]
    recipe = stats["synthesis_recipe"]
    rig, target, rig_name = load_rig()
    if args.size_ratio:
        size_ratio(rig, target)
        return
    overrides = {k: json.loads(v) for k, v in (item.split("=", 1) for item in args.set)}
    cfg = NoiseConfig().replace(**{k: tuple(v) if isinstance(v, list) else v for k, v in overrides.items()})
    runs = []
    sim_time = 0.0
    for i, clip in enumerate(CLIPS):
        joints = load_scene(clip, args.frames, target)
        t0 = time.perf_counter()
        det, trace = simulate_detections(joints, rig, cfg, np.random.default_rng(args.seed + i))
        sim_time += time.perf_counter() - t0
        runs.append((det, trace, readme_size(joints, rig)))
    m = analyse(runs)

    pair = load_scene(CLIPS[0], args.frames, target)
    second = load_scene(CLIPS[1], args.frames, target + np.array([1.2, 0.0]))
    four = np.concatenate([pair, second], 1)
    sp2 = speed(rig, pair, cfg, args.seed)
    sp4 = speed(rig, four, cfg, args.seed)

    jl = real["jitter_person_level"]
    mj = real["misses"]["joints"]
    ge = real["gross_errors"]
    conf = real["confidence"]["person_level_joints"]
    ac = real["temporal"]["autocorrelation"]
    rows = [("person size p50 / p10 / p90 (px)", fmt([m["person_size_px"][k] for k in ("median", "p10", "p90")]),
             fmt([real["summary"]["person_size_px"][k] for k in ("median", "p10", "p90")]), "summary.person_size_px")]
    for g in ("head", "shoulders", "elbows", "wrists", "hips", "knees", "ankles", "all"):
        key = "all_joints" if g == "all" else g
        rows.append((f"jitter sigma {g} (frac)", fmt(m["sigma"][g]),
                     fmt(jl[key]["gaussian_sigma_frac"]["isotropic_from_median_radius"]), f"jitter_person_level.{key}"))
    rows.append(("jitter radial p99 / p50", fmt(m["tail_ratio"]), fmt(recipe["jitter_heavy_tail_ratio_p99_over_p50"]),
                 "synthesis_recipe.jitter_heavy_tail_ratio_p99_over_p50"))
    for g in ("head", "shoulders", "elbows", "wrists", "hips", "knees", "ankles", "all"):
        key = "all_joints" if g == "all" else g
        rows.append((f"joint miss {g}: not occluded / occluded", fmt(m["miss"][g]),
                     fmt([mj[key]["not_occluded"]["miss_rate_given_person_detected"],
                          mj[key]["occluded_by_nearer_person"]["miss_rate_given_person_detected"]]), f"misses.joints.{key}"))
    rows.append(("share of GT joints occluded by a nearer person", fmt(m["frac_occluded"]),
                 fmt(real["summary"]["frac_gt_joints_occluded_by_nearer_person"]), "summary.frac_gt_joints_occluded_by_nearer_person"))
    rows.append(("person miss rate", fmt(m["person_miss"]), fmt(real["misses"]["people"]["miss_rate"]), "misses.people.miss_rate"))
    pb = real["misses"]["people"]["by_occluded_joint_fraction"]
    rows.append(("person miss by occluded frac 0 / ≤.25 / ≤.5 / >.5", fmt(m["person_miss_bins"], 3),
                 fmt([pb[k]["miss_rate"] for k in ("0", "(0,0.25]", "(0.25,0.5]", "(0.5,1]")], 3),
                 "misses.people.by_occluded_joint_fraction"))
    rows.append(("  (person-views per bin, model)", fmt(m["person_bins_n"], 6), fmt([pb[k]["n"] for k in pb], 6), ""))
    jb = real["misses"]["joints_by_person_occluded_fraction"]
    keys = ("0", "(0,0.25]", "(0.25,0.5]", "(0.5,1]")
    rows.append(("joint miss by person's occluded frac 0 / ≤.25 / ≤.5 / >.5", fmt(m["joint_miss_by_frac"], 3),
                 fmt([jb[k]["joint_miss_rate"] for k in keys], 3), "misses.joints_by_person_occluded_fraction.*.joint_miss_rate"))
    rows.append(("gross rate by person's occluded frac 0 / ≤.25 / ≤.5 / >.5", fmt(m["gross_by_frac"], 3),
                 fmt([jb[k]["gross_rate_of_detected"] for k in keys], 3),
                 "misses.joints_by_person_occluded_fraction.*.gross_rate_of_detected"))
    rows.append(("  (GT joints in image per bin, model)", fmt(m["joints_by_frac_n"], 6), fmt([jb[k]["n"] for k in keys], 6), ""))
    for g in ("head", "shoulders", "elbows", "wrists", "hips", "knees", "ankles", "all"):
        key = "all_joints" if g == "all" else g
        rows.append((f"gross rate {g}", fmt(m["gross"][g]), fmt(ge[key]["gross_rate"]), f"gross_errors.{key}.gross_rate"))
    rows.append(("gross rate not occluded / occluded", fmt(m["gross_occ"]),
                 fmt([ge["all_joints_not_occluded"]["gross_rate"], ge["all_joints_occluded_by_nearer_person"]["gross_rate"]]),
                 "gross_errors.all_joints_(not_)occluded*"))
    rows.append(("swap / on-other-person rate of detected", fmt([m["swap_rate"], m["other_rate"]]),
                 fmt([ge["all_joints"]["rate_of_detected"]["left_right_swap"], ge["all_joints"]["rate_of_detected"]["on_other_person"]]),
                 "gross_errors.all_joints.rate_of_detected"))
    same = ge["all_joints"]["rate_of_detected"]["on_other_person"] * ge["all_joints"]["on_other_person_joint_relation_share"]["same_type"]
    rows.append(("on other person, same joint type: rate of detected", fmt(m["same_type_rate"]), fmt(same),
                 "rate_of_detected.on_other_person x on_other_person_joint_relation_share.same_type"))
    same_occ = [ge[k]["rate_of_detected"]["on_other_person"] * ge[k]["on_other_person_joint_relation_share"]["same_type"]
                for k in ("all_joints_not_occluded", "all_joints_occluded_by_nearer_person")]
    rows.append(("  the same, not occluded / occluded", fmt(m["same_type_rate_occ"]), fmt(same_occ),
                 "gross_errors.all_joints_(not_)occluded*"))
    cats = ("left_right_swap", "on_other_person", "on_own_other_joint", "elsewhere")
    rows.append(("gross mix swap / other person / own other joint / elsewhere", fmt([m["share"][c] for c in cats], 3),
                 fmt([ge["all_joints"]["share_of_gross"][c] for c in cats], 3), "gross_errors.all_joints.share_of_gross"))
    rels = ("same_type", "mirror_type", "other_type")
    rows.append(("on other person: same / mirror / other type", fmt([m["relation"][r] for r in rels], 3),
                 fmt([ge["all_joints"]["on_other_person_joint_relation_share"][r] for r in rels], 3),
                 "gross_errors.all_joints.on_other_person_joint_relation_share"))
    rows.append(("score p50 correct / gross", fmt([m["score"]["correct_p50"], m["score"]["gross_p50"]], 3),
                 fmt([conf["correct"]["p50"], conf["gross_all"]["p50"]], 3), "confidence.person_level_joints.*.p50"))
    rows.append(("score ≥ 0.5 correct / gross", fmt([m["score"]["correct_ge05"], m["score"]["gross_ge05"]], 3),
                 fmt([conf["correct"]["frac_ge_0.5"], conf["gross_all"]["frac_ge_0.5"]], 3), "confidence.person_level_joints.*.frac_ge_0.5"))
    rows.append(("P(score correct > score gross)", fmt(m["score"]["auc"], 3), fmt(conf["prob_correct_scores_higher_than_gross"], 3),
                 "confidence.person_level_joints.prob_correct_scores_higher_than_gross"))
    for lag in (1, 5, 10):
        rows.append((f"jitter autocorrelation lag {lag}: bias removed / demeaned", fmt([m[f"ac{lag}"], m[f"ac{lag}_dm"]], 3),
                     fmt([ac[f"lag_{lag}"]["bias_removed"]["mean"], ac[f"lag_{lag}"]["per_series_demeaned"]["mean"]], 3),
                     f"temporal.autocorrelation.lag_{lag}"))
    fc = real["temporal"]["frame_to_frame_change"]["all_joints"]
    rows.append(("frame-to-frame change sigma x / y (frac)", fmt(m["change_sigma"], 3), fmt([fc["x"], fc["y"]], 3),
                 "temporal.frame_to_frame_change.all_joints"))
    runs_real = real["temporal"]["runs"]
    rows.append(("gross run mean (frames)", fmt(m["gross_run"], 3), fmt(runs_real["gross_error_run_frames"]["mean"], 3),
                 "temporal.runs.gross_error_run_frames.mean"))
    rows.append(("missing run mean (joint or person, frames)", fmt(m["miss_run"], 3), fmt(runs_real["joint_missing_run_frames"]["mean"], 3),
                 "temporal.runs.joint_missing_run_frames.mean"))
    tr = real["temporal"]["transitions"]
    for k in ("ok_to_gross", "gross_to_gross", "ok_to_miss", "miss_to_miss"):
        rows.append((f"P({k.replace('_to_', ' → ')})", fmt(m[k], 3), fmt(tr[k]["prob"], 3), f"temporal.transitions.{k}"))
    fpp = real["false_positives"]["people"]
    rows.append(("false-positive people per view-frame", fmt(m["fp_per_view_frame"], 3),
                 fmt(fpp["false_positive_people_per_view_frame"], 3), "false_positives.people"))
    rows.append(("merged share of detections", fmt(m["merged_share"], 3), fmt(fpp["merged_share_of_detections"], 3),
                 "false_positives.people.merged_share_of_detections"))
    rows.append(("peak interference: body joints pulled > 0.01 x size / peak lost to another person", fmt(m["interference"], 3),
                 "not measured", ""))

    lines = [
        "# Detector-noise model vs OpenPose on Shelf",
        "",
        f"Generated by `benchmarks/noise_stats.py --frames {args.frames} --seed {args.seed}"
        + (f" --set {' '.join(args.set)}" if args.set else "") + "`: `NoiseConfig()` "
        + (f"with {', '.join(args.set)} " if args.set else "defaults ") + "on "
        f"{len(CLIPS)} CMU salsa pair clips ({', '.join(CLIPS)}; first {args.frames} frames, 2 people) placed at the "
        f"centre of the {rig_name}. Model statistics are computed as `../shared/detector-noise/README.md` defines them "
        "(person size, matching, 0.10 x size gross threshold, classification, runs), with these differences: the top of "
        f"head of the person size is estimated (shoulder mid-point + {HEAD_TOP_RATIO} x (ear mid-point - shoulder "
        "mid-point), `closecap.synth.noise.head_top`), the head is the ear mid-point, there is no neck, and 'occluded' is "
        "the noise model's own capsule ray test (the README projects capsules at the person's median depth). The salsa "
        "couple is in closer contact than Shelf's people, so contact-driven rates (occlusion, people on each other) are "
        "expected above Shelf's.",
        "",
        "| statistic | model | real | stats.json field |",
        "|---|---|---|---|",
    ]
    lines += [f"| {a} | {b} | {c} | `{d}` |" if d else f"| {a} | {b} | {c} | |" for a, b, c, d in rows]
    lines += [
        "",
        "## Speed",
        "",
        f"Simulation of the {len(CLIPS)} analysed clips: {len(CLIPS) * args.frames / sim_time:.0f} frames/s (5 views).",
        "",
        "| scene | frames | simulate (frames/s) | heatmaps, stride 4, 5 views (frames/s) | both (frames/s) |",
        "|---|---|---|---|---|",
    ]
    for sp in (sp2, sp4):
        lines.append(f"| {sp['people']} people, 5 views | {sp['frames']} | {sp['sim_fps']:.0f} | {sp['heatmap_fps']:.0f} | {sp['total_fps']:.0f} |")
    lines.append("")
    lines.append("A frame = one sample of the 5-camera scene (all views' detections, and their 17-joint heatmaps of "
                 "258 x 194 px). Measured on the 2-core development machine, single process.")
    atomic_write_text(args.out, "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
