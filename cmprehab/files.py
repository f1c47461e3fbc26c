"""Writing a file whole or not at all: the one place the project does it.

The text or bytes go to a temporary file in the target's folder, which then replaces the
target in one rename (`os.replace`), so a reader never sees half a file and a failure leaves
the previous file as it was and no temporary file behind.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Callable, IO


def new_file_mode() -> int:
    """The permissions any new file gets: 0666 less the umask."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def write_atomically(path: Path, write: Callable[[IO], object], *, binary: bool = False,
                     mode: int | None = None) -> None:
    """Call `write(handle)` on a temporary file beside `path`, then rename it to `path`.

    `mode` is the file's permissions (default: those of any new file; 0o600 for a file only its
    owner may read). A failure, an interruption included, removes the temporary file and re-raises.
    """
    path = Path(path)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(temporary, new_file_mode() if mode is None else mode)  # mkstemp makes it 0600
        with (os.fdopen(fd, "wb") if binary else os.fdopen(fd, "w", encoding="utf-8", newline="")) as handle:
            write(handle)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
