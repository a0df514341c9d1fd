"""``closecap`` command line: thin Typer commands over the public API.

Each command parses its options, builds a config, calls one public function and prints a summary.
Only :class:`closecap.errors.CloseCapError` is caught: one line on stderr, exit code 2, and no
half-written output (writers are atomic).
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from closecap.errors import CloseCapError, InputError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="closecap: 3D motion capture of people in close interaction from calibrated multi-camera rigs.",
    pretty_exceptions_enable=False,
)


def _err(message: str) -> None:
    typer.echo(f"closecap: error: {message}", err=True)


def _parse_range(text: str, name: str) -> tuple[int, int]:
    try:
        if "-" in text:
            lo, hi = (int(x) for x in text.split("-", 1))
        else:
            lo = hi = int(text)
    except ValueError:
        raise InputError(None, name, f"expected N or N-M, got {text!r}") from None
    if lo < 1 or hi < lo:
        raise InputError(None, name, f"expected 1 <= N <= M, got {text!r}")
    return lo, hi


@app.command()
def demo(
    out: Path = typer.Option(Path("closecap-demo"), help="Output folder (created; replaced if it holds an earlier demo)."),
    people: str = typer.Option("2-3", help="Number of people, N or a range N-M."),
    frames: int = typer.Option(90, help="Frames to synthesise (30 fps)."),
    seed: int = typer.Option(0, help="Random seed of the scene."),
    noise: str = typer.Option("realistic", help="2D detector noise: realistic, none, occlusion-heavy or gaussian:<px>."),
    method: str = typer.Option("baseline", help="baseline, or volumetric (the shipped network)."),
) -> None:
    """Run closecap end to end, offline, on an embedded default scene.

    A 5-camera ring rig, 2-3 people from the shipped motion-capture library composed in close
    interaction, simulated 2D detections of a realistic detector, reconstruction with the best
    method available, a metrics table, and every artefact in --out.

    Example: closecap demo --out ./closecap-demo
    """
    from closecap.pipelines import run_demo

    summary = run_demo(out, people=_parse_range(people, "--people"), frames=frames, seed=seed, noise=noise, method=method,
                       progress=True)
    typer.echo(summary)


@app.command()
def reconstruct(
    calib: Path = typer.Option(..., "--calib", help="Calibration: closecap JSON, EasyMocap folder, Panoptic JSON, Anipose/Pose2Sim TOML, Qualisys .qca.txt."),
    keypoints2d: Optional[Path] = typer.Option(None, "--keypoints2d", help="2D detections: OpenPose JSON folder (one sub-folder per camera) or COCO JSON per camera."),
    videos: Optional[Path] = typer.Option(None, "--videos", help="Instead of --keypoints2d: a folder with one video file or image folder per camera (built-in offline BlazePose detector; needs closecap[video])."),
    out: Path = typer.Option(..., "--out", help="Output: PRED.json (closecap-3d), PRED.npz, PRED.csv or PRED.trc (one file per person)."),
    method: str = typer.Option("baseline", help="Reconstruction method: baseline, volumetric (default: the shipped network) or volumetric-unconditional (needs --model)."),
    model: Optional[Path] = typer.Option(None, "--model", help="Checkpoint of `closecap train` for the volumetric methods (default for volumetric: the shipped one)."),
    smoothing: str = typer.Option("offline", help="Temporal smoothing: offline (zero-phase), online (one-euro) or none."),
    fps: Optional[float] = typer.Option(None, help="Frame rate of the recording, for the temporal filters (default: the videos' rate, else 30)."),
    camera_type: Optional[str] = typer.Option(None, help="Panoptic calibrations: keep only cameras of this type (e.g. hd)."),
    config: Optional[Path] = typer.Option(None, help="A ReconstructConfig JSON (as written next to every output) to start from."),
    stream: bool = typer.Option(False, "--stream", help="Bounded memory for long recordings: frames read lazily, results written as they come (implied by a .jsonl --out)."),
    device: str = typer.Option("auto", help="Volumetric methods: auto (CUDA when available), cpu or cuda."),
) -> None:
    """Reconstruct the 3D joints of every person in every frame, from 2D keypoints or from videos.

    Examples: closecap reconstruct --calib scene/calibration.json --keypoints2d scene/keypoints2d --out pred.json |
    closecap reconstruct --calib Calib.qca.txt --videos videos/ --out pred.json
    (detections are cached as OpenPose JSON in pred_keypoints2d/ and reused by a rerun)
    """
    from closecap.config import load_config
    from closecap.reconstruct import ReconstructConfig, reconstruct_files

    cfg = load_config(ReconstructConfig, config) if config else ReconstructConfig()
    if (keypoints2d is None) == (videos is None):
        raise InputError(None, "--keypoints2d/--videos", "give exactly one of --keypoints2d DIR or --videos DIR")
    cfg = cfg.replace(method=method, model_path=str(model) if model else cfg.model_path, device=device, baseline=cfg.baseline.replace(
        track=cfg.baseline.track.replace(smoothing=smoothing, fps=fps or cfg.baseline.track.fps)))
    if stream or out.suffix.lower() == ".jsonl":
        from closecap.stream import reconstruct_stream

        if videos is not None:
            raise InputError(None, "--stream", "streaming reads OpenPose keypoint folders; detect the videos first")
        summary = reconstruct_stream(calib, keypoints2d, out, cfg, camera_type=camera_type, progress=True)
        typer.echo(f"wrote {out}: {summary.frames} frames, {summary.people} people")
        return
    if videos is not None:
        from closecap.video_pipeline import reconstruct_videos

        poses = reconstruct_videos(calib, videos, out, method=method, config=cfg, progress=True, fps=fps)
    else:
        poses = reconstruct_files(calib, keypoints2d, out, cfg, camera_type=camera_type, progress=True)
    typer.echo(f"wrote {out}: {poses.num_frames} frames, {poses.num_people} people (ids {poses.ids.tolist()})")


@app.command("eval")
def eval_(
    pred: Path = typer.Option(..., "--pred", help="Prediction, closecap-3d JSON or NPZ (a folder of <sequence>.json for Panoptic)."),
    gt: Optional[Path] = typer.Option(None, "--gt", help="Ground truth, closecap-3d JSON or NPZ (not with --dataset)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object instead of a table."),
    dataset: Optional[str] = typer.Option(None, "--dataset", help="Score with a published protocol instead: shelf, campus or panoptic."),
    root: Optional[Path] = typer.Option(None, "--root", help="With --dataset: the dataset folder (actorsGT.mat; Panoptic sequences)."),
    frames: Optional[str] = typer.Option(None, "--frames", help="With --dataset shelf/campus: frame ranges, e.g. 300-600 (default: the protocol's)."),
    sequences: Optional[str] = typer.Option(None, "--sequences", help="With --dataset panoptic: comma-separated sequences (default: VoxelPose's validation set)."),
) -> None:
    """Score a prediction against ground truth: MPJPE, PA-MPJPE, PCK, PCP, AP@25-150, recall, FP, ID switches, by distance.

    With --dataset, prints the table papers print: PCP per actor and part (Shelf, Campus; VoxelPose's protocol)
    or AP@25-150 / MPJPE / recall (Panoptic).

    Examples: closecap eval --pred pred.json --gt scene/gt.json --json |
    closecap eval --dataset shelf --root Shelf/ --pred shelf_pred.json
    """
    import json

    if dataset is not None:
        from closecap.io.datasets import evaluate_dataset

        if root is None:
            raise InputError(None, "--root", "--dataset needs --root (the dataset folder)")
        _, table, as_dict = evaluate_dataset(dataset, pred, root, frames=frames, sequences=sequences)
        typer.echo(json.dumps(as_dict) if as_json else table)
        return
    if gt is None:
        raise InputError(None, "--gt", "give --gt GT.json (or --dataset with --root)")
    from closecap.io.keypoints import read_poses
    from closecap.metrics import evaluate, format_table

    result = evaluate(read_poses(pred), read_poses(gt))
    typer.echo(json.dumps(result.to_dict()) if as_json else format_table(result))


@app.command()
def synth(
    calib: Optional[Path] = typer.Option(None, "--calib", help="The rig to synthesise for (any calibration format); default: a 5-camera ring."),
    out: Path = typer.Option(..., "--out", help="Scene folder to write (with --scenes K > 1 or --workers: the folder of OUT/scene_0000, ...)."),
    people: str = typer.Option("2-4", help="Number of people, N or a range N-M."),
    frames: int = typer.Option(300, help="Frames (at the library's frame rate)."),
    seed: int = typer.Option(0, help="Random seed; same seed, same scene."),
    noise: str = typer.Option("realistic", help="2D detector noise: realistic, none, occlusion-heavy or gaussian:<px>."),
    split: str = typer.Option("train", help="Motion-library split: train or test (held-out takes)."),
    camera_type: Optional[str] = typer.Option(None, help="Panoptic calibrations: keep only cameras of this type (e.g. hd)."),
    scenes: int = typer.Option(1, "--scenes", help="Scenes to write; more than 1 writes OUT/scene_0000, ... (scene i drawn from SeedSequence(seed, spawn_key=(i,)))."),
    workers: Optional[int] = typer.Option(None, "--workers", help="Make and write the scenes on N Ray workers (same files whatever N; needs ray)."),
    address: Optional[str] = typer.Option(None, "--address", help="An existing Ray cluster (with --workers; OUT must be storage every node sees)."),
) -> None:
    """Write synthetic close-interaction scenes: calibration, OpenPose JSON per camera, ground truth, settings.

    Example: closecap synth --calib calib.toml --people 2-4 --frames 300 --out scene/
    Example: closecap synth --scenes 48 --workers 2 --frames 150 --out scenes/
    """
    people_range = _parse_range(people, "--people")
    if scenes < 1:
        raise InputError(None, "--scenes", f"must be >= 1, got {scenes}")
    if address is not None and workers is None:
        raise InputError(None, "--address", "needs --workers N (the Ray workers to use on that cluster)")
    if scenes == 1 and workers is None:
        from closecap.pipelines import run_synth

        files = run_synth(out, calib=calib, people=people_range, frames=frames, seed=seed, noise=noise, split=split,
                          camera_type=camera_type)
        typer.echo(f"wrote scene {files.root}")
        return
    from closecap.io.calibration import load_rig
    from closecap.pipelines import default_rig
    from closecap.synth.distributed import write_scenes
    from closecap.synth.generate import SynthConfig, noise_preset
    from closecap.synth.scenes import SceneConfig

    rig = load_rig(calib, camera_type=camera_type) if calib is not None else default_rig()
    config = SynthConfig(scene=SceneConfig(num_people=people_range, num_frames=frames, fps=30.0),
                         noise=noise_preset(noise), seed=seed, split=split)
    settings = {"synth": config.to_dict(), "noise_preset": noise,
                "calibration": str(calib) if calib is not None else "closecap.pipelines.default_rig()"}
    folders = write_scenes(out, rig, config, scenes, seed=seed, settings=settings, workers=workers, address=address,
                           progress=True)
    where = "serially" if workers is None else f"on {workers} Ray worker{'s' if workers > 1 else ''}"
    typer.echo(f"wrote {len(folders)} scenes {folders[0].name} .. {folders[-1].name} in {out} ({where})")


@app.command()
def train(
    out: Path = typer.Option(..., "--out", help="Checkpoint to write (MODEL.pt); MODEL.config.json is written beside it."),
    calib: Optional[Path] = typer.Option(None, "--calib", help="The rig to train for (any calibration format); default: the demo's 5-camera ring."),
    random_rigs: bool = typer.Option(False, help="Train across random rigs (3-10 cameras) instead, to generalise to unseen rigs."),
    steps: int = typer.Option(2000, help="Optimisation steps."),
    batch_size: int = typer.Option(4, help="Person cubes per step."),
    lr: float = typer.Option(2e-3, help="Adam learning rate."),
    seed: int = typer.Option(0, help="Seed of the synthetic data and the initialisation."),
    unconditional: bool = typer.Option(False, help="Train the ablation without anchor volumes (VoxelPose-style)."),
    device: str = typer.Option("auto", help="auto, cpu or cuda."),
    resume: bool = typer.Option(False, help="Continue from --out if it exists."),
    camera_type: Optional[str] = typer.Option(None, help="Panoptic calibrations: keep only cameras of this type (e.g. hd)."),
    motions: Optional[Path] = typer.Option(None, "--motions", help="Your motion capture to train on (a folder of .bvh, .amc+.asf, .npz or Panoptic folders) instead of the shipped library; saved as MODEL.motions.npz."),
    workers: Optional[int] = typer.Option(None, "--workers", help="Make the training scenes on N Ray workers (the same batches as without; needs ray)."),
    address: Optional[str] = typer.Option(None, "--address", help="An existing Ray cluster for --workers."),
) -> None:
    """Train the conditional volumetric network for a rig on synthetic close interactions (no real image-pose pairs).

    Example: closecap train --calib calib.toml --out model.pt --steps 2000
    """
    from closecap.pipelines import default_rig

    try:
        from closecap.train import TrainConfig
        from closecap.train import train as run_train
    except ImportError as err:
        raise InputError(None, "train", f"training needs PyTorch: pip install torch==2.13.0 ({err})") from None
    from closecap.io.calibration import load_rig

    rig = load_rig(calib, camera_type=camera_type) if calib is not None else default_rig()
    if address is not None and workers is None:
        raise InputError(None, "--address", "needs --workers N (the Ray workers to use on that cluster)")
    library_path = ""
    if motions is not None:
        from closecap.synth.library import library_from_motions, save_library

        library = library_from_motions(motions)
        library_path = str(Path(out).with_suffix(".motions.npz").resolve())
        if not (resume and Path(library_path).exists()):
            save_library(library, library_path)
        typer.echo(f"motion library: {len(library)} clips ({len(library.pairs())} pairs), {library.seconds():.0f} s -> {library_path}")
    config = TrainConfig(random_rigs=random_rigs, steps=steps, batch_size=batch_size, lr=lr, seed=seed, device=device,
                         library_path=library_path)
    config = config.replace(model=config.model.replace(unconditional=unconditional))
    result = run_train(config, out, rig, resume=resume, progress=True, workers=workers, address=address)
    typer.echo(f"wrote {out}: {result.steps} steps, HEM loss {result.hem_loss:.3f}, KLM L1 {result.klm_loss_m * 100:.1f} cm, "
               f"{result.seconds:.0f} s")


@app.command()
def batch(
    manifest: Path = typer.Argument(..., help="TOML ([[recording]] tables, optional [defaults]) or CSV manifest of recordings."),
    out: Path = typer.Option(..., "--out", help="Output folder: <name>.json, <name>.config.json, <name>.done.json, batch_summary.json."),
    address: Optional[str] = typer.Option(None, "--address", help="An existing Ray cluster (default: a local Ray instance; serial without Ray)."),
) -> None:
    """Reconstruct every recording of a manifest on Ray (serially without it); finished recordings are skipped on rerun.

    Example: closecap batch recordings.toml --out results/
    """
    from closecap.batch import run_batch

    summary = run_batch(manifest, out, address=address, progress=True)
    typer.echo(summary.table())
    if summary.failed:
        raise CloseCapError(f"{len(summary.failed)} of {len(summary.results)} recordings failed (see {out}/batch_summary.json)")


@app.command()
def report(
    run_dir: Path = typer.Argument(..., help="A run folder: calibration.json + pred.json (as closecap demo writes), gt.json and keypoints2d/ optional."),
    out: Optional[Path] = typer.Option(None, "--out", help="HTML file to write (default: RUN_DIR/report.html)."),
) -> None:
    """Write one self-contained HTML page: metrics, 3D view, per-camera overlays, tracks, reprojection and error plots.

    Example: closecap demo --out run && closecap report run
    """
    from closecap.report import write_report

    path = write_report(run_dir, out)
    typer.echo(f"wrote {path}")


@app.command()
def overlay(
    calib: Path = typer.Option(..., "--calib", help="The calibration the prediction was made with."),
    pred: Path = typer.Option(..., "--pred", help="Prediction, closecap-3d JSON or NPZ."),
    out: Path = typer.Option(..., "--out", help="Folder for <camera>.mp4 and <camera>_<frame>.png."),
    videos: Optional[Path] = typer.Option(None, "--videos", help="The recording's videos / image folders (default: blank canvases)."),
    keypoints2d: Optional[Path] = typer.Option(None, "--keypoints2d", help="2D detections to draw in grey."),
    fps: float = typer.Option(30.0, help="Frame rate of the MP4s."),
) -> None:
    """Per-camera overlays of the reprojected 3D skeletons (one colour per id): an MP4 per camera and a PNG of the middle frame.

    Example: closecap overlay --calib calib.toml --pred pred.json --videos videos/ --out overlays/
    """
    import cv2

    from closecap.io.calibration import load_rig
    from closecap.io.keypoints import read_detections, read_poses
    from closecap.viz import draw_overlay, video_frames, write_overlay_video

    rig = load_rig(calib)
    poses = read_poses(pred)
    detections = read_detections(keypoints2d, rig.names) if keypoints2d is not None else None
    out.mkdir(parents=True, exist_ok=True)
    middle = poses.num_frames // 2
    frame_number = int(poses.frames[middle]) if poses.num_frames else 0
    images = video_frames(videos, rig, [frame_number]).get(frame_number, [None] * len(rig))
    written = []
    for v, camera in enumerate(rig):
        det = None
        if detections is not None and frame_number in detections.frames:
            det = detections.for_frame(frame_number)[detections.camera_names.index(camera.name)] \
                if camera.name in detections.camera_names else None
        picture = draw_overlay(camera, poses, middle, detections=det, image=images[v])
        png = out / f"{camera.name}_{frame_number:06d}.png"
        ok, data = cv2.imencode(".png", picture)
        from closecap.config import atomic_write_bytes

        atomic_write_bytes(png, data.tobytes())
        written.append(write_overlay_video(poses, rig, out / f"{camera.name}.mp4", view=v, detections=detections,
                                           videos_dir=videos, fps=fps))
        written.append(png)
    typer.echo(f"wrote {len(written)} files in {out}")


@app.command()
def export(
    pred: Path = typer.Option(..., "--pred", help="Prediction, closecap-3d JSON or NPZ."),
    out: Path = typer.Option(..., "--out", help="Output: .csv, .trc (one file per person), .bvh (one file per person), .json or .npz."),
    fps: float = typer.Option(30.0, help="Frame rate for TRC and BVH."),
) -> None:
    """Convert 3D joints to CSV, TRC (OpenSim / Pose2Sim), BVH (Blender) or closecap JSON / NPZ.

    Example: closecap export --pred pred.json --out dancers.bvh
    """
    from closecap.io.keypoints import read_poses, write_poses

    poses = read_poses(pred)
    if out.suffix.lower() == ".bvh":
        from closecap.io.bvh import write_bvh

        files = write_bvh(poses, out, fps=fps)
    else:
        files = write_poses(poses, out, fps=fps)
    typer.echo("wrote " + ", ".join(str(f) for f in files))


def main(argv: list[str] | None = None) -> int:
    """Console entry point: run the app, turning :class:`CloseCapError` into one line and exit code 2."""
    try:
        app(args=argv, standalone_mode=False)
    except CloseCapError as err:
        _err(str(err))
        return 2
    except KeyboardInterrupt:
        _err("interrupted")
        return 130
    except SystemExit as exc:  # typer's own exits (e.g. --help)
        return int(exc.code or 0)
    except Exception as exc:  # click usage errors carry their own exit code
        import click

        if isinstance(exc, click.exceptions.ClickException):
            exc.show()
            return exc.exit_code
        if isinstance(exc, click.exceptions.Abort):
            return 1
        raise
    return 0


if __name__ == "__main__":
    sys.exit(main())
