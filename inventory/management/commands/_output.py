"""Writing a command's output file: whole or not at all, with a one-line error (exit status 2)."""

import os
import tempfile
from pathlib import Path

from django.core.management.base import CommandError

CANNOT_WRITE = "Cannot write {path}: {reason}."


def check_writable(path: Path) -> None:
    """Refuse early, before any work, an output whose folder does not exist."""
    if not path.parent.is_dir():
        raise CommandError(CANNOT_WRITE.format(path=path, reason="no such directory"), returncode=2)


def write_whole(path: Path, content: bytes) -> None:
    """Write the file whole or not at all: a failure leaves no half-written file behind."""
    check_writable(path)
    try:
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    except OSError as exc:
        raise CommandError(
            CANNOT_WRITE.format(path=path, reason=exc.strerror), returncode=2
        ) from exc
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(content)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)  # as a newly created file, not mkstemp's 0600
        os.replace(temporary, path)
    except OSError as exc:
        Path(temporary).unlink(missing_ok=True)
        raise CommandError(
            CANNOT_WRITE.format(path=path, reason=exc.strerror), returncode=2
        ) from exc
