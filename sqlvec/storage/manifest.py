"""Manifest versions, the CURRENT pointer, and the directory lock.

A manifest (``manifest/<n>.json``) lists, per table, the sealed segments and their delete logs,
plus the catalog blob, the checkpoint LSN, the max commit ts and the sequences. It is published
with write-temp, fsync, rename, fsync-dir, then CURRENT is switched the same way: a crash at
any point leaves either the old or the new version live, never a mix.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os

from sqlvec.errors import ObjectInUse
from sqlvec.storage.segment import fsync_dir

FORMAT = 1


def write_atomic(path: str, data: bytes) -> None:
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fsync_dir(os.path.dirname(path))


def load_current(root: str) -> tuple[int, dict] | None:
    """(version, manifest) of the live version, or None for a fresh directory."""
    try:
        with open(os.path.join(root, "CURRENT")) as f:
            name = f.read().strip()
    except FileNotFoundError:
        return None
    with open(os.path.join(root, name)) as f:
        manifest = json.load(f)
    return int(os.path.basename(name).split(".")[0]), manifest


def publish(root: str, version: int, manifest: dict) -> None:
    manifest = {"format": FORMAT, "version": version, **manifest}
    name = f"manifest/{version}.json"
    write_atomic(os.path.join(root, name), json.dumps(manifest).encode())
    write_atomic(os.path.join(root, "CURRENT"), name.encode() + b"\n")
    # Older versions are no longer reachable from CURRENT.
    for old in os.listdir(os.path.join(root, "manifest")):
        if old.endswith(".json") and old != f"{version}.json":
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(root, "manifest", old))


class DirLock:
    """An exclusive flock on ``<dir>/LOCK`` holding the owner's pid.

    flock (not lockf) because its locks belong to the open file: closing some other
    descriptor of the file in this process does not silently drop it.
    """

    def __init__(self, root: str) -> None:
        self.path = os.path.join(root, "LOCK")
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise ObjectInUse(
                f'database directory "{os.path.abspath(root)}" is in use by another process '
                f"(pid {pid})",
                hint="Close the other sqlvec process, or connect to it through its server.",
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd >= 0:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = -1
