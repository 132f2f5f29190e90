"""SQLite storage via aiosqlite: WAL, one connection, explicit short transactions.

Schema changes are numbered migrations: migration N takes the database from
`PRAGMA user_version` N-1 to N. A database whose `application_id` is not ours,
or whose version is newer than this code knows, is refused rather than touched.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiosqlite

from bot.dedup import item_keys
from bot.errors import StorageError
from bot.matching.watchlists import ChatTerm
from bot.models import Alert, FeedState, Item, Match
from bot.storage.base import IngestResult, Planner

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
            app_id = await self._scalar("PRAGMA application_id")
            version = await self._scalar("PRAGMA user_version")
        except sqlite3.DatabaseError as e:
            raise StorageError(f"{self._path}: not a usable SQLite database ({e})") from e
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
        for number in range(version + 1, len(MIGRATIONS) + 1):
            async with self._transaction():
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
            except BaseException:
                await asyncio.shield(self._db.execute("ROLLBACK"))
                raise
            else:
                await asyncio.shield(self._db.execute("COMMIT"))

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
            item_rows, key_rows, outbox_rows = [], [], []
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
                    )
                )
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
                "feed_name, fetched_at, matches) VALUES (?,?,?,?,?,?,?,?,?,?)",
                item_rows,
            )
            await _remember(db, key_rows)
            cur = await db.executemany(
                "INSERT OR IGNORE INTO outbox (item_id, platform, channel_id, matches, "
                "next_attempt_at, created_at) VALUES (?,?,?,?,?,?)",
                outbox_rows,
            )
            alerts = max(cur.rowcount, 0)
            await _upsert_feed(db, state, added_items=len(fresh))
        return IngestResult(len(fresh), len(items) - len(fresh), alerts)

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
        sql = """
            SELECT o.*, i.feed_url, i.guid, i.url, i.title, i.summary, i.published, i.feed_name
            FROM outbox o JOIN items i ON i.id = o.item_id
            WHERE o.platform = ? AND o.channel_id = ? AND o.status = 'pending'
            ORDER BY o.id LIMIT 1
        """
        async with self._db.execute(sql, (platform, channel_id)) as cur:
            row = await cur.fetchone()
        return None if row is None else _alert(row)

    async def alert_due_at(self, alert_id: int) -> datetime:
        ts = await self._scalar("SELECT next_attempt_at FROM outbox WHERE id = ?", (alert_id,))
        return _dt(ts) or datetime.now(UTC)

    async def mark_sent(self, alert_id: int, message_id: str, now: datetime) -> None:
        async with self._transaction() as db:
            await db.execute(
                "UPDATE outbox SET status = 'sent', message_id = ?, sent_at = ?, "
                "attempts = attempts + 1, last_error = NULL WHERE id = ?",
                (message_id, now.timestamp(), alert_id),
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

    async def outbox_rows(self) -> list[dict[str, Any]]:
        """Every outbox row, oldest first: for status output and tests."""
        async with self._db.execute("SELECT * FROM outbox ORDER BY id") as cur:
            return [dict(r) for r in await cur.fetchall()]

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
            "SELECT feed_url, guid, url, title, summary, published, feed_name FROM items "
            "WHERE fetched_at >= ? ORDER BY fetched_at DESC, id DESC"
        )
        async with self._db.execute(sql, (since.timestamp(),)) as cur:
            rows = await cur.fetchall()
        return [Item(r[0], r[1], r[2], r[3], r[4], _dt(r[5]), r[6]) for r in rows]

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

    # -- housekeeping ------------------------------------------------------------------

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
            failing_since, disabled_reason, items_seen)
        VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)
        ON CONFLICT (url) DO UPDATE SET fetch_url = excluded.fetch_url, etag = excluded.etag,
            last_modified = excluded.last_modified, body_hash = excluded.body_hash,
            first_polled = excluded.first_polled, next_poll_at = excluded.next_poll_at,
            last_success_at = excluded.last_success_at, last_error = excluded.last_error,
            last_error_at = excluded.last_error_at, error_count = excluded.error_count,
            failing_since = excluded.failing_since, disabled_reason = excluded.disabled_reason,
            items_seen = feeds.items_seen + ?
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
            added_items,
        ),
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
    )
    return Alert(
        id=r["id"],
        platform=r["platform"],
        channel_id=r["channel_id"],
        item=item,
        matches=_matches_from(r["matches"]),
        created_at=_dt(r["created_at"]) or datetime.now(UTC),
        attempts=r["attempts"],
        reply_to=r["reply_to"],
    )
