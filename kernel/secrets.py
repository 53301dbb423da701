"""Generated secrets for the embedded default, kept in the data dir with mode 0600, and the
data dir itself (0700) and its files (0600)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def load_or_create_secret(path: Path, *, nbytes: int) -> str:
    """The hex secret stored at ``path``, created (mode 0600) on first use."""
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    value = secrets.token_hex(nbytes)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
    try:
        fd = os.open(path, flags, 0o600)
    except FileExistsError:  # another process won the race: use its value
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(value + "\n")
    return value


def private_dir(path: Path) -> Path:
    """``path`` as a directory only its owner may enter (0700), created if missing; an
    existing one of ours is tightened to 0700."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if path.stat().st_uid == os.getuid():
        path.chmod(0o700)
    return path


def private_file(path: Path) -> Path:
    """``path`` as a file only its owner may read or write (0600), created empty if missing
    (before SQLite or anything else creates it with the umask's mode)."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        if path.stat().st_uid == os.getuid():
            path.chmod(0o600)
    return path
