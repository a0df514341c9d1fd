"""closecap batch: manifests, outputs equal to separate runs, resume, isolated failures, summary; Ray when installed."""
import json
from pathlib import Path

import pytest

from closecap.batch import Recording, read_manifest, run_batch, run_recording
from closecap.errors import InputError
from closecap.pipelines import run_synth
from closecap.reconstruct import reconstruct_files


@pytest.fixture(scope="module")
def scenes(tmp_path_factory):
    root = tmp_path_factory.mktemp("batch")
    for k in range(3):
        run_synth(root / f"s{k}", people=(2, 2), frames=20, seed=k)
    return root


def _toml(root: Path, names, broken=None) -> Path:
    lines = ['[defaults]', 'smoothing = "offline"', '']
    for name in names:
        kp = "missing_folder" if name == broken else f"{name}/keypoints2d"
        lines += ["[[recording]]", f'name = "{name}"', f'calib = "{name}/calibration.json"', f'keypoints2d = "{kp}"', ""]
    path = root / "manifest.toml"
    path.write_text("\n".join(lines))
    return path


def test_outputs_equal_separate_runs_then_resume_and_failures(scenes, tmp_path):
    manifest = _toml(scenes, ["s0", "s1", "s2"], broken="s2")
    out = tmp_path / "out"
    first = run_batch(manifest, out, progress=False, use_ray=False)
    assert [r.status for r in first.results] == ["done", "done", "failed"]
    assert "missing_folder" in first.results[2].error and "\n" not in first.results[2].error
    for rec in read_manifest(manifest)[:2]:
        alone = tmp_path / f"alone_{rec.name}.json"
        reconstruct_files(rec.calib, rec.keypoints2d, alone)
        assert (out / f"{rec.name}.json").read_bytes() == alone.read_bytes()
        assert first.results[int(rec.name[1])].frames == 20
    assert not (out / "s2.done.json").exists()
    summary = json.loads((out / "batch_summary.json").read_text())
    assert (summary["done"], summary["failed"]) == (2, 1)
    assert "s2" in first.table() and "failed" in first.table()
    again = run_batch(manifest, out, progress=False, use_ray=False)
    assert [r.status for r in again.results] == ["skipped", "skipped", "failed"]
    (out / "s1.json").unlink()  # an output gone: its marker alone does not count
    third = run_batch(manifest, out, progress=False, use_ray=False)
    assert [r.status for r in third.results] == ["skipped", "done", "failed"]


def test_csv_manifest_and_errors(scenes, tmp_path):
    csv = scenes / "m.csv"
    csv.write_text("name,calib,keypoints2d,fps,output\ns0,s0/calibration.json,s0/keypoints2d,25,npz\n")
    rec = read_manifest(csv)[0]
    assert rec.fps == 25.0 and rec.output == "npz" and Path(rec.calib).is_absolute()
    result = run_recording(rec, tmp_path)
    assert result.status == "done" and (tmp_path / "s0.npz").exists()
    bad = scenes / "bad.csv"
    bad.write_text("name,calib,colour\na,b,c\n")
    with pytest.raises(InputError, match="colour"):
        read_manifest(bad)
    dup = scenes / "dup.toml"
    dup.write_text('[[recording]]\nname="a"\ncalib="c"\nkeypoints2d="k"\n[[recording]]\nname="a"\ncalib="c"\nkeypoints2d="k"\n')
    with pytest.raises(InputError, match="duplicate"):
        read_manifest(dup)
    both = scenes / "both.toml"
    both.write_text('[[recording]]\nname="a"\ncalib="c"\n')
    with pytest.raises(InputError, match="keypoints2d"):
        read_manifest(both)
    with pytest.raises(InputError, match="plain file name"):
        Recording("../x", calib="c", keypoints2d="k")


def test_address_without_ray_is_an_input_error(scenes, tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "ray", None)  # as if ray were not installed
    with pytest.raises(InputError, match="closecap\\[ray\\]"):
        run_batch(_toml(scenes, ["s0"]), tmp_path, address="auto", progress=False)
    summary = run_batch(_toml(scenes, ["s0"]), tmp_path, progress=False)  # falls back to serial
    assert summary.engine == "serial" and summary.results[0].status == "done"


def test_ray_gives_the_same_outputs(scenes, tmp_path):
    pytest.importorskip("ray")
    manifest = _toml(scenes, ["s0", "s1"])
    serial = run_batch(manifest, tmp_path / "serial", progress=False, use_ray=False)
    on_ray = run_batch(manifest, tmp_path / "ray", progress=False, use_ray=True, num_cpus=2)
    assert on_ray.engine == "ray" and [r.status for r in on_ray.results] == ["done", "done"]
    assert all(r.node and r.node != "local" for r in on_ray.results)
    for r in serial.results:
        assert (tmp_path / "ray" / f"{r.name}.json").read_bytes() == Path(r.output).read_bytes()
