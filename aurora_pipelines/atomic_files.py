"""Whole-file writes that either land complete or not at all (a full disk, a kill mid-write)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from aurora_pipelines.errors import is_no_space, storage_full


def write_text_atomic(path: str | Path, text: str, what: str = "a file") -> Path:
    """Write `text` to a temp file beside `path`, then rename it over `path` (atomic on POSIX);
    on any failure the temp file is removed and `path` is untouched. A full disk is StorageFull
    naming `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)
    except BaseException as exc:
        Path(temp).unlink(missing_ok=True)
        if isinstance(exc, Exception) and is_no_space(exc):
            raise storage_full(path, what) from None
        raise
    return path
