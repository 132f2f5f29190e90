"""Start-up work that need not delay the first poll: rebuilding the story index.

With a long history the story window holds thousands of members, and reading
them and rebuilding their index costs a second or more of CPU (bench/startup.py
--run). Nothing needs the index until a poll has new matched items to group,
and most polls are 304s, so the rebuild runs as a task once the feed loops have
started (`begin`), a slice at a time so that polls and deliveries go on in
between, and the poller waits for it (`wait`, which also begins it) before it
matches and groups anything: items are grouped exactly as if the index had been
rebuilt before the first poll.

Several instances on one database merge each other's members into their index
(bot/app_shared.py), so there the rebuild stays part of start-up, as before.

Start-up's other burst is the first cycle: every feed is due at once, and a poll
started for each of 10,000 feeds fetched its body (up to `max_concurrency` at a time)
and then held it, and later its parsed items, while it waited for the parser workers
and the database: the bot reached 1.8 GiB in a first poll of 10,000 feeds. `polls`
lets at most twice `max_concurrency` polls past their start at once, so at most that
many bodies and item lists are held; fetching, the narrower stage, still has as many
polls as it can take (bench/pipeline.py --feeds 10000 prints the peak RSS).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any, Protocol, TypeVar, cast

from bot.config import BotSettings
from bot.storage.base import StoryMember
from bot.stories import StoryTracker
from bot.stories.tracker import BareMembers, draining

log = logging.getLogger(__name__)

#: Members added to the index between two chances for other tasks to run (~10 ms).
SLICE = 100


class Members(Protocol):
    """`Storage.story_members_since`."""

    def __call__(
        self, since: datetime, dated_before: datetime | None = None
    ) -> Awaitable[Sequence[StoryMember]]: ...


T = TypeVar("T")
R = TypeVar("R")

#: Polls past their start at once, per fetch slot (`max_concurrency`): see the docstring.
POLLS_PER_FETCH_SLOT = 2


def polls_at_once(settings: BotSettings) -> int:
    """The bound on polls past their start at once (the module docstring's first cycle)."""
    return POLLS_PER_FETCH_SLOT * settings.max_concurrency


def poll_gate(settings: BotSettings) -> asyncio.Semaphore:
    """`polls_at_once` as the semaphore every poll passes (the feed loops of `run`)."""
    return asyncio.Semaphore(polls_at_once(settings))


async def in_turn(items: Sequence[T], work: Callable[[T], Awaitable[R]], at_once: int) -> list[R]:
    """`work(item)` for every item, at most `at_once` running at a time; results in order.

    Why not one task per item behind a semaphore (`gather` over all of them): a cycle
    of `once` over 1,000 feeds then made 1,000 tasks, 900 of which waited in the
    semaphore's queue and were woken one by one, ~15 µs of event-loop work each, a
    twentieth of an unchanged feed's poll. Here `at_once` tasks take the next item
    as they finish one. An exception ends its task's turn and comes out of `gather`,
    as it would have; the others finish their items.
    """
    results: list[R | None] = [None] * len(items)
    positions = iter(range(len(items)))  # shared: each position is taken once

    async def take_turns() -> None:
        for i in positions:
            results[i] = await work(items[i])

    await asyncio.gather(*(take_turns() for _ in range(min(at_once, len(items)))))
    return cast(list[R], results)


class StoryWarmUp:
    def __init__(self, tracker: StoryTracker) -> None:
        self.tracker = tracker
        self._done = asyncio.Event()
        self._go = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(
        self, members: Members, since: datetime, now: datetime, background: bool
    ) -> None:
        """Rebuild the index from the members `members(since)` reads: now, or in the
        background from `begin` (or the first `wait`) on."""
        if not background:
            self.tracker.load(await members(since), now)
            self._done.set()
            return
        self._task = asyncio.create_task(self._rebuild(members, since, now), name="story-index")

    def begin(self) -> None:
        """Start-up is done: the background rebuild may use the CPU now."""
        self._go.set()

    async def _rebuild(self, members: Members, since: datetime, now: datetime) -> None:
        """Members dated before the window are only passed over (`StoryIndex.pass_over`),
        so they are read bare (`Storage.story_members_since`); should the rebuild need one
        whole after all (a key stored twice), everything is read again, whole."""
        try:
            await self._go.wait()
            try:
                await self._load(members(since, now - self.tracker.window), now)
            except BareMembers:
                await self._load(members(since), now)
        except Exception:  # the database failed, or a bug: group with what was loaded
            log.exception("rebuilding the story index failed; new items may start new stories")
        finally:
            self._done.set()

    async def _load(self, read: Awaitable[Sequence[StoryMember]], now: datetime) -> None:
        """The tracker loads what `read` returns, a slice at a time, other tasks running in
        between. Awaited here, so no name holds the rows while they are drained."""
        for _ in self.tracker.loading(draining(list(await read)), now, SLICE):
            await _between_slices()

    async def wait(self) -> None:
        """Return once the index is rebuilt (at once, after that)."""
        if not self._done.is_set():
            self._go.set()
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

    Start-up builds the matcher in a thread meanwhile it reads the feeds, most of
    which waits on the database."""
    tasks = [asyncio.ensure_future(step) for step in steps]
    try:
        for task in tasks:
            await task
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
