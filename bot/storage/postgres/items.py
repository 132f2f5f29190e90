"""Items on PostgreSQL: the seen keys, ingesting a batch of a feed's items, and retention.

Several instances ingest at once here, so "is this item new?" must hold across
them: two feeds polled by two instances may carry the same story. The
transaction takes a transaction advisory lock per item key (in one global
order, so two ingests never deadlock) before it re-reads the seen keys; the
second ingest of a story waits for the first to commit and then finds its keys.
Ids come from the identity sequences, never `max(id) + 1`.
"""

from __future__ import annotations

import zlib
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from bot.dedup import item_keys, slides_when_seen_again, split_repeats, still_seen
from bot.models import FeedState, Item
from bot.storage.coordination import OUTBOX_CHANGED
from bot.storage.models import IngestResult, Planner
from bot.storage.postgres.connection import PostgresConnection, affected, notify
from bot.storage.postgres.feeds import record_new_items, upsert_feed
from bot.storage.rows import ITEM_INSERT_COLUMNS, dt, item_row, matches_json

#: First half of the two-int advisory lock keys on item keys (the second is a hash
#: of the key); two-int keys never collide with the one-bigint session locks.
SEEN_LOCK_SPACE = 0x4E57  # "NW"


def _lock_key(key: str) -> int:
    """A stable signed 32-bit hash of an item key, the same in every instance."""
    h = zlib.crc32(key.encode())
    return h - (1 << 32) if h >= 1 << 31 else h


class ItemRepository(PostgresConnection):
    """Seen keys, stored items and pruning (bot/storage/items.py)."""

    async def ingest(
        self,
        state: FeedState,
        items: Sequence[Item],
        now: datetime,
        plan: Planner,
        dedup_window: float = 48 * 3600.0,
    ) -> IngestResult:
        now_ts = now.timestamp()
        keys_of = [item_keys(item) for item in items]
        # Outside any transaction: which items look new, and what to do with them.
        # Matching is the expensive part and must not hold locks.
        sightings = await _sightings(self._fetch, sorted({k for keys in keys_of for k in keys}))
        candidates, repeats = split_repeats(
            items, keys_of, still_seen(sightings, now, dedup_window)
        )
        plans = plan([item for item, _ in candidates])
        keys_by_item = {id(item): keys for item, keys in candidates}
        candidate_keys = sorted({k for _, keys in candidates for k in keys})

        async with self._transaction() as con:
            fresh = []
            if candidate_keys:
                # Another instance may be storing the same story right now: wait for it,
                # then look again at what is committed.
                await con.execute(
                    "SELECT pg_advisory_xact_lock($1, k) FROM unnest($2::int[]) "
                    "WITH ORDINALITY AS t(k, n) ORDER BY n",
                    SEEN_LOCK_SPACE,
                    sorted({_lock_key(k) for k in candidate_keys}),
                )
                sightings = await _sightings(con.fetch, candidate_keys)
                seen = still_seen(sightings, now, dedup_window)
                fresh = [p for p in plans if not seen.intersection(keys_by_item[id(p.item)])]
            ids: list[int] = []
            if fresh:
                ids = [
                    r[0]
                    for r in await con.fetch(
                        "SELECT nextval(pg_get_serial_sequence('items', 'id')) "
                        "FROM generate_series(1, $1)",
                        len(fresh),
                    )
                ]
            item_rows, outbox_rows = [], []
            key_rows: dict[str, tuple[str, float, int | None, bool]] = {}
            story_rows: dict[str, tuple[str, str, str, float, float]] = {}
            first_seen: set[str] = set()
            for item_id, p in zip(ids, fresh, strict=True):
                it = p.item
                item_rows.append(item_row(item_id, p, now_ts))
                if p.story is not None:
                    story_rows.setdefault(p.story, (p.story, it.title, it.url, now_ts, now_ts))
                first_seen.update(m.entity_id for m in p.matches)
                for k in keys_by_item[id(it)]:
                    key_rows.setdefault(k, (k, now_ts, item_id, slides_when_seen_again(k)))
                outbox_rows += [
                    (item_id, d.platform, d.channel_id, matches_json(d.matches), now_ts, now_ts)
                    for d in p.deliveries
                ]
            # Keys of repeats are remembered too, so a later URL or title variant
            # of a repeat is recognised as well.
            for keys in repeats:
                for k in keys:
                    key_rows.setdefault(k, (k, now_ts, None, slides_when_seen_again(k)))
            if item_rows:
                await con.executemany(
                    f"INSERT INTO items ({ITEM_INSERT_COLUMNS}) "
                    "VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13)",
                    item_rows,
                )
            # Every upsert below in key order: concurrent ingests lock rows in one order.
            if story_rows:
                await con.executemany(
                    "INSERT INTO stories (key, title, url, first_seen, last_seen) "
                    "VALUES ($1,$2,$3,$4,$5) "
                    "ON CONFLICT (key) DO UPDATE SET last_seen = excluded.last_seen",
                    [story_rows[k] for k in sorted(story_rows)],
                )
            if first_seen:
                await con.execute(
                    "INSERT INTO entity_first_seen (entity_id, first_seen) "
                    "SELECT e, $2 FROM unnest($1::text[]) AS e ORDER BY e ON CONFLICT DO NOTHING",
                    sorted(first_seen),
                    now_ts,
                )
            if key_rows:
                await _remember(con, [key_rows[k] for k in sorted(key_rows)])
            alerts = 0
            if outbox_rows:
                alerts = affected(
                    await con.execute(
                        "INSERT INTO outbox (item_id, platform, channel_id, matches, "
                        "next_attempt_at, created_at) SELECT * FROM unnest($1::bigint[], "
                        "$2::text[], $3::text[], $4::text[], $5::float8[], $6::float8[]) "
                        "ON CONFLICT DO NOTHING",
                        *map(list, zip(*outbox_rows, strict=True)),
                    )
                )
            await upsert_feed(con, state, added_items=len(fresh))
            if fresh:
                await record_new_items(con, state.feed_url, now)
            if alerts:
                await notify(con, OUTBOX_CHANGED)  # other instances deliver at once
        return IngestResult(len(fresh), len(items) - len(fresh), alerts, tuple(fresh))

    async def items_since(self, since: datetime) -> list[Item]:
        rows = await self._fetch(
            "SELECT feed_url, guid, url, title, summary, published, feed_name, date_note "
            "FROM items WHERE fetched_at >= $1 ORDER BY fetched_at DESC, id DESC",
            since.timestamp(),
        )
        return [Item(r[0], r[1], r[2], r[3], r[4], dt(r[5]), r[6], r[7]) for r in rows]

    async def first_item_at(self) -> datetime | None:
        """When the oldest stored item was fetched: the bot has been running since about then."""
        return dt(await self._fetchval("SELECT min(fetched_at) FROM items"))

    async def prune(self, now: datetime, retention_seconds: float) -> int:
        """Forget keys, items and delivered alerts older than the retention period.

        Items with an undelivered alert are kept whatever their age.
        """
        cutoff = (now - timedelta(seconds=retention_seconds)).timestamp()
        removed = 0
        async with self._transaction() as con:
            for sql in (
                "DELETE FROM seen WHERE first_seen < $1",
                "DELETE FROM outbox WHERE status != 'pending' AND created_at < $1",
                "DELETE FROM items i WHERE fetched_at < $1 "
                "AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.item_id = i.id)",
                "DELETE FROM flood_summaries WHERE status != 'pending' AND created_at < $1",
                "DELETE FROM story_posts WHERE last_update < $1",
                "DELETE FROM stories WHERE last_seen < $1",
                "DELETE FROM digests WHERE at < $1 AND status != 'queued'",
            ):
                removed += affected(await con.execute(sql, cutoff))
        return removed


