"""Frozen dataclass configs: defaults in one place, strict ``from_dict``, JSON save/load.

Every config of closecap derives from :class:`Config`. ``from_dict`` rejects unknown keys by
name and rebuilds nested configs; ``save_json`` writes atomically.

Example:
    >>> from dataclasses import dataclass
    >>> @dataclass(frozen=True)
    ... class Demo(Config):
    ...     sigma_px: float = 2.0
    >>> Demo.from_dict({"sigma_px": 3}).sigma_px
    3
    >>> Demo.from_dict({"sigma": 3})
    Traceback (most recent call last):
    ...
    closecap.errors.InputError: config: Demo: unknown key 'sigma'
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import tempfile
import typing
from pathlib import Path
from typing import Any, TypeVar

from closecap.errors import InputError

C = TypeVar("C", bound="Config")


@dataclasses.dataclass(frozen=True)
class Config:
    """Base class for frozen configuration dataclasses."""

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-compatible dict (nested configs become dicts, tuples lists)."""
        return _to_plain(dataclasses.asdict(self))

    @classmethod
    def from_dict(cls: type[C], data: dict[str, Any], *, source: str = "config") -> C:
        """Build from a dict; unknown keys raise :class:`InputError` naming the key."""
        if not isinstance(data, dict):
            raise InputError(source, cls.__name__, f"expected an object, got {type(data).__name__}")
        fields = {f.name: f for f in dataclasses.fields(cls)}
        hints = typing.get_type_hints(cls)
        kwargs = {}
        for key, value in data.items():
            if key not in fields:
                raise InputError(source, cls.__name__, f"unknown key {key!r}")
            hint = hints.get(key)
            if isinstance(hint, type) and issubclass(hint, Config) and isinstance(value, dict):
                value = hint.from_dict(value, source=source)
            elif isinstance(value, list):
                value = tuple(value)
            kwargs[key] = value
        return cls(**kwargs)

    def replace(self: C, **changes: Any) -> C:
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)


def _to_plain(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _to_plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_to_plain(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    return obj


@contextlib.contextmanager
def atomic_output(path: str | Path, mode: str = "wb"):
    """Open a temporary file beside ``path`` for writing; on success it is renamed to ``path``, on any
    error it is removed, so ``path`` is never half-written. For outputs written incrementally.

    Example:
        >>> import tempfile
        >>> target = Path(tempfile.mkdtemp()) / "a.txt"
        >>> with atomic_output(target, "w") as f:
        ...     _ = f.write("hello")
        >>> target.read_text()
        'hello'
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as f:
            yield f
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; outputs get the usual permissions
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder, then rename."""
    with atomic_output(path, "wb") as f:
        f.write(data)


def atomic_write_text(path: str | Path, text: str) -> None:
    """Text version of :func:`atomic_write_bytes` (UTF-8)."""
    atomic_write_bytes(path, text.encode("utf-8"))


def save_json(path: str | Path, obj: Any) -> None:
    """Write a JSON file atomically (configs are converted with ``to_dict``)."""
    if isinstance(obj, Config):
        obj = obj.to_dict()
    atomic_write_text(path, json.dumps(obj, indent=2) + "\n")


def load_config(cls: type[C], path: str | Path) -> C:
    """Read a config JSON written by :func:`save_json`."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise InputError(path, None, f"cannot read config: {err}") from None
    return cls.from_dict(data, source=str(path))
