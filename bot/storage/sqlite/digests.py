"""Digest history and the counts the digest is built from."""

from __future__ import annotations

from datetime import UTC, date, datetime

from bot.storage.sqlite.connection import SQLiteConnection
from bot.storage.sqlite.rows import (
    dt,
)


class DigestRepository(SQLiteConnection):
    """Digest history and mention counts (bot/storage/digests.py)."""

    # -- digests -----------------------------------------------------------------------

    async def mentions_since(self, since: datetime) -> list[tuple[str, datetime]]:
        """(entity id, fetched at) for every match of every item fetched since `since`."""
        sql = (
            "SELECT json_extract(m.value, '$.entity_id'), i.fetched_at FROM items i, "
            "json_each(i.matches) m WHERE i.fetched_at >= ? AND i.matches != '[]'"
        )
        return [(r[0], dt(r[1]) or since) for r in await self._rows(sql, (since.timestamp(),))]

    async def first_item_at(self) -> datetime | None:
        """When the oldest stored item was fetched: the bot has been running since about then."""
        return dt(await self._scalar("SELECT min(fetched_at) FROM items"))

    async def entity_first_seen(self) -> dict[str, datetime]:
        return {
            r[0]: dt(r[1]) or datetime.now(UTC)
            for r in await self._rows("SELECT entity_id, first_seen FROM entity_first_seen")
        }

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
                "message_id = excluded.message_id, at = excluded.at "
                "WHERE digests.status NOT IN ('queued', 'sent', 'dead')",
                (channel, day.isoformat(), status, message_id, now.timestamp()),
            )
