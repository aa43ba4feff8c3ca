"""Files written whole or not at all."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path


def write_whole(target: Path, data: bytes, *, mode: int = 0o644, durable: bool = False) -> None:
    """Write `data` to `target` through a temporary file of its own and an atomic rename.

    A crash never leaves a half-written file under the final name, and writers of
    the same file at once (crawls running side by side) never share a temporary
    file: the last rename wins, whole. `durable` also syncs the bytes to disk first.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".partial")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            if durable:
                fh.flush()
                os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def remove_leftovers(folder: Path, *, older_than: float = 3600.0) -> int:
    """Delete temporary files that killed writers left under `folder`; how many.

    Only those untouched for `older_than` seconds: a writer still at work (another
    marketplace's crawl, a worker) keeps its own.
    """
    cutoff = time.time() - older_than
    removed = 0
    for path in folder.rglob(".*.partial") if folder.is_dir() else []:
        try:
            if path.is_file() and path.stat().st_mtime < cutoff:
                path.unlink()
                removed += 1
        except OSError:  # gone meanwhile, or not ours to remove: it stays harmless
            continue
    return removed
