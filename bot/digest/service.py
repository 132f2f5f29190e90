"""Sending the daily digest: gather from storage, decide when, post once per channel per day.

What a digest says is decided in bot/digest/content.py and when it is due in
bot/digest/schedule.py, both pure; this module does the I/O around them.

At its scheduled time a channel's digest is queued in SQLite (one row per
channel and local day) and the channel's outbox worker delivers it, in turn
with the channel's alerts and under the same policy: claimed before the
request, retried with backoff, a permanent refusal marks the channel broken
and is reported (log, `/feeds status`, the next digest). Sinks find an
earlier copy by the idempotency key (channel and day), so nothing is posted
twice. A day missed by more than `MAX_LATE` is recorded as "skipped" with a
log line.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.chat.base import Sink
from bot.config import ChannelSettings, DigestChannel, DigestSettings, FeedSettings
from bot.digest.content import build_digest
from bot.digest.model import Digest, DigestInput, FeedHealth
from bot.digest.schedule import MAX_LATE, decide
from bot.logs import channel_context
from bot.models import Entity, FeedState
from bot.storage.base import Storage
from bot.storage_health import STORAGE_FAILURES, Backoff, StorageHealth

log = logging.getLogger(__name__)

ERROR_WAIT = 600.0  # after an unexpected error in the scheduler, look again this much later
HISTORY = timedelta(days=8)  # 7 chart days and the day before the first


class DigestService:
    def __init__(
        self,
        settings: DigestSettings,
        channels: tuple[ChannelSettings, ...],
        default_timezone: str,
        storage: Storage,
        sinks: Mapping[str, Sink],
        clock: Callable[[], datetime],
        entities: Callable[[], Iterable[Entity]],
        feeds: Callable[[], Iterable[tuple[FeedSettings, FeedState | None]]],
        on_queued: Callable[[], None] = lambda: None,
    ) -> None:
        self.settings = settings
        self.channels = {c.key: c for c in channels}
        self.default_timezone = default_timezone
        self.storage = storage
        self.sinks = sinks
        self.clock = clock
        self.entities = entities
        self.feeds = feeds
        self.on_queued = on_queued  # wakes the outbox workers

    def timezone_for(self, channel_key: str) -> str:
        for d in self.settings.channels:
            if d.key == channel_key:
                return d.timezone
        return self.default_timezone

    async def gather(self, now: datetime, timezone: str) -> DigestInput:
        """Read what the last 24 hours (and the chart's 7 days) hold."""
        activity = await self.storage.feed_activity()
        health = []
        for feed, state in self.feeds():
            last_new_at, mean_gap = activity.get(feed.url, (None, None))
            health.append(
                FeedHealth(
                    name=feed.name,
                    url=feed.url,
                    last_success_at=state.last_success_at if state else None,
                    failing_since=state.failing_since if state else None,
                    last_error=state.last_error if state else None,
                    disabled_reason=state.disabled_reason if state else None,
                    last_new_at=last_new_at,
                    mean_gap=mean_gap,
                )
            )
        return DigestInput(
            now=now,
            timezone=timezone,
            entities={e.id: e for e in self.entities()},
            mentions=await self.storage.mentions_since(now - HISTORY),
            stories=await self.storage.stories_since(now - timedelta(days=1)),
            first_seen=await self.storage.entity_first_seen(),
            feeds=tuple(health),
            top_stories=self.settings.top_stories,
            delivery_problems=await self.storage.delivery_problems(now - timedelta(days=1)),
        )

    async def build(self, now: datetime, timezone: str) -> Digest:
        data = await self.gather(now, timezone)
        return await asyncio.to_thread(build_digest, data, chart=self.settings.chart)

    async def post(self, channel_key: str, digest: Digest, key: str) -> str:
        channel = self.channels[channel_key]
        return await self.sinks[channel.platform].post_digest(channel.id, digest, key)

    async def tick(self) -> float:
        """Send or skip what is due now; return seconds until something may be due."""
        now = self.clock()
        waits = [3600.0]
        for d in self.settings.channels:
            waits.append(await self._tick_channel(d, now))
        return max(min(waits), 1.0)

    async def _tick_channel(self, d: DigestChannel, now: datetime) -> float:
        with channel_context(d.key):
            return await self._tick(d, now)

    async def _tick(self, d: DigestChannel, now: datetime) -> float:
        last_day = await self.storage.last_digest_day(d.key)
        decision = decide(now, d.at, ZoneInfo(d.timezone), last_day, MAX_LATE)
        if decision.action == "skip":
            await self.storage.record_digest(d.key, decision.day, "skipped", now)
            log.warning(
                "%s: the digest for %s was due at %s, over %dh ago; skipping it "
                "(the next one is due as usual)",
                d.key,
                decision.day,
                decision.scheduled.astimezone(ZoneInfo(d.timezone)).strftime("%H:%M %Z"),
                MAX_LATE.total_seconds() // 3600,
            )
        elif (
            decision.action == "send"
            and last_day is None
            and not await self._ran_before(decision.scheduled)
        ):
            # A new installation was not "down" at the scheduled time: it did not exist.
            # Its first digest is the next scheduled one, not an empty one at start-up.
            await self.storage.record_digest(d.key, decision.day, "skipped", now)
            log.info(
                "%s: the first daily digest will be posted at %s",
                d.key,
                decision.next_check.astimezone(ZoneInfo(d.timezone)).strftime("%a %d %b %H:%M %Z"),
            )
        elif decision.action == "send":
            # A late digest still covers the 24 hours before its scheduled time.
            await self.storage.queue_digest(
                d.key, decision.day, decision.scheduled, d.timezone, now
            )
            log.info("%s: the digest for %s is queued for delivery", d.key, decision.day)
            self.on_queued()
        return max((decision.next_check - now).total_seconds(), 0.0)

    async def _ran_before(self, when: datetime) -> bool:
        first = await self.storage.first_item_at()
        return first is not None and first <= when

    async def run(self, stop: asyncio.Event, health: StorageHealth | None = None) -> None:
        """Queue each channel's digest when due (the outbox posts it) until `stop` is set."""
        if not self.settings.channels:
            return
        health = health or StorageHealth("the database")
        backoff = Backoff()
        while not stop.is_set():
            try:
                wait = await self.tick()
                health.ok("posting digests")
                backoff.reset()
            except STORAGE_FAILURES as e:  # the day stays due: it is posted when storage works
                health.failed("posting digests", e)
                wait = backoff.next_delay()
            except Exception:  # a digest bug must not stop the bot; try again later
                log.exception("the daily digest failed unexpectedly")
                wait = ERROR_WAIT
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), wait)
