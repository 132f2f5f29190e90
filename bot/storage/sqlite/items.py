"""Items: the seen keys, ingesting a batch of a feed's items, and retention."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from bot.dedup import item_keys, slides_when_seen_again, split_repeats, still_seen
from bot.models import (
    FeedState,
    Item,
)
from bot.storage.models import IngestPlan, IngestResult, Planner
from bot.storage.rows import ITEM_INSERT_COLUMNS, item_row
from bot.storage.sqlite.connection import SQLiteConnection, on_thread
from bot.storage.sqlite.feeds import _record_new_items, _upsert_feed
from bot.storage.sqlite.rows import (
    dt,
    matches_json,
)


class ItemRepository(SQLiteConnection):
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
        # Outside the write lock: which items look new, and what to do with them.
        # Matching is the expensive part and must not hold up other feeds' writes.
        sightings = await self._sightings({k for keys in keys_of for k in keys})
        candidates, repeats = split_repeats(
            items, keys_of, still_seen(sightings, now, dedup_window)
        )
        plans = plan([item for item, _ in candidates])
        keys_by_item = {id(item): keys for item, keys in candidates}

        # Keys of repeats are remembered too (below), but re-writing a stored guid or
        # URL key changes nothing: those are only confirmed inside the transaction.
        stored_keys = {
            k for keys in repeats for k in keys if k in sightings and not slides_when_seen_again(k)
        }

        def write(conn: sqlite3.Connection) -> tuple[list[IngestPlan], int]:
            # The whole transaction is one call on aiosqlite's thread (`_write`):
            # a round trip per statement was most of a changed feed's storage cost.
            # Another feed may have recorded the same story since the look above
            # (and retention may have pruned a key the repeats share).
            sightings = _read_sightings(
                conn, {k for _, keys in candidates for k in keys} | stored_keys
            )
            stored_keys.intersection_update(sightings)
            seen = still_seen(sightings, now, dedup_window)
            fresh = [p for p in plans if not seen.intersection(keys_by_item[id(p.item)])]
            (next_row,) = conn.execute("SELECT coalesce(max(id), 0) + 1 FROM items").fetchall()
            next_id = int(next_row[0])
            item_rows, outbox_rows = [], []
            key_rows: list[tuple[str, float, int | None]] = []
            story_rows: list[tuple[str, str, str, float, float]] = []
            first_seen_rows: list[tuple[str, float]] = []
            for item_id, p in enumerate(fresh, start=next_id):
                it = p.item
                item_rows.append(item_row(item_id, p, now_ts))
                if p.story is not None:
                    story_rows.append((p.story, it.title, it.url, now_ts, now_ts))
                first_seen_rows += [(m.entity_id, now_ts) for m in p.matches]
                key_rows += [(k, now_ts, item_id) for k in keys_by_item[id(it)]]
                outbox_rows += [
                    (item_id, d.platform, d.channel_id, matches_json(d.matches), now_ts, now_ts)
                    for d in p.deliveries
                ]
            # Keys of repeats are remembered too, so a later URL or title variant
            # of a repeat is recognised as well. A guid or URL key still stored would
            # be left as it is by `_remember` (first sighting kept, item id kept):
            # skipping it saves ~90 no-op upserts per changed feed of 50 items.
            key_rows += [
                (k, now_ts, None) for keys in repeats for k in keys if k not in stored_keys
            ]
            # A statement with no rows is skipped, its effect being none.
            _insert_many(
                conn,
                f"INSERT INTO items ({ITEM_INSERT_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                item_rows,
            )
            _insert_many(
                conn,
                "INSERT INTO stories (key, title, url, first_seen, last_seen) VALUES (?,?,?,?,?) "
                "ON CONFLICT (key) DO UPDATE SET last_seen = excluded.last_seen",
                story_rows,
            )
            _insert_many(
                conn,
                "INSERT OR IGNORE INTO entity_first_seen (entity_id, first_seen) VALUES (?,?)",
                first_seen_rows,
            )
            _remember(conn, key_rows)
            alerts = _insert_many(
                conn,
                "INSERT OR IGNORE INTO outbox (item_id, platform, channel_id, matches, "
                "next_attempt_at, created_at) VALUES (?,?,?,?,?,?)",
                outbox_rows,
            )
            _upsert_feed(conn, state, added_items=len(fresh))
            if fresh:
                _record_new_items(conn, state.feed_url, now)
            return fresh, alerts

        fresh, alerts = await self._write(write)
        return IngestResult(len(fresh), len(items) - len(fresh), alerts, tuple(fresh))

    async def _sightings(self, keys: set[str]) -> dict[str, datetime]:
        """When each of these keys was stored (or, for a title key, last seen): the
        look before the transaction, every chunk in one call on aiosqlite's thread."""
        return await on_thread(self._db, lambda conn: _read_sightings(conn, keys))

    async def items_since(self, since: datetime) -> list[Item]:
        sql = (
            "SELECT feed_url, guid, url, title, summary, published, feed_name, date_note "
            "FROM items WHERE fetched_at >= ? ORDER BY fetched_at DESC, id DESC"
        )
        rows = await self._rows(sql, (since.timestamp(),))
        return [Item(r[0], r[1], r[2], r[3], r[4], dt(r[5]), r[6], r[7]) for r in rows]

    async def prune(self, now: datetime, retention_seconds: float) -> int:
        """Forget keys, items and delivered alerts older than the retention period.

        Items with an undelivered alert are kept whatever their age.
        """
        cutoff = (now - timedelta(seconds=retention_seconds)).timestamp()
        async with self._transaction() as db:
            removed = 0
            for sql in (
                "DELETE FROM seen WHERE first_seen < ?",
                "DELETE FROM outbox WHERE status != 'pending' AND created_at < ?",
                "DELETE FROM items WHERE fetched_at < ? AND id NOT IN (SELECT item_id FROM outbox)",
                "DELETE FROM flood_summaries WHERE status != 'pending' AND created_at < ?",
                "DELETE FROM story_posts WHERE last_update < ?",
                "DELETE FROM stories WHERE last_seen < ?",
                "DELETE FROM digests WHERE at < ? AND status != 'queued'",
            ):
                cur = await db.execute(sql, (cutoff,))
                removed += max(cur.rowcount, 0)
        return removed


