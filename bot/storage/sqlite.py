"""SQLite storage via aiosqlite: WAL, one connection, explicit short transactions.

Schema changes are numbered migrations: migration N takes the database from
`PRAGMA user_version` N-1 to N. A database whose `application_id` is not ours,
or whose version is newer than this code knows, is refused rather than touched.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import asdict, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import aiosqlite

from bot.dedup import item_keys
from bot.digest.model import DigestJob, StoryRecord
from bot.errors import StorageError
from bot.matching.watchlists import ChatTerm
from bot.models import (
    Alert,
    DeliveryProblem,
    FeedState,
    FloodSummary,
    Item,
    Match,
    StoryUpdate,
)
from bot.storage.base import AddedFeed, IngestResult, Planner, StoryMember
from bot.storage_health import describe_storage_error, storage_advice

APPLICATION_ID = 0x4E575442  # "NWTB": marks the file as this bot's database

MIGRATIONS: list[str] = [
    # 1: the core pipeline
    """
    CREATE TABLE feeds (
        url TEXT PRIMARY KEY,           -- as configured: the feed's identity
        fetch_url TEXT NOT NULL,        -- differs after a permanent redirect
        etag TEXT,
        last_modified TEXT,
        body_hash TEXT,
        first_polled INTEGER NOT NULL DEFAULT 0,
        next_poll_at REAL,
        last_success_at REAL,
        last_error TEXT,
        last_error_at REAL,
        error_count INTEGER NOT NULL DEFAULT 0,
        failing_since REAL,
        disabled_reason TEXT,
        items_seen INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE items (
        id INTEGER PRIMARY KEY,
        feed_url TEXT NOT NULL,
        guid TEXT NOT NULL,
        url TEXT NOT NULL,
        title TEXT NOT NULL,
        summary TEXT NOT NULL,
        published REAL,
        feed_name TEXT NOT NULL,
        fetched_at REAL NOT NULL,
        matches TEXT NOT NULL DEFAULT '[]'   -- JSON list of Match, for digests/backtests
    );
    CREATE INDEX items_fetched_at ON items(fetched_at);
    -- Every key an item is known by (guid, canonical URL, title fingerprint).
    CREATE TABLE seen (
        key TEXT PRIMARY KEY,
        first_seen REAL NOT NULL,
        item_id INTEGER
    ) WITHOUT ROWID;
    CREATE INDEX seen_first_seen ON seen(first_seen);
    -- The outbox: an alert exists here before any delivery is tried.
    CREATE TABLE outbox (
        id INTEGER PRIMARY KEY,
        item_id INTEGER NOT NULL REFERENCES items(id),
        platform TEXT NOT NULL,
        channel_id TEXT NOT NULL,
        matches TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'dead')),
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at REAL NOT NULL,
        last_error TEXT,
        message_id TEXT,
        reply_to TEXT,
        created_at REAL NOT NULL,
        sent_at REAL,
        UNIQUE (item_id, platform, channel_id)
    );
    CREATE INDEX outbox_channel_pending ON outbox(platform, channel_id, status, id);
    CREATE TABLE channels (
        platform TEXT NOT NULL,
        channel_id TEXT NOT NULL,
        broken_reason TEXT,
        broken_at REAL,
        PRIMARY KEY (platform, channel_id)
    );
    CREATE TABLE watch_terms (
        id INTEGER PRIMARY KEY,
        entity_id TEXT NOT NULL,
        term TEXT NOT NULL,
        kind TEXT NOT NULL,
        added_by TEXT NOT NULL,
        added_at REAL NOT NULL,
        UNIQUE (entity_id, term)
    );
    """,
    # 2: what analysts change from chat: feeds, mutes, removed aliases
    """
    CREATE TABLE added_feeds (
        url TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        added_by TEXT NOT NULL,
        added_at REAL NOT NULL
    );
    CREATE TABLE mutes (
        entity_id TEXT PRIMARY KEY,
        until REAL,                     -- NULL: until unmuted
        muted_by TEXT NOT NULL,
        muted_at REAL NOT NULL
    );
    -- Aliases from the watchlist files that an analyst removed from chat.
    CREATE TABLE removed_terms (
        entity_id TEXT NOT NULL,
        term TEXT NOT NULL,
        removed_by TEXT NOT NULL,
        removed_at REAL NOT NULL,
        PRIMARY KEY (entity_id, term)
    );
    """,
    # 3: a broken channel remembers the configuration it broke under
    """
    ALTER TABLE channels ADD COLUMN config_hash TEXT;
    """,
    # 4: stories and their threads, flood control, daily digests
    """
    -- A story is keyed by its first item's key, so it needs no id allocation.
    CREATE TABLE stories (
        key TEXT PRIMARY KEY,
        title TEXT NOT NULL,
        url TEXT NOT NULL,
        first_seen REAL NOT NULL,
        last_seen REAL NOT NULL
    ) WITHOUT ROWID;
    ALTER TABLE items ADD COLUMN story TEXT;
    CREATE INDEX items_story ON items(story);
    -- The message that opened a story's thread in a channel, and how far the
    -- story has grown there (sources) against what that message shows (shown).
    CREATE TABLE story_posts (
        story TEXT NOT NULL,
        platform TEXT NOT NULL,
        channel_id TEXT NOT NULL,
        outbox_id INTEGER NOT NULL,
        message_id TEXT NOT NULL,
        sources INTEGER NOT NULL DEFAULT 1,
        shown INTEGER NOT NULL DEFAULT 1,
        last_update REAL NOT NULL,
        PRIMARY KEY (story, platform, channel_id)
    );
    CREATE INDEX story_posts_stale ON story_posts(platform, channel_id) WHERE shown < sources;
    ALTER TABLE outbox ADD COLUMN top_level INTEGER;    -- 1: posted as a new message
    ALTER TABLE outbox ADD COLUMN held_at REAL;         -- held back by the flood cap
    ALTER TABLE outbox ADD COLUMN summary_id INTEGER;   -- the summary that lists it
    CREATE INDEX outbox_top_level ON outbox(platform, channel_id, sent_at) WHERE top_level = 1;
    CREATE TABLE flood_summaries (
        id INTEGER PRIMARY KEY,
        platform TEXT NOT NULL,
        channel_id TEXT NOT NULL,
        window_start REAL NOT NULL,
        window_end REAL NOT NULL,
        status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'dead')),
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at REAL NOT NULL,
        last_error TEXT,
        message_id TEXT,
        created_at REAL NOT NULL,
        sent_at REAL
    );
    ALTER TABLE channels ADD COLUMN flood_window_start REAL;
    -- One row per channel and local day: the digest is sent (or skipped) once.
    CREATE TABLE digests (
        channel TEXT NOT NULL,
        day TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('sending', 'sent', 'skipped')),
        message_id TEXT,
        at REAL NOT NULL,
        PRIMARY KEY (channel, day)
    ) WITHOUT ROWID;
    CREATE TABLE entity_first_seen (
        entity_id TEXT PRIMARY KEY,
        first_seen REAL NOT NULL
    ) WITHOUT ROWID;
    INSERT OR IGNORE INTO entity_first_seen
        SELECT json_extract(m.value, '$.entity_id'), min(i.fetched_at)
        FROM items i, json_each(i.matches) m GROUP BY 1;
    -- When a feed last had a new item, and its usual gap between new items.
    ALTER TABLE feeds ADD COLUMN last_new_at REAL;
    ALTER TABLE feeds ADD COLUMN mean_gap REAL;
    """,
    # 5: delivery hardening. A row is claimed (committed) before its request
    # leaves, so after a crash the sink knows an earlier try may have reached the
    # platform and looks before posting again. Daily digests become outbox jobs
    # (attempts, backoff, dead) instead of a "sending" mark.
    """
    ALTER TABLE outbox ADD COLUMN claimed_at REAL;
    CREATE TABLE digests_v5 (
        channel TEXT NOT NULL,          -- "platform:id"
        day TEXT NOT NULL,              -- the local day it is the digest of
        status TEXT NOT NULL CHECK (status IN ('queued', 'sent', 'skipped', 'dead')),
        message_id TEXT,
        at REAL NOT NULL,               -- when the status was last set
        created_at REAL,                -- when it was queued: its place among the alerts
        period_end REAL,                -- it covers the 24 hours before this
        timezone TEXT,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at REAL,
        last_error TEXT,
        claimed_at REAL,
        PRIMARY KEY (channel, day)
    ) WITHOUT ROWID;
    INSERT INTO digests_v5 (channel, day, status, message_id, at, created_at, period_end,
            next_attempt_at, claimed_at)
        SELECT channel, day, CASE status WHEN 'sending' THEN 'queued' ELSE status END,
            message_id, at, at, at, at, CASE status WHEN 'sending' THEN at END FROM digests;
    DROP TABLE digests;
    ALTER TABLE digests_v5 RENAME TO digests;
    """,
    # 6: an item whose feed date was impossible remembers it (bot/feeds/dates.py), and
    # items stored before with such dates are put at their fetch time the same way.
    # (No ";" inside a migration's SQL, even in strings: _statements splits on it.)
    """
    ALTER TABLE items ADD COLUMN date_note TEXT NOT NULL DEFAULT '';
    UPDATE items SET
        date_note = 'date ' || strftime('%Y-%m-%d %H:%M', published, 'unixepoch')
            || '+00:00 is impossible ('
            || CASE WHEN published < 631152000 THEN 'before 1990'
                    ELSE 'more than a day after the fetch' END
            || ')' || char(59) || ' using the fetch time',
        published = fetched_at
        WHERE published < 631152000 OR published > fetched_at + 86400;
    """,
    # 7: the heartbeat of `run`, read by `python -m bot health` (bot/health.py): one
    # row, rewritten at each start, advanced at each poll cycle, marked at a clean stop.
    """
    CREATE TABLE heartbeat (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        pid INTEGER NOT NULL,
        host TEXT NOT NULL,
        started_at REAL NOT NULL,
        interval REAL NOT NULL,         -- seconds: health allows 3 of them between cycles
        last_cycle_at REAL,             -- NULL until the first poll cycle completed
        stopped_at REAL,
        clean_stop INTEGER NOT NULL DEFAULT 0
    );
    """,
    # 8: feeds imported by the operator (`feeds import`) are trusted like bot.toml's,
    # may say how their first poll goes, and every feed remembers its web page
    # (the channel link) for `feeds export`.
    """
    ALTER TABLE added_feeds ADD COLUMN source TEXT NOT NULL DEFAULT 'chat';
    ALTER TABLE added_feeds ADD COLUMN first_poll TEXT NOT NULL DEFAULT 'skip';
    ALTER TABLE added_feeds ADD COLUMN html_url TEXT;
    ALTER TABLE feeds ADD COLUMN html_url TEXT;
    """,
]


def _ts(dt: datetime | None) -> float | None:
    return None if dt is None else dt.timestamp()


def _dt(ts: float | None) -> datetime | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC)


def _matches_json(matches: Sequence[Match]) -> str:
    return json.dumps([asdict(m) for m in matches], ensure_ascii=False)


def _matches_from(text: str) -> tuple[Match, ...]:
    return tuple(Match(**m) for m in json.loads(text))


@asynccontextmanager
async def open_storage(path: Path | str) -> AsyncIterator[SQLiteStorage]:
    storage = await SQLiteStorage.open(path)
    try:
        yield storage
    finally:
        await storage.close()


class SQLiteStorage:
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
    async def open(cls, path: Path | str) -> SQLiteStorage:
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
            await self._db.execute("PRAGMA busy_timeout = 5000")
            await self._db.execute("PRAGMA journal_mode = WAL")
            await self._db.execute("PRAGMA synchronous = NORMAL")
            await self._db.execute("PRAGMA foreign_keys = ON")
            # One read transaction: a consistent view even while another process migrates.
            await self._db.execute("BEGIN")
            try:
                version = await self._check_ours()
            finally:
                await self._db.execute("COMMIT")
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
                for statement in _statements(MIGRATIONS[number - 1]):
                    await self._db.execute(statement)
                await self._db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                await self._db.execute(f"PRAGMA user_version = {number}")

    async def _scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        async with self._db.execute(sql, params) as cur:
            row = await cur.fetchone()
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

    # -- feeds -------------------------------------------------------------------

    async def feed_states(self) -> dict[str, FeedState]:
        async with self._db.execute("SELECT * FROM feeds") as cur:
            rows = await cur.fetchall()
        return {r["url"]: _feed_state(r) for r in rows}

    async def save_feed_state(self, state: FeedState) -> None:
        async with self._transaction() as db:
            await _upsert_feed(db, state)

    async def ingest(
        self,
        state: FeedState,
        items: Sequence[Item],
        now: datetime,
        plan: Planner,
        dedup_window: float = 48 * 3600.0,
    ) -> IngestResult:
        now_ts = now.timestamp()
        window_start = now_ts - dedup_window
        keys_of = [item_keys(item) for item in items]
        # Outside the write lock: which items look new, and what to do with them.
        # Matching is the expensive part and must not hold up other feeds' writes.
        seen = await self._seen_keys({k for keys in keys_of for k in keys}, window_start)
        candidates: list[tuple[Item, list[str]]] = []
        repeats: list[list[str]] = []
        for item, keys in zip(items, keys_of, strict=True):
            if seen.intersection(keys):
                repeats.append(keys)
            else:
                candidates.append((item, keys))
            seen.update(keys)  # the same story twice in one batch counts once
        plans = plan([item for item, _ in candidates])
        keys_by_item = {id(item): keys for item, keys in candidates}

        async with self._transaction() as db:
            # Another feed may have recorded the same story since the look above.
            seen = await self._seen_keys({k for _, keys in candidates for k in keys}, window_start)
            fresh = [p for p in plans if not seen.intersection(keys_by_item[id(p.item)])]
            next_id = int(await self._scalar("SELECT coalesce(max(id), 0) + 1 FROM items"))
            item_rows, outbox_rows = [], []
            key_rows: list[tuple[str, float, int | None]] = []
            story_rows: list[tuple[str, str, str, float, float]] = []
            first_seen_rows: list[tuple[str, float]] = []
            for item_id, p in enumerate(fresh, start=next_id):
                it = p.item
                item_rows.append(
                    (
                        item_id,
                        it.feed_url,
                        it.guid,
                        it.url,
                        it.title,
                        it.summary,
                        _ts(it.published),
                        it.feed_name,
                        now_ts,
                        _matches_json(p.matches),
                        p.story,
                        it.date_note,
                    )
                )
                if p.story is not None:
                    story_rows.append((p.story, it.title, it.url, now_ts, now_ts))
                first_seen_rows += [(m.entity_id, now_ts) for m in p.matches]
                key_rows += [(k, now_ts, item_id) for k in keys_by_item[id(it)]]
                outbox_rows += [
                    (item_id, d.platform, d.channel_id, _matches_json(d.matches), now_ts, now_ts)
                    for d in p.deliveries
                ]
            # Keys of repeats are remembered too, so a later URL or title variant
            # of a repeat is recognised as well.
            key_rows += [(k, now_ts, None) for keys in repeats for k in keys]
            await db.executemany(
                "INSERT INTO items (id, feed_url, guid, url, title, summary, published, "
                "feed_name, fetched_at, matches, story, date_note) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                item_rows,
            )
            await db.executemany(
                "INSERT INTO stories (key, title, url, first_seen, last_seen) VALUES (?,?,?,?,?) "
                "ON CONFLICT (key) DO UPDATE SET last_seen = excluded.last_seen",
                story_rows,
            )
            await db.executemany(
                "INSERT OR IGNORE INTO entity_first_seen (entity_id, first_seen) VALUES (?,?)",
                first_seen_rows,
            )
            await _remember(db, key_rows)
            cur = await db.executemany(
                "INSERT OR IGNORE INTO outbox (item_id, platform, channel_id, matches, "
                "next_attempt_at, created_at) VALUES (?,?,?,?,?,?)",
                outbox_rows,
            )
            alerts = max(cur.rowcount, 0)
            await _upsert_feed(db, state, added_items=len(fresh))
            if fresh:
                await _record_new_items(db, state.feed_url, now_ts)
        return IngestResult(len(fresh), len(items) - len(fresh), alerts, tuple(fresh))

    async def _seen_keys(self, keys: set[str], window_start: float) -> set[str]:
        """Which of these keys count as seen: all but title keys older than the window."""
        found: set[str] = set()
        ordered = sorted(keys)
        for i in range(0, len(ordered), 500):
            chunk = ordered[i : i + 500]
            sql = f"SELECT key, first_seen FROM seen WHERE key IN ({','.join('?' * len(chunk))})"
            async with self._db.execute(sql, chunk) as cur:
                for key, first_seen in await cur.fetchall():
                    # Titles recur ("Morning briefing"), so they only count within the window.
                    if not key.startswith("title:") or first_seen >= window_start:
                        found.add(key)
        return found

    # -- outbox ------------------------------------------------------------------

    async def next_alert(self, platform: str, channel_id: str) -> Alert | None:
        """The oldest undelivered alert not held by the flood cap, threaded if its story
        already has a message in this channel."""
        sql = f"""
            SELECT {_ALERT_COLUMNS}, sp.message_id AS parent_message, s.title AS story_title
            FROM outbox o JOIN items i ON i.id = o.item_id
            LEFT JOIN story_posts sp
                ON sp.story = i.story AND sp.platform = o.platform AND sp.channel_id = o.channel_id
            LEFT JOIN stories s ON s.key = i.story
            WHERE o.platform = ? AND o.channel_id = ? AND o.status = 'pending'
                AND o.held_at IS NULL
            ORDER BY o.id LIMIT 1
        """
        async with self._db.execute(sql, (platform, channel_id)) as cur:
            row = await cur.fetchone()
        if row is None:
            return None
        alert = _alert(row)
        parent = row["reply_to"] or row["parent_message"]
        alert = replace(alert, story_title=row["story_title"] or "")
        if parent is None or alert.story is None:
            return replace(alert, reply_to=parent)
        earlier = await self._story_entities(alert.story, row["item_id"])
        new = tuple(
            dict.fromkeys(m.entity_name for m in alert.matches if m.entity_id not in earlier)
        )
        return replace(alert, reply_to=parent, new_entities=new)

    async def _story_entities(self, story: str, before_item: int) -> set[str]:
        sql = (
            "SELECT DISTINCT json_extract(m.value, '$.entity_id') FROM items i, "
            "json_each(i.matches) m WHERE i.story = ? AND i.id < ?"
        )
        async with self._db.execute(sql, (story, before_item)) as cur:
            return {r[0] for r in await cur.fetchall()}

    async def alert_due_at(self, alert_id: int) -> datetime:
        ts = await self._scalar("SELECT next_attempt_at FROM outbox WHERE id = ?", (alert_id,))
        return _dt(ts) or datetime.now(UTC)

    async def claim_alert(self, alert_id: int, now: datetime) -> None:
        """Record, committed, that a try of this alert is about to leave for the platform.

        Called before the request: a crash between the platform storing the
        message and mark_sent leaves this mark, and the next try looks first.
        """
        async with self._transaction() as db:
            await db.execute(
                "UPDATE outbox SET claimed_at = ? WHERE id = ?", (now.timestamp(), alert_id)
            )

    async def mark_sent(
        self, alert_id: int, message_id: str, now: datetime, reply_to: str | None = None
    ) -> None:
        """Record a delivery. A top-level alert of a story becomes the story's parent in its
        channel; a reply makes the story one source bigger there."""
        async with self._transaction() as db:
            await db.execute(
                "UPDATE outbox SET status = 'sent', message_id = ?, sent_at = ?, "
                "attempts = attempts + 1, last_error = NULL, reply_to = ?, top_level = ? "
                "WHERE id = ?",
                (message_id, now.timestamp(), reply_to, int(reply_to is None), alert_id),
            )
            sql = (
                "SELECT i.story, o.platform, o.channel_id FROM outbox o "
                "JOIN items i ON i.id = o.item_id WHERE o.id = ?"
            )
            async with db.execute(sql, (alert_id,)) as cur:
                row = await cur.fetchone()
            if row is None or row[0] is None:
                return
            if reply_to is None:
                await db.execute(
                    "INSERT OR IGNORE INTO story_posts (story, platform, channel_id, outbox_id, "
                    "message_id, last_update) VALUES (?,?,?,?,?,?)",
                    (row[0], row[1], row[2], alert_id, message_id, now.timestamp()),
                )
            else:
                await db.execute(
                    "UPDATE story_posts SET sources = sources + 1, last_update = ? "
                    "WHERE story = ? AND platform = ? AND channel_id = ?",
                    (now.timestamp(), row[0], row[1], row[2]),
                )

    async def mark_retry(
        self, alert_id: int, error: str, next_attempt_at: datetime, now: datetime
    ) -> None:
        async with self._transaction() as db:
            await db.execute(
                "UPDATE outbox SET attempts = attempts + 1, last_error = ?, next_attempt_at = ? "
                "WHERE id = ?",
                (error[:1000], next_attempt_at.timestamp(), alert_id),
            )

    async def mark_dead(self, alert_id: int, error: str, now: datetime) -> None:
        async with self._transaction() as db:
            await db.execute(
                "UPDATE outbox SET status = 'dead', attempts = attempts + 1, last_error = ?, "
                "sent_at = ? WHERE id = ?",
                (error[:1000], now.timestamp(), alert_id),
            )

    async def pending_count(self) -> int:
        return int(await self._scalar("SELECT count(*) FROM outbox WHERE status = 'pending'"))

    async def outbox_backlog(self) -> tuple[int, datetime | None]:
        """Undelivered alerts: how many, and when the oldest was queued (for metrics)."""
        async with self._db.execute(
            "SELECT count(*), min(created_at) FROM outbox WHERE status = 'pending'"
        ) as cur:
            row = await cur.fetchone()
        assert row is not None
        return int(row[0]), _dt(row[1])

    async def outbox_rows(self) -> list[dict[str, Any]]:
        """Every outbox row, oldest first: for status output and tests."""
        async with self._db.execute("SELECT * FROM outbox ORDER BY id") as cur:
            return [dict(r) for r in await cur.fetchall()]

    # -- flood control -----------------------------------------------------------

    async def flood_window(self, platform: str, channel_id: str) -> tuple[datetime | None, int]:
        """When the channel's current flood window started, and top-level posts since."""
        start = _dt(
            await self._scalar(
                "SELECT flood_window_start FROM channels WHERE platform = ? AND channel_id = ?",
                (platform, channel_id),
            )
        )
        if start is None:
            return None, 0
        count = await self._scalar(
            "SELECT count(*) FROM outbox WHERE platform = ? AND channel_id = ? "
            "AND top_level = 1 AND sent_at >= ?",
            (platform, channel_id, start.timestamp()),
        )
        return start, int(count)

    async def set_flood_window(
        self, platform: str, channel_id: str, start: datetime | None
    ) -> None:
        async with self._transaction() as db:
            await db.execute(
                "INSERT INTO channels (platform, channel_id, flood_window_start) VALUES (?,?,?) "
                "ON CONFLICT (platform, channel_id) DO UPDATE "
                "SET flood_window_start = excluded.flood_window_start",
                (platform, channel_id, _ts(start)),
            )

    async def hold_alert(self, alert_id: int, now: datetime) -> None:
        async with self._transaction() as db:
            await db.execute(
                "UPDATE outbox SET held_at = ? WHERE id = ?", (now.timestamp(), alert_id)
            )

    async def held_count(self, platform: str, channel_id: str) -> int:
        return int(
            await self._scalar(
                "SELECT count(*) FROM outbox WHERE platform = ? AND channel_id = ? "
                "AND status = 'pending' AND held_at NOT NULL AND summary_id IS NULL",
                (platform, channel_id),
            )
        )

    async def create_summary(
        self,
        platform: str,
        channel_id: str,
        window_start: datetime,
        window_end: datetime,
        now: datetime,
    ) -> int | None:
        """Collect the channel's held alerts into one summary to deliver; None if none held."""
        async with self._transaction() as db:
            cur = await db.execute(
                "INSERT INTO flood_summaries (platform, channel_id, window_start, window_end, "
                "next_attempt_at, created_at) SELECT ?,?,?,?,?,? WHERE EXISTS (SELECT 1 FROM "
                "outbox WHERE platform = ? AND channel_id = ? AND status = 'pending' "
                "AND held_at NOT NULL AND summary_id IS NULL)",
                (
                    platform,
                    channel_id,
                    window_start.timestamp(),
                    window_end.timestamp(),
                    now.timestamp(),
                    now.timestamp(),
                    platform,
                    channel_id,
                ),
            )
            if not cur.rowcount:
                return None
            summary_id = cur.lastrowid
            await db.execute(
                "UPDATE outbox SET summary_id = ? WHERE platform = ? AND channel_id = ? "
                "AND status = 'pending' AND held_at NOT NULL AND summary_id IS NULL",
                (summary_id, platform, channel_id),
            )
            await db.execute(
                "UPDATE channels SET flood_window_start = NULL WHERE platform = ? "
                "AND channel_id = ?",
                (platform, channel_id),
            )
        return summary_id

    async def next_summary(
        self, platform: str, channel_id: str
    ) -> tuple[FloodSummary, int, datetime] | None:
        """The oldest undelivered summary: (summary, attempts so far, when it is due)."""
        sql = (
            "SELECT * FROM flood_summaries WHERE platform = ? AND channel_id = ? "
            "AND status = 'pending' ORDER BY id LIMIT 1"
        )
        async with self._db.execute(sql, (platform, channel_id)) as cur:
            row = await cur.fetchone()
        if row is None:
            return None
        sql = f"""
            SELECT {_ALERT_COLUMNS} FROM outbox o JOIN items i ON i.id = o.item_id
            WHERE o.summary_id = ? ORDER BY o.id
        """
        async with self._db.execute(sql, (row["id"],)) as cur:
            alerts = tuple(_alert(r) for r in await cur.fetchall())
        summary = FloodSummary(
            id=row["id"],
            platform=platform,
            channel_id=channel_id,
            alerts=alerts,
            window_start=_dt(row["window_start"]) or datetime.now(UTC),
            window_end=_dt(row["window_end"]) or datetime.now(UTC),
        )
        return summary, row["attempts"], _dt(row["next_attempt_at"]) or datetime.now(UTC)

    async def mark_summary(
        self,
        summary_id: int,
        status: str,
        now: datetime,
        *,
        message_id: str | None = None,
        error: str | None = None,
        next_attempt_at: datetime | None = None,
    ) -> None:
        """Record a summary's delivery ("sent"), failure ("dead") or retry ("pending");
        the alerts it lists share its fate."""
        async with self._transaction() as db:
            await db.execute(
                "UPDATE flood_summaries SET status = ?, attempts = attempts + 1, "
                "message_id = coalesce(?, message_id), last_error = ?, "
                "next_attempt_at = coalesce(?, next_attempt_at), "
                "sent_at = CASE WHEN ? = 'pending' THEN NULL ELSE ? END WHERE id = ?",
                (
                    status,
                    message_id,
                    error[:1000] if error else None,
                    _ts(next_attempt_at),
                    status,
                    now.timestamp(),
                    summary_id,
                ),
            )
            if status != "pending":
                await db.execute(
                    "UPDATE outbox SET status = ?, message_id = ?, sent_at = ?, last_error = ? "
                    "WHERE summary_id = ?",
                    (status, message_id, now.timestamp(), error, summary_id),
                )

    # -- story threads -------------------------------------------------------------

    async def stale_story_posts(self, platform: str, channel_id: str) -> list[StoryUpdate]:
        """Story parents in a channel whose message is behind the story's growth there.

        `sources` counts distinct feeds among the story's items delivered in the
        channel: three updates from one paper are one source, not three.
        """
        sql = f"""
            SELECT {_ALERT_COLUMNS}, sp.message_id AS parent_message, sp.sources AS revision,
                sp.last_update, (
                    SELECT count(DISTINCT mi.feed_url) FROM outbox mo
                    JOIN items mi ON mi.id = mo.item_id
                    WHERE mi.story = sp.story AND mo.platform = sp.platform
                        AND mo.channel_id = sp.channel_id AND mo.status = 'sent'
                ) AS feeds
            FROM story_posts sp JOIN outbox o ON o.id = sp.outbox_id
            JOIN items i ON i.id = o.item_id
            WHERE sp.platform = ? AND sp.channel_id = ? AND sp.shown < sp.sources
            ORDER BY sp.last_update LIMIT 50  -- the outbox's STALE_BATCH
        """
        async with self._db.execute(sql, (platform, channel_id)) as cur:
            rows = await cur.fetchall()
        return [
            StoryUpdate(
                parent=_alert(r),
                message_id=r["parent_message"],
                sources=max(r["feeds"], 1),
                last_update=_dt(r["last_update"]) or datetime.now(UTC),
                revision=r["revision"],
            )
            for r in rows
        ]

    async def mark_story_shown(
        self, story: str, platform: str, channel_id: str, shown: int
    ) -> None:
        async with self._transaction() as db:
            await db.execute(
                "UPDATE story_posts SET shown = max(shown, ?) WHERE story = ? AND platform = ? "
                "AND channel_id = ?",
                (shown, story, platform, channel_id),
            )

    async def story_members_since(self, since: datetime) -> list[StoryMember]:
        """Items that belong to stories, fetched at or after `since`, oldest first:
        for rebuilding the story index at start-up."""
        sql = (
            "SELECT feed_url, guid, url, title, summary, published, feed_name, fetched_at, "
            "story, matches, date_note FROM items WHERE story NOT NULL AND fetched_at >= ? "
            "ORDER BY id"
        )
        async with self._db.execute(sql, (since.timestamp(),)) as cur:
            rows = await cur.fetchall()
        return [
            StoryMember(
                Item(r[0], r[1], r[2], r[3], r[4], _dt(r[5]), r[6], r[10]),
                _dt(r[7]) or since,
                r[8],
                frozenset(m.entity_id for m in _matches_from(r[9])),
            )
            for r in rows
        ]

    async def set_channel_broken(
        self,
        platform: str,
        channel_id: str,
        reason: str | None,
        now: datetime,
        config_hash: str | None = None,
    ) -> None:
        async with self._transaction() as db:
            await db.execute(
                "INSERT INTO channels (platform, channel_id, broken_reason, broken_at, "
                "config_hash) VALUES (?,?,?,?,?) ON CONFLICT (platform, channel_id) DO UPDATE "
                "SET broken_reason = excluded.broken_reason, broken_at = excluded.broken_at, "
                "config_hash = excluded.config_hash",
                (platform, channel_id, reason, now.timestamp() if reason else None, config_hash),
            )

    async def broken_channels(self) -> dict[tuple[str, str], str]:
        return {k: v[0] for k, v in (await self.broken_channel_details()).items()}

    async def broken_channel_details(self) -> dict[tuple[str, str], tuple[str, str | None]]:
        """Broken channels: (reason, hash of the configuration they broke under)."""
        sql = (
            "SELECT platform, channel_id, broken_reason, config_hash FROM channels "
            "WHERE broken_reason NOT NULL"
        )
        async with self._db.execute(sql) as cur:
            return {(r[0], r[1]): (r[2], r[3]) for r in await cur.fetchall()}

    async def items_since(self, since: datetime) -> list[Item]:
        sql = (
            "SELECT feed_url, guid, url, title, summary, published, feed_name, date_note "
            "FROM items WHERE fetched_at >= ? ORDER BY fetched_at DESC, id DESC"
        )
        async with self._db.execute(sql, (since.timestamp(),)) as cur:
            rows = await cur.fetchall()
        return [Item(r[0], r[1], r[2], r[3], r[4], _dt(r[5]), r[6], r[7]) for r in rows]

    # -- chat terms ------------------------------------------------------------------

    async def chat_terms(self) -> list[ChatTerm]:
        sql = "SELECT entity_id, term, kind FROM watch_terms ORDER BY id"
        async with self._db.execute(sql) as cur:
            return [ChatTerm(r[0], r[1], r[2]) for r in await cur.fetchall()]

    async def add_chat_term(self, term: ChatTerm, added_by: str, now: datetime) -> bool:
        async with self._transaction() as db:
            cur = await db.execute(
                "INSERT OR IGNORE INTO watch_terms (entity_id, term, kind, added_by, added_at) "
                "VALUES (?,?,?,?,?)",
                (term.entity_id, term.term, term.kind, added_by, now.timestamp()),
            )
            return bool(cur.rowcount)

    async def remove_chat_term(self, entity_id: str, term: str) -> bool:
        async with self._transaction() as db:
            cur = await db.execute(
                "DELETE FROM watch_terms WHERE entity_id = ? AND term = ?", (entity_id, term)
            )
            return bool(cur.rowcount)

    async def remove_file_term(
        self, entity_id: str, term: str, removed_by: str, now: datetime
    ) -> None:
        async with self._transaction() as db:
            await db.execute(
                "INSERT OR IGNORE INTO removed_terms (entity_id, term, removed_by, removed_at) "
                "VALUES (?,?,?,?)",
                (entity_id, term, removed_by, now.timestamp()),
            )

    async def removed_terms(self) -> list[tuple[str, str]]:
        async with self._db.execute("SELECT entity_id, term FROM removed_terms") as cur:
            return [(r[0], r[1]) for r in await cur.fetchall()]

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
        async with self._db.execute("SELECT url, name FROM added_feeds ORDER BY added_at") as cur:
            return [(r[0], r[1]) for r in await cur.fetchall()]

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
        async with self._db.execute(
            "SELECT url, name, added_by, source, first_poll, html_url FROM added_feeds "
            "ORDER BY added_at"
        ) as cur:
            return [AddedFeed(*r) for r in await cur.fetchall()]

    # -- mutes ------------------------------------------------------------------------

    async def set_mute(
        self, entity_id: str, until: datetime | None, muted_by: str, now: datetime
    ) -> None:
        async with self._transaction() as db:
            await db.execute(
                "INSERT INTO mutes (entity_id, until, muted_by, muted_at) VALUES (?,?,?,?) "
                "ON CONFLICT (entity_id) DO UPDATE SET until = excluded.until, "
                "muted_by = excluded.muted_by, muted_at = excluded.muted_at",
                (entity_id, _ts(until), muted_by, now.timestamp()),
            )

    async def clear_mute(self, entity_id: str) -> bool:
        async with self._transaction() as db:
            cur = await db.execute("DELETE FROM mutes WHERE entity_id = ?", (entity_id,))
            return bool(cur.rowcount)

    async def mutes(self) -> dict[str, datetime | None]:
        async with self._db.execute("SELECT entity_id, until FROM mutes") as cur:
            return {r[0]: _dt(r[1]) for r in await cur.fetchall()}

    # -- digests -----------------------------------------------------------------------

    async def mentions_since(self, since: datetime) -> list[tuple[str, datetime]]:
        """(entity id, fetched at) for every match of every item fetched since `since`."""
        sql = (
            "SELECT json_extract(m.value, '$.entity_id'), i.fetched_at FROM items i, "
            "json_each(i.matches) m WHERE i.fetched_at >= ? AND i.matches != '[]'"
        )
        async with self._db.execute(sql, (since.timestamp(),)) as cur:
            return [(r[0], _dt(r[1]) or since) for r in await cur.fetchall()]

    async def stories_since(self, since: datetime) -> list[StoryRecord]:
        """Stories with items fetched since `since`, with those items' feeds and entities."""
        sql = (
            "SELECT s.key, s.title, s.url, s.first_seen, i.feed_url, i.matches FROM items i "
            "JOIN stories s ON s.key = i.story WHERE i.fetched_at >= ? ORDER BY i.id"
        )
        async with self._db.execute(sql, (since.timestamp(),)) as cur:
            rows = await cur.fetchall()
        grouped: dict[str, tuple[Any, set[str], list[int], set[str]]] = {}
        for r in rows:
            _, feeds, count, entities = grouped.setdefault(r[0], (r, set(), [0], set()))
            feeds.add(r[4])
            count[0] += 1
            entities.update(m.entity_id for m in _matches_from(r[5]))
        return [
            StoryRecord(
                key=key,
                title=first[1],
                url=first[2],
                first_seen=_dt(first[3]) or since,
                feeds=frozenset(feeds),
                items=count[0],
                entity_ids=frozenset(entities),
            )
            for key, (first, feeds, count, entities) in grouped.items()
        ]

    async def first_item_at(self) -> datetime | None:
        """When the oldest stored item was fetched: the bot has been running since about then."""
        return _dt(await self._scalar("SELECT min(fetched_at) FROM items"))

    async def entity_first_seen(self) -> dict[str, datetime]:
        async with self._db.execute("SELECT entity_id, first_seen FROM entity_first_seen") as cur:
            return {r[0]: _dt(r[1]) or datetime.now(UTC) for r in await cur.fetchall()}

    async def feed_activity(self) -> dict[str, tuple[datetime | None, float | None]]:
        """Per feed URL: when it last had a new item, and its usual gap in seconds."""
        async with self._db.execute("SELECT url, last_new_at, mean_gap FROM feeds") as cur:
            return {r[0]: (_dt(r[1]), r[2]) for r in await cur.fetchall()}

    async def digest_status(self, channel: str, day: date) -> str | None:
        """ "queued", "sent", "skipped", "dead", or None for a day not begun."""
        return await self._scalar(
            "SELECT status FROM digests WHERE channel = ? AND day = ?", (channel, day.isoformat())
        )

    async def last_digest_day(self, channel: str) -> date | None:
        """The latest day whose digest was queued (or sent, skipped, given up) in this channel."""
        day = await self._scalar("SELECT max(day) FROM digests WHERE channel = ?", (channel,))
        return date.fromisoformat(day) if day else None

    async def record_digest(
        self, channel: str, day: date, status: str, now: datetime, message_id: str | None = None
    ) -> None:
        async with self._transaction() as db:
            await db.execute(
                "INSERT INTO digests (channel, day, status, message_id, at) VALUES (?,?,?,?,?) "
                "ON CONFLICT (channel, day) DO UPDATE SET status = excluded.status, "
                "message_id = excluded.message_id, at = excluded.at",
                (channel, day.isoformat(), status, message_id, now.timestamp()),
            )

    async def queue_digest(
        self, channel: str, day: date, period_end: datetime, timezone: str, now: datetime
    ) -> None:
        """Queue a day's digest for the channel's outbox worker (once: a day queued stays)."""
        async with self._transaction() as db:
            await db.execute(
                "INSERT INTO digests (channel, day, status, at, created_at, period_end, "
                "timezone, next_attempt_at) VALUES (?,?,'queued',?,?,?,?,?) "
                "ON CONFLICT (channel, day) DO NOTHING",
                (
                    channel,
                    day.isoformat(),
                    now.timestamp(),
                    now.timestamp(),
                    period_end.timestamp(),
                    timezone,
                    now.timestamp(),
                ),
            )

    async def next_digest_job(self, channel: str) -> DigestJob | None:
        sql = (
            "SELECT * FROM digests WHERE channel = ? AND status = 'queued' "
            "ORDER BY created_at, day LIMIT 1"
        )
        async with self._db.execute(sql, (channel,)) as cur:
            r = await cur.fetchone()
        if r is None:
            return None
        at = _dt(r["at"]) or datetime.now(UTC)
        return DigestJob(
            channel=r["channel"],
            day=date.fromisoformat(r["day"]),
            period_end=_dt(r["period_end"]) or at,
            timezone=r["timezone"],
            attempts=r["attempts"],
            due_at=_dt(r["next_attempt_at"]) or at,
            created_at=_dt(r["created_at"]) or at,
            claimed=r["claimed_at"] is not None,
        )

    async def claim_digest(self, channel: str, day: date, now: datetime) -> None:
        """Commit that a try of this digest is about to leave (see Alert.claimed)."""
        async with self._transaction() as db:
            await db.execute(
                "UPDATE digests SET claimed_at = ? WHERE channel = ? AND day = ?",
                (now.timestamp(), channel, day.isoformat()),
            )

    async def mark_digest(
        self,
        channel: str,
        day: date,
        status: str,
        now: datetime,
        *,
        message_id: str | None = None,
        error: str | None = None,
        next_attempt_at: datetime | None = None,
    ) -> None:
        """Record a queued digest's delivery ("sent"), giving up ("dead") or retry ("queued")."""
        async with self._transaction() as db:
            await db.execute(
                "UPDATE digests SET status = ?, attempts = attempts + 1, at = ?, "
                "message_id = coalesce(?, message_id), last_error = ?, "
                "next_attempt_at = coalesce(?, next_attempt_at) WHERE channel = ? AND day = ?",
                (
                    status,
                    now.timestamp(),
                    message_id,
                    error[:1000] if error else None,
                    _ts(next_attempt_at),
                    channel,
                    day.isoformat(),
                ),
            )

    async def delivery_problems(self, since: datetime) -> list[DeliveryProblem]:
        """What could not be delivered for good: broken channels, and digests, summaries
        and alerts given up on since `since`. For `/feeds status` and the next digest."""
        problems: list[DeliveryProblem] = []
        sql = (
            "SELECT platform || ':' || channel_id, broken_reason, broken_at FROM channels "
            "WHERE broken_reason NOT NULL ORDER BY broken_at"
        )
        async with self._db.execute(sql) as cur:
            for r in await cur.fetchall():
                at = _dt(r[2]) or since
                problems.append(DeliveryProblem(r[0], "channel refused, alerts queued", r[1], at))
        sql = (
            "SELECT channel, day, last_error, at FROM digests WHERE status = 'dead' AND at >= ? "
            "ORDER BY at"
        )
        async with self._db.execute(sql, (since.timestamp(),)) as cur:
            for r in await cur.fetchall():
                problems.append(
                    DeliveryProblem(
                        r[0], f"digest for {r[1]} not posted", r[2] or "", _dt(r[3]) or since
                    )
                )
        sql = (
            "SELECT platform || ':' || channel_id, count(*), max(last_error), max(sent_at) "
            "FROM outbox WHERE status = 'dead' AND sent_at >= ? GROUP BY 1 ORDER BY 1"
        )
        async with self._db.execute(sql, (since.timestamp(),)) as cur:
            for r in await cur.fetchall():
                what = f"{r[1]} alert{'s' if r[1] != 1 else ''} not posted"
                problems.append(DeliveryProblem(r[0], what, r[2] or "", _dt(r[3]) or since))
        return problems

    # -- housekeeping ------------------------------------------------------------------

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


