"""The delivery loop: take the oldest undelivered alert per channel, send, record, retry.

Each channel has its own worker, so one slow or broken channel never holds up
another, and alerts within a channel go out in the order they were matched.
An alert leaves the outbox only when the platform confirmed it; a retryable
failure waits with capped exponential backoff (or the platform's
Retry-After), a permanent one marks the channel broken.

Per channel the worker also threads stories (a later item of a story that
already has a message in the channel goes into its thread), applies the flood
cap (flood.py, the window's state in flood_windows.py) and posts the summary of
held alerts when the window ends, and, when it has nothing else to do, edits story
parents to show their source count — edits wait for a quiet moment so a burst costs one.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.chat.base import Sink
from bot.config import ChannelSettings
from bot.delivery.channel_locks import ChannelLocks
from bot.delivery.flood_windows import FloodWindows
from bot.digest.model import Digest, DigestJob
from bot.errors import DeliveryError
from bot.logs import channel_context
from bot.metrics import NO_RECORDING, Recorder
from bot.models import Alert, FloodSummary
from bot.redact import Redactor
from bot.storage.base import Storage
from bot.storage_health import STORAGE_FAILURES, Backoff, StorageHealth
from bot.stories.rules import with_new_entities, with_sources

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
        delay = max(retry_after, 1.0)  # never "now": a drain must not spin on one failure
    return delay


@dataclass(slots=True)
class DeliveryStats:
    sent: int = 0
    retried: int = 0
    dead: int = 0
    held: int = 0
    summaries: int = 0
    edits: int = 0
    digests: int = 0


#: Builds the digest covering the 24 hours before a time, in a time zone.
BuildDigest = Callable[[datetime, str], Awaitable[Digest]]

#: What a channel worker does after one step: go on at once (0), wait some
#: seconds, or wait until new alerts arrive (None).
Next = float | None
STALE_BATCH = 50  # story edits read per step (storage is asked for at most this many)
IDLE_RECHECK = 5.0  # an idle channel looks for alerts queued by another process this often


class Outbox:
    def __init__(
        self,
        storage: Storage,
        sinks: Mapping[str, Sink],
        channels: tuple[ChannelSettings, ...],
        clock: Callable[[], datetime],
        max_attempts: int = 0,
        platform_settings: Mapping[str, Mapping[str, Any]] | None = None,
        build_digest: BuildDigest | None = None,
        redact: Callable[[str], str] | None = None,
        recorder: Recorder = NO_RECORDING,
    ) -> None:
        self.storage = storage
        # Applied to a platform's error before it is stored: stored errors reach chat
        # (digest problems, /feeds), and a refusal may quote the token it was sent.
        self.redact = redact or Redactor()
        self.recorder = recorder
        self.sinks = sinks
        self.channels = channels
        self.clock = clock
        self.max_attempts = max_attempts
        self.platform_settings = platform_settings or {}
        # Builds a queued digest's content when it is delivered (bot/digest/service.py).
        self.build_digest = build_digest
        self.stats = DeliveryStats()
        self._wake = {c.key: asyncio.Event() for c in channels}
        self._broken: set[str] = set()
        self._edit_after: dict[str, datetime] = {}
        self.flood = FloodWindows(storage)
        # Channels known to have no queued digest: not asked again per alert until
        # digest_queued() says one was queued (digests are daily, alerts many).
        self._no_digest: set[str] = set()
        self._failures: dict[str, int] = {}
        self._edit_failures: dict[str, int] = {}  # consecutive failed story edits
        # Posted, but recording that failed (storage error): the platform's message
        # id by outbox row, so the retry records it instead of posting again.
        self._unrecorded: dict[tuple[str, object], str] = {}
        # Several instances on one database: send only to the channels this one holds.
        self.locks: ChannelLocks | None = None

    def notify(self) -> None:
        """New alerts were queued: wake every channel worker."""
        for event in self._wake.values():
            event.set()

    def digest_queued(self) -> None:
        """A digest was queued (bot/digest/service.py): look for it, and wake the workers."""
        self._no_digest.clear()
        self.notify()

    async def load_broken(self) -> None:
        """Keep channels broken that broke under the same configuration; retry the others.

        A channel marked broken (missing permission, deleted) is not retried
        until its configuration changes (its [[channels]] entry or the
        platform's section) or a command re-enables it.
        """
        broken = await self.storage.broken_channel_details()
        for c in self.channels:
            await self._apply_broken(c, broken.get((c.platform, c.id)))

    async def read_broken(self, channel: ChannelSettings) -> None:
        """Read the channel's broken state again: this instance just became its sender
        (ChannelLocks), and the previous sender, another instance, may have marked it
        broken (or cleared it) since this one started."""
        broken = await self.storage.broken_channel_details()
        await self._apply_broken(channel, broken.get((channel.platform, channel.id)))

    async def _apply_broken(
        self, c: ChannelSettings, stored: tuple[str, str | None] | None
    ) -> None:
        if stored is None:
            self._broken.discard(c.key)
            return
        reason, config_hash = stored
        if config_hash != self.fingerprint(c):
            await self.storage.set_channel_broken(c.platform, c.id, None, self.clock())
            self._broken.discard(c.key)
            log.info(
                "channel %s: configuration changed, trying it again",
                c.key,
                extra={"channel": c.key},
            )
            return
        if c.key in self._broken:
            return
        self._broken.add(c.key)
        log.error(
            "channel %s is marked broken (%s); its alerts stay queued until its "
            "configuration changes",
            c.key,
            reason,
            extra={"channel": c.key},
        )

    def fingerprint(self, channel: ChannelSettings) -> str:
        return channel_fingerprint(channel, self.platform_settings.get(channel.platform, {}))

    def _channel(self, platform: str, channel_id: str) -> ChannelSettings | None:
        return next(
            (c for c in self.channels if c.platform == platform and c.id == channel_id), None
        )

    # -- one alert ----------------------------------------------------------------

    async def send_one(self, alert: Alert) -> bool:
        """Try one alert once; True if it left the outbox (sent or dead)."""
        left = await self._send_one(alert)
        if left:
            await self.report_backlog()
        return left

    async def report_backlog(self) -> None:
        """Tell the recorder how many alerts wait: right after each delivery, so the
        pending gauge reaches 0 when the last one goes out, not at the next cycle."""
        if self.recorder is NO_RECORDING:
            return
        try:
            pending, oldest = await self.storage.outbox_backlog()
        except STORAGE_FAILURES:  # a gauge is not worth an error: the next report catches up
            return
        self.recorder.outbox_backlog(pending, oldest, self.clock())

    async def _alert_dead(self, alert: Alert, error: str, now: datetime) -> None:
        await self.storage.mark_dead(alert.id, error, now)
        self.recorder.alert_failed(alert.platform)

    async def _send_one(self, alert: Alert) -> bool:
        sink = self.sinks[alert.platform]
        return await self._post_once(
            ("alert", alert.id),
            # Durably before the request: if the process dies after the platform stored
            # the message but before mark_sent, the next try knows to look first.
            lambda: self.storage.claim_alert(alert.id, self.clock()),
            lambda: sink.deliver(alert),
            lambda e: self._failed(
                alert.platform,
                alert.channel_id,
                f"alert {alert.id}",
                alert.attempts,
                _delivery_error(e, alert.platform),
                lambda error, now: self._alert_dead(alert, error, now),
                lambda error, at, now: self.storage.mark_retry(alert.id, error, at, now),
            ),
            lambda message_id: self._alert_sent(alert, message_id),
        )

    async def _alert_sent(self, alert: Alert, message_id: str) -> None:
        await self.storage.mark_sent(alert.id, message_id, self.clock(), alert.reply_to)
        self.stats.sent += 1
        self.recorder.alert_delivered(alert.platform)

    async def _post_once(
        self,
        row: tuple[str, object],
        claim: Callable[[], Awaitable[None]] | None,
        post: Callable[[], Awaitable[str]],
        fail: Callable[[Exception], Awaitable[bool]],
        record: Callable[[str], Awaitable[None]],
    ) -> bool:
        """Post an outbox row unless an earlier try already did, then record it.

        The one place for "posted but not recorded": if recording fails (a storage
        error), the platform's message id waits in memory, the error reaches the
        worker loop, which backs off (bot/storage_health.py), and the next try of
        the same row only records it, never posts it again.
        """
        message_id = self._unrecorded.get(row)
        if message_id is None:
            if claim is not None:
                await claim()
            try:
                message_id = await post()
            except Exception as e:
                return await fail(e)
            self._unrecorded[row] = message_id
        await record(message_id)
        del self._unrecorded[row]
        return True

    async def send_summary(self, summary: FloodSummary, attempts: int) -> bool:
        """Try one flood summary once; True if it left the outbox."""
        sink = self.sinks[summary.platform]
        return await self._post_once(
            ("summary", summary.id),
            None,  # looked for in the channel on every try (its own metadata)
            lambda: sink.deliver_summary(summary),
            lambda e: self._failed(
                summary.platform,
                summary.channel_id,
                f"summary {summary.id} of {len(summary.alerts)} held alerts",
                attempts,
                _delivery_error(e, summary.platform),
                lambda error, now: self.storage.mark_summary(summary.id, "dead", now, error=error),
                lambda error, at, now: self.storage.mark_summary(
                    summary.id, "pending", now, error=error, next_attempt_at=at
                ),
            ),
            lambda message_id: self._summary_sent(summary, message_id),
        )

    async def _summary_sent(self, summary: FloodSummary, message_id: str) -> None:
        await self.storage.mark_summary(summary.id, "sent", self.clock(), message_id=message_id)
        self.stats.summaries += 1
        log.info(
            "%s:%s: posted a summary of %d alerts held by the flood cap",
            summary.platform,
            summary.channel_id,
            len(summary.alerts),
        )

    async def send_digest(self, channel: ChannelSettings, job: DigestJob) -> bool:
        """Try one queued daily digest once; True if it left the outbox (sent or dead).

        The same policy as an alert: claimed before the request, retried with
        backoff, a permanent refusal marks the channel broken (the digest stays
        queued with its alerts), a rejected one is set aside and reported.
        """
        build = self.build_digest
        assert build is not None
        sink = self.sinks[channel.platform]

        async def post() -> str:
            digest = await build(job.period_end, job.timezone or "UTC")
            return await sink.post_digest(channel.id, digest, job.key)

        return await self._post_once(
            ("digest", job.key),
            lambda: self.storage.claim_digest(job.channel, job.day, self.clock()),
            post,
            lambda e: self._failed(
                channel.platform,
                channel.id,
                f"the digest for {job.day}",
                job.attempts,
                _delivery_error(e, channel.platform),
                lambda error, now: self.storage.mark_digest(
                    job.channel, job.day, "dead", now, error=error
                ),
                lambda error, at, now: self.storage.mark_digest(
                    job.channel, job.day, "queued", now, error=error, next_attempt_at=at
                ),
            ),
            lambda message_id: self._digest_sent(channel, job, message_id),
        )

    async def _digest_sent(self, channel: ChannelSettings, job: DigestJob, message_id: str) -> None:
        await self.storage.mark_digest(
            job.channel, job.day, "sent", self.clock(), message_id=message_id
        )
        self.stats.digests += 1
        log.info("%s: posted the digest for %s", channel.key, job.day)

    async def _failed(
        self,
        platform: str,
        channel_id: str,
        what: str,
        attempts: int,
        error: DeliveryError,
        mark_dead: Callable[[str, datetime], Awaitable[None]],
        mark_retry: Callable[[str, datetime, datetime], Awaitable[None]],
    ) -> bool:
        now = self.clock()
        key = f"{platform}:{channel_id}"
        reason = self.redact(str(error))
        if error.rejected:
            await mark_dead(reason, now)
            self.stats.dead += 1
            log.error("%s rejected %s, setting it aside: %s", key, what, reason)
            return True
        if not error.retryable:
            self._broken.add(key)
            channel = self._channel(platform, channel_id)
            await self.storage.set_channel_broken(
                platform,
                channel_id,
                reason,
                now,
                self.fingerprint(channel) if channel else None,
            )
            log.error(
                "channel %s refused %s for good: %s; marking the channel broken, its "
                "alerts stay queued",
                key,
                what,
                reason,
            )
            return False
        attempts += 1
        if self.max_attempts and attempts >= self.max_attempts:
            await mark_dead(reason, now)
            self.stats.dead += 1
            log.error("%s to %s gave up after %d attempts: %s", what, key, attempts, reason)
            return True
        delay = retry_delay(attempts, error.retry_after)
        await mark_retry(reason, now + timedelta(seconds=delay), now)
        self._failures[key] = self._failures.get(key, 0) + 1
        self.stats.retried += 1
        log.warning(
            "%s to %s failed (attempt %d): %s; retrying in %.0fs",
            what,
            key,
            attempts,
            reason,
            delay,
        )
        return False

    # -- a channel's work, one step at a time ------------------------------------------

    async def step(self, channel: ChannelSettings) -> Next:
        """Do the next piece of work for a channel (pure sequencing over storage).

        Order: a due flood summary, then the oldest alert (held back if the cap
        is reached) or queued digest, whichever was queued first, then, with
        nothing due, story edits.
        """
        if channel.key in self._broken:
            return None
        if self.locks is not None and not await self.locks.may_send(channel):
            return None  # another instance sends here; woken when this one takes it
        now = self.clock()
        if not self.flood.is_quiet(channel):
            pending = await self.flood.summary_due(channel, now)
            if pending is not None:
                summary, attempts, summary_due = pending
                if summary_due > now:
                    return (summary_due - now).total_seconds()
                await self.send_summary(summary, attempts)
                return 0
            await self.flood.check_quiet(channel)
        alert = await self.storage.next_alert(channel.platform, channel.id)
        if alert is not None:
            alert = with_new_entities(alert)
        job = await self._next_digest_job(channel)
        due: datetime | None = None
        if job is not None and (alert is None or _queued_before(job, alert)):
            # A queued digest takes its turn among the channel's alerts, in order.
            due = job.due_at or now
            if due <= now:
                await self.send_digest(channel, job)
                return 0
        elif alert is not None:
            due = await self.storage.alert_due_at(alert.id)
            if due <= now:
                top_level = alert.reply_to is None
                if top_level and not await self.flood.admit(channel, alert, now):
                    self.stats.held += 1
                    return 0
                sent = self.stats.sent
                await self.send_one(alert)
                if top_level and self.stats.sent > sent:
                    self.flood.posted(channel)
                return 0
        wait = await self._edit_stories(channel, now)
        if due is not None:
            wait = _sooner(wait, (due - now).total_seconds())
        if not self.flood.is_quiet(channel):  # alerts are held: wake for their summary
            wait = _sooner(wait, await self.flood.until_window_end(channel, now))
        return wait

    async def _next_digest_job(self, channel: ChannelSettings) -> DigestJob | None:
        if self.build_digest is None or channel.key in self._no_digest:
            return None
        job = await self.storage.next_digest_job(channel.key)
        if job is None:
            self._no_digest.add(channel.key)
        return job

    async def _edit_stories(self, channel: ChannelSettings, now: datetime) -> Next:
        """Show each story's growth on its parent message; None when all are up to date."""
        after = self._edit_after.get(channel.key)
        if after is not None and now < after:
            return (after - now).total_seconds()
        sink = self.sinks[channel.platform]
        stale = await self.storage.stale_story_posts(channel.platform, channel.id, STALE_BATCH)
        updates = [with_sources(update) for update in stale]
        for update in updates:
            story = update.parent.story or ""
            try:
                await sink.update_story(update)
            except Exception as e:
                error = _delivery_error(e, channel.platform)
                if error.retryable:
                    # The alerts' backoff: an edit failing again and again waits longer.
                    failures = self._edit_failures.get(channel.key, 0) + 1
                    self._edit_failures[channel.key] = failures
                    delay = retry_delay(failures, error.retry_after)
                    self._edit_after[channel.key] = now + timedelta(seconds=delay)
                    log.warning(
                        "%s: editing a story's message failed (attempt %d): %s; retrying in %.0fs",
                        channel.key,
                        failures,
                        error,
                        delay,
                    )
                    return delay
                log.warning(
                    "%s: cannot edit the message of story %r (%s); leaving it as it is",
                    channel.key,
                    update.parent.item.title[:80],
                    error,
                )
            else:
                self.stats.edits += 1
            self._edit_failures.pop(channel.key, None)
            await self.storage.mark_story_shown(
                story, channel.platform, channel.id, update.revision
            )
        self._edit_after.pop(channel.key, None)
        return 0 if len(updates) >= STALE_BATCH else None  # more may be waiting

    # -- loops ---------------------------------------------------------------------

    async def drain(self) -> None:
        """Deliver what is due now, each alert tried at most once (for `bot once`)."""
        await asyncio.gather(*(self._drain_channel(c) for c in self.channels))

    async def _drain_channel(self, channel: ChannelSettings) -> None:
        with channel_context(channel.key):
            await self._drain_one(channel)

    async def _drain_one(self, channel: ChannelSettings) -> None:
        failures = self._failures.get(channel.key, 0)
        while await self.step(channel) == 0:
            if self._failures.get(channel.key, 0) != failures:
                return  # something failed in this drain: the next run retries it

    async def run(self, stop: asyncio.Event, health: StorageHealth | None = None) -> None:
        """Deliver until `stop` is set; an in-flight send always completes."""
        health = health or StorageHealth("the database")
        await asyncio.gather(*(self._worker(c, stop, health) for c in self.channels))

    async def _worker(
        self, channel: ChannelSettings, stop: asyncio.Event, health: StorageHealth
    ) -> None:
        """One channel's loop; every line logged in it (sinks too) names the channel."""
        with channel_context(channel.key):
            await self._work(channel, stop, health)

    async def _work(
        self, channel: ChannelSettings, stop: asyncio.Event, health: StorageHealth
    ) -> None:
        """Storage failures and bugs cost a backoff, never the channel."""
        wake = self._wake[channel.key]
        where = f"delivering to {channel.key}"
        backoff = Backoff()
        never = asyncio.Event()
        while not stop.is_set():
            if channel.key in self._broken:
                if self.locks is None:
                    return  # one instance: broken until its configuration changes
                # Shared database: taking the channel's lock again reads its state anew
                # (read_broken), then wakes this worker.
                wake.clear()
                await _wait_any(stop, wake, None)
                continue
            wake.clear()
            try:
                wait = await self.step(channel)
            except STORAGE_FAILURES as e:  # queued alerts stay queued: try again later
                health.failed(where, e)
                await _wait_any(stop, never, backoff.next_delay())
                continue
            except Exception:
                delay = backoff.next_delay()
                log.exception("%s failed unexpectedly; trying again in %gs", where, delay)
                await _wait_any(stop, never, delay)
                continue
            health.ok(where)
            backoff.reset()
            if wait != 0:
                # Another process (`once` beside this bot) may queue alerts without
                # waking us: look again after IDLE_RECHECK at the latest.
                await _wait_any(
                    stop, wake, IDLE_RECHECK if wait is None else min(wait, IDLE_RECHECK)
                )


def _queued_before(job: DigestJob, alert: Alert) -> bool:
    return job.created_at is None or job.created_at <= alert.created_at


def _sooner(a: Next, b: Next) -> Next:
    if a is None:
        return b
    if b is None:
        return a
    return min(a, b)


def _delivery_error(error: BaseException, platform: str) -> DeliveryError:
    """Sinks raise DeliveryError; anything else is a sink bug, retried rather than lost."""
    if isinstance(error, DeliveryError):
        return error
    log.error("%s sink failed unexpectedly", platform, exc_info=error)
    return DeliveryError(f"{type(error).__name__}: {error}", retryable=True)


async def _wait_any(stop: asyncio.Event, wake: asyncio.Event, timeout: float | None) -> None:
    """Wait until stop or wake is set, or timeout seconds pass."""
    waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(wake.wait())]
    try:
        await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waiters:
            w.cancel()
