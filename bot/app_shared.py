"""The App's loops when several instances share one database (PostgreSQL).

On SQLite one `run` owns the database and polls each feed in a loop of its
own (bot/app.py). On a shared database the instances divide the work instead:

- feeds: a claim loop leases bounded batches of due feeds (bot/feeds/leases.py)
  and polls each with its stored state, so whichever instance polled a feed
  last, the next poll continues from it (a feed's first poll, which marks its
  items seen without alerting, happens once for the whole deployment);
- channels: an instance sends to a channel only while it holds the channel's
  lock (bot/delivery/channel_locks.py), woken by other instances' alerts;
- commands: the instance holding the `listener` lock opens the chat platforms'
  command connections (Discord gateway, Slack Socket Mode); the others never do;
- changes made from chat on one instance (terms, mutes, added feeds) reach the
  others through announcements, and a periodic look catches a missed one;
- stories: each instance's story index takes in what the others stored since
  its last look before it groups new items.

Nothing here imports bot.app: `SharedApp` names the parts of the App it uses.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Protocol

from bot.chat.base import Sink
from bot.config import FeedSettings, Settings
from bot.delivery.channel_locks import ChannelLocks
from bot.delivery.outbox import Outbox
from bot.digest.model import Digest
from bot.feeds.leases import (
    CLAIM_EVERY,
    LEASE,
    RENEW_EVERY,
    claim_limit,
    claim_wait,
    owner_name,
    parked_until,
)
from bot.models import FeedState
from bot.ops.http_status import Check
from bot.poller import PollOutcome, new_state
from bot.storage.base import AddedFeed, Storage
from bot.storage.coordination import OUTBOX_CHANGED, TERMS_CHANGED
from bot.storage_health import STORAGE_FAILURES, Backoff, StorageHealth
from bot.stories import StoryTracker

log = logging.getLogger(__name__)

LISTENER = "listener"
RUNNING = "running"  # held shared by every running instance (bot/storage/coordination.py)
LISTENER_RETRY = 5.0  # a standby instance tries to take the command listener this often
STATE_REFRESH = 300.0  # feed states polled elsewhere are read again this often (/feeds):
# a full read of the feeds table, so rare enough to cost little in an idle deployment
STORY_OVERLAP = timedelta(seconds=60)  # story members are read again this far back
#: At a clean stop, polls in flight may finish this long (their leases still renewed),
#: as deliveries may (bot/app.py: SHUTDOWN_GRACE): a finished poll saves its feed's
#: next due time, so no other instance fetches the feed again within its interval.
STOP_GRACE = 15.0


class SharedApp(Protocol):
    """The parts of bot.app.App the shared loops use (App satisfies this)."""

    mutes: dict[str, datetime | None]
    clock: Callable[[], datetime]
    settings: Settings
    storage: Storage
    sinks: dict[str, Sink]
    feeds: dict[str, FeedSettings]
    states: dict[str, FeedState]
    outbox: Outbox
    stories: StoryTracker
    health: StorageHealth

    async def poll_feed(self, feed: FeedSettings) -> PollOutcome: ...

    async def reload_watchlists(self) -> None: ...

    def chat_feed(self, url: str, name: str) -> FeedSettings: ...

    def operator_feed(self, added: AddedFeed) -> FeedSettings: ...


async def _wait(events: list[asyncio.Event], seconds: float) -> None:
    """Until one of `events` is set, or `seconds` pass."""
    waiters = [asyncio.ensure_future(e.wait()) for e in events]
    try:
        await asyncio.wait(waiters, timeout=max(seconds, 0.0), return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waiters:
            w.cancel()


class SharedWork:
    def __init__(self, app: SharedApp, owner: str | None = None) -> None:
        self.app = app
        self.storage = app.storage
        self.owner = owner or owner_name()
        self.locks = ChannelLocks(
            app.storage, app.settings.channels, app.outbox.notify, app.outbox.read_broken
        )
        app.outbox.locks = self.locks
        build = app.outbox.build_digest

        async def build_digest(now: datetime, timezone: str) -> Digest:
            # The digest reports every feed's health: read the states polled elsewhere.
            with contextlib.suppress(*STORAGE_FAILURES):
                await self.refresh_states()
            assert build is not None
            return await build(now, timezone)

        if build is not None:
            app.outbox.build_digest = build_digest
        self.in_flight: dict[str, asyncio.Task[None]] = {}
        self.listening = False
        self.caught_up_at: datetime | None = None  # a claim last found no more due feeds
        self.polls = 0  # feeds this instance polled (tests, /healthz)
        self._wake = asyncio.Event()  # claim now: a feed was added, or slots freed up
        self._changed = asyncio.Event()  # another instance changed terms, mutes or feeds
        self._backlog = False  # the last claim was full: more feeds may be due
        self._failures: dict[str, Backoff] = {}
        self._unknown: set[str] = set()  # claimed feeds this instance has no settings for
        self._stories_synced: datetime = app.clock()
        self._terms: object = None
        self._configured = {f.url for f in app.settings.feeds}

    # -- start-up ---------------------------------------------------------------

    async def listen(self) -> None:
        """Hear other instances' changes from now on: called before the App reads its
        terms, mutes, feeds and stories, so no change falls between reading and hearing."""
        self.storage.subscribe(OUTBOX_CHANGED, self.app.outbox.digest_queued)
        self.storage.subscribe(TERMS_CHANGED, self._changed.set)
        await asyncio.sleep(0)  # let the LISTEN start; the next call waits for it
        await self.storage.holds_lock(LISTENER)
        self._terms = await self._read_terms()
        self._stories_synced = self.app.clock()

    async def prepare(self) -> None:
        """Store a row for every feed this instance knows, so the deployment can claim it."""
        await self.storage.ensure_feeds([new_state(f) for f in self.app.feeds.values()])

    def start(
        self, stop: asyncio.Event, refresh_files: Callable[[], Awaitable[object]]
    ) -> list[asyncio.Task[None]]:
        """The loops of `run`; each ends by itself once `stop` is set."""
        return [
            asyncio.create_task(self.run_feeds(stop), name="feed-claims"),
            asyncio.create_task(self.locks.run(stop, self.app.health), name="channel-locks"),
            asyncio.create_task(self.run_listener(stop), name="listener-lock"),
            asyncio.create_task(self.run_changes(stop, refresh_files), name="changes"),
        ]

    async def run_once(self, deliver: bool) -> list[PollOutcome]:
        """`once` on a shared database: poll the due feeds no instance holds, then
        deliver to the channels no running instance sends to."""
        outcomes = await self.poll_due()
        if deliver:
            await self.locks.acquire()
            try:
                await self.app.outbox.drain()
            finally:
                await self.locks.release()
        return outcomes

    def wake(self) -> None:
        """Claim at once: a feed was added here (its row is stored), or a test moved
        the clock on."""
        self._wake.set()

    # -- feeds: claim, poll, renew ---------------------------------------------------

    async def claim(self, limit: int) -> list[tuple[FeedSettings, FeedState]]:
        """Lease up to `limit` due feeds; the ones this instance can poll, with their state."""
        now = self.app.clock()
        claimed = await self.storage.claim_due_feeds(self.owner, now, now + LEASE, limit)
        self._backlog = len(claimed) == limit
        if not self._backlog:
            self.caught_up_at = now
        if any(s.feed_url not in self.app.feeds for s in claimed):
            await self.sync_feeds()  # added from chat on another instance?
        ready = []
        for state in claimed:
            feed = self.app.feeds.get(state.feed_url)
            if feed is not None:
                ready.append((feed, state))
                continue
            if state.feed_url not in self._unknown:
                self._unknown.add(state.feed_url)
                log.warning(
                    "%s is stored as a feed but neither configured nor added here; leaving "
                    "it to an instance that knows it (it was removed, or this instance's "
                    "config differs)",
                    state.feed_url,
                )
            parked = parked_until(now, self.app.settings.bot.interval)
            with contextlib.suppress(*STORAGE_FAILURES):  # else its lease runs out soon
                await self.storage.renew_feed_leases(self.owner, [state.feed_url], parked)
        if ready:
            try:
                await self.sync_stories()
            except STORAGE_FAILURES as e:  # grouping goes on with what is known here
                self.app.health.failed("reading other instances' stories", e)
            else:
                self.app.health.ok("reading other instances' stories")
        return ready

    async def poll_claimed(self, feed: FeedSettings, state: FeedState) -> PollOutcome:
        """Poll a claimed feed from its stored state; saving the new state releases it.

        A poll that could record nothing (storage failing, a bug) keeps the lease
        for a growing backoff instead, so neither this instance nor another polls
        the feed again at once.
        """
        self.app.states[feed.url] = state
        outcome = await self.app.poll_feed(feed)
        self.polls += 1
        if self.app.states.get(feed.url) is not state:
            self._failures.pop(feed.url, None)
            return outcome
        delay = self._failures.setdefault(feed.url, Backoff()).next_delay()
        until = self.app.clock() + timedelta(seconds=delay)
        with contextlib.suppress(*STORAGE_FAILURES):  # else the lease runs out by itself
            await self.storage.renew_feed_leases(self.owner, [feed.url], until)
        return outcome

    def _start_poll(self, feed: FeedSettings, state: FeedState) -> None:
        async def poll() -> None:
            try:
                await self.poll_claimed(feed, state)
            finally:
                self.in_flight.pop(feed.url, None)
                if self._backlog and self._free() >= max(1, self._batch() // 2):
                    self._wake.set()

        self.in_flight[feed.url] = asyncio.create_task(poll(), name=f"feed:{feed.name}")

    def _batch(self) -> int:
        return claim_limit(self.app.settings.bot.max_concurrency, 0)

    def _free(self) -> int:
        return claim_limit(self.app.settings.bot.max_concurrency, len(self.in_flight))

    async def run_feeds(self, stop: asyncio.Event) -> None:
        """Claim and poll due feeds until `stop`; then let the polls in flight finish."""
        where = "claiming due feeds"
        backoff = Backoff()
        polls_over = asyncio.Event()
        renew = asyncio.create_task(self._renew(polls_over), name="lease-renewal")
        try:
            while not stop.is_set():
                self._wake.clear()
                limit = self._free()
                if limit == 0:
                    await _wait([stop, self._wake], CLAIM_EVERY.total_seconds())
                    continue
                try:
                    claimed = await self.claim(limit)
                except STORAGE_FAILURES as e:
                    self.app.health.failed(where, e)
                    await _wait([stop], backoff.next_delay())
                    continue
                self.app.health.ok(where)
                backoff.reset()
                for feed, state in claimed:
                    self._start_poll(feed, state)
                now = self.app.clock()
                dues = (s.next_poll_at for s in self.app.states.values() if not s.disabled_reason)
                wait = claim_wait(now, dues, batch_full=self._backlog)
                if wait > 0 or self._free() == 0:
                    await _wait([stop, self._wake], wait or CLAIM_EVERY.total_seconds())
        finally:
            try:
                await self._finish_polls()
            finally:
                polls_over.set()
                renew.cancel()

    async def _finish_polls(self) -> None:
        """Let the polls in flight finish (within STOP_GRACE), cancel the rest.

        A finished poll saves its feed's state, which ends the lease with the next due
        time: nobody fetches the feed again within its interval. A poll cancelled here
        keeps its lease, which runs out by itself (at most LEASE later); releasing it
        would let another instance fetch the feed again at once.
        """
        tasks = list(self.in_flight.values())
        if not tasks:
            return
        log.info("stopping: letting %d feed polls finish (up to %gs)", len(tasks), STOP_GRACE)
        _, unfinished = await asyncio.wait(tasks, timeout=STOP_GRACE)
        for task in unfinished:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if unfinished:
            log.warning(
                "%d feed polls still running after %gs were cancelled; their leases run out "
                "by themselves, then another instance polls those feeds",
                len(unfinished),
                STOP_GRACE,
            )

    async def _renew(self, done: asyncio.Event) -> None:
        """Extend the leases of the polls still running, every third of a lease, until
        `done` (after a stop's grace: polls finishing then keep their feeds leased)."""
        where = "renewing feed leases"
        while not done.is_set():
            await _wait([done], RENEW_EVERY.total_seconds())
            urls = list(self.in_flight)
            if not urls or done.is_set():
                continue
            try:
                await self.storage.renew_feed_leases(self.owner, urls, self.app.clock() + LEASE)
            except STORAGE_FAILURES as e:
                self.app.health.failed(where, e)
            else:
                self.app.health.ok(where)

    async def poll_due(self) -> list[PollOutcome]:
        """Claim and poll until nothing is due (`once`): never a feed another instance holds."""
        outcomes: list[PollOutcome] = []
        limit = claim_limit(self.app.settings.bot.max_concurrency, 0)
        while True:  # each feed once: a polled, failed or parked one is not due again
            claimed = await self.claim(limit)
            outcomes += await asyncio.gather(*(self.poll_claimed(f, s) for f, s in claimed))
            if not self._backlog:
                return outcomes

    # -- the deployment's heartbeat ---------------------------------------------------

    async def join_running(self) -> None:
        """Count this `run` among the deployment's running instances (again after a lost
        database session: run_listener repeats it)."""
        with contextlib.suppress(*STORAGE_FAILURES):
            await self.storage.join_running()

    async def leave_running(self, now: datetime) -> bool:
        """At a clean stop: if no other instance runs, mark the deployment's heartbeat
        stopped (`health` then says so) and return True. While this one records it,
        instances starting wait to count themselves (milliseconds), so a start is never
        hidden by this stop."""
        try:
            last = await self.storage.leave_running()
        except STORAGE_FAILURES:
            return False  # cannot tell: `health` goes by the heartbeat's age
        if not last:
            return False
        try:
            await self.storage.stop_heartbeat(now)
        except STORAGE_FAILURES as e:
            log.warning(
                "the heartbeat could not be marked stopped (%s): `health` will report the "
                "deployment as stale rather than stopped",
                e,
            )
        finally:
            with contextlib.suppress(*STORAGE_FAILURES):
                await self.storage.unlock(RUNNING)
        log.info("no other instance runs: the deployment's heartbeat is marked stopped")
        return True

    def cycle_complete(self, now: datetime, grace: float) -> bool:
        """The heartbeat's test on a shared database: a claim recently found every due
        feed taken (by this instance or another), so no feed waits unpolled."""
        caught_up = self.caught_up_at
        return caught_up is not None and (now - caught_up).total_seconds() <= grace

    # -- what other instances changed -------------------------------------------------

    async def _read_terms(self) -> object:
        return (await self.storage.chat_terms(), await self.storage.removed_terms())

    async def sync_feeds(self) -> None:
        """Take in feeds added or removed from chat (or imported) on any instance."""
        records = await self.storage.added_feed_records()
        added = {r.url for r in records}
        for record in records:
            if record.url in self.app.feeds:
                continue
            self.app.feeds[record.url] = (
                self.app.operator_feed(record)
                if record.trusted
                else self.app.chat_feed(record.url, record.name)
            )
            # A placeholder for /feeds until a claim brings the stored state.
            self.app.states.setdefault(record.url, new_state(self.app.feeds[record.url]))
            self._unknown.discard(record.url)
            log.info(
                "%s: added on another instance (or imported); polling it here too", record.name
            )
        for url in [u for u in self.app.feeds if u not in added and u not in self._configured]:
            self.app.feeds.pop(url, None)
            self.app.states.pop(url, None)

    async def sync_changes(self) -> None:
        """Reload chat terms (if changed), mutes and added feeds from the database."""
        terms = await self._read_terms()
        if terms != self._terms:
            await self.app.reload_watchlists()
            self._terms = terms
        self.app.mutes = await self.storage.mutes()
        await self.sync_feeds()

    async def sync_stories(self) -> int:
        """Add the story members other instances stored since the last look."""
        now = self.app.clock()
        members = await self.storage.story_members_since(self._stories_synced - STORY_OVERLAP)
        self._stories_synced = now
        return self.app.stories.merge(members)

    async def refresh_states(self) -> None:
        """Read the stored states of the feeds not being polled here (for /feeds, digests)."""
        stored = await self.storage.feed_states()
        for url in self.app.feeds:
            if url not in self.in_flight and url in stored:
                self.app.states[url] = stored[url]

    async def run_changes(
        self, stop: asyncio.Event, refresh_files: Callable[[], Awaitable[object]]
    ) -> None:
        """Follow other instances' changes: when announced, and every watchlist check."""
        where = "reading other instances' changes"
        interval = self.app.settings.bot.watchlist_check
        refreshed = self.app.clock()
        while not stop.is_set():
            await _wait([stop, self._changed], interval)
            self._changed.clear()
            if stop.is_set():
                return
            try:
                await refresh_files()  # the watchlist files, as on SQLite
                await self.sync_changes()
                now = self.app.clock()
                if (now - refreshed).total_seconds() >= STATE_REFRESH:
                    await self.refresh_states()
                    refreshed = now
            except STORAGE_FAILURES as e:
                self.app.health.failed(where, e)
            else:
                self.app.health.ok(where)

    # -- the command listener ---------------------------------------------------------

    async def run_listener(self, stop: asyncio.Event) -> None:
        """Hold the command connections while this instance holds `listener`."""
        where = "taking the command listener"
        try:
            while not stop.is_set():
                try:
                    await self.storage.join_running()  # a no-op unless the session was lost
                    if self.listening:
                        if not await self.storage.holds_lock(LISTENER):
                            log.warning("lost the command listener lock; closing the listener")
                            await self._stop_listening()
                    elif await self.storage.try_lock(LISTENER):
                        await self._start_listening()
                except STORAGE_FAILURES as e:
                    self.app.health.failed(where, e)
                else:
                    self.app.health.ok(where)
                await _wait([stop], LISTENER_RETRY)
        finally:
            if self.listening:
                await self._stop_listening()
                with contextlib.suppress(*STORAGE_FAILURES):
                    await self.storage.unlock(LISTENER)

    async def _start_listening(self) -> None:
        started: list[Sink] = []
        try:
            for sink in self.app.sinks.values():
                started.append(sink)
                await sink.start_listener()
        except Exception as e:  # give the lock up: another instance may connect
            log.error("cannot open the command listener (%s); trying again later", e)
            await _stop_sinks(started)
            await self.storage.unlock(LISTENER)
            return
        self.listening = True
        log.info("this instance holds the command listener")

    async def _stop_listening(self) -> None:
        self.listening = False
        await _stop_sinks(list(self.app.sinks.values()))

    # -- health ------------------------------------------------------------------------

    def checks(self) -> dict[str, Check]:
        """/healthz on a shared database: this instance's role and share of the work."""
        role = "command listener" if self.listening else "standby (another instance listens)"
        held = sorted(self.locks.held)
        sends = ", ".join(held) if held else "no channel (other instances send)"
        return {
            "role": Check(True, f"{role}; sends to {sends}; {len(self.in_flight)} feeds polling")
        }


async def _stop_sinks(sinks: list[Sink]) -> None:
    for sink in sinks:
        try:
            await sink.stop_listener()
        except Exception:  # closing must go on for the other sinks
            log.exception("closing the %s command listener failed", sink.platform)
