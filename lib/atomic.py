"""Atomic file writes: a file is either complete or absent, never half-written.

The course writes downloaded datasets, the cached MNIST classifier and recorded results; an
interrupted write (a killed kernel, a full disk, a failed checksum) must not leave a truncated
file under the final name that a later run would trust. Every writer goes through
:func:`write_atomic`.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

__all__ = ["write_atomic"]


def write_atomic(path: str | os.PathLike[str], content: bytes | str | Callable[[BinaryIO], None]) -> Path:
    """Write ``content`` to ``path`` atomically and return ``path``.

    Args:
        path: the final file name; its folder is created if needed.
        content: ``bytes``, ``str`` (written as UTF-8), or a function that writes to the open
            binary file (to stream a download, or for ``torch.save``); an exception it raises
            aborts the write.

    The data go to a temporary file in the same folder, which :func:`os.replace` renames onto
    ``path`` only once everything was written and flushed. On any error the temporary file is
    deleted, an existing ``path`` is left as it was, and the error propagates.
    """
    path = Path(path)
    if isinstance(content, str):
        content = content.encode("utf-8")
    if not isinstance(content, bytes) and not callable(content):
        raise TypeError(
            f"content must be bytes, str or a function of a binary file, got {type(content).__name__}"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            if isinstance(content, bytes):
                f.write(content)
            else:
                content(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path
