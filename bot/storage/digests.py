"""Digests: the history of daily digests and the counts a digest is built from.

One aggregate of the storage interface (bot/storage/base.py joins them): written
against by the pipeline and by tests/contract/, implemented once per engine.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Protocol


class DigestStore(Protocol):
    async def mentions_since(self, since: datetime) -> list[tuple[str, datetime]]: ...

    async def entity_first_seen(self) -> dict[str, datetime]: ...

    async def digest_status(self, channel: str, day: date) -> str | None: ...

    async def last_digest_day(self, channel: str) -> date | None: ...

    async def record_digest(
        self, channel: str, day: date, status: str, now: datetime, message_id: str | None = None
    ) -> None:
        """Record the day's digest as `status` ("skipped", mostly) unless that day's digest
        was already queued, sent or given up: those rows are never downgraded, since on a
        shared database another instance may have queued or sent it a moment ago."""
        ...
