"""Start-up work that need not delay the first poll: rebuilding the story index.

With a long history the story window holds thousands of members, and rebuilding
their index costs about a second of CPU (bench/startup.py --run). Nothing needs
the index until a poll has new matched items to group, and most first polls are
304s, so the rebuild runs as a task after start-up, a slice at a time so that
polls and deliveries go on in between, and the poller waits for it (`wait`)
before it matches and groups anything: items are grouped exactly as if the
index had been rebuilt before the first poll.

Several instances on one database merge each other's members into their index
(bot/app_shared.py), so there the rebuild stays synchronous, as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Sequence
from datetime import datetime
from typing import Any

from bot.storage.base import StoryMember
from bot.stories import StoryTracker

log = logging.getLogger(__name__)

#: Members added to the index between two chances for other tasks to run (~40 ms).
SLICE = 500


class StoryWarmUp:
    def __init__(self, tracker: StoryTracker) -> None:
        self.tracker = tracker
        self._done = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self, members: Sequence[StoryMember], now: datetime, background: bool) -> None:
        """Rebuild the index from `members`: now, or in the background."""
        if not background:
            self.tracker.load(members, now)
            self._done.set()
            return
        self._task = asyncio.create_task(self._rebuild(members, now), name="story-index")

    async def _rebuild(self, members: Sequence[StoryMember], now: datetime) -> None:
        try:
            for _ in self.tracker.loading(members, now, SLICE):
                await _between_slices()
        except Exception:  # a bug: group with what was loaded rather than stop polling
            log.exception("rebuilding the story index failed; grouping with what it holds")
        finally:
            self._done.set()

    async def wait(self) -> None:
        """Return once the index is rebuilt (at once, after that)."""
        if not self._done.is_set():
            await self._done.wait()

    async def close(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


async def _between_slices() -> None:
    """Let other tasks run between two slices of the rebuild (tests hold it here)."""
    await asyncio.sleep(0)


async def together(*steps: Awaitable[Any]) -> None:
    """Run the steps concurrently; raise the first one's error (in the given order) after
    cancelling the others, as running them one after the other would have raised it.

    Start-up builds the matcher in a thread meanwhile it reads the feeds and the story
    members, most of which waits on the database."""
    tasks = [asyncio.ensure_future(step) for step in steps]
    try:
        for task in tasks:
            await task
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
