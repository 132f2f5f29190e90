"""One poll of one feed: fetch → parse → dedup → match → route → outbox.

Decisions (schedule, first-poll policy, routing, matching) are pure functions
called from here; this module only sequences them and does the I/O.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from bot.config import BotSettings, ChannelSettings, FeedSettings
from bot.delivery.routing import first_poll_allows, route
from bot.errors import FetchError
from bot.feeds import schedule
from bot.feeds.dates import settle_date
from bot.feeds.fetch import Fetcher
from bot.feeds.parse import ParserPool
from bot.matching.matcher import Matcher
from bot.metrics import NO_RECORDING, Recorder, fetch_error_kind
from bot.models import FeedState, Item, Match
from bot.storage.base import IngestPlan, Storage
from bot.stories import StoryTracker

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PollOutcome:
    feed_url: str
    status: str  # "new", "not-modified", "unchanged", "error", "disabled"
    items: int = 0
    new_items: int = 0
    alerts: int = 0
    error: str | None = None


def oldest_first(items: list[Item]) -> list[Item]:
    """Feeds list newest first; alerts should arrive in the order things happened.

    Undated items keep their (reversed) feed order, after the dated ones.
    """
    undated_last = datetime.max.replace(tzinfo=UTC)
    return sorted(reversed(items), key=lambda i: i.published or undated_last)


#: Gives a new item its story (see bot/stories/tracker.py).
StoryAssigner = Callable[[Item, tuple[Match, ...], datetime], str | None]


def no_story(item: Item, matches: tuple[Match, ...], now: datetime) -> str | None:
    return None


def new_state(feed: FeedSettings) -> FeedState:
    return FeedState(feed_url=feed.url, fetch_url=feed.location)


def plan_items(
    items: list[Item],
    *,
    feed: FeedSettings,
    first_poll: bool,
    now: datetime,
    matcher: Matcher,
    channels: tuple[ChannelSettings, ...],
    muted: frozenset[str] = frozenset(),
    story: StoryAssigner = no_story,
) -> list[IngestPlan]:
    """Match each new item, give it its story and decide where it goes.

    Pure but for `story`, which may remember the item. Muted entities are
    still recorded on the item (digests count them) but never make an alert.
    """
    plans = []
    for item in items:
        matches = tuple(matcher.match(item))
        alertable = not first_poll or first_poll_allows(feed.first_poll, item, now)
        audible = tuple(m for m in matches if m.entity_id not in muted)
        deliveries = route(item, audible, channels) if alertable else ()
        plans.append(IngestPlan(item, matches, deliveries, story(item, matches, now)))
    return plans


class Poller:
    def __init__(
        self,
        settings: BotSettings,
        storage: Storage,
        fetcher: Fetcher,
        parsers: ParserPool,
        channels: tuple[ChannelSettings, ...],
        matcher: Callable[[], Matcher],
        clock: Callable[[], datetime],
        muted: Callable[[datetime], frozenset[str]] = lambda now: frozenset(),
        stories: StoryTracker | None = None,
        recorder: Recorder = NO_RECORDING,
        ready: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.settings = settings
        # Awaited before matching and grouping: start-up work still going on (the story
        # index, bot/app_warmup.py) that they need.
        self.ready = ready
        self.recorder = recorder
        self.storage = storage
        self.fetcher = fetcher
        self.parsers = parsers
        self.channels = channels
        self.matcher = matcher  # called per poll: watch terms may change at run time
        self.muted = muted
        self.clock = clock
        self.stories = stories

    async def poll(self, feed: FeedSettings, state: FeedState) -> tuple[FeedState, PollOutcome]:
        """Poll once; never raises for feed problems (they become state and a log line)."""
        if state.disabled_reason:
            return state, PollOutcome(feed.url, "disabled", error=state.disabled_reason)
        started = time.monotonic()
        try:
            result = await self.fetcher.fetch(
                state.fetch_url, state.etag, state.last_modified, untrusted=not feed.trusted
            )
            now = self.clock()
            fetch_url = result.final_url
            if fetch_url and fetch_url != state.fetch_url:
                log.info(
                    "%s moved permanently to %s; polling the new address", feed.name, fetch_url
                )
            # A 304 keeps the last body's hash; a 200 records the new one.
            modified = result.status != 304
            body_hash = hashlib.sha256(result.body).hexdigest() if modified else state.body_hash
            succeeded = schedule.after_success(
                state,
                now,
                feed.interval,
                etag=result.etag,
                last_modified=result.last_modified,
                body_hash=body_hash,
                fetch_url=fetch_url,
            )
            if not modified:
                await self.storage.save_feed_state(succeeded)
                self.recorder.feed_polled("not-modified", time.monotonic() - started)
                return succeeded, PollOutcome(feed.url, "not-modified")
            if body_hash == state.body_hash and state.first_polled:
                await self.storage.save_feed_state(succeeded)
                self.recorder.feed_polled("unchanged", time.monotonic() - started)
                return succeeded, PollOutcome(feed.url, "unchanged")
            # Entries unchanged since the last parse are left unread, like the items of
            # an unchanged body: the digests are saved with this poll's items (ingest).
            parsed = await self.parsers.parse(
                result.body, feed.url, feed.name, fetch_url or state.fetch_url, state.entry_digests
            )
            succeeded = replace(succeeded, entry_digests=parsed.digests)
            fetch_and_parse = time.monotonic() - started
            if parsed.warning:
                log.debug("%s: feed has minor errors: %s", feed.name, parsed.warning)
            if parsed.link and parsed.link != succeeded.html_url:
                succeeded = replace(succeeded, html_url=parsed.link)  # for `feeds export`
            if self.ready is not None:
                await self.ready()
            now = self.clock()
            first_poll = not state.first_polled
            matcher = self.matcher()
            channels = self.channels
            muted = self.muted(now)
            planned: list[IngestPlan] = []
            assign = self.stories.assign if self.stories else no_story

            def plan(fresh: list[Item]) -> list[IngestPlan]:
                plans = plan_items(
                    fresh,
                    feed=feed,
                    first_poll=first_poll,
                    now=now,
                    matcher=matcher,
                    channels=channels,
                    muted=muted,
                    story=assign,
                )
                if self.stories:  # kept with the item so start-up need not read it again
                    features = self.stories.features
                    plans = [
                        replace(p, story_features=features(p.item)) if p.story else p for p in plans
                    ]
                planned.extend(plans)
                return plans

            stored: tuple[IngestPlan, ...] = ()
            try:
                # Impossible dates become the fetch time here, once, before any
                # rule does arithmetic with them (bot/feeds/dates.py).
                items = [settle_date(i, now) for i in parsed.items]
                ingest = await self.storage.ingest(
                    succeeded,
                    oldest_first(items),
                    now,
                    plan,
                    dedup_window=self.settings.dedup_window,
                )
                stored = ingest.stored
            finally:  # repeats (and a failed write) must not stay in the story index
                if self.stories:
                    self.stories.settle(planned, stored)
            succeeded = replace(succeeded, items_seen=succeeded.items_seen + ingest.new_items)
            self.recorder.feed_polled("new", fetch_and_parse)
            self.recorder.items_new(ingest.new_items, [m.kind for p in stored for m in p.matches])
            if first_poll and feed.first_poll.mode == "skip" and ingest.new_items:
                log.info(
                    "%s: first poll, %d existing items marked seen without alerting "
                    '(set first_poll = "all" or an age to alert them)',
                    feed.name,
                    ingest.new_items,
                )
            return succeeded, PollOutcome(
                feed.url,
                "new",
                items=len(parsed.items) + parsed.skipped,
                new_items=ingest.new_items,
                alerts=ingest.alerts,
            )
        except FetchError as e:
            failed = await self._failed(feed, state, e)
            self.recorder.feed_polled("error", time.monotonic() - started, fetch_error_kind(e))
            return failed

    async def _failed(
        self, feed: FeedSettings, state: FeedState, error: FetchError
    ) -> tuple[FeedState, PollOutcome]:
        now = self.clock()
        state, became_failing = schedule.after_failure(
            state,
            now,
            feed.interval,
            error,
            max_backoff=self.settings.max_backoff,
            failing_after=self.settings.failing_after,
        )
        if state.disabled_reason:
            log.error("%s disabled: %s (remove it from the config)", feed.name, error.message)
        elif became_failing:
            log.error(
                "%s has failed for over %s without a success: %s",
                feed.name,
                _since(state, now),
                error.message,
            )
        else:
            wait = (state.next_poll_at - now).total_seconds() if state.next_poll_at else 0
            log.warning(
                "%s: %s (failure %d, next try in %.0fs)",
                feed.name,
                error.message,
                state.error_count,
                wait,
            )
        await self.storage.save_feed_state(state)
        return state, PollOutcome(feed.url, "error", error=error.message)


def _since(state: FeedState, now: datetime) -> str:
    if state.failing_since is None:
        return "a while"
    hours = (now - state.failing_since).total_seconds() / 3600
    return f"{hours:.0f}h"
