"""The PostgreSQL connections: opening, checking, migrating, and short explicit transactions.

Each instance keeps its connections open for its whole life (the issue: no
connect per poll): a small pool for the repositories' statements, and one
dedicated connection (`_coord`) for session advisory locks and LISTEN, which
must stay on one backend — PostgreSQL frees a session lock the moment its
connection ends, which is what passes a dead instance's locks to a survivor.

Every asyncpg or socket error leaving a helper becomes our own StorageError
(StorageUnavailable when it may pass: a lost connection, a deadlock, a server
shutting down), so the loops back off and say what happened, naming the server
as every message does, its password shown as "[redacted]" (bot/redact.py:
redact_url; bot/storage_health.py).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Self
from urllib.parse import urlsplit

import asyncpg

from bot.errors import StorageError, StorageUnavailable
from bot.redact import redact_url
from bot.storage.coordination import OUTBOX_CHANGED, TERMS_CHANGED
from bot.storage.postgres.migrations import migrate, schema_state

POOL_SIZE = 4  # statements of one instance: polls, deliveries, commands at once
CONNECT_TIMEOUT = 10.0  # seconds; a server that does not answer in this is reported
#: LISTEN/NOTIFY channel per coordination topic (bot/storage/coordination.py). Keep
#: them stable: instances of two bot versions in one deployment must agree.
NOTIFY_CHANNELS = {OUTBOX_CHANGED: "newswatch_outbox", TERMS_CHANGED: "newswatch_terms"}
#: SQLSTATE classes that may pass by themselves: connection (08), transaction
#: rollback incl. deadlock and serialization (40), insufficient resources (53),
#: operator intervention incl. shutdown (57), lock not available (55P03).
_TRANSIENT_CLASSES = ("08", "40", "53", "57")
#: What asyncpg raises for a server problem, a broken connection or a dead socket.
DRIVER_ERRORS: tuple[type[BaseException], ...] = (
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    # Not an InterfaceError: asyncpg's own state gone wrong, met when the server ends a
    # session mid-statement (pg_terminate_backend): the connection is dropped, so it
    # may pass like any lost connection (storage_error makes it StorageUnavailable).
    asyncpg.InternalClientError,
    OSError,
)
#: ... and what connecting may raise besides.
CONNECT_ERRORS: tuple[type[BaseException], ...] = (*DRIVER_ERRORS, TimeoutError)


def is_postgres_url(database: object) -> bool:
    return isinstance(database, str) and database.startswith(("postgresql://", "postgres://"))


def connect_problem(url: str, e: BaseException) -> StorageError:
    """Why the bot could not connect, and what fixes it, in one line (also `check` and
    `health`, bot/storage/readonly.py, which connect without a pool)."""
    where = redact_url(url)
    parts = urlsplit(url)
    user = parts.username or "(the default user)"
    database = parts.path.lstrip("/") or user
    if isinstance(e, asyncpg.InvalidCatalogNameError):
        return StorageError(
            f"{where}: database {database!r} does not exist — create it "
            f"(createdb -O {user} {database}) or fix the name in bot.database"
        )
    if isinstance(e, asyncpg.InvalidPasswordError | asyncpg.InvalidAuthorizationSpecificationError):
        return StorageError(
            f"{where}: the server refused user {user!r} ({e}) — check the user name, and the "
            "password in PGPASSWORD or the URL"
        )
    if isinstance(e, TimeoutError):
        return StorageUnavailable(
            f"{where}: the PostgreSQL server did not answer within {CONNECT_TIMEOUT:.0f}s — "
            "check that it runs and that host and port in bot.database are right"
        )
    if isinstance(e, OSError):
        reason = e.strerror or str(e) or type(e).__name__
        return StorageUnavailable(
            f"{where}: cannot reach the PostgreSQL server ({reason}) — check that it runs "
            "and that host and port in bot.database are right"
        )
    if isinstance(e, asyncpg.CannotConnectNowError | asyncpg.TooManyConnectionsError):
        return StorageUnavailable(f"{where}: the server does not accept connections now ({e})")
    return StorageError(f"{where}: cannot connect ({type(e).__name__}: {e})")


def storage_error(where: str, e: BaseException) -> StorageError:
    """Our error for a driver error met while using the database."""
    state = str(getattr(e, "sqlstate", "") or "")
    message = f"{where}: {type(e).__name__}: {e}"
    if (
        not isinstance(e, asyncpg.PostgresError)  # a lost connection, a dead socket
        or state.startswith(_TRANSIENT_CLASSES)
        or state == "55P03"
    ):
        return StorageUnavailable(message)
    if isinstance(e, asyncpg.InsufficientPrivilegeError):
        return StorageError(f"{message} — grant the bot's role rights on its database")
    return StorageError(message)


class PostgresConnection:
    """The pool and the coordination connection of one instance, and their helpers."""

    def __init__(self, pool: asyncpg.Pool, coord: asyncpg.Connection, url: str) -> None:
        self._pool = pool
        self._coord = coord
        self._url = url
        self._where = redact_url(url)

    @classmethod
    async def open(cls, url: str) -> Self:
        """Connect, refuse a database that is not ours or too new, migrate, and return."""
        if not is_postgres_url(url):
            raise StorageError(
                f"{redact_url(url)}: not a PostgreSQL URL (postgresql://USER@HOST:PORT/DBNAME)"
            )
        pool: asyncpg.Pool | None = None
        try:
            pool = await asyncpg.create_pool(
                url, min_size=POOL_SIZE, max_size=POOL_SIZE, timeout=CONNECT_TIMEOUT
            )
            coord = await asyncpg.connect(url, timeout=CONNECT_TIMEOUT)
        except CONNECT_ERRORS as e:
            if pool is not None:
                pool.terminate()
            raise connect_problem(url, e) from e
        storage = cls(pool, coord, url)
        try:
            await storage._setup()
        except BaseException:
            await storage._terminate()
            raise
        return storage

    async def close(self) -> None:
        """Close both; a connection already lost is simply dropped."""
        with contextlib.suppress(*DRIVER_ERRORS):
            await self._coord.close(timeout=5)
        try:
            await asyncio.wait_for(self._pool.close(), timeout=10)
        except CONNECT_ERRORS:
            self._pool.terminate()

    async def _terminate(self) -> None:
        self._coord.terminate()
        self._pool.terminate()

    async def _setup(self) -> None:
        """Bring the schema to this bot's version (concurrent starters are safe)."""
        try:
            async with self._pool.acquire() as con:
                # Most starts find the schema current: a plain read, no lock.
                if not await schema_state(con, self._where):
                    await migrate(con, self._where)
        except DRIVER_ERRORS as e:
            raise StorageError(
                f"{self._where}: cannot create or update the database's schema "
                f"({type(e).__name__}: {e}) — the bot's role must own the database "
                "or have CREATE on its schema"
            ) from e

    # -- helpers for the repositories ----------------------------------------------

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[asyncpg.Connection]:
        """A pooled connection inside a READ COMMITTED transaction: committed when the
        block ends, rolled back if it raises; driver errors become StorageErrors."""
        try:
            async with (
                self._pool.acquire() as con,
                con.transaction(isolation="read_committed"),
            ):
                yield con
        except DRIVER_ERRORS as e:
            raise storage_error(self._where, e) from e

    async def _fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        try:
            return list(await self._pool.fetch(sql, *args))
        except DRIVER_ERRORS as e:
            raise storage_error(self._where, e) from e

    async def _fetchrow(self, sql: str, *args: Any) -> asyncpg.Record | None:
        try:
            return await self._pool.fetchrow(sql, *args)
        except DRIVER_ERRORS as e:
            raise storage_error(self._where, e) from e

    async def _fetchval(self, sql: str, *args: Any) -> Any:
        try:
            return await self._pool.fetchval(sql, *args)
        except DRIVER_ERRORS as e:
            raise storage_error(self._where, e) from e

    async def _execute(self, sql: str, *args: Any) -> str:
        """One statement in its own transaction; returns the status ("UPDATE 3")."""
        try:
            return str(await self._pool.execute(sql, *args))
        except DRIVER_ERRORS as e:
            raise storage_error(self._where, e) from e


async def notify(con: asyncpg.Connection, topic: str) -> None:
    """Announce `topic` to the other instances when this transaction commits."""
    await con.execute("SELECT pg_notify($1, '')", NOTIFY_CHANNELS[topic])


def affected(status: str) -> int:
    """The row count of a command status such as "INSERT 0 3" or "DELETE 2"."""
    try:
        return int(status.rsplit(" ", 1)[-1])
    except ValueError:
        return 0
