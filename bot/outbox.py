"""The delivery loop: take the oldest undelivered alert per channel, send, record, retry.

Each channel has its own worker, so one slow or broken channel never holds up
another, and alerts within a channel go out in the order they were matched.
An alert leaves the outbox only when the platform confirmed it; a retryable
failure waits with capped exponential backoff (or the platform's
Retry-After), a permanent one marks the channel broken.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.chat.base import Sink
from bot.config import ChannelSettings
from bot.errors import DeliveryError
from bot.models import Alert
from bot.storage.base import Storage

log = logging.getLogger(__name__)

RETRY_BASE = 5.0
RETRY_CAP = 15 * 60.0


def channel_fingerprint(channel: ChannelSettings, platform_section: Mapping[str, Any]) -> str:
    """A hash of everything configured for a channel: when it changes, retry the channel."""
    text = repr((channel, sorted(platform_section.items())))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def retry_delay(attempts: int, retry_after: float | None = None) -> float:
    """Seconds before delivery attempt `attempts + 1` (pure)."""
    delay = min(RETRY_CAP, RETRY_BASE * 2 ** min(max(attempts - 1, 0), 16))
    if retry_after is not None:
        delay = max(retry_after, 0.0)
    return delay


@dataclass(slots=True)
class DeliveryStats:
    sent: int = 0
    retried: int = 0
    dead: int = 0


class Outbox:
    def __init__(
        self,
        storage: Storage,
        sinks: Mapping[str, Sink],
        channels: tuple[ChannelSettings, ...],
        clock: Callable[[], datetime],
        max_attempts: int = 0,
        platform_settings: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        self.storage = storage
        self.sinks = sinks
        self.channels = channels
        self.clock = clock
        self.max_attempts = max_attempts
        self.platform_settings = platform_settings or {}
        self.stats = DeliveryStats()
        self._wake = {c.key: asyncio.Event() for c in channels}
        self._broken: set[str] = set()

    def notify(self) -> None:
        """New alerts were queued: wake every channel worker."""
        for event in self._wake.values():
            event.set()

    async def load_broken(self) -> None:
        """Keep channels broken that broke under the same configuration; retry the others.

        A channel marked broken (missing permission, deleted) is not retried
        until its configuration changes (its [[channels]] entry or the
        platform's section) or a command re-enables it.
        """
        broken = await self.storage.broken_channel_details()
        for c in self.channels:
            if (c.platform, c.id) not in broken:
                continue
            reason, config_hash = broken[(c.platform, c.id)]
            if config_hash != self.fingerprint(c):
                await self.storage.set_channel_broken(c.platform, c.id, None, self.clock())
                log.info("channel %s: configuration changed, trying it again", c.key)
                continue
            self._broken.add(c.key)
            log.error(
                "channel %s is marked broken (%s); its alerts stay queued until its "
                "configuration changes",
                c.key,
                reason,
            )

    def fingerprint(self, channel: ChannelSettings) -> str:
        return channel_fingerprint(channel, self.platform_settings.get(channel.platform, {}))

    async def send_one(self, alert: Alert) -> bool:
        """Try one alert once; True if it left the outbox (sent or dead)."""
        sink = self.sinks[alert.platform]
        try:
            message_id = await sink.deliver(alert)
        except DeliveryError as e:
            return await self._failed(alert, e)
        except Exception as e:  # a sink bug must not stop the worker: keep the alert
            log.exception("delivering alert %d to %s failed unexpectedly", alert.id, alert.platform)
            return await self._failed(
                alert, DeliveryError(f"{type(e).__name__}: {e}", retryable=True)
            )
        await self.storage.mark_sent(alert.id, message_id, self.clock())
        self.stats.sent += 1
        return True

    async def _failed(self, alert: Alert, error: DeliveryError) -> bool:
        now = self.clock()
        key = f"{alert.platform}:{alert.channel_id}"
        if error.rejected:
            await self.storage.mark_dead(alert.id, str(error), now)
            self.stats.dead += 1
            log.error("%s rejected alert %d, setting it aside: %s", key, alert.id, error)
            return True
        if not error.retryable:
            self._broken.add(key)
            channel = next(
                (
                    c
                    for c in self.channels
                    if c.platform == alert.platform and c.id == alert.channel_id
                ),
                None,
            )
            await self.storage.set_channel_broken(
                alert.platform,
                alert.channel_id,
                str(error),
                now,
                self.fingerprint(channel) if channel else None,
            )
            log.error(
                "channel %s refused alert %d for good: %s; marking the channel broken, its "
                "alerts stay queued",
                key,
                alert.id,
                error,
            )
            return False
        attempts = alert.attempts + 1
        if self.max_attempts and attempts >= self.max_attempts:
            await self.storage.mark_dead(alert.id, str(error), now)
            self.stats.dead += 1
            log.error(
                "alert %d to %s gave up after %d attempts: %s", alert.id, key, attempts, error
            )
            return True
        delay = retry_delay(attempts, error.retry_after)
        await self.storage.mark_retry(alert.id, str(error), now + timedelta(seconds=delay), now)
        self.stats.retried += 1
        log.warning(
            "alert %d to %s failed (attempt %d): %s; retrying in %.0fs",
            alert.id,
            key,
            attempts,
            error,
            delay,
        )
        return False

    async def drain(self) -> None:
        """Deliver what is due now, each alert tried at most once (for `bot once`)."""
        await asyncio.gather(*(self._drain_channel(c) for c in self.channels))

    async def _drain_channel(self, channel: ChannelSettings) -> None:
        while channel.key not in self._broken:
            alert = await self.storage.next_alert(channel.platform, channel.id)
            if alert is None or await self.storage.alert_due_at(alert.id) > self.clock():
                return
            if not await self.send_one(alert):
                return

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until `stop` is set; an in-flight send always completes."""
        await asyncio.gather(*(self._worker(c, stop) for c in self.channels))

    async def _worker(self, channel: ChannelSettings, stop: asyncio.Event) -> None:
        wake = self._wake[channel.key]
        while not stop.is_set():
            if channel.key in self._broken:
                return
            wake.clear()
            alert = await self.storage.next_alert(channel.platform, channel.id)
            if alert is None:
                await _wait_any(stop, wake, None)
                continue
            due = await self.storage.alert_due_at(alert.id)
            wait = (due - self.clock()).total_seconds()
            if wait > 0:
                await _wait_any(stop, wake, wait)
                continue
            await self.send_one(alert)


async def _wait_any(stop: asyncio.Event, wake: asyncio.Event, timeout: float | None) -> None:
    """Wait until stop or wake is set, or timeout seconds pass."""
    waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(wake.wait())]
    try:
        await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waiters:
            w.cancel()
