"""Read a database without opening it for the bot's own use: no create, no migration.

`read_chat_state`: what analysts changed from chat, for `check`.
`read_heartbeat`: what `run` says about itself, for `health`.

`check` and `health` look at the database of a bot that may be running, so
they must never create, migrate or lock it: `check` opens the file read-only
(SQLite URI `mode=ro`), `health` with `mode=rw` (which never creates a file)
only to prove it writable, changing nothing. With no file, nothing is opened.
"""

from __future__ import annotations

import contextlib
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bot.errors import StorageError
from bot.models import ChatTerm, Heartbeat
from bot.storage.sqlite import APPLICATION_ID, MIGRATIONS
from bot.storage_health import describe_storage_error, is_busy, storage_advice

#: How long to wait for a running bot's write to finish before giving up.
BUSY_TIMEOUT = 0.5


class DatabaseBusy(StorageError):
    """A running bot holds a lock on the database right now: not a problem."""


@dataclass(frozen=True, slots=True)
class ChatState:
    """Watch terms, removed file aliases and feeds added from chat."""

    terms: tuple[ChatTerm, ...] = ()
    removed: tuple[tuple[str, str], ...] = ()
    feeds: tuple[tuple[str, str], ...] = ()  # (url, name)


def read_chat_state(path: Path) -> ChatState:
    """The chat additions stored in `path`; empty when there is no database yet.

    Raises StorageError for a file `run` would refuse too: not SQLite, another
    program's, or a schema newer than this code.
    """
    if not path.exists():
        return ChatState()
    try:
        with contextlib.closing(
            sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=BUSY_TIMEOUT)
        ) as db:
            app_id = db.execute("PRAGMA application_id").fetchone()[0]
            version = db.execute("PRAGMA user_version").fetchone()[0]
            tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            if app_id != APPLICATION_ID and (app_id != 0 or version != 0 or tables):
                raise StorageError(f"{path}: this SQLite file belongs to another program")
            if version > len(MIGRATIONS):
                raise StorageError(
                    f"{path}: the database has schema version {version}, newer than this "
                    f"bot knows ({len(MIGRATIONS)})"
                )

            def rows(table: str, sql: str) -> list[tuple[str, ...]]:
                return db.execute(sql).fetchall() if table in tables else []

            terms = rows("watch_terms", "SELECT entity_id, term, kind FROM watch_terms ORDER BY id")
            removed = rows("removed_terms", "SELECT entity_id, term FROM removed_terms")
            feeds = rows("added_feeds", "SELECT url, name FROM added_feeds ORDER BY added_at")
    except sqlite3.OperationalError as e:
        if is_busy(e):
            raise DatabaseBusy(f"{path}: the database is busy (is the bot running?)") from e
        raise StorageError(f"{path}: not a usable SQLite database ({e})") from e
    except sqlite3.Error as e:
        raise StorageError(f"{path}: not a usable SQLite database ({e})") from e
    return ChatState(
        tuple(ChatTerm(*t) for t in terms),
        tuple((r[0], r[1]) for r in removed),
        tuple((f[0], f[1]) for f in feeds),
    )


def read_heartbeat(path: Path) -> Heartbeat | None:
    """The heartbeat row of `run` (None if no run ever wrote one), and a write probe.

    Opened with `mode=rw`: the file must exist (it is never created here) and
    the probe takes SQLite's write lock (BEGIN IMMEDIATE, then ROLLBACK) to
    prove the database is writable without changing anything. A run writing at
    that moment makes the probe wait, then count as writable: it is writing.
    Raises StorageError with a one-line reason for an unusable database.
    """
    try:
        with contextlib.closing(
            sqlite3.connect(
                f"{path.resolve().as_uri()}?mode=rw",
                uri=True,
                timeout=BUSY_TIMEOUT,
                isolation_level=None,
            )
        ) as db:
            app_id = db.execute("PRAGMA application_id").fetchone()[0]
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if app_id != APPLICATION_ID:
                raise StorageError(f"{path}: not this bot's database (no run has used it)")
            if version > len(MIGRATIONS):
                raise StorageError(
                    f"{path}: schema version {version} is newer than this bot knows "
                    f"({len(MIGRATIONS)}): run `health` from the same version as `run`"
                )
            try:
                db.execute("BEGIN IMMEDIATE")
                db.execute("ROLLBACK")
            except sqlite3.OperationalError as e:
                if not is_busy(e):
                    raise
            tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            if "heartbeat" not in tables:
                return None
            row = db.execute(
                "SELECT pid, host, started_at, interval, last_cycle_at, stopped_at, clean_stop "
                "FROM heartbeat WHERE id = 1"
            ).fetchone()
    except sqlite3.Error as e:
        raise StorageError(
            f"{path}: database unusable ({describe_storage_error(e)}) — {storage_advice(e)}"
        ) from e
    if row is None:
        return None
    pid, host, started, interval, last_cycle, stopped, clean = row

    def when(ts: float | None) -> datetime | None:
        return None if ts is None else datetime.fromtimestamp(ts, UTC)

    return Heartbeat(
        int(pid),
        str(host),
        datetime.fromtimestamp(started, UTC),
        float(interval),
        when(last_cycle),
        when(stopped),
        bool(clean),
    )
