"""What analysts change from chat about matching: added terms, removed aliases, mutes."""

from __future__ import annotations

from datetime import datetime

from bot.models import (
    ChatTerm,
)
from bot.storage.sqlite.connection import SQLiteConnection
from bot.storage.sqlite.rows import (
    dt,
    ts,
)


class TermRepository(SQLiteConnection):
    """Chat terms, removed file terms and mutes (bot/storage/terms.py)."""

    # -- chat terms ------------------------------------------------------------------

    async def chat_terms(self) -> list[ChatTerm]:
        sql = "SELECT entity_id, term, kind FROM watch_terms ORDER BY id"
        return [ChatTerm(r[0], r[1], r[2]) for r in await self._rows(sql)]

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
        return [(r[0], r[1]) for r in await self._rows("SELECT entity_id, term FROM removed_terms")]

    # -- mutes ------------------------------------------------------------------------

    async def set_mute(
        self, entity_id: str, until: datetime | None, muted_by: str, now: datetime
    ) -> None:
        async with self._transaction() as db:
            await db.execute(
                "INSERT INTO mutes (entity_id, until, muted_by, muted_at) VALUES (?,?,?,?) "
                "ON CONFLICT (entity_id) DO UPDATE SET until = excluded.until, "
                "muted_by = excluded.muted_by, muted_at = excluded.muted_at",
                (entity_id, ts(until), muted_by, now.timestamp()),
            )

    async def clear_mute(self, entity_id: str) -> bool:
        async with self._transaction() as db:
            cur = await db.execute("DELETE FROM mutes WHERE entity_id = ?", (entity_id,))
            return bool(cur.rowcount)

    async def mutes(self) -> dict[str, datetime | None]:
        return {r[0]: dt(r[1]) for r in await self._rows("SELECT entity_id, until FROM mutes")}
