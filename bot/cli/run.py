"""`run` and `once`: the two commands that poll and deliver, under the database's run lock.

The run lock is SQLite's: one deliverer per file. On PostgreSQL several
instances on one database are the point, and the storage's own locks (feed
leases, one sender per channel) divide the work, so no file lock is taken.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
from pathlib import Path
from typing import TYPE_CHECKING

from bot.cli.common import preflight
from bot.errors import AlreadyRunning, StorageError
from bot.heap import cycle_collection_paused, fewer_young_collections

if TYPE_CHECKING:
    from bot.storage.runlock import LockHolder, RunLock

log = logging.getLogger("bot")


async def run(args: argparse.Namespace) -> int:
    with cycle_collection_paused():  # imports: as in bot/__main__.py
        from bot.app import App
        from bot.storage.runlock import RunLock

    checked = preflight(args)
    settings = checked.settings
    database = settings.bot.database
    lock = lock_database(database, "run")  # PostgreSQL: no file lock (lock_path)
    if not isinstance(lock, RunLock):
        raise AlreadyRunning(
            f"{database} is in use by {lock.describe()}; stop that one first "
            "(or give this one another bot.database): two bots on one database post every "
            "alert twice"
        )
    with lock:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):  # not on this platform
                loop.add_signal_handler(sig, stop.set)
        async with App.open(settings, watchlists=checked.watchlists) as app:
            await app.run_forever(stop)
    return 0


def lock_database(database: Path | str, command: str) -> RunLock | LockHolder:
    """Take the database's deliverer lock (bot/storage/runlock.py), or learn who has it."""
    from bot.storage.runlock import try_lock

    try:
        return try_lock(database, command)
    except OSError as e:
        raise StorageError(
            f"{database}.lock: cannot create the lock file beside the database ({e.strerror}) — "
            "make its folder writable for the bot's user"
        ) from e


async def once(args: argparse.Namespace) -> int:
    with fewer_young_collections():
        return await _once(args)


async def _once(args: argparse.Namespace) -> int:
    with cycle_collection_paused():  # imports: as in bot/__main__.py
        from bot.app import App
        from bot.storage.runlock import RunLock

    checked = preflight(args)
    settings = checked.settings
    database = settings.bot.database
    lock = lock_database(database, "once")  # PostgreSQL: no file lock (lock_path)
    if not isinstance(lock, RunLock):
        # A running bot delivers from the same outbox: a second deliverer would
        # post every alert twice, so this one only polls and queues.
        async with App.open(settings, sinks={}, watchlists=checked.watchlists) as app:
            report = await app.run_once(deliver=False)
        log.info(
            "cycle done: %d feeds polled, %d with errors, %d alerts queued; not delivering "
            "them here: %s is in use by %s, which delivers them",
            len(report.outcomes),
            report.errors,
            report.alerts,
            database,
            lock.describe(),
        )
        return 0
    with lock:
        async with App.open(settings, watchlists=checked.watchlists) as app:
            report = await app.run_once()
            pending = await app.storage.pending_count()
    log.info(
        "cycle done: %d feeds polled, %d with errors, %d alerts queued, %d delivered, %d waiting",
        len(report.outcomes),
        report.errors,
        report.alerts,
        app.outbox.stats.sent,
        pending,
    )
    return 0
