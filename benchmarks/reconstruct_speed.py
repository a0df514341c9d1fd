"""How long ``closecap reconstruct`` takes on 5 cameras, 3 people, 300 frames of OpenPose JSON (2 cores).

Usage: .venv/bin/python benchmarks/reconstruct_speed.py
Writes the figure to the "reconstruct-speed" section of benchmarks/results.md.
"""
from __future__ import annotations

import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import update_section  # noqa: E402

from closecap.pipelines import run_synth  # noqa: E402


def main() -> None:
    exe = str(Path(sys.executable).with_name("closecap"))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        scene = run_synth(Path(tmp) / "scene", people=(3, 3), frames=300, seed=11, noise="realistic")
        for smoothing in ("offline", "online", "none"):
            times = []
            for _ in range(3):
                start = time.perf_counter()
                subprocess.run([exe, "reconstruct", "--calib", str(scene.calibration), "--keypoints2d", str(scene.keypoints2d),
                                "--out", str(Path(tmp) / "pred.json"), "--smoothing", smoothing],
                               check=True, capture_output=True)
                times.append(time.perf_counter() - start)
            rows.append((smoothing, min(times), sorted(times)[1]))
    lines = [
        "## `closecap reconstruct` speed (issue 3)",
        "",
        f"5 cameras (1920x1080), 3 people, 300 frames of OpenPose BODY_25 JSON with realistic detector noise; "
        f"wall time of the whole command (process start, imports, reading 1500 JSON files, baseline, writing JSON); "
        f"{os.cpu_count()} CPU cores, Python {platform.python_version()}. Target: < 10 s.",
        "",
        "| smoothing | best of 3 (s) | median of 3 (s) |",
        "|---|---|---|",
        *[f"| {s} | {best:.2f} | {med:.2f} |" for s, best, med in rows],
        "",
        "Reproduce: `.venv/bin/python benchmarks/reconstruct_speed.py`",
    ]
    update_section("reconstruct-speed", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
