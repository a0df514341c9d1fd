"""Build ``src/closecap/data/motion_library.npz`` from ``../shared/mocap`` (CMU motion capture).

Usage (from the repository root):

    .venv/bin/python benchmarks/build_motion_library.py [--mocap-dir ../shared/mocap] [--fps 15] [--out PATH]

Prints the clips per split, the total duration and the file size. The held-out takes are
``closecap.synth.library.TEST_TAKES``; ``src/closecap/data/README.md`` documents source and licence.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from closecap.synth.library import build_library, load_library, save_library

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mocap-dir", type=Path, default=REPO.parent / "shared" / "mocap")
    parser.add_argument("--fps", type=float, default=15.0)
    parser.add_argument("--out", type=Path, default=REPO / "src" / "closecap" / "data" / "motion_library.npz")
    args = parser.parse_args()
    library = build_library(args.mocap_dir, fps=args.fps)
    save_library(library, args.out)
    start = time.perf_counter()
    loaded = load_library(args.out)
    load_s = time.perf_counter() - start
    for split in ("train", "test"):
        part = loaded.split(split)
        print(f"{split}: {len(part.pairs())} pair clips, {len(part.singles())} single clips, {part.seconds():.0f} s")
        if split == "test":
            print("  " + ", ".join(part.names))
    print(f"{args.out}: {args.out.stat().st_size / 1e6:.2f} MB, {len(loaded)} clips at {loaded.fps:g} fps, "
          f"loads in {load_s:.2f} s")


if __name__ == "__main__":
    main()
