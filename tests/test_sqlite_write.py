"""SQLite writes as one call on aiosqlite's thread (connection.py `_write`).

An ingest runs BEGIN IMMEDIATE … COMMIT as a single queued call: these tests pin
what that must keep — the private aiosqlite hook it relies on, a failure leaving
nothing written and the connection usable, and a cancelled caller never leaving a
half-written transaction or letting the next one start before it has finished.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.models import FeedState
from bot.storage.sqlite import SQLiteStorage, open_storage
from bot.storage.sqlite.connection import on_thread
from tests.contract.conftest import FEED, alert_to, ingest, item


@pytest.fixture
async def storage(tmp_path: Path) -> AsyncIterator[SQLiteStorage]:
    async with open_storage(tmp_path / "bot.sqlite3") as storage:
        yield storage


def _counts(path: Path) -> tuple[int, ...]:
    """Rows an ingest writes, read by a separate connection (committed data only)."""
    with sqlite3.connect(path) as db:
        return tuple(
            db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in ("items", "seen", "outbox", "entity_first_seen", "feeds")
        )


async def test_on_thread_runs_on_aiosqlites_thread_with_its_connection(
    storage: SQLiteStorage,
) -> None:
    """Fails if aiosqlite's private `_execute` stops running callables on its thread."""
    here = threading.get_ident()
    first = await on_thread(storage._db, lambda conn: (threading.get_ident(), conn))
    second = await on_thread(storage._db, lambda conn: (threading.get_ident(), conn))
    assert first[0] != here and first[0] == second[0]
    assert isinstance(first[1], sqlite3.Connection) and first[1] is second[1]
    # The statements run on the connection aiosqlite uses (same transaction state).
    await storage._db.execute("BEGIN")
    assert await on_thread(storage._db, lambda conn: conn.in_transaction)
    await storage._db.execute("ROLLBACK")


async def test_a_failure_inside_the_write_leaves_nothing_and_the_connection_usable(
    storage: SQLiteStorage, tmp_path: Path
) -> None:
    path = tmp_path / "bot.sqlite3"
    await storage.save_feed_state(FeedState(FEED, FEED))
    before = _counts(path)
    # A real trigger on the ingest's last statement (the feed's news rate): items,
    # keys, alerts and the feed row were all written in the transaction by then.
    db = sqlite3.connect(path)
    db.execute(
        "CREATE TRIGGER refuse BEFORE UPDATE OF mean_gap ON feeds "
        "BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"
    )
    db.commit()
    with pytest.raises(sqlite3.DatabaseError, match="disk is full"):
        await ingest(storage, [item(1), item(2)], plan=alert_to())
    assert _counts(path) == before
    assert not storage._db.in_transaction
    db.execute("DROP TRIGGER refuse")
    db.commit()
    db.close()
    assert await ingest(storage, [item(1), item(2)], plan=alert_to()) == (2, 0, 2)
    assert _counts(path)[:3] == (2, 6, 2)


@pytest.mark.parametrize("fails", [False, True])
async def test_a_cancelled_ingest_finishes_or_rolls_back_as_a_unit(
    storage: SQLiteStorage, tmp_path: Path, fails: bool
) -> None:
    """The queued call cannot be withdrawn: the caller is cancelled, the lock is held
    until the thread-side transaction has committed (or, on an error, rolled back)."""
    path = tmp_path / "bot.sqlite3"
    started, release = threading.Event(), threading.Event()

    def hold() -> int:
        started.set()
        release.wait()
        if fails:
            raise RuntimeError("refused")
        return 0

    await on_thread(storage._db, lambda conn: conn.create_function("hold", 0, hold))
    await storage._db.execute(
        "CREATE TEMP TRIGGER held BEFORE INSERT ON main.outbox BEGIN SELECT hold(); END"
    )
    task = asyncio.create_task(ingest(storage, [item(1), item(2)], plan=alert_to()))
    try:
        await asyncio.to_thread(started.wait)  # the write is running on aiosqlite's thread
        task.cancel()
        await asyncio.sleep(0)  # one step: the task takes the cancellation...
        assert not task.done() and storage._lock.locked()  # ...and waits, holding the lock
    finally:
        release.set()  # never leave aiosqlite's thread blocked, even when failing
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not storage._lock.locked() and not storage._db.in_transaction
    assert _counts(path)[:3] == ((0, 0, 0) if fails else (2, 6, 2))
    await storage._db.execute("DROP TRIGGER held")
    again = await ingest(storage, [item(1), item(2), item(3)], plan=alert_to())
    assert again == ((3, 0, 3) if fails else (1, 2, 1))
