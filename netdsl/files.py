"""Writing outputs safely: a temporary file in the same directory, then a rename, so a
failure never leaves a partial file behind."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["WriteError", "write_atomic"]


class WriteError(OSError):
    """An output could not be written; the message names the path and the reason."""


def write_atomic(path: str | os.PathLike, data: bytes | str) -> Path:
    path = Path(path)
    if isinstance(data, str):
        data = data.encode("utf-8")
    if path.is_dir():
        raise WriteError(f"cannot write {path}: it is a directory")
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent if str(path.parent) else ".", prefix=f".{path.name}.", suffix=".tmp")
    except OSError as err:
        raise WriteError(f"cannot write {path}: {err.strerror or err}") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except OSError as err:
        Path(tmp).unlink(missing_ok=True)
        raise WriteError(f"cannot write {path}: {err.strerror or err}") from None
    return path
