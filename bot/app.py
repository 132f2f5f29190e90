"""Composition root: opens storage, HTTP session, parser pool and sinks; runs the loops.

Nothing in the bot opens a resource at import time or holds one globally:
everything is created here, handed to the stages, and closed here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING

from bot.app_shared import SharedWork
from bot.app_sinks import make_sinks
from bot.app_warmup import StoryWarmUp, in_turn, poll_gate, polls_at_once, together
from bot.app_watchlists import Watchlists
from bot.chat.base import Sink, connection_state
from bot.config import FeedSettings, FirstPoll, Settings, database_label, parse_first_poll
from bot.delivery.outbox import Outbox
from bot.digest.model import Digest
from bot.digest.service import DigestService
from bot.errors import ConfigError, StorageError
from bot.feeds import schedule
from bot.feeds.fetch import Fetcher
from bot.feeds.parse import ParserPool
from bot.logs import channel_context, feed_context
from bot.matching.matcher import Matcher
from bot.metrics import CONTENT_TYPE, NO_RECORDING, Metrics, NoRecording
from bot.models import Entity, FeedState
from bot.ops.health import STALE_AFTER_INTERVALS, cycle_complete, tick_seconds
from bot.ops.http_status import Check, StatusServer
from bot.poller import Poller, PollOutcome, new_state
from bot.preflight import LoadedWatchlists, watchlist_snapshot
from bot.redact import Redactor, secret_envs
from bot.storage.base import AddedFeed, Storage
from bot.storage.open import open_storage
from bot.storage_health import (
    STORAGE_FAILURES,
    Backoff,
    StorageHealth,
    describe_storage_error,
    storage_advice,
)
from bot.stories import StoryTracker

if TYPE_CHECKING:
    from bot.app_control import AppControl
    from bot.commands import Commands

log = logging.getLogger(__name__)

PRUNE_EVERY = 3600.0
SHUTDOWN_GRACE = 15.0


async def wait_for_stop(stop: asyncio.Event, seconds: float) -> None:
    """Sleep for `seconds`, or less if the bot is told to stop."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(slots=True)
class CycleReport:
    outcomes: list[PollOutcome] = field(default_factory=list)

    @property
    def alerts(self) -> int:
        return sum(o.alerts for o in self.outcomes)

    @property
    def errors(self) -> int:
        return sum(o.status == "error" for o in self.outcomes)


