"""Stories: which items belong together, and the message that shows each in a channel.

One aggregate of the storage interface (bot/storage/base.py joins them): written
against by the pipeline and by tests/contract/, implemented once per engine.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from bot.models import StoryRecord, StoryUpdate
from bot.storage.models import StoryMember


class StoryStore(Protocol):
    async def stale_story_posts(
        self, platform: str, channel_id: str, limit: int
    ) -> list[StoryUpdate]:
        """Story parents whose message shows fewer sources than the story has, the
        longest-waiting first, at most `limit` (the caller's batch)."""
        ...

    async def mark_story_shown(
        self, story: str, platform: str, channel_id: str, shown: int
    ) -> None: ...

    async def story_members_since(
        self, since: datetime, dated_before: datetime | None = None
    ) -> list[StoryMember]:
        """Story members fetched since `since`, oldest first; those dated (published,
        else fetched) over a second before `dated_before` may come back `bare`, and
        only where their story has a member that is not or their key comes twice (the
        others a rebuild would only pass over: rows.story_members_sql)."""
        ...

    async def stories_since(self, since: datetime) -> list[StoryRecord]: ...