async def _sightings(
    fetch: Callable[..., Awaitable[Sequence[Any]]], keys: list[str]
) -> dict[str, datetime]:
    """When each of these keys was stored (or, for a title key, last seen); `fetch` is
    the pool's (outside a transaction) or a transaction's connection's."""
    if not keys:
        return {}
    rows = await fetch("SELECT key, first_seen FROM seen WHERE key = ANY($1::text[])", keys)
    return {r[0]: datetime.fromtimestamp(r[1], UTC) for r in rows}


async def _remember(
    con: asyncpg.Connection, rows: Sequence[tuple[str, float, int | None, bool]]
) -> None:
    """Record (key, seen_at, item_id, slides) rows; a key seen again is refreshed only
    when bot/dedup.py says its window slides.

    Two statements, sliding keys first, each in key order: every ingest locks seen
    rows in the same global order, so concurrent ingests wait, never deadlock.
    """
    for slides in (True, False):
        part = [r for r in rows if r[3] is slides]
        if not part:
            continue
        refresh = "excluded.first_seen" if slides else "seen.first_seen"
        await con.execute(
            "INSERT INTO seen (key, first_seen, item_id) "
            "SELECT * FROM unnest($1::text[], $2::float8[], $3::bigint[]) AS t(k, f, i) "
            f"ORDER BY k ON CONFLICT (key) DO UPDATE SET first_seen = {refresh}, "
            "item_id = coalesce(seen.item_id, excluded.item_id)",
            [r[0] for r in part],
            [r[1] for r in part],
            [r[2] for r in part],
        )
