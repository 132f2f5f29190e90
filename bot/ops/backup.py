"""`backup`: a consistent copy of the database, taken while `run` keeps writing.

SQLite's online backup API (`sqlite3.Connection.backup`) copies the database
as one reader sees it, WAL included: a plain file copy of the main file misses
every transaction not yet checkpointed out of `-wal`, and a copy of both files
taken while the bot writes can be torn. The copy is written to a temporary file
beside the target, checked with `PRAGMA integrity_check`, and only then renamed
into place, so a failed backup never leaves a file that looks like a backup.

The run lock (bot/storage/runlock.py) is not taken: a backup is a reader, and
WAL lets it read while `run` writes.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bot.errors import BackupError, StorageError
from bot.storage.sqlite import APPLICATION_ID
from bot.storage_health import describe_storage_error

#: How long to wait for the running bot's write lock to clear while starting the copy.
BUSY_TIMEOUT = 30.0


@dataclass(frozen=True, slots=True)
class BackupResult:
    path: Path
    size: int  # bytes
    integrity: str  # "ok", or the first problems integrity_check found


def backup_target(target: Path, database: Path, now: datetime) -> Path:
    """The file to write: `target`, or a time-stamped name inside it when it is a folder."""
    if target.is_dir():
        stamp = now.astimezone(UTC).strftime("%Y%m%d-%H%M%S")
        return target / f"{database.stem}-{stamp}{database.suffix or '.sqlite3'}"
    return target


def backup_database(database: Path, target: Path, *, force: bool, now: datetime) -> BackupResult:
    """Copy `database` to `target` (a file, or a folder for a time-stamped file).

    Raises StorageError when the database cannot be read, BackupError when the
    target exists (without `force`) or the copy fails its integrity check.
    """
    if not database.is_file():
        raise StorageError(
            f"{database}: no database there — check bot.database in the config "
            "(the bot creates it on its first run)"
        )
    path = backup_target(target, database, now)
    if path.resolve() == database.resolve():
        raise BackupError(f"{path}: that is the database itself — give another path")
    if path.exists() and not force:
        raise BackupError(
            f"{path}: the file exists; pass --force to overwrite it, or give another path "
            "(or a folder, for a time-stamped file name)"
        )
    if not path.parent.is_dir():
        raise BackupError(f"{path.parent}: no such folder — create it or give another path")
    partial = path.with_name(f".{path.name}.partial")
    try:
        integrity = _copy(database, partial)
        if integrity != "ok":
            raise BackupError(
                f"{database}: the copy fails SQLite's integrity check ({integrity}); the "
                "database is damaged — keep your last good backup, and see Troubleshooting "
                "in the README"
            )
        os.replace(partial, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
    return BackupResult(path, path.stat().st_size, integrity)


def _copy(database: Path, partial: Path) -> str:
    """Copy with the backup API into `partial`; what integrity_check says of the copy."""
    with contextlib.suppress(FileNotFoundError):
        partial.unlink()
    try:
        # Read-write (not mode=ro): a reader of a WAL database may need to create
        # the -shm index when the bot is not running. Nothing is written.
        source = sqlite3.connect(database, timeout=BUSY_TIMEOUT)
    except sqlite3.Error as e:
        raise StorageError(f"{database}: cannot open the database ({e})") from e
    try:
        copy = sqlite3.connect(partial)
    except sqlite3.Error as e:
        source.close()
        raise BackupError(f"{partial.parent}: cannot write the backup there ({e})") from e
    try:
        try:
            if source.execute("PRAGMA application_id").fetchone()[0] != APPLICATION_ID:
                raise StorageError(
                    f"{database}: not this bot's database — check bot.database in the config"
                )
            # All pages in one step: one read transaction, one consistent snapshot. A
            # step-by-step copy restarts whenever `run` writes between steps, and a
            # busy bot could keep it from ever finishing.
            source.backup(copy, pages=-1)
        except sqlite3.DatabaseError as e:
            raise BackupError(
                f"{database}: cannot read the database ({describe_storage_error(e)}); it is "
                "damaged — keep your last good backup, and see Troubleshooting in the README"
            ) from e
        try:
            # One self-contained file: no -wal beside the copy to lose when moving it.
            copy.execute("PRAGMA journal_mode = DELETE")
            rows = copy.execute("PRAGMA integrity_check(20)").fetchall()
        except sqlite3.DatabaseError as e:
            return describe_storage_error(e)
        problems = [str(r[0]) for r in rows]
        return "ok" if problems == ["ok"] else "; ".join(problems[:5])
    finally:
        copy.close()
        source.close()
