"""Terms: what analysts change about matching from chat — added terms, removed file aliases, mutes.

One aggregate of the storage interface (bot/storage/base.py joins them): written
against by the pipeline and by tests/contract/, implemented once per engine.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from bot.models import ChatTerm


class TermStore(Protocol):
    async def chat_terms(self) -> list[ChatTerm]: ...

    async def add_chat_term(self, term: ChatTerm, added_by: str, now: datetime) -> bool: ...

    async def remove_chat_term(self, entity_id: str, term: str) -> bool: ...

    async def remove_file_term(
        self, entity_id: str, term: str, removed_by: str, now: datetime
    ) -> None:
        """Stop a watchlist-file alias from matching (the file itself is not edited)."""
        ...

    async def removed_terms(self) -> list[tuple[str, str]]: ...

    async def set_mute(
        self, entity_id: str, until: datetime | None, muted_by: str, now: datetime
    ) -> None: ...

    async def clear_mute(self, entity_id: str) -> bool: ...

    async def mutes(self) -> dict[str, datetime | None]: ...
