"""The outbox: alerts, flood windows and summaries, broken channels, queued digests."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

from bot.models import (
    Alert,
    DeliveryProblem,
    DigestJob,
    FloodSummary,
)
from bot.storage.rows import summary_from_row
from bot.storage.sqlite.connection import SQLiteConnection
from bot.storage.sqlite.rows import (
    ALERT_COLUMNS,
    alert_from_row,
    dt,
    ts,
)


class OutboxRepository(SQLiteConnection):
    """Everything waiting for or done with delivery (bot/storage/outbox.py)."""

    # -- outbox ------------------------------------------------------------------

    async def next_alert(self, platform: str, channel_id: str) -> Alert | None:
        """The oldest undelivered alert not held by the flood cap, threaded if its story
        already has a message in this channel."""
        sql = f"""
            SELECT {ALERT_COLUMNS}, sp.message_id AS parent_message, s.title AS story_title
            FROM outbox o JOIN items i ON i.id = o.item_id
            LEFT JOIN story_posts sp
                ON sp.story = i.story AND sp.platform = o.platform AND sp.channel_id = o.channel_id
            LEFT JOIN stories s ON s.key = i.story
            WHERE o.platform = ? AND o.channel_id = ? AND o.status = 'pending'
                AND o.held_at IS NULL
            ORDER BY o.id LIMIT 1
        """
        row = await self._row(sql, (platform, channel_id))
        if row is None:
            return None
        alert = alert_from_row(row)
        parent = row["reply_to"] or row["parent_message"]
        alert = replace(alert, story_title=row["story_title"] or "")
        if parent is None or alert.story is None:
            return replace(alert, reply_to=parent)
        # Loaded for bot/stories/rules.py, which decides what the reply adds.
        earlier = await self._story_entities(alert.story, row["item_id"])
        return replace(alert, reply_to=parent, earlier_entity_ids=frozenset(earlier))

    async def _story_entities(self, story: str, before_item: int) -> set[str]:
        sql = (
            "SELECT DISTINCT json_extract(m.value, '$.entity_id') FROM items i, "
            "json_each(i.matches) m WHERE i.story = ? AND i.id < ?"
        )
        return {r[0] for r in await self._rows(sql, (story, before_item))}

    async def alert_due_at(self, alert_id: int) -> datetime:
        ts = await self._scalar("SELECT next_attempt_at FROM outbox WHERE id = ?", (alert_id,))
        return dt(ts) or datetime.now(UTC)

    async def claim_alert(self, alert_id: int, now: datetime) -> None:
        """Record, committed, that a try of this alert is about to leave for the platform.

        Called before the request: a crash between the platform storing the
        message and mark_sent leaves this mark, and the next try looks first.
        """
        # One call on aiosqlite's thread (`_write`): delivery's hot path.
        at = now.timestamp()
        await self._write(
            lambda conn: conn.execute(
                "UPDATE outbox SET claimed_at = ? WHERE id = ?", (at, alert_id)
            )
        )

    async def mark_sent(
        self, alert_id: int, message_id: str, now: datetime, reply_to: str | None = None
    ) -> None:
        """Record a delivery. A top-level alert of a story becomes the story's parent in its
        channel; a reply makes the story one source bigger there.

        Only a pending row is recorded (here and in mark_retry, mark_dead): an alert
        recorded twice keeps its first record and counts in its story once (the
        same contract as PostgreSQL's, where two instances could record it).
        """
        at = now.timestamp()

        def write(conn: sqlite3.Connection) -> None:
            # The whole transaction is one call on aiosqlite's thread (`_write`).
            cur = conn.execute(
                "UPDATE outbox SET status = 'sent', message_id = ?, sent_at = ?, "
                "attempts = attempts + 1, last_error = NULL, reply_to = ?, top_level = ? "
                "WHERE id = ? AND status = 'pending'",
                (message_id, at, reply_to, int(reply_to is None), alert_id),
            )
            if not cur.rowcount:
                return
            row = conn.execute(
                "SELECT i.story, o.platform, o.channel_id FROM outbox o "
                "JOIN items i ON i.id = o.item_id WHERE o.id = ?",
                (alert_id,),
            ).fetchone()
            if row is None or row[0] is None:
                return
            if reply_to is None:
                conn.execute(
                    "INSERT OR IGNORE INTO story_posts (story, platform, channel_id, outbox_id, "
                    "message_id, last_update) VALUES (?,?,?,?,?,?)",
                    (row[0], row[1], row[2], alert_id, message_id, at),
                )
            else:
                conn.execute(
                    "UPDATE story_posts SET sources = sources + 1, last_update = ? "
                    "WHERE story = ? AND platform = ? AND channel_id = ?",
                    (at, row[0], row[1], row[2]),
                )

        await self._write(write)

    async def mark_retry(
        self, alert_id: int, error: str, next_attempt_at: datetime, now: datetime
    ) -> None:
        async with self._transaction() as db:
            await db.execute(
                "UPDATE outbox SET attempts = attempts + 1, last_error = ?, next_attempt_at = ? "
                "WHERE id = ? AND status = 'pending'",
                (error[:1000], next_attempt_at.timestamp(), alert_id),
            )

    async def mark_dead(self, alert_id: int, error: str, now: datetime) -> None:
        async with self._transaction() as db:
            await db.execute(
                "UPDATE outbox SET status = 'dead', attempts = attempts + 1, last_error = ?, "
                "sent_at = ? WHERE id = ? AND status = 'pending'",
                (error[:1000], now.timestamp(), alert_id),
            )

    async def pending_count(self) -> int:
        return int(await self._scalar("SELECT count(*) FROM outbox WHERE status = 'pending'"))

    async def outbox_backlog(self) -> tuple[int, datetime | None]:
        """Undelivered alerts: how many, and when the oldest was queued (for metrics)."""
        row = await self._row(
            "SELECT count(*), min(created_at) FROM outbox WHERE status = 'pending'"
        )
        assert row is not None
        return int(row[0]), dt(row[1])

    async def outbox_rows(self) -> list[dict[str, Any]]:
        """Every outbox row, oldest first: for status output and tests."""
        return [dict(r) for r in await self._rows("SELECT * FROM outbox ORDER BY id")]

    # -- flood control -----------------------------------------------------------

    async def flood_window(self, platform: str, channel_id: str) -> tuple[datetime | None, int]:
        """When the channel's current flood window started, and top-level posts since."""
        start = dt(
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
                (platform, channel_id, ts(start)),
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
        row = await self._row(sql, (platform, channel_id))
        if row is None:
            return None
        sql = f"""
            SELECT {ALERT_COLUMNS} FROM outbox o JOIN items i ON i.id = o.item_id
            WHERE o.summary_id = ? ORDER BY o.id
        """
        alerts = tuple(alert_from_row(r) for r in await self._rows(sql, (row["id"],)))
        return summary_from_row(row, alerts)

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
                    ts(next_attempt_at),
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
        return {(r[0], r[1]): (r[2], r[3]) for r in await self._rows(sql)}

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
        r = await self._row(sql, (channel,))
        if r is None:
            return None
        at = dt(r["at"]) or datetime.now(UTC)
        return DigestJob(
            channel=r["channel"],
            day=date.fromisoformat(r["day"]),
            period_end=dt(r["period_end"]) or at,
            timezone=r["timezone"],
            attempts=r["attempts"],
            due_at=dt(r["next_attempt_at"]) or at,
            created_at=dt(r["created_at"]) or at,
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
                    ts(next_attempt_at),
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
        for r in await self._rows(sql):
            at = dt(r[2]) or since
            problems.append(DeliveryProblem(r[0], "channel", r[1], at))
        sql = (
            "SELECT channel, day, last_error, at FROM digests WHERE status = 'dead' AND at >= ? "
            "ORDER BY at"
        )
        for r in await self._rows(sql, (since.timestamp(),)):
            problems.append(
                DeliveryProblem(
                    r[0], "digest", r[2] or "", dt(r[3]) or since, day=date.fromisoformat(r[1])
                )
            )
        sql = (
            "SELECT platform || ':' || channel_id, count(*), max(last_error), max(sent_at) "
            "FROM outbox WHERE status = 'dead' AND sent_at >= ? GROUP BY 1 ORDER BY 1"
        )
        for r in await self._rows(sql, (since.timestamp(),)):
            at = dt(r[3]) or since
            problems.append(DeliveryProblem(r[0], "alerts", r[2] or "", at, count=r[1]))
        return problems
