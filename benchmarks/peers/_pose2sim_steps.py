"""Run inside the Pose2Sim venv (``benchmarks/peers/.venv-pose2sim``), never in closecap's.

Usage: ``python _pose2sim_steps.py PROJECT_DIR OVERRIDES_JSON``

Writes ``PROJECT_DIR/Config.toml`` = Pose2Sim's own default configuration (the ``Demo_SinglePerson/Config.toml``
shipped in the package, which Pose2Sim itself falls back to) updated with the few keys in ``OVERRIDES_JSON``,
then runs ``personAssociation()``, ``triangulation()`` and ``filtering()`` on that project and prints one JSON
line ``{"seconds": {...}}`` with the wall time of each step.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path


def _update(base: dict, new: dict) -> dict:
    """Nested dict update: keys of ``new`` replace those of ``base`` at the deepest level."""
    for key, value in new.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _update(base[key], value)
        else:
            base[key] = value
    return base


def main(project_dir: str, overrides_json: str) -> None:
    import rtoml
    import Pose2Sim as pose2sim_pkg
    from Pose2Sim import Pose2Sim

    project = Path(project_dir).resolve()
    default_config = Path(pose2sim_pkg.__file__).resolve().parent / "Demo_SinglePerson" / "Config.toml"
    config = _update(rtoml.load(default_config), json.loads(overrides_json))
    config_path = project / "Config.toml"
    config_path.write_text(rtoml.dumps(config))

    seconds = {}
    for step in ("personAssociation", "triangulation", "filtering"):
        start = time.perf_counter()
        getattr(Pose2Sim, step)(str(config_path))
        seconds[step] = time.perf_counter() - start
    print(json.dumps({"seconds": seconds}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
