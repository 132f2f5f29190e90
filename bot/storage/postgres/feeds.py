"""Feeds on PostgreSQL: poll state, leases, feeds added from chat or imported, the heartbeat.

Leases are how several instances divide the feeds: a claim takes due feeds with
`FOR UPDATE SKIP LOCKED`, so two instances claiming at once each skip the rows
the other is taking and never get the same feed; saving the feed's state after
its poll clears the lease. A lease has an expiry, so a dead instance's feeds
become claimable again without anyone cleaning up.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import asyncpg

from bot.feeds.schedule import next_mean_gap
from bot.models import FeedState
from bot.storage.coordination import TERMS_CHANGED
from bot.storage.models import AddedFeed
from bot.storage.postgres.connection import PostgresConnection, affected, notify
from bot.storage.rows import (
    FEED_STATE_COLUMN_COUNT,
    FEED_STATE_COLUMNS,
    dt,
    feed_row,
    feed_state_from_row,
    feed_state_from_values,
)

_FEED_VALUES = ",".join(f"${n}" for n in range(1, FEED_STATE_COLUMN_COUNT + 1))
_ADDED_ITEMS = f"${FEED_STATE_COLUMN_COUNT + 1}"

# _ADDED_ITEMS: items added by this save; items_seen is counted by the database, so a
# stale in-memory state never lowers it. Saving releases the feed's lease.
_UPSERT_FEED = f"""
    INSERT INTO feeds ({FEED_STATE_COLUMNS}) VALUES ({_FEED_VALUES})
    ON CONFLICT (url) DO UPDATE SET fetch_url = excluded.fetch_url, etag = excluded.etag,
        last_modified = excluded.last_modified, body_hash = excluded.body_hash,
        first_polled = excluded.first_polled, next_poll_at = excluded.next_poll_at,
        last_success_at = excluded.last_success_at, last_error = excluded.last_error,
        last_error_at = excluded.last_error_at, error_count = excluded.error_count,
        failing_since = excluded.failing_since, disabled_reason = excluded.disabled_reason,
        items_seen = feeds.items_seen + {_ADDED_ITEMS},
        html_url = coalesce(excluded.html_url, feeds.html_url),
        entry_digests = excluded.entry_digests,
        lease_owner = NULL, lease_until = NULL
"""

_INSERT_NEW_FEED = f"""
    INSERT INTO feeds ({FEED_STATE_COLUMNS}) VALUES ({_FEED_VALUES})
    ON CONFLICT (url) DO NOTHING
"""

# The due feeds nobody holds a live lease on, longest-due first, locked as they are
# read; rows another claim is locking right now are skipped, not waited for.
_CLAIM = """
    UPDATE feeds SET lease_owner = $1, lease_until = $2
    FROM (
        SELECT url FROM feeds
        WHERE disabled_reason IS NULL
            AND (next_poll_at IS NULL OR next_poll_at <= $3)
            AND (lease_until IS NULL OR lease_until < $3)
        ORDER BY next_poll_at NULLS FIRST, url
        LIMIT $4
        FOR UPDATE SKIP LOCKED
    ) AS due
    WHERE feeds.url = due.url
    RETURNING feeds.*
"""


async def upsert_feed(con: asyncpg.Connection, s: FeedState, added_items: int = 0) -> None:
    await con.execute(_UPSERT_FEED, *feed_row(s, added_items), added_items)


async def record_new_items(con: asyncpg.Connection, feed_url: str, now: datetime) -> None:
    """Track how often a feed has news; the average is bot/feeds/schedule.py's rule."""
    row = await con.fetchrow(
        "SELECT last_new_at, mean_gap FROM feeds WHERE url = $1 FOR UPDATE", feed_url
    )
    if row is None:
        return
    mean_gap = next_mean_gap(dt(row["last_new_at"]), row["mean_gap"], now)
    await con.execute(
        "UPDATE feeds SET mean_gap = $1, last_new_at = $2 WHERE url = $3",
        mean_gap,
        now.timestamp(),
        feed_url,
    )


