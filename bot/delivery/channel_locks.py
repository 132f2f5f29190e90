"""Which channels this instance sends to, when several instances share one database.

An alert channel has one sender at a time across the deployment: the instance
holding the lock ``channel:<platform>:<id>`` (bot/storage/coordination.py). So
a channel's alerts still leave in order, and only one message create per
channel is in flight anywhere (the platform's idempotency, a Discord nonce or
Slack's metadata lookup, then only has to cover a crash, not a race).

Every instance tries to take every channel at start and again every
`RETRY` seconds; the outbox asks `may_send` before each step, which checks
the lock is still held (the database connection holding it may have dropped,
and another instance may be the sender now). On SQLite every lock is granted
and the outbox is not given a ChannelLocks at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from bot.config import ChannelSettings
from bot.storage.coordination import Coordination
from bot.storage_health import STORAGE_FAILURES, StorageHealth

log = logging.getLogger(__name__)

RETRY = 5.0  # seconds between attempts to take the channels another instance holds


def lock_name(channel: ChannelSettings) -> str:
    return f"channel:{channel.platform}:{channel.id}"


class ChannelLocks:
    def __init__(
        self,
        coordination: Coordination,
        channels: tuple[ChannelSettings, ...],
        on_gained: Callable[[], None] = lambda: None,
        on_taken: Callable[[ChannelSettings], Awaitable[None]] | None = None,
    ) -> None:
        self.coordination = coordination
        self.channels = channels
        self.on_gained = on_gained  # wakes the outbox: a gained channel may have a backlog
        # Runs once the lock is taken, before the channel counts as held: reads what the
        # previous sender stored about it (Outbox.read_broken). If it fails, the lock is
        # given up again and taken at a later try.
        self.on_taken = on_taken
        self.held: set[str] = set()

    async def may_send(self, channel: ChannelSettings) -> bool:
        """True while this instance is the channel's sender; a lost lock is noticed here."""
        if channel.key not in self.held:
            return False
        if await self.coordination.holds_lock(lock_name(channel)):
            return True
        self.held.discard(channel.key)
        log.warning(
            "%s: lost the channel's lock (database connection dropped); another instance "
            "sends its alerts now",
            channel.key,
            extra={"channel": channel.key},
        )
        return False

    async def acquire(self) -> int:
        """Take every channel no live instance holds; how many were gained."""
        gained = 0
        for channel in self.channels:
            if channel.key in self.held:
                continue
            if await self.coordination.try_lock(lock_name(channel)):
                if self.on_taken is not None:
                    try:
                        await self.on_taken(channel)
                    except BaseException:
                        with contextlib.suppress(*STORAGE_FAILURES):
                            await self.coordination.unlock(lock_name(channel))
                        raise
                self.held.add(channel.key)
                gained += 1
                log.info(
                    "%s: this instance sends the channel's alerts",
                    channel.key,
                    extra={"channel": channel.key},
                )
        if gained:
            self.on_gained()
        return gained

    async def release(self) -> None:
        """Give every channel up (a clean stop): a survivor takes them at its next try."""
        for channel in self.channels:
            if channel.key in self.held:
                with contextlib.suppress(*STORAGE_FAILURES):
                    await self.coordination.unlock(lock_name(channel))
        self.held.clear()

    async def run(self, stop: asyncio.Event, health: StorageHealth) -> None:
        """Keep trying to take the channels until `stop`; they are kept until `release`.

        A held channel is checked by the outbox before each step (at least every
        few seconds, idle or not), which drops it here when its lock was lost.
        """
        where = "taking the channels' locks"
        while not stop.is_set():
            try:
                await self.acquire()
            except STORAGE_FAILURES as e:
                health.failed(where, e)
            else:
                health.ok(where)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), RETRY)