class App:
    def __init__(
        self,
        settings: Settings,
        storage: Storage,
        fetcher: Fetcher,
        parsers: ParserPool,
        sinks: dict[str, Sink],
        clock: Callable[[], datetime] = utcnow,
        watchlists: LoadedWatchlists | None = None,
        metrics: bool | None = None,
    ) -> None:
        self.settings = settings
        self.storage = storage
        self.clock = clock
        self.sinks = sinks
        # Checked at start, their match index built when first needed (app_watchlists.py).
        self.watchlists = Watchlists(
            settings.bot.watchlists, settings.bot.match_threshold, storage, watchlists
        )
        self.states: dict[str, FeedState] = {}
        # Feeds from the config, then those added from chat (stored in the database).
        self.feeds: dict[str, FeedSettings] = {f.url: f for f in settings.feeds}
        self.mutes: dict[str, datetime | None] = {}
        self._stop: asyncio.Event | None = None
        self._feed_tasks: dict[str, asyncio.Task[None]] = {}
        self.stories = StoryTracker(settings.bot.story_window)
        self.warm_up = StoryWarmUp(self.stories)  # index rebuilt after start-up
        self.polls = poll_gate(settings.bot)  # a bound on a big cycle's memory
        self.health = StorageHealth(database_label(settings.bot.database))
        # Kept where they can be read, [bot] listen (`run`): else Prometheus' import and
        # counters are waste, ~15 ms of every `once` (bench/pipeline_ab.py).
        keep = settings.bot.listen is not None if metrics is None else metrics
        platforms = sorted({c.platform for c in settings.channels})
        self.metrics: Metrics | NoRecording = Metrics(platforms) if keep else NO_RECORDING
        self.started_at = clock()
        self.last_cycle_at: datetime | None = None
        self.heartbeat_error: str | None = None  # the last heartbeat write failed: why
        self.poller = Poller(
            settings.bot,
            storage,
            fetcher,
            parsers,
            settings.channels,
            lambda: self.matcher,
            clock,
            self.active_mutes,
            self.stories,
            self.metrics,
            self._ready,
        )
        self.outbox = Outbox(
            storage,
            sinks,
            settings.channels,
            clock,
            settings.bot.delivery_attempts,
            settings.raw_sections,
            redact=Redactor.from_environment(os.environ, secret_envs(settings.raw_sections)),
            recorder=self.metrics,
        )
        self.digest = DigestService(
            settings.digest,
            settings.channels,
            settings.bot.timezone,
            storage,
            sinks,
            clock,
            lambda: self.entities,
            lambda: [(f, self.states.get(f.url)) for f in self.feeds.values()],
            on_queued=self.outbox.digest_queued,
        )
        self.outbox.build_digest = self.digest.build  # queued digests are built when sent
        # Several instances on one database divide the work (bot/app_shared.py).
        self.shared = SharedWork(self) if storage.shared else None

    @cached_property
    def control(self) -> AppControl:
        """The control port, the commands' only way in; made when first asked for, so a
        `once` (no commands) never imports the command modules (~10 ms)."""
        from bot import app_control

        return app_control.AppControl(self)

    @cached_property
    def commands(self) -> Commands:
        from bot import commands  # the chat commands, over `control`

        return commands.Commands(self.control)

    @classmethod
    @asynccontextmanager
    async def open(
        cls,
        settings: Settings,
        clock: Callable[[], datetime] = utcnow,
        sinks: dict[str, Sink] | None = None,
        watchlists: LoadedWatchlists | None = None,
        metrics: bool | None = None,
    ) -> AsyncIterator[App]:
        """Open everything the bot needs; `sinks` replaces the configured ones (tests);
        `watchlists` are preflight's, used if nothing they came from changed since;
        `metrics` records Prometheus metrics (default: when [bot] listen serves them)."""
        async with AsyncExitStack() as stack:
            storage = await stack.enter_async_context(open_storage(settings.bot.database))
            fetcher = await stack.enter_async_context(Fetcher(settings.bot))
            parsers = await stack.enter_async_context(
                ParserPool(settings.bot.parser_workers, settings.bot.timeout)
            )
            sinks = sinks if sinks is not None else make_sinks(settings)
            app = cls(settings, storage, fetcher, parsers, sinks, clock, watchlists, metrics)
            stack.push_async_callback(app.warm_up.close)
            stack.push_async_callback(app.watchlists.close)
            try:
                await app.load()
            except STORAGE_FAILURES as e:
                if isinstance(e, StorageError):
                    raise
                raise StorageError(
                    f"{database_label(settings.bot.database)}: cannot use the database "
                    f"({describe_storage_error(e)}) — {storage_advice(e)}"
                ) from e
            for sink in sinks.values():
                bind = getattr(sink, "bind_commands", None)
                if bind is not None:  # chat platforms take slash commands, injected here
                    bind(app.commands)
                stack.push_async_callback(sink.close)
                await sink.start()
                if app.shared is None:  # else: whichever instance holds `listener`
                    await sink.start_listener()
            yield app

    async def load(self) -> None:
        """Read watchlists (files + chat terms) and feed states; report disabled feeds."""
        if self.shared is not None:
            await self.shared.listen()
        await together(self.watchlists.load(defer=True), self._load_state())
        await self.outbox.load_broken()
        if self.shared is not None:
            await self.shared.prepare()

    async def _load_state(self) -> None:
        """Feeds, mutes and the story members (their index rebuilt after start-up)."""
        for added in await self.storage.added_feed_records():
            if added.url not in self.feeds:
                self.feeds[added.url] = (
                    self.operator_feed(added)
                    if added.trusted
                    else self.chat_feed(added.url, added.name)
                )
        stored = await self.storage.feed_states()
        for feed in self.feeds.values():
            state = stored.get(feed.url) or new_state(feed)
            if state.disabled_reason:
                log.warning(
                    "%s stays disabled: %s",
                    feed.name,
                    state.disabled_reason,
                    extra={"feed": feed.url},
                )
            self.states[feed.url] = state
        self.mutes = await self.storage.mutes()
        now = self.clock()
        since = now - timedelta(seconds=self.settings.bot.story_window)
        await self.warm_up.start(self.storage.story_members_since, since, now, self.shared is None)

    def chat_feed(self, url: str, name: str) -> FeedSettings:
        """Settings for a feed added from chat: the default interval, new items only."""
        return FeedSettings(
            url, url, name or url, self.settings.bot.interval, FirstPoll("skip"), trusted=False
        )

    def operator_feed(self, added: AddedFeed) -> FeedSettings:
        """Settings for a feed imported by the operator (`feeds import`): polled like a
        bot.toml feed, loopback and private addresses included, with its own first_poll."""
        first_poll = parse_first_poll(added.first_poll) or FirstPoll("skip")
        return FeedSettings(
            added.url, added.url, added.name or added.url, self.settings.bot.interval, first_poll
        )

    def active_mutes(self, now: datetime) -> frozenset[str]:
        return frozenset(e for e, until in self.mutes.items() if until is None or until > now)

    async def add_feed(self, feed: FeedSettings) -> None:
        """Start polling a feed added at run time (already stored by the caller)."""
        self.feeds[feed.url] = feed
        self.states[feed.url] = new_state(feed)  # a re-added feed starts afresh
        if self.shared is not None:  # stored afresh (lease dropped): any instance claims it
            await self.storage.save_feed_state(self.states[feed.url])
            self.shared.wake()
        elif self._stop is not None and not self._stop.is_set():
            self._start_feed(feed, self._stop)

    async def remove_feed(self, url: str) -> None:
        self.feeds.pop(url, None)
        self.states.pop(url, None)
        task = self._feed_tasks.pop(url, None)
        if task is not None:
            task.cancel()

    def _start_feed(self, feed: FeedSettings, stop: asyncio.Event) -> None:
        self._feed_tasks[feed.url] = asyncio.create_task(
            self._feed_loop(feed, stop), name=f"feed:{feed.name}"
        )

    @property
    def matcher(self) -> Matcher:
        return self.watchlists.matcher

    @property
    def entities(self) -> Sequence[Entity]:
        """The watchlists' entities: known before their match index is built."""
        return self.watchlists.entities

    async def _ready(self) -> None:
        """What a poll with new items waits for: the story index and the match index."""
        await together(self.warm_up.wait(), self.watchlists.ready())

    async def reload_watchlists(self) -> None:
        """Load the watchlist files and chat terms and build a new matcher in a thread;
        the old matcher serves until the new one is ready."""
        await self.watchlists.load()

    async def _watch_watchlists(self, stop: asyncio.Event) -> None:
        """Rebuild the matcher when a watchlist file changes; a broken edit keeps the old one."""
        while not stop.is_set():
            await wait_for_stop(stop, self.settings.bot.watchlist_check)
            await self.refresh_watchlists()
            await self.pick_up_imported_feeds()

    async def pick_up_imported_feeds(self) -> int:
        """Start polling feeds `feeds import` stored since the start; how many.

        The import runs in another process, so the running bot looks for them at
        each watchlist check (a cheap read) instead of waiting for a restart.
        """
        where = "reading imported feeds"
        try:
            records = await self.storage.added_feed_records()
        except STORAGE_FAILURES as e:  # try again at the next check
            self.health.failed(where, e)
            return 0
        self.health.ok(where)
        new = [r for r in records if r.trusted and r.url not in self.feeds]
        for record in new:
            await self.add_feed(self.operator_feed(record))
            log.info("%s: imported with `feeds import`; polling it now", record.name)
        return len(new)

    async def refresh_watchlists(self) -> bool:
        """Reload if a watchlist file changed since the last load; True if reloaded."""
        if watchlist_snapshot(self.settings.bot.watchlists) == self.watchlists.snapshot:
            return False
        where = "reloading the watchlists"
        try:
            await self.reload_watchlists()
        except ConfigError as e:
            self.watchlists.snapshot = watchlist_snapshot(self.settings.bot.watchlists)
            log.error("watchlists changed but cannot be used, keeping the old ones: %s", e)
            return False
        except STORAGE_FAILURES as e:  # chat terms unreadable: try again at the next check
            self.health.failed(where, e)
            return False
        self.health.ok(where)
        return True

    async def poll_feed(self, feed: FeedSettings) -> PollOutcome:
        """Poll one feed; every line logged meanwhile (fetch, parse too) names it."""
        async with self.polls:  # a bound on a big cycle's memory (app_warmup.py)
            with feed_context(feed.url):
                return await self._poll_feed(feed)

    async def _poll_feed(self, feed: FeedSettings) -> PollOutcome:
        where = f"polling {feed.name}"
        try:
            state, outcome = await self.poller.poll(feed, self.states[feed.url])
        except STORAGE_FAILURES as e:  # the feed keeps its state: its items are read again
            self.health.failed(where, e)
            self.metrics.feed_polled("error", None, "storage")
            return PollOutcome(feed.url, "error", error=f"storage: {e}")
        except Exception as e:  # a bug must cost one poll of one feed, never the poller
            log.exception("polling %s failed unexpectedly", feed.name)
            self.metrics.feed_polled("error", None, "bug")
            return PollOutcome(feed.url, "error", error=f"{type(e).__name__}: {e}")
        self.health.ok(where)
        self.states[feed.url] = state
        if outcome.alerts:
            self.outbox.notify()
            await self.outbox.report_backlog()
        return outcome

    async def run_once(self, deliver: bool = True) -> CycleReport:
        """Poll every enabled feed once, then deliver what was queued (unless told not to:
        a running bot owns delivery from this database)."""
        if self.shared is not None:  # only the due feeds no other instance holds
            return CycleReport(await self.shared.run_once(deliver))
        feeds = [f for f in self.feeds.values() if not self.states[f.url].disabled_reason]
        outcomes = await in_turn(feeds, self.poll_feed, polls_at_once(self.settings.bot))
        if deliver:
            await self.outbox.drain()
        return CycleReport(outcomes)

    async def run_forever(self, stop: asyncio.Event) -> None:
        """Poll each feed on its schedule and deliver continuously until `stop` is set."""
        self._stop = stop
        listener = await self._start_listener()
        try:
            await self._run_loops(stop)
        finally:
            if listener is not None:
                await listener.close()

    async def _run_loops(self, stop: asyncio.Event) -> None:
        if self.shared is not None:  # before the heartbeat: see SharedWork.leave_running
            await self.shared.join_running()
        await self._start_heartbeat()
        await self.outbox.report_backlog()
        delivery = asyncio.create_task(self.outbox.run(stop, self.health), name="outbox")
        watchers = []  # shared: the claim loop polls, and watches other instances' changes
        if self.shared is None:
            for feed in list(self.feeds.values()):
                self._start_feed(feed, stop)
            self.warm_up.begin()  # the story index, now that the first polls are under way
            watchers.append(asyncio.create_task(self._watch_watchlists(stop), name="watchlists"))
        shared = self.shared.start(stop, self.refresh_watchlists) if self.shared else []
        self.watchlists.begin()  # the match index, now that the first polls are under way
        housekeeping = asyncio.create_task(self._housekeeping(stop), name="housekeeping")
        digests = asyncio.create_task(self.digest.run(stop, self.health), name="digest")
        heartbeat = asyncio.create_task(self._heartbeat(stop), name="heartbeat")
        log.info(
            "running: %d feeds, %d channels; Ctrl-C to stop",
            len(self.feeds),
            len(self.settings.channels),
        )
        await stop.wait()
        log.info("stopping: finishing in-flight deliveries")
        feed_tasks = list(self._feed_tasks.values())
        loops = [*feed_tasks, *watchers, housekeeping, digests, heartbeat]
        for task in loops:
            task.cancel()
        await asyncio.gather(*loops, *shared, return_exceptions=True)
        try:
            await asyncio.wait_for(delivery, SHUTDOWN_GRACE)
        except TimeoutError:
            log.warning("deliveries still running after %gs; they stay queued", SHUTDOWN_GRACE)
        if self.shared is not None:
            await self.shared.locks.release()  # survivors take the channels at once
            await self.shared.leave_running(self.clock())  # the last one marks the stop
            return  # other instances go on: the heartbeat and the queue are theirs too
        try:
            await self.storage.stop_heartbeat(self.clock())
        except STORAGE_FAILURES as e:
            log.warning(
                "the heartbeat could not be marked stopped (%s): `health` will report this "
                "run as ended without a clean stop",
                describe_storage_error(e),
            )
        try:
            pending = await self.storage.pending_count()
            held = sum(
                [await self.storage.held_count(c.platform, c.id) for c in self.settings.channels]
            )
        except STORAGE_FAILURES as e:  # a failing disk must not turn a clean stop into an error
            log.warning("stopped; queued alerts not counted: %s", describe_storage_error(e))
            return
        if pending:
            because = f" ({held} held by a flood cap for its summary)" if held else ""
            log.info("%d alerts stay queued for the next start%s", pending, because)

    # -- health: the heartbeat row (`python -m bot health`) and /healthz, /metrics -----

    async def _start_listener(self) -> StatusServer | None:
        if self.settings.bot.listen is None:
            return None
        host, port = self.settings.bot.listen
        render = self.metrics.render if isinstance(self.metrics, Metrics) else lambda: b""
        server = StatusServer(
            host, port, self.health_checks, render, CONTENT_TYPE, self.settings.path
        )
        await server.start()
        return server

    async def _start_heartbeat(self) -> None:
        """Claim the heartbeat row for this process; health counts from this start."""
        self.started_at = self.clock()
        where = "writing the heartbeat"
        try:
            await self.storage.start_heartbeat(
                os.getpid(), socket.gethostname(), self.started_at, self.settings.bot.interval
            )
        except STORAGE_FAILURES as e:  # health reports it; the heartbeat loop retries
            self.heartbeat_error = describe_storage_error(e)
            self.health.failed(where, e)

    async def _heartbeat(self, stop: asyncio.Event) -> None:
        """Each tick: if every due feed has been polled, a poll cycle is complete.

        Runs beside the per-feed loops, so one feed in failure backoff (not due)
        does not hold it back, while a poll loop that stopped polling does.
        """
        bot = self.settings.bot
        tick = tick_seconds(bot.interval)
        grace = bot.connect_timeout + 2 * bot.timeout + tick  # fetch, then parse
        where = "writing the heartbeat"
        restart = self.heartbeat_error is not None
        while not stop.is_set():
            await wait_for_stop(stop, tick)
            if stop.is_set():
                return
            now = self.clock()
            if not (
                self.shared.cycle_complete(now, grace)
                if self.shared is not None
                else cycle_complete(self.states.values(), now, grace)
            ):
                continue
            try:
                if restart:  # the row could not be written at start
                    await self.storage.start_heartbeat(
                        os.getpid(), socket.gethostname(), self.started_at, bot.interval
                    )
                    restart = False
                await self.storage.beat(now)
            except STORAGE_FAILURES as e:
                self.heartbeat_error = describe_storage_error(e)
                self.health.failed(where, e)
                continue
            self.heartbeat_error = None
            self.health.ok(where)
            self.last_cycle_at = now
            self.metrics.cycle_completed(now)
            await self.outbox.report_backlog()

    def health_checks(self) -> dict[str, Check]:
        """What /healthz reports: the database, the poll loop, each chat connection."""
        now = self.clock()
        checks: dict[str, Check] = {}
        failing = dict(self.health.failing)
        if self.heartbeat_error:
            failing["writing the heartbeat"] = self.heartbeat_error
        if failing:
            detail = "; ".join(f"{where}: {error}" for where, error in sorted(failing.items()))
            checks["database"] = Check(
                False, f"{database_label(self.settings.bot.database)}: {detail}"
            )
        else:
            checks["database"] = Check(
                True, f"{database_label(self.settings.bot.database)} writable"
            )
        interval = self.settings.bot.interval
        allowed = STALE_AFTER_INTERVALS * interval
        since = self.last_cycle_at or self.started_at
        age = (now - since).total_seconds()
        what = "last poll cycle" if self.last_cycle_at else "started, no poll cycle yet,"
        checks["poll_loop"] = Check(age <= allowed, f"{what} {age:.0f}s ago (allowed {allowed:g}s)")
        for platform, sink in sorted(self.sinks.items()):
            state = connection_state(sink)
            if state is not None:
                checks[f"chat:{platform}"] = Check(*state)
        if self.shared is not None:
            checks.update(self.shared.checks())
        return checks

    async def digest_now(self, channel_key: str, request_id: str = "") -> Digest:
        """Build the last 24 hours' digest for a channel and post it there now.

        Asked for by a person (`/digest now`, `python -m bot digest`), so it
        does not count as the day's scheduled digest. A request the platform
        delivers again (same `request_id`) has the same idempotency key, so the
        sink finds the first copy instead of posting a second.
        """
        with channel_context(channel_key):
            now = self.clock()
            digest = await self.digest.build(now, self.digest.timezone_for(channel_key))
            key = f"now:{channel_key}:{request_id or now.isoformat()}"
            await self.digest.post(channel_key, digest, key)
        return digest

    async def _feed_loop(self, feed: FeedSettings, stop: asyncio.Event) -> None:
        backoff = Backoff()
        while not stop.is_set():
            state = self.states[feed.url]
            if state.disabled_reason:
                return
            now = self.clock()
            if not schedule.is_due(state, now):
                assert state.next_poll_at is not None
                wait = (state.next_poll_at - now).total_seconds()
                await wait_for_stop(stop, wait)
                continue
            await self.poll_feed(feed)
            if self.states.get(feed.url) is state:
                # The poll could not record anything (storage failing, or a bug): the
                # feed is still due, so wait rather than poll again at once.
                await wait_for_stop(stop, backoff.next_delay())
            else:
                backoff.reset()

    async def _housekeeping(self, stop: asyncio.Event) -> None:
        where = "pruning old records"
        backoff = Backoff()
        while not stop.is_set():
            self.stories.expire(self.clock())
            try:
                removed = await self.storage.prune(self.clock(), self.settings.bot.retention)
            except STORAGE_FAILURES as e:
                self.health.failed(where, e)
                await wait_for_stop(stop, backoff.next_delay())
                continue
            self.health.ok(where)
            backoff.reset()
            if removed:
                log.info("pruned %d old records", removed)
            await wait_for_stop(stop, PRUNE_EVERY)
