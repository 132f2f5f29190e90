"""The outbox on PostgreSQL: alerts, flood windows and summaries, broken channels, digests.

The same behaviour as bot/storage/sqlite/outbox.py (the contract suite runs both),
written for several instances on one database: every write is one statement or
one short transaction whose conditions are re-checked under PostgreSQL's row locks
(an UPDATE's WHERE, INSERT … ON CONFLICT), never a read followed by a write that
another instance could slip between. Queuing new delivery work (a summary, a
digest) announces OUTBOX_CHANGED in the same transaction, so the instance that
delivers the channel wakes at the commit instead of at its next periodic check.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

from bot.models import Alert, DeliveryProblem, DigestJob, FloodSummary
from bot.storage.coordination import OUTBOX_CHANGED
from bot.storage.postgres.connection import PostgresConnection, notify
from bot.storage.rows import ALERT_COLUMNS, alert_from_row, dt, summary_from_row, ts


class OutboxRepository(PostgresConnection):
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
            WHERE o.platform = $1 AND o.channel_id = $2 AND o.status = 'pending'
                AND o.held_at IS NULL
            ORDER BY o.id LIMIT 1
        """
        row = await self._fetchrow(sql, platform, channel_id)
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
            "SELECT DISTINCT m ->> 'entity_id' FROM items i "
            "CROSS JOIN LATERAL jsonb_array_elements(i.matches::jsonb) m "
            "WHERE i.story = $1 AND i.id < $2"
        )
        return {r[0] for r in await self._fetch(sql, story, before_item)}

    async def alert_due_at(self, alert_id: int) -> datetime:
        due = await self._fetchval("SELECT next_attempt_at FROM outbox WHERE id = $1", alert_id)
        return dt(due) or datetime.now(UTC)

    async def claim_alert(self, alert_id: int, now: datetime) -> None:
        """Record, committed, that a try of this alert is about to leave for the platform.

        Called before the request: a crash between the platform storing the
        message and mark_sent leaves this mark, and the next try (on whichever
        instance takes the channel over) looks first.
        """
        await self._execute(
            "UPDATE outbox SET claimed_at = $1 WHERE id = $2", now.timestamp(), alert_id
        )

    async def mark_sent(
        self, alert_id: int, message_id: str, now: datetime, reply_to: str | None = None
    ) -> None:
        """Record a delivery. A top-level alert of a story becomes the story's parent in its
        channel; a reply makes the story one source bigger there.

        Only a pending row is recorded (here and in mark_retry, mark_dead): if two
        instances ever record the same alert (one lost its channel lock mid-send),
        the first record stands and the story is not counted one source bigger twice.
        """
        async with self._transaction() as db:
            row = await db.fetchrow(
                "UPDATE outbox o SET status = 'sent', message_id = $1, sent_at = $2, "
                "attempts = attempts + 1, last_error = NULL, reply_to = $3, top_level = $4 "
                "FROM items i WHERE o.id = $5 AND o.status = 'pending' AND i.id = o.item_id "
                "RETURNING i.story, o.platform, o.channel_id",
                message_id,
                now.timestamp(),
                reply_to,
                int(reply_to is None),
                alert_id,
            )
            if row is None or row[0] is None:
                return
            if reply_to is None:
                await db.execute(
                    "INSERT INTO story_posts (story, platform, channel_id, outbox_id, "
                    "message_id, last_update) VALUES ($1, $2, $3, $4, $5, $6) "
                    "ON CONFLICT DO NOTHING",
                    row[0],
                    row[1],
                    row[2],
                    alert_id,
                    message_id,
                    now.timestamp(),
                )
            else:
                await db.execute(
                    "UPDATE story_posts SET sources = sources + 1, last_update = $1 "
                    "WHERE story = $2 AND platform = $3 AND channel_id = $4",
                    now.timestamp(),
                    row[0],
                    row[1],
                    row[2],
                )

    async def mark_retry(
        self, alert_id: int, error: str, next_attempt_at: datetime, now: datetime
    ) -> None:
        await self._execute(
            "UPDATE outbox SET attempts = attempts + 1, last_error = $1, next_attempt_at = $2 "
            "WHERE id = $3 AND status = 'pending'",
            error[:1000],
            next_attempt_at.timestamp(),
            alert_id,
        )

    async def mark_dead(self, alert_id: int, error: str, now: datetime) -> None:
        await self._execute(
            "UPDATE outbox SET status = 'dead', attempts = attempts + 1, last_error = $1, "
            "sent_at = $2 WHERE id = $3 AND status = 'pending'",
            error[:1000],
            now.timestamp(),
            alert_id,
        )

    async def pending_count(self) -> int:
        return int(await self._fetchval("SELECT count(*) FROM outbox WHERE status = 'pending'"))

    async def outbox_backlog(self) -> tuple[int, datetime | None]:
        """Undelivered alerts: how many, and when the oldest was queued (for metrics)."""
        row = await self._fetchrow(
            "SELECT count(*), min(created_at) FROM outbox WHERE status = 'pending'"
        )
        assert row is not None
        return int(row[0]), dt(row[1])

    async def outbox_rows(self) -> list[dict[str, Any]]:
        """Every outbox row, oldest first: for status output and tests."""
        return [dict(r) for r in await self._fetch("SELECT * FROM outbox ORDER BY id")]

    # -- flood control -----------------------------------------------------------

    async def flood_window(self, platform: str, channel_id: str) -> tuple[datetime | None, int]:
        """When the channel's current flood window started, and top-level posts since."""
        start = dt(
            await self._fetchval(
                "SELECT flood_window_start FROM channels WHERE platform = $1 AND channel_id = $2",
                platform,
                channel_id,
            )
        )
        if start is None:
            return None, 0
        count = await self._fetchval(
            "SELECT count(*) FROM outbox WHERE platform = $1 AND channel_id = $2 "
            "AND top_level = 1 AND sent_at >= $3",
            platform,
            channel_id,
            start.timestamp(),
        )
        return start, int(count)

    async def set_flood_window(
        self, platform: str, channel_id: str, start: datetime | None
    ) -> None:
        await self._execute(
            "INSERT INTO channels (platform, channel_id, flood_window_start) VALUES ($1, $2, $3) "
            "ON CONFLICT (platform, channel_id) DO UPDATE "
            "SET flood_window_start = excluded.flood_window_start",
            platform,
            channel_id,
            ts(start),
        )

    async def hold_alert(self, alert_id: int, now: datetime) -> None:
        await self._execute(
            "UPDATE outbox SET held_at = $1 WHERE id = $2", now.timestamp(), alert_id
        )

    async def held_count(self, platform: str, channel_id: str) -> int:
        return int(
            await self._fetchval(
                "SELECT count(*) FROM outbox WHERE platform = $1 AND channel_id = $2 "
                "AND status = 'pending' AND held_at IS NOT NULL AND summary_id IS NULL",
                platform,
                channel_id,
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
        """Collect the channel's held alerts into one summary to deliver; None if none held.

        The held rows are taken by the UPDATE (row locks): if another instance's
        summary took them first, this summary lists nothing and is dropped again.
        """
        async with self._transaction() as db:
            summary_id = await db.fetchval(
                "INSERT INTO flood_summaries (platform, channel_id, window_start, window_end, "
                "next_attempt_at, created_at) SELECT $1, $2, $3, $4, $5, $5 WHERE EXISTS "
                "(SELECT 1 FROM outbox WHERE platform = $1 AND channel_id = $2 "
                "AND status = 'pending' AND held_at IS NOT NULL AND summary_id IS NULL) "
                "RETURNING id",
                platform,
                channel_id,
                window_start.timestamp(),
                window_end.timestamp(),
                now.timestamp(),
            )
            if summary_id is None:
                return None
            taken = await db.fetch(
                "UPDATE outbox SET summary_id = $1 WHERE platform = $2 AND channel_id = $3 "
                "AND status = 'pending' AND held_at IS NOT NULL AND summary_id IS NULL "
                "RETURNING id",
                summary_id,
                platform,
                channel_id,
            )
            if not taken:
                await db.execute("DELETE FROM flood_summaries WHERE id = $1", summary_id)
                return None
            await db.execute(
                "UPDATE channels SET flood_window_start = NULL WHERE platform = $1 "
                "AND channel_id = $2",
                platform,
                channel_id,
            )
            await notify(db, OUTBOX_CHANGED)
        return int(summary_id)

    async def next_summary(
        self, platform: str, channel_id: str
    ) -> tuple[FloodSummary, int, datetime] | None:
        """The oldest undelivered summary: (summary, attempts so far, when it is due)."""
        row = await self._fetchrow(
            "SELECT * FROM flood_summaries WHERE platform = $1 AND channel_id = $2 "
            "AND status = 'pending' ORDER BY id LIMIT 1",
            platform,
            channel_id,
        )
        if row is None:
            return None
        sql = f"""
            SELECT {ALERT_COLUMNS} FROM outbox o JOIN items i ON i.id = o.item_id
            WHERE o.summary_id = $1 ORDER BY o.id
        """
        alerts = tuple(alert_from_row(r) for r in await self._fetch(sql, row["id"]))
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
                "UPDATE flood_summaries SET status = $1, attempts = attempts + 1, "
                "message_id = coalesce($2, message_id), last_error = $3, "
                "next_attempt_at = coalesce($4, next_attempt_at), "
                "sent_at = CASE WHEN $1 = 'pending' THEN NULL ELSE $5::double precision END "
                "WHERE id = $6",
                status,
                message_id,
                error[:1000] if error else None,
                ts(next_attempt_at),
                now.timestamp(),
                summary_id,
            )
            if status != "pending":
                await db.execute(
                    "UPDATE outbox SET status = $1, message_id = $2, sent_at = $3, "
                    "last_error = $4 WHERE summary_id = $5",
                    status,
                    message_id,
                    now.timestamp(),
                    error,
                    summary_id,
                )

    async def set_channel_broken(
        self,
        platform: str,
        channel_id: str,
        reason: str | None,
        now: datetime,
        config_hash: str | None = None,
    ) -> None:
        await self._execute(
            "INSERT INTO channels (platform, channel_id, broken_reason, broken_at, config_hash) "
            "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (platform, channel_id) DO UPDATE "
            "SET broken_reason = excluded.broken_reason, broken_at = excluded.broken_at, "
            "config_hash = excluded.config_hash",
            platform,
            channel_id,
            reason,
            now.timestamp() if reason else None,
            config_hash,
        )

    async def broken_channels(self) -> dict[tuple[str, str], str]:
        return {k: v[0] for k, v in (await self.broken_channel_details()).items()}

    async def broken_channel_details(self) -> dict[tuple[str, str], tuple[str, str | None]]:
        """Broken channels: (reason, hash of the configuration they broke under)."""
        rows = await self._fetch(
            "SELECT platform, channel_id, broken_reason, config_hash FROM channels "
            "WHERE broken_reason IS NOT NULL"
        )
        return {(r[0], r[1]): (r[2], r[3]) for r in rows}

    # -- digests -----------------------------------------------------------------

    async def queue_digest(
        self, channel: str, day: date, period_end: datetime, timezone: str, now: datetime
    ) -> None:
        """Queue a day's digest (once deployment-wide: every instance's digest schedule
        may try, the primary key lets the first one in and the others do nothing)."""
        async with self._transaction() as db:
            queued = await db.fetchval(
                "INSERT INTO digests (channel, day, status, at, created_at, period_end, "
                "timezone, next_attempt_at) VALUES ($1, $2, 'queued', $3, $3, $4, $5, $3) "
                "ON CONFLICT (channel, day) DO NOTHING RETURNING 1",
                channel,
                day.isoformat(),
                now.timestamp(),
                period_end.timestamp(),
                timezone,
            )
            if queued is not None:
                await notify(db, OUTBOX_CHANGED)

    async def next_digest_job(self, channel: str) -> DigestJob | None:
        r = await self._fetchrow(
            "SELECT * FROM digests WHERE channel = $1 AND status = 'queued' "
            "ORDER BY created_at, day LIMIT 1",
            channel,
        )
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
        await self._execute(
            "UPDATE digests SET claimed_at = $1 WHERE channel = $2 AND day = $3",
            now.timestamp(),
            channel,
            day.isoformat(),
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
        await self._execute(
            "UPDATE digests SET status = $1, attempts = attempts + 1, at = $2, "
            "message_id = coalesce($3, message_id), last_error = $4, "
            "next_attempt_at = coalesce($5, next_attempt_at) WHERE channel = $6 AND day = $7",
            status,
            now.timestamp(),
            message_id,
            error[:1000] if error else None,
            ts(next_attempt_at),
            channel,
            day.isoformat(),
        )

    async def delivery_problems(self, since: datetime) -> list[DeliveryProblem]:
        """What could not be delivered for good: broken channels, and digests, summaries
        and alerts given up on since `since`. For `/feeds status` and the next digest."""
        problems: list[DeliveryProblem] = []
        rows = await self._fetch(
            "SELECT platform || ':' || channel_id, broken_reason, broken_at FROM channels "
            "WHERE broken_reason IS NOT NULL ORDER BY broken_at"
        )
        for r in rows:
            problems.append(DeliveryProblem(r[0], "channel", r[1], dt(r[2]) or since))
        rows = await self._fetch(
            "SELECT channel, day, last_error, at FROM digests WHERE status = 'dead' "
            "AND at >= $1 ORDER BY at",
            since.timestamp(),
        )
        for r in rows:
            problems.append(
                DeliveryProblem(
                    r[0], "digest", r[2] or "", dt(r[3]) or since, day=date.fromisoformat(r[1])
                )
            )
        rows = await self._fetch(
            "SELECT platform || ':' || channel_id, count(*), max(last_error), max(sent_at) "
            "FROM outbox WHERE status = 'dead' AND sent_at >= $1 GROUP BY 1 ORDER BY 1",
            since.timestamp(),
        )
        for r in rows:
            at = dt(r[3]) or since
            problems.append(DeliveryProblem(r[0], "alerts", r[2] or "", at, count=int(r[1])))
        return problems