def _statements(script: str) -> list[str]:
    """Split a migration into statements (they contain no semicolons in strings)."""
    return [s.strip() for s in script.split(";") if s.strip()]


async def _remember(
    db: aiosqlite.Connection, rows: Sequence[tuple[str, float, int | None]]
) -> None:
    """Record (key, seen_at, item_id) rows.

    A title key is refreshed when seen again, so its window slides with the
    story; guid and URL keys keep their first sighting.
    """
    await db.executemany(
        "INSERT INTO seen (key, first_seen, item_id) VALUES (?,?,?) ON CONFLICT (key) DO "
        "UPDATE SET first_seen = CASE WHEN key LIKE 'title:%' THEN excluded.first_seen "
        "ELSE first_seen END, item_id = coalesce(item_id, excluded.item_id)",
        rows,
    )


async def _upsert_feed(db: aiosqlite.Connection, s: FeedState, added_items: int = 0) -> None:
    # items_seen is counted by the database, so a stale in-memory state never lowers it.
    await db.execute(
        """
        INSERT INTO feeds (url, fetch_url, etag, last_modified, body_hash, first_polled,
            next_poll_at, last_success_at, last_error, last_error_at, error_count,
            failing_since, disabled_reason, items_seen, html_url)
        VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)
        ON CONFLICT (url) DO UPDATE SET fetch_url = excluded.fetch_url, etag = excluded.etag,
            last_modified = excluded.last_modified, body_hash = excluded.body_hash,
            first_polled = excluded.first_polled, next_poll_at = excluded.next_poll_at,
            last_success_at = excluded.last_success_at, last_error = excluded.last_error,
            last_error_at = excluded.last_error_at, error_count = excluded.error_count,
            failing_since = excluded.failing_since, disabled_reason = excluded.disabled_reason,
            items_seen = feeds.items_seen + ?,
            html_url = coalesce(excluded.html_url, feeds.html_url)
        """,
        (
            s.feed_url,
            s.fetch_url,
            s.etag,
            s.last_modified,
            s.body_hash,
            int(s.first_polled),
            _ts(s.next_poll_at),
            _ts(s.last_success_at),
            s.last_error,
            _ts(s.last_error_at),
            s.error_count,
            _ts(s.failing_since),
            s.disabled_reason,
            s.items_seen + added_items,
            s.html_url,
            added_items,
        ),
    )


