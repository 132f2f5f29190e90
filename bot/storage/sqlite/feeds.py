"""Feeds: poll state, feeds added from chat or imported, the heartbeat of `run`."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.feeds.schedule import next_mean_gap
from bot.models import (
    FeedState,
)
from bot.storage.models import AddedFeed
from bot.storage.rows import (
    FEED_STATE_COLUMN_COUNT,
    FEED_STATE_COLUMNS,
    feed_row,
    feed_state_from_values,
)
from bot.storage.sqlite.connection import SQLiteConnection, on_thread
from bot.storage.sqlite.rows import (
    dt,
    feed_state_from_row,
)


@dataclass(slots=True)
class _StateBatch:
    """Feed states saved while another write held the database: written together."""

    states: dict[str, FeedState]
    written: asyncio.Future[None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class FeedRepository(SQLiteConnection):
    """Feed state, added feeds and the heartbeat (bot/storage/feeds.py)."""

    # The batch of feed states waiting to be written; None when none waits.
    _state_batch: _StateBatch | None = None

    # -- feeds -------------------------------------------------------------------

    async def feed_states(self) -> dict[str, FeedState]:
        def read(conn: sqlite3.Connection) -> list[tuple[Any, ...]]:
            cur = conn.cursor()
            cur.row_factory = None  # plain tuples: start-up reads every feed (rows.py)
            return cur.execute(f"SELECT {FEED_STATE_COLUMNS} FROM feeds").fetchall()

        return {r[0]: feed_state_from_values(r) for r in await on_thread(self._db, read)}

    async def save_feed_state(self, state: FeedState) -> None:
        """Store a feed's poll state; returns once it is committed.

        Most saves are of unchanged feeds (a 304), and a transaction each was most of
        their cost. So saves overlap into one transaction (a group commit): the first
        save of a batch waits for the database and writes every state saved meanwhile;
        the others wait for that write and share its outcome, error included.
        """
        batch = self._state_batch
        if batch is not None:
            batch.states[state.feed_url] = state
            try:
                await asyncio.shield(batch.written)
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if batch.written.cancelled() and task is not None and not task.cancelling():
                    # The batch's writer was cancelled before it wrote, not this save.
                    await self.save_feed_state(state)
                    return
                raise
            return
        batch = self._state_batch = _StateBatch({state.feed_url: state})
        try:
            async with self._transaction() as db:
                if self._state_batch is batch:
                    self._state_batch = None  # later saves start the next batch
                await db.executemany(_UPSERT_FEED, [_feed_row(s) for s in batch.states.values()])
        except BaseException as e:
            if self._state_batch is batch:
                self._state_batch = None
            if isinstance(e, Exception):
                batch.written.set_exception(e)
                batch.written.exception()  # seen: no "never retrieved" warning without waiters
            else:
                batch.written.cancel()
            raise
        batch.written.set_result(None)

    # -- leases (bot/storage/feeds.py): one instance per SQLite file, so they never
    # contend here; they exist so the App and `migrate` see one schema everywhere.

    async def ensure_feeds(self, states: Sequence[FeedState]) -> None:
        """Store a row for each feed not stored yet; a stored feed keeps its state."""
        async with self._transaction() as db:
            await db.executemany(_INSERT_NEW_FEED, [feed_row(s) for s in states])

    async def claim_due_feeds(
        self, owner: str, now: datetime, lease_until: datetime, limit: int
    ) -> list[FeedState]:
        """Lease up to `limit` due feeds to `owner`, longest-due first (never polled first).

        BEGIN IMMEDIATE makes the select and the update one step: SQLite has a
        single writer, so no other claim can slip in between.
        """
        async with (
            self._transaction() as db,
            db.execute(
                "UPDATE feeds SET lease_owner = ?, lease_until = ? WHERE url IN ("
                "SELECT url FROM feeds WHERE disabled_reason IS NULL "
                "AND (next_poll_at IS NULL OR next_poll_at <= ?) "
                "AND (lease_until IS NULL OR lease_until < ?) "
                "ORDER BY next_poll_at, url LIMIT ?) RETURNING *",
                (owner, lease_until.timestamp(), now.timestamp(), now.timestamp(), limit),
            ) as cur,
        ):
            rows = list(await cur.fetchall())
        # RETURNING has no order of its own: never polled (NULL) first, then longest due.
        rows.sort(key=lambda r: (r["next_poll_at"] is not None, r["next_poll_at"] or 0, r["url"]))
        return [feed_state_from_row(r) for r in rows]

    async def renew_feed_leases(
        self, owner: str, urls: Sequence[str], lease_until: datetime
    ) -> None:
        """Extend `owner`'s leases on `urls`; a lease someone else holds is left alone."""
        if not urls:
            return
        async with self._transaction() as db:
            await db.executemany(
                "UPDATE feeds SET lease_until = ? WHERE url = ? AND lease_owner = ?",
                [(lease_until.timestamp(), url, owner) for url in urls],
            )

    async def release_feed(self, owner: str, url: str) -> None:
        """Drop `owner`'s lease without saving a state: claimable again at once."""
        async with self._transaction() as db:
            await db.execute(
                "UPDATE feeds SET lease_owner = NULL, lease_until = NULL "
                "WHERE url = ? AND lease_owner = ?",
                (url, owner),
            )

    # -- feeds added from chat ------------------------------------------------------

    async def add_feed(self, url: str, name: str, added_by: str, now: datetime) -> bool:
        async with self._transaction() as db:
            cur = await db.execute(
                "INSERT OR IGNORE INTO added_feeds (url, name, added_by, added_at) "
                "VALUES (?,?,?,?)",
                (url, name, added_by, now.timestamp()),
            )
            return bool(cur.rowcount)

    async def remove_feed(self, url: str) -> bool:
        async with self._transaction() as db:
            cur = await db.execute("DELETE FROM added_feeds WHERE url = ?", (url,))
            return bool(cur.rowcount)

    async def added_feeds(self) -> list[tuple[str, str]]:
        return [
            (r[0], r[1])
            for r in await self._rows("SELECT url, name FROM added_feeds ORDER BY added_at")
        ]

    async def import_feed(self, feed: AddedFeed, now: datetime) -> bool:
        """Store a feed the operator imported (`feeds import`); False if the URL is stored."""
        async with self._transaction() as db:
            cur = await db.execute(
                "INSERT OR IGNORE INTO added_feeds (url, name, added_by, added_at, source, "
                "first_poll, html_url) VALUES (?,?,?,?,?,?,?)",
                (
                    feed.url,
                    feed.name,
                    feed.added_by,
                    now.timestamp(),
                    feed.source,
                    feed.first_poll,
                    feed.html_url,
                ),
            )
            return bool(cur.rowcount)

    async def added_feed_records(self) -> list[AddedFeed]:
        """Every added feed with where it came from, its first-poll rule and web page."""
        return [
            AddedFeed(*r)
            for r in await self._rows(
                "SELECT url, name, added_by, source, first_poll, html_url FROM added_feeds "
                "ORDER BY added_at"
            )
        ]

    async def feed_activity(self) -> dict[str, tuple[datetime | None, float | None]]:
        """Per feed URL: when it last had a new item, and its usual gap in seconds."""
        return {
            r[0]: (dt(r[1]), r[2])
            for r in await self._rows("SELECT url, last_new_at, mean_gap FROM feeds")
        }

    # -- heartbeat (read by `python -m bot health`, bot/storage/readonly.py) ---------------

    async def start_heartbeat(self, pid: int, host: str, now: datetime, interval: float) -> None:
        """A new `run` owns the heartbeat: the previous run's row is replaced."""
        async with self._transaction() as db:
            await db.execute(
                "INSERT OR REPLACE INTO heartbeat (id, pid, host, started_at, interval, "
                "last_cycle_at, stopped_at, clean_stop) VALUES (1, ?, ?, ?, ?, NULL, NULL, 0)",
                (pid, host, now.timestamp(), interval),
            )

    async def beat(self, now: datetime) -> None:
        """A poll cycle completed."""
        async with self._transaction() as db:
            await db.execute(
                "UPDATE heartbeat SET last_cycle_at = ? WHERE id = 1", (now.timestamp(),)
            )

    async def stop_heartbeat(self, now: datetime) -> None:
        """`run` stopped cleanly: health reports it at once instead of waiting for staleness."""
        async with self._transaction() as db:
            await db.execute(
                "UPDATE heartbeat SET stopped_at = ?, clean_stop = 1 WHERE id = 1",
                (now.timestamp(),),
            )


