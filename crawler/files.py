"""Files written whole or not at all."""

from __future__ import annotations

import os
import tempfile
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
