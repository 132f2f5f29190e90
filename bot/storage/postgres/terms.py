"""What analysts change from chat about matching, on PostgreSQL: terms, removed aliases, mutes.

Every change is announced (TERMS_CHANGED) in its own transaction, so the other
instances reload their matcher at once instead of at their next periodic check.
"""

from __future__ import annotations

from datetime import datetime

from bot.models import ChatTerm
from bot.storage.coordination import TERMS_CHANGED
from bot.storage.postgres.connection import PostgresConnection, affected, notify
from bot.storage.rows import dt, ts


class TermRepository(PostgresConnection):
    """Chat terms, removed file terms and mutes (bot/storage/terms.py)."""

    async def _change(self, sql: str, *args: object) -> int:
        """Run one change and announce it when it changed anything; the row count."""
        async with self._transaction() as con:
            changed = affected(await con.execute(sql, *args))
            if changed:
                await notify(con, TERMS_CHANGED)
        return changed

    # -- chat terms ------------------------------------------------------------------

    async def chat_terms(self) -> list[ChatTerm]:
        rows = await self._fetch("SELECT entity_id, term, kind FROM watch_terms ORDER BY id")
        return [ChatTerm(r[0], r[1], r[2]) for r in rows]

    async def add_chat_term(self, term: ChatTerm, added_by: str, now: datetime) -> bool:
        return bool(
            await self._change(
                "INSERT INTO watch_terms (entity_id, term, kind, added_by, added_at) "
                "VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                term.entity_id,
                term.term,
                term.kind,
                added_by,
                now.timestamp(),
            )
        )

    async def remove_chat_term(self, entity_id: str, term: str) -> bool:
        return bool(
            await self._change(
                "DELETE FROM watch_terms WHERE entity_id = $1 AND term = $2", entity_id, term
            )
        )

    async def remove_file_term(
        self, entity_id: str, term: str, removed_by: str, now: datetime
    ) -> None:
        await self._change(
            "INSERT INTO removed_terms (entity_id, term, removed_by, removed_at) "
            "VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
            entity_id,
            term,
            removed_by,
            now.timestamp(),
        )

    async def removed_terms(self) -> list[tuple[str, str]]:
        rows = await self._fetch("SELECT entity_id, term FROM removed_terms")
        return [(r[0], r[1]) for r in rows]

    # -- mutes ------------------------------------------------------------------------

    async def set_mute(
        self, entity_id: str, until: datetime | None, muted_by: str, now: datetime
    ) -> None:
        await self._change(
            "INSERT INTO mutes (entity_id, until, muted_by, muted_at) VALUES ($1, $2, $3, $4) "
            "ON CONFLICT (entity_id) DO UPDATE SET until = excluded.until, "
            "muted_by = excluded.muted_by, muted_at = excluded.muted_at",
            entity_id,
            ts(until),
            muted_by,
            now.timestamp(),
        )

    async def clear_mute(self, entity_id: str) -> bool:
        return bool(await self._change("DELETE FROM mutes WHERE entity_id = $1", entity_id))

    async def mutes(self) -> dict[str, datetime | None]:
        rows = await self._fetch("SELECT entity_id, until FROM mutes")
        return {r[0]: dt(r[1]) for r in rows}