class FeedRepository(PostgresConnection):
    """Feed state, leases, added feeds and the heartbeat (bot/storage/feeds.py)."""

    async def feed_states(self) -> dict[str, FeedState]:
        rows = await self._fetch(f"SELECT {FEED_STATE_COLUMNS} FROM feeds")
        return {r[0]: feed_state_from_values(r) for r in rows}

    async def save_feed_state(self, state: FeedState) -> None:
        """Store a feed's poll state and release its lease, in one statement.

        (SQLite groups concurrent saves into one transaction because it has one
        writer; PostgreSQL commits concurrent statements side by side.)
        """
        await self._execute(_UPSERT_FEED, *feed_row(state), 0)

    # -- leases ---------------------------------------------------------------------

    async def ensure_feeds(self, states: Sequence[FeedState]) -> None:
        if not states:
            return
        # In URL order: two instances starting at once lock the rows in the same order.
        rows = [feed_row(s) for s in sorted(states, key=lambda s: s.feed_url)]
        async with self._transaction() as con:
            await con.executemany(_INSERT_NEW_FEED, rows)

    async def claim_due_feeds(
        self, owner: str, now: datetime, lease_until: datetime, limit: int
    ) -> list[FeedState]:
        rows = await self._fetch(_CLAIM, owner, lease_until.timestamp(), now.timestamp(), limit)
        # RETURNING has no order of its own: never polled (NULL) first, then longest due.
        rows.sort(key=lambda r: (r["next_poll_at"] is not None, r["next_poll_at"] or 0, r["url"]))
        return [feed_state_from_row(r) for r in rows]

    async def renew_feed_leases(
        self, owner: str, urls: Sequence[str], lease_until: datetime
    ) -> None:
        if not urls:
            return
        await self._execute(
            "UPDATE feeds SET lease_until = $1 WHERE lease_owner = $2 AND url = ANY($3::text[])",
            lease_until.timestamp(),
            owner,
            sorted(urls),
        )

    async def release_feed(self, owner: str, url: str) -> None:
        await self._execute(
            "UPDATE feeds SET lease_owner = NULL, lease_until = NULL "
            "WHERE url = $1 AND lease_owner = $2",
            url,
            owner,
        )

    # -- feeds added from chat or imported (announced: every instance polls them) -----

    async def add_feed(self, url: str, name: str, added_by: str, now: datetime) -> bool:
        async with self._transaction() as con:
            added = affected(
                await con.execute(
                    "INSERT INTO added_feeds (url, name, added_by, added_at) "
                    "VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                    url,
                    name,
                    added_by,
                    now.timestamp(),
                )
            )
            if added:
                await notify(con, TERMS_CHANGED)
        return bool(added)

    async def remove_feed(self, url: str) -> bool:
        async with self._transaction() as con:
            removed = affected(await con.execute("DELETE FROM added_feeds WHERE url = $1", url))
            if removed:
                await notify(con, TERMS_CHANGED)
        return bool(removed)

    async def added_feeds(self) -> list[tuple[str, str]]:
        rows = await self._fetch("SELECT url, name FROM added_feeds ORDER BY added_at, url")
        return [(r[0], r[1]) for r in rows]

    async def import_feed(self, feed: AddedFeed, now: datetime) -> bool:
        async with self._transaction() as con:
            added = affected(
                await con.execute(
                    "INSERT INTO added_feeds (url, name, added_by, added_at, source, "
                    "first_poll, html_url) VALUES ($1, $2, $3, $4, $5, $6, $7) "
                    "ON CONFLICT DO NOTHING",
                    feed.url,
                    feed.name,
                    feed.added_by,
                    now.timestamp(),
                    feed.source,
                    feed.first_poll,
                    feed.html_url,
                )
            )
            if added:
                await notify(con, TERMS_CHANGED)
        return bool(added)

    async def added_feed_records(self) -> list[AddedFeed]:
        rows = await self._fetch(
            "SELECT url, name, added_by, source, first_poll, html_url FROM added_feeds "
            "ORDER BY added_at, url"
        )
        return [AddedFeed(*r) for r in rows]

    async def feed_activity(self) -> dict[str, tuple[datetime | None, float | None]]:
        rows = await self._fetch("SELECT url, last_new_at, mean_gap FROM feeds")
        return {r[0]: (dt(r[1]), r[2]) for r in rows}

    # -- heartbeat (read by `python -m bot health`) -----------------------------------

    async def start_heartbeat(self, pid: int, host: str, now: datetime, interval: float) -> None:
        await self._execute(
            "INSERT INTO heartbeat (id, pid, host, started_at, interval, last_cycle_at, "
            "stopped_at, clean_stop) VALUES (1, $1, $2, $3, $4, NULL, NULL, 0) "
            "ON CONFLICT (id) DO UPDATE SET pid = excluded.pid, host = excluded.host, "
            "started_at = excluded.started_at, interval = excluded.interval, "
            "last_cycle_at = NULL, stopped_at = NULL, clean_stop = 0",
            pid,
            host,
            now.timestamp(),
            interval,
        )

    async def beat(self, now: datetime) -> None:
        await self._execute("UPDATE heartbeat SET last_cycle_at = $1 WHERE id = 1", now.timestamp())

    async def stop_heartbeat(self, now: datetime) -> None:
        await self._execute(
            "UPDATE heartbeat SET stopped_at = $1, clean_stop = 1 WHERE id = 1", now.timestamp()
        )
