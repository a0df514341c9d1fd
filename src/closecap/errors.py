"""Errors that closecap reports to users as one line.

``CloseCapError`` is the only exception the CLI catches; everything else is a bug and
keeps its traceback.
"""
from __future__ import annotations

from pathlib import Path


class CloseCapError(Exception):
    """An error the user can fix; ``str(err)`` is one line."""


class InputError(CloseCapError):
    """Bad user input, printed as ``file: field: problem``.

    Example:
        >>> str(InputError("calib.toml", "cam_2.matrix", "expected 3x3, got 3x4"))
        'calib.toml: cam_2.matrix: expected 3x3, got 3x4'
    """

    def __init__(self, path: str | Path | None, field: str | None, message: str):
        self.path = None if path is None else str(path)
        self.field = field
        self.message = message
        parts = [p for p in (self.path, field, message) if p]
        super().__init__(": ".join(parts).replace("\n", " "))
