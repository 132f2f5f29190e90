"""The SQLite connection: opening, checking, migrating, and short explicit transactions."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any, Self, TypeVar

import aiosqlite

from bot.errors import StorageError
from bot.storage.sqlite.migrations import APPLICATION_ID, MIGRATIONS, statements
from bot.storage_health import describe_storage_error, is_busy, storage_advice

SETUP_TRIES = 10  # a busy new file at start: about 4 s of backoff in all

T = TypeVar("T")


class SQLiteConnection:
    """The one owner of the SQLite connection; writes are serialised by a lock.

    aiosqlite runs statements on one thread in order, but two coroutines could
    still interleave statements of their transactions: the lock makes each
    transaction whole.
    """

    def __init__(self, db: aiosqlite.Connection, path: str) -> None:
        self._db = db
        self._path = path
        self._lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: Path | str) -> Self:
        path = str(path)
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        try:
            db = await aiosqlite.connect(path, isolation_level=None)
        except sqlite3.Error as e:
            raise StorageError(f"{path}: cannot open the database ({e})") from e
        db.row_factory = aiosqlite.Row
        storage = cls(db, path)
        try:
            await storage._setup()
        except BaseException:
            await db.close()
            raise
        return storage

    async def close(self) -> None:
        await self._db.close()

    async def _setup(self) -> None:
        try:
            version = await self._configure()
        except sqlite3.DatabaseError as e:
            raise StorageError(
                f"{self._path}: not a usable SQLite database ({describe_storage_error(e)}) — "
                f"{storage_advice(e)}"
            ) from e
        if version < len(MIGRATIONS):
            try:
                await self._migrate()
            except sqlite3.DatabaseError as e:
                raise StorageError(
                    f"{self._path}: cannot update the database's schema "
                    f"({describe_storage_error(e)}) — {storage_advice(e)}"
                ) from e

    async def _configure(self) -> int:
        """Set the connection up and read the schema version, riding out a busy file.

        Processes starting at once on a new file race to switch it to WAL and to
        create the schema; SQLite answers some of those steps with "database is
        locked" at once, without waiting for busy_timeout (a journal-mode change,
        a read while the other side recovers its WAL). Those are retried with a
        short backoff; any other error, or a file busy for longer, is reported.
        """
        for attempt in range(SETUP_TRIES):
            try:
                await self._db.execute("PRAGMA busy_timeout = 5000")
                await self._db.execute("PRAGMA journal_mode = WAL")
                await self._db.execute("PRAGMA synchronous = NORMAL")
                await self._db.execute("PRAGMA foreign_keys = ON")
                # One read transaction: a consistent view even while another migrates.
                await self._db.execute("BEGIN")
                try:
                    version = await self._check_ours()
                finally:
                    await self._db.execute("COMMIT")
                return version
            except sqlite3.OperationalError as e:
                with contextlib.suppress(sqlite3.Error):
                    await self._db.execute("ROLLBACK")
                if not is_busy(e) or attempt == SETUP_TRIES - 1:
                    raise
                await asyncio.sleep(min(0.02 * 2**attempt, 1.0))
        raise AssertionError("unreachable")

    async def _check_ours(self) -> int:
        """The schema version, after refusing a file that is not ours or is too new."""
        app_id = await self._scalar("PRAGMA application_id")
        version = int(await self._scalar("PRAGMA user_version"))
        if version == 0 and app_id == 0:
            tables = await self._scalar("SELECT count(*) FROM sqlite_master")
            if tables:
                raise StorageError(
                    f"{self._path}: this SQLite file belongs to another program; "
                    "point bot.database at a new file"
                )
        elif app_id != APPLICATION_ID:
            raise StorageError(
                f"{self._path}: this SQLite file belongs to another program; "
                "point bot.database at a new file"
            )
        if version > len(MIGRATIONS):
            raise StorageError(
                f"{self._path}: the database has schema version {version}, newer than this "
                f"bot knows ({len(MIGRATIONS)}); upgrade the bot or use another file"
            )
        return version

    async def _migrate(self) -> None:
        """Apply the missing migrations in one transaction, safe against a concurrent starter.

        Two processes starting at once on a fresh file both read version 0; the
        version is read again inside the write transaction, so the second one
        finds the first one's work done instead of failing on `CREATE TABLE`.
        """
        async with self._transaction():
            version = await self._check_ours()
            for number in range(version + 1, len(MIGRATIONS) + 1):
                for statement in statements(MIGRATIONS[number - 1]):
                    await self._db.execute(statement)
                await self._db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                await self._db.execute(f"PRAGMA user_version = {number}")

    async def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        """Every row of a read, in one call on aiosqlite's thread.

        Why not `async with db.execute(...) as cur` and a fetch: that is three hand-offs
        to aiosqlite's thread and back (execute, fetch, close), each about 70 µs of CPU
        (a thread wake-up each way); a poll cycle reads after every delivery and every
        changed feed (bench/pipeline.py).
        """
        return list(await self._db.execute_fetchall(sql, params))

    async def _row(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Row | None:
        """The first row of a read (or None), in one call on aiosqlite's thread (`_rows`)."""
        row: sqlite3.Row | None = await on_thread(
            self._db, lambda conn: conn.execute(sql, params).fetchone()
        )
        return row

    async def _scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        row = await self._row(sql, params)
        return None if row is None else row[0]

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        async with self._lock:
            await self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
                await asyncio.shield(self._db.execute("COMMIT"))
            except BaseException:
                # A failed COMMIT (disk full, busy) leaves the transaction open, and a
                # failed statement may have ended it already: roll back whatever is left,
                # so the next BEGIN works once storage does, and keep the first error.
                with contextlib.suppress(sqlite3.Error):
                    await asyncio.shield(self._db.execute("ROLLBACK"))
                raise

    async def _write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run `fn` as one whole transaction in a single call on aiosqlite's thread.

        Each aiosqlite statement is a hand-off to its thread and a wake-up of the
        event loop; a hot write of a dozen statements paid that a dozen times
        (issue 13). Here BEGIN IMMEDIATE, `fn` (plain sqlite3 calls) and COMMIT run
        as one queued call, and any error inside rolls back on the same thread, so
        the transaction is committed or rolled back as a unit. A call already
        queued cannot be withdrawn: when the caller is cancelled the lock is held
        until it has finished, so the next transaction starts after it, and the
        cancellation is then re-raised. Errors are sqlite3's own, as with
        `_transaction`, so storage_health maps them the same way.
        """
        async with self._lock:
            done = asyncio.ensure_future(on_thread(self._db, partial(_whole_transaction, fn)))
            done.add_done_callback(_retrieve)
            try:
                return await asyncio.shield(done)
            except asyncio.CancelledError:
                if not done.done():
                    await asyncio.wait({done})
                raise


def _retrieve(done: asyncio.Future[Any]) -> None:
    """Mark a result nobody awaited any more (a cancelled caller) as seen."""
    if not done.cancelled():
        done.exception()


def _whole_transaction(fn: Callable[[sqlite3.Connection], T], conn: sqlite3.Connection) -> T:
    """BEGIN IMMEDIATE, fn, COMMIT on aiosqlite's thread; ROLLBACK on any error."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        result = fn(conn)
        conn.execute("COMMIT")
    except BaseException:
        # As in `_transaction`: a failed COMMIT leaves the transaction open, a failed
        # statement may have ended it; roll back what is left and keep the first error.
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
        raise
    return result


async def on_thread(db: aiosqlite.Connection, fn: Callable[[sqlite3.Connection], T]) -> T:
    """Call `fn(conn)` on aiosqlite's own thread with its sqlite3 connection.

    aiosqlite 0.22 has no public way to run a callable on its thread; its private
    `Connection._execute(fn, *args)` queues one and awaits the result, and every
    public method is built on it. This is the only use of it, and
    tests/test_sqlite_write.py fails if it stops running `fn` on that thread.
    """
    return await db._execute(lambda: fn(db._conn))
