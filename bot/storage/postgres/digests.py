"""Digest history and the counts the digest is built from, on PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime

from bot.storage.postgres.connection import PostgresConnection
from bot.storage.rows import dt


class DigestRepository(PostgresConnection):
    """Digest history and mention counts (bot/storage/digests.py)."""

    async def mentions_since(self, since: datetime) -> list[tuple[str, datetime]]:
        """(entity id, fetched at) for every match of every item fetched since `since`."""
        rows = await self._fetch(
            "SELECT m->>'entity_id', i.fetched_at FROM items i "
            "CROSS JOIN LATERAL jsonb_array_elements(i.matches::jsonb) AS m "
            "WHERE i.fetched_at >= $1 AND i.matches != '[]' ORDER BY i.id",
            since.timestamp(),
        )
        return [(r[0], dt(r[1]) or since) for r in rows]

    async def entity_first_seen(self) -> dict[str, datetime]:
        rows = await self._fetch("SELECT entity_id, first_seen FROM entity_first_seen")
        return {r[0]: dt(r[1]) or datetime.now(UTC) for r in rows}

    async def digest_status(self, channel: str, day: date) -> str | None:
        """ "queued", "sent", "skipped", "dead", or None for a day not begun."""
        status: str | None = await self._fetchval(
            "SELECT status FROM digests WHERE channel = $1 AND day = $2",
            channel,
            day.isoformat(),
        )
        return status

    async def last_digest_day(self, channel: str) -> date | None:
        """The latest day whose digest was queued (or sent, skipped, given up) in this channel."""
        day = await self._fetchval("SELECT max(day) FROM digests WHERE channel = $1", channel)
        return date.fromisoformat(day) if day else None

    async def record_digest(
        self, channel: str, day: date, status: str, now: datetime, message_id: str | None = None
    ) -> None:
        await self._execute(
            "INSERT INTO digests (channel, day, status, message_id, at) "
            "VALUES ($1, $2, $3, $4, $5) "
            "ON CONFLICT (channel, day) DO UPDATE SET status = excluded.status, "
            "message_id = excluded.message_id, at = excluded.at "
            "WHERE digests.status NOT IN ('queued', 'sent', 'dead')",
            channel,
            day.isoformat(),
            status,
            message_id,
            now.timestamp(),
        )
