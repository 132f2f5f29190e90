"""Read a database without opening it for the bot's own use: no create, no migration.

`read_chat_state`: what analysts changed from chat, for `check`.
`read_heartbeat`: what `run` says about itself, for `health`.

`check` and `health` look at the database of a bot that may be running, so
they must never create, migrate or lock it: `check` opens the file read-only
(SQLite URI `mode=ro`), `health` with `mode=rw` (which never creates a file)
only to prove it writable, changing nothing. With no file, nothing is opened.

On PostgreSQL (a URL) both connect with asyncpg alone, not through the engine
(which would create or migrate the schema), and read inside a READ ONLY
transaction; a database without the bot's schema reads as empty, like a
SQLite file not created yet. The callers are synchronous (preflight runs
inside `run`'s event loop too), so the reads run on a loop of their own.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import sqlite3
from collections.abc import Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from bot.config_values import database_label, is_postgres
from bot.errors import StorageError
from bot.models import ChatTerm, Heartbeat
from bot.storage.sqlite import APPLICATION_ID, MIGRATIONS
from bot.storage_health import describe_storage_error, is_busy, storage_advice

if TYPE_CHECKING:
    import asyncpg

T = TypeVar("T")

#: How long to wait for a running bot's write to finish before giving up.
BUSY_TIMEOUT = 0.5
#: How long `check` and `health` wait for a PostgreSQL server to answer.
CONNECT_TIMEOUT = 5.0

_TERMS_SQL = "SELECT entity_id, term, kind FROM watch_terms ORDER BY id"
_REMOVED_SQL = "SELECT entity_id, term FROM removed_terms"
_FEEDS_SQL = "SELECT url, name FROM added_feeds ORDER BY added_at"
_HEARTBEAT_SQL = (
    "SELECT pid, host, started_at, interval, last_cycle_at, stopped_at, clean_stop "
    "FROM heartbeat WHERE id = 1"
)


class DatabaseBusy(StorageError):
    """A running bot holds a lock on the database right now: not a problem."""


@dataclass(frozen=True, slots=True)
class ChatState:
    """Watch terms, removed file aliases and feeds added from chat."""

    terms: tuple[ChatTerm, ...] = ()
    removed: tuple[tuple[str, str], ...] = ()
    feeds: tuple[tuple[str, str], ...] = ()  # (url, name)


def read_chat_state(database: Path | str) -> ChatState:
    """The chat additions stored in `database`; empty when there is no database yet.

    Raises StorageError for a file `run` would refuse too: not SQLite, another
    program's, or a schema newer than this code; StorageUnavailable when a
    PostgreSQL server cannot be reached now.
    """
    if is_postgres(database):
        return _run_sync(_postgres_chat_state(str(database)))
    path = Path(database)
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

            terms = rows("watch_terms", _TERMS_SQL)
            removed = rows("removed_terms", _REMOVED_SQL)
            feeds = rows("added_feeds", _FEEDS_SQL)
    except sqlite3.OperationalError as e:
        if is_busy(e):
            raise DatabaseBusy(f"{path}: the database is busy (is the bot running?)") from e
        raise StorageError(f"{path}: not a usable SQLite database ({e})") from e
    except sqlite3.Error as e:
        raise StorageError(f"{path}: not a usable SQLite database ({e})") from e
    return _chat_state(terms, removed, feeds)


def _chat_state(terms: Any, removed: Any, feeds: Any) -> ChatState:
    return ChatState(
        tuple(ChatTerm(str(t[0]), str(t[1]), str(t[2])) for t in terms),
        tuple((str(r[0]), str(r[1])) for r in removed),
        tuple((str(f[0]), str(f[1])) for f in feeds),
    )


def read_heartbeat(database: Path | str) -> Heartbeat | None:
    """The heartbeat row of `run` (None if no run ever wrote one), and a write probe.

    Opened with `mode=rw`: the file must exist (it is never created here) and
    the probe takes SQLite's write lock (BEGIN IMMEDIATE, then ROLLBACK) to
    prove the database is writable without changing anything. A run writing at
    that moment makes the probe wait, then count as writable: it is writing.
    Raises StorageError with a one-line reason for an unusable database.
    On PostgreSQL the row is read in a read-only transaction: the server's own
    health is what its connection proves.
    """
    if is_postgres(database):
        return _run_sync(_postgres_heartbeat(str(database)))
    path = Path(database)
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
            row = db.execute(_HEARTBEAT_SQL).fetchone()
    except sqlite3.Error as e:
        raise StorageError(
            f"{path}: database unusable ({describe_storage_error(e)}) — {storage_advice(e)}"
        ) from e
    return None if row is None else _heartbeat(row)


def _heartbeat(row: Any) -> Heartbeat:
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


# -- PostgreSQL --------------------------------------------------------------------------


def _run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run `coro` to completion from synchronous code, on a loop of its own: in this
    thread when none runs here, else in a thread of its own (preflight within `run`)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


async def _read_only(url: str, read: Any) -> Any:
    """Run `read(connection, tables)` in a READ ONLY transaction, after the engine's own
    refusals (not this bot's database, a newer schema); `tables` are the tables there.

    Failing to connect is StorageUnavailable when it may pass (no server there
    yet, a timeout), else StorageError, both saying what to fix in one line.
    """
    import asyncpg

    from bot.storage.postgres.connection import CONNECT_ERRORS, DRIVER_ERRORS, connect_problem

    # The engine's own refusals, read without migrating: the one place that judges
    # a stored version.
    from bot.storage.postgres.migrations import checked_version

    label = database_label(url)
    try:
        connection = await asyncpg.connect(url, timeout=CONNECT_TIMEOUT)
    except CONNECT_ERRORS as e:
        raise connect_problem(url, e) from e
    try:
        async with connection.transaction(readonly=True):
            await checked_version(connection, label)  # raises for a foreign or newer schema
            tables = {
                r[0]
                for r in await connection.fetch(
                    "SELECT table_name FROM information_schema.tables "
                    "WHERE table_schema = current_schema()"
                )
            }
            return await read(connection, tables)
    except DRIVER_ERRORS as e:
        raise StorageError(f"{label}: cannot read the database ({type(e).__name__}: {e})") from e
    finally:
        with contextlib.suppress(*DRIVER_ERRORS):
            await connection.close(timeout=CONNECT_TIMEOUT)


async def _postgres_chat_state(url: str) -> ChatState:
    async def read(connection: asyncpg.Connection, tables: set[str]) -> ChatState:
        async def rows(table: str, sql: str) -> list[Any]:
            return list(await connection.fetch(sql)) if table in tables else []

        return _chat_state(
            await rows("watch_terms", _TERMS_SQL),
            await rows("removed_terms", _REMOVED_SQL),
            await rows("added_feeds", _FEEDS_SQL),
        )

    result: ChatState = await _read_only(url, read)
    return result


async def _postgres_heartbeat(url: str) -> Heartbeat | None:
    async def read(connection: asyncpg.Connection, tables: set[str]) -> Heartbeat | None:
        if "heartbeat" not in tables:
            return None
        row = await connection.fetchrow(_HEARTBEAT_SQL)
        return None if row is None else _heartbeat(tuple(row))

    result: Heartbeat | None = await _read_only(url, read)
    return result