_FEED_VALUES = ",".join("?" * FEED_STATE_COLUMN_COUNT)

_UPSERT_FEED = f"""
    INSERT INTO feeds ({FEED_STATE_COLUMNS}) VALUES ({_FEED_VALUES})
    ON CONFLICT (url) DO UPDATE SET fetch_url = excluded.fetch_url, etag = excluded.etag,
        last_modified = excluded.last_modified, body_hash = excluded.body_hash,
        first_polled = excluded.first_polled, next_poll_at = excluded.next_poll_at,
        last_success_at = excluded.last_success_at, last_error = excluded.last_error,
        last_error_at = excluded.last_error_at, error_count = excluded.error_count,
        failing_since = excluded.failing_since, disabled_reason = excluded.disabled_reason,
        items_seen = feeds.items_seen + ?,
        html_url = coalesce(excluded.html_url, feeds.html_url),
        entry_digests = excluded.entry_digests,
        lease_owner = NULL, lease_until = NULL
"""

# A feed the bot knows but the database does not yet: stored so it can be claimed.
_INSERT_NEW_FEED = f"""
    INSERT INTO feeds ({FEED_STATE_COLUMNS}) VALUES ({_FEED_VALUES})
    ON CONFLICT (url) DO NOTHING
"""


def _feed_row(s: FeedState, added_items: int = 0) -> tuple[object, ...]:
    # The upsert's last parameter adds the new items to the stored items_seen.
    return (*feed_row(s, added_items), added_items)


def _upsert_feed(conn: sqlite3.Connection, s: FeedState, added_items: int = 0) -> None:
    """Store a feed's state inside a `_write` transaction (aiosqlite's thread)."""
    conn.execute(_UPSERT_FEED, _feed_row(s, added_items))


def _record_new_items(conn: sqlite3.Connection, feed_url: str, now: datetime) -> None:
    """Track how often a feed has news; the average is bot/feeds/schedule.py's rule."""
    row = conn.execute(
        "SELECT last_new_at, mean_gap FROM feeds WHERE url = ?", (feed_url,)
    ).fetchone()
    if row is None:
        return
    mean_gap = next_mean_gap(dt(row[0]), row[1], now)
    conn.execute(
        "UPDATE feeds SET mean_gap = ?, last_new_at = ? WHERE url = ?",
        (mean_gap, now.timestamp(), feed_url),
    )