async def _record_new_items(db: aiosqlite.Connection, feed_url: str, now_ts: float) -> None:
    """Track how often a feed has news, so the digest can tell a silent feed from a quiet day.

    The usual gap is a moving average (weight 0.3 on the newest gap) between
    polls that brought new items; the first poll only sets the starting point.
    """
    await db.execute(
        "UPDATE feeds SET mean_gap = CASE WHEN last_new_at IS NULL THEN mean_gap "
        "WHEN mean_gap IS NULL THEN ? - last_new_at "
        "ELSE 0.7 * mean_gap + 0.3 * (? - last_new_at) END, last_new_at = ? WHERE url = ?",
        (now_ts, now_ts, now_ts, feed_url),
    )


def _feed_state(r: aiosqlite.Row) -> FeedState:
    return FeedState(
        feed_url=r["url"],
        fetch_url=r["fetch_url"],
        etag=r["etag"],
        last_modified=r["last_modified"],
        body_hash=r["body_hash"],
        first_polled=bool(r["first_polled"]),
        next_poll_at=_dt(r["next_poll_at"]),
        last_success_at=_dt(r["last_success_at"]),
        last_error=r["last_error"],
        last_error_at=_dt(r["last_error_at"]),
        error_count=r["error_count"],
        failing_since=_dt(r["failing_since"]),
        disabled_reason=r["disabled_reason"],
        items_seen=r["items_seen"],
        html_url=r["html_url"],
    )


_ALERT_COLUMNS = (
    "o.*, i.feed_url, i.guid, i.url, i.title, i.summary, i.published, i.feed_name, i.story, "
    "i.date_note"
)


def _alert(r: aiosqlite.Row) -> Alert:
    item = Item(
        feed_url=r["feed_url"],
        guid=r["guid"],
        url=r["url"],
        title=r["title"],
        summary=r["summary"],
        published=_dt(r["published"]),
        feed_name=r["feed_name"],
        date_note=r["date_note"],
    )
    return Alert(
        id=r["id"],
        platform=r["platform"],
        channel_id=r["channel_id"],
        item=item,
        matches=_matches_from(r["matches"]),
        created_at=_dt(r["created_at"]) or datetime.now(UTC),
        attempts=r["attempts"],
        claimed=r["claimed_at"] is not None,
        reply_to=r["reply_to"],
        story=r["story"],
    )
