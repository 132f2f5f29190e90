"""One deliverer per database: an OS lock on `<database>.lock`, held while alerts go out.

Two bots on one SQLite file (a systemd service plus a terminal) would each
deliver every queued alert, so `run` refuses to start while another process
holds the lock, and `once` only polls and queues (see bot/cli/run.py).

The lock is a POSIX record lock (lockf/fcntl), not flock: the kernel drops it
when the holding process dies, even by SIGKILL, so a restart never needs
manual cleanup; and unlike flock it is not shared with forked children, so a
parser worker that outlived its parent cannot keep the database locked.
The file's content says who holds it, for the refusal message.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import struct
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bot.config_values import is_postgres

if sys.platform != "win32":
    import fcntl


@dataclass(frozen=True, slots=True)
class LockHolder:
    """Who holds a database, as written in its lock file (fields may be unknown)."""

    pid: int | None = None
    host: str = ""
    started: str = ""
    command: str = ""

    def describe(self) -> str:
        """'`python -m bot run`, pid 1234 on host, started 2026-12-06 20:01:02 UTC'."""
        parts = [f"`python -m bot {self.command}`" if self.command else "another process"]
        if self.pid is not None:
            parts.append(f"pid {self.pid}" + (f" on {self.host}" if self.host else ""))
        if self.started:
            parts.append(f"started {self.started}")
        return ", ".join(parts)


class RunLock:
    """A held lock; `release()` (or the process's death) frees it."""

    def __init__(self, fd: int | None, path: Path | None) -> None:
        self._fd = fd
        self.path = path

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)  # nobody holds it now: no stale name in the file
            os.close(fd)  # closing drops the POSIX lock

    def __enter__(self) -> RunLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def lock_path(database: Path | str) -> Path | None:
    """The lock file beside the database; None for an in-memory database (nothing to
    share) and for PostgreSQL, where several instances on one database are the point."""
    if str(database) == ":memory:" or is_postgres(database):
        return None
    return Path(f"{database}.lock")


def read_holder(path: Path) -> LockHolder:
    """What the holder wrote; an empty LockHolder if it has not written yet (or wrote junk)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        return LockHolder()
    if not isinstance(data, dict):
        return LockHolder()
    pid = data.get("pid")
    return LockHolder(
        pid=pid if isinstance(pid, int) else None,
        host=str(data.get("host", "")),
        started=str(data.get("started", "")),
        command=str(data.get("command", "")),
    )


def try_lock(database: Path | str, command: str) -> RunLock | LockHolder:
    """Take the database's lock without waiting, or say who holds it.

    Raises OSError only when the lock file cannot be created at all (the
    caller turns that into a StorageError naming the path).
    """
    path = lock_path(database)
    if path is None or sys.platform == "win32":
        return RunLock(None, path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:  # EACCES or EAGAIN: someone else has it
        os.close(fd)
        return read_holder(path)
    except BaseException:
        os.close(fd)
        raise
    record = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "started": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "command": command,
    }
    with contextlib.suppress(OSError):  # a full disk costs the holder's name, not the lock
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(record).encode(), 0)
    return RunLock(fd, path)


def holder_pid(database: Path | str) -> int | None:
    """The pid holding the database's lock, or None if nobody does; takes no lock itself.

    Asks the kernel with F_GETLK instead of trying the lock: holding it even
    for a moment would make a `run` starting just then refuse to start.
    Never call it in the process that holds the lock: closing any descriptor
    of the file drops all of this process's POSIX locks on it. From another
    process (`python -m bot health`) that is harmless: it holds none. Raises
    OSError if the lock file exists but cannot be read.
    """
    path = lock_path(database)
    if path is None or sys.platform == "win32" or not path.exists():
        return None
    fd = os.open(path, os.O_RDONLY)
    try:
        # struct flock: l_type, l_whence, l_start, l_len, l_pid (padded); the whole file.
        query = struct.pack("hhqqi4x", fcntl.F_WRLCK, os.SEEK_SET, 0, 0, 0)
        answer = fcntl.fcntl(fd, fcntl.F_GETLK, query)
    finally:
        os.close(fd)
    l_type, _whence, _start, _len, pid = struct.unpack("hhqqi4x", answer)
    return None if l_type == fcntl.F_UNLCK else int(pid)