def _read_sightings(conn: sqlite3.Connection, keys: set[str]) -> dict[str, datetime]:
    """When each key was stored (or last seen), on aiosqlite's thread: the look before
    an ingest's transaction and the one inside it (`_write`). Keys go in sorted chunks
    of 500 (SQLite's variable limit)."""
    found: dict[str, datetime] = {}
    ordered = sorted(keys)
    for i in range(0, len(ordered), 500):
        chunk = ordered[i : i + 500]
        sql = f"SELECT key, first_seen FROM seen WHERE key IN ({','.join('?' * len(chunk))})"
        for key, first_seen in conn.execute(sql, chunk).fetchall():
            found[key] = datetime.fromtimestamp(first_seen, UTC)
    return found


def _insert_many(conn: sqlite3.Connection, sql: str, rows: Sequence[Sequence[object]]) -> int:
    """executemany, skipped when there are no rows; the number of rows it changed."""
    if not rows:
        return 0
    cur = conn.executemany(sql, rows)
    return max(cur.rowcount, 0)


def _remember(conn: sqlite3.Connection, rows: Sequence[tuple[str, float, int | None]]) -> None:
    """Record (key, seen_at, item_id) rows; a key seen again is refreshed only when
    bot/dedup.py says its window slides."""
    if not rows:
        return
    conn.executemany(
        "INSERT INTO seen (key, first_seen, item_id) VALUES (?,?,?) ON CONFLICT (key) DO "
        "UPDATE SET first_seen = CASE WHEN ? THEN excluded.first_seen ELSE first_seen END, "
        "item_id = coalesce(item_id, excluded.item_id)",
        [(key, at, item_id, slides_when_seen_again(key)) for key, at, item_id in rows],
    )
