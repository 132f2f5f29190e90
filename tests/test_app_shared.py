"""Several Apps on one PostgreSQL database divide the work (bot/app_shared.py).

In-process: two or three real `App`s on one real database (the `postgres_url`
fixture), a real feed server on 127.0.0.1 and small recording sinks. The clock
the code takes is driven by the test (leases, due times); waits poll a
condition with a timeout. The multi-process test with real chat fakes and a
SIGKILL is tests/test_scale_e2e.py's.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest

import bot.app_shared
import bot.delivery.channel_locks
from bot.app import App
from bot.chat.jsonl import JsonlSink
from bot.config import Settings
from bot.errors import DeliveryError
from bot.feeds.leases import LEASE
from bot.models import Alert, ChatTerm, FeedState, Item, Match
from bot.ops.health import Verdict, assess_shared
from bot.storage.base import Delivery, IngestPlan
from bot.storage.readonly import read_heartbeat
from tests.clock import Clock
from tests.feedserver import FeedServer, item
from tests.story_items import KUNDUZ_A, KUNDUZ_B

TIMEOUT = 30.0
FEED = "https://news.example/feed.xml"


async def until(condition: Callable[[], bool | Awaitable[bool]], what: str) -> None:
    """Poll `condition` until it holds (never a sleep standing in for synchronisation)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + TIMEOUT
    while True:
        result = condition()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for: {what}")
        await asyncio.sleep(0.02)


@dataclass
class Listeners:
    """Who holds a command connection, across all the apps of a test."""

    active: set[str] = field(default_factory=set)
    most_at_once: int = 0
    calls: list[tuple[str, str]] = field(default_factory=list)


class RecordingSink(JsonlSink):
    """A JSON-lines sink that records what it delivered and its listener calls."""

    def __init__(self, name: str, listeners: Listeners) -> None:
        super().__init__()
        self.name = name
        self.listeners = listeners
        self.delivered: list[int] = []
        self.refuse: str | None = None  # a permanent refusal: the channel breaks

    async def deliver(self, alert: Alert) -> str:
        if self.refuse is not None:
            raise DeliveryError(self.refuse, retryable=False)
        self.delivered.append(alert.id)
        return await super().deliver(alert)

    async def start_listener(self) -> None:
        self.listeners.calls.append((self.name, "start"))
        self.listeners.active.add(self.name)
        self.listeners.most_at_once = max(self.listeners.most_at_once, len(self.listeners.active))

    async def stop_listener(self) -> None:
        self.listeners.calls.append((self.name, "stop"))
        self.listeners.active.discard(self.name)

    @property
    def listening(self) -> bool:
        return self.name in self.listeners.active


@dataclass
class Running:
    app: App
    sink: RecordingSink
    stop: asyncio.Event
    task: asyncio.Task[None] | None = None

    @property
    def polls(self) -> int:
        assert self.app.shared is not None
        return self.app.shared.polls


class Deployment:
    """Apps sharing one database and one clock, opened and run by the test."""

    def __init__(self, settings: Settings, clock: Clock, stack: AsyncExitStack) -> None:
        self.settings = settings
        self.clock = clock
        self.stack = stack
        self.listeners = Listeners()
        self.apps: dict[str, Running] = {}
        self._closers: dict[str, AsyncExitStack] = {}

    async def open(self, name: str) -> Running:
        sink = RecordingSink(name, self.listeners)
        stack = AsyncExitStack()
        app = await stack.enter_async_context(
            App.open(self.settings, clock=self.clock, sinks={"jsonl": sink})
        )
        running = Running(app, sink, asyncio.Event())
        self.apps[name] = running

        async def close() -> None:
            await self.stop(name)
            await stack.aclose()

        self.stack.push_async_callback(close)
        self._closers[name] = stack
        return running

    async def run(self, name: str) -> Running:
        running = self.apps.get(name) or await self.open(name)
        running.task = asyncio.create_task(running.app.run_forever(running.stop))
        return running

    async def stop(self, name: str) -> None:
        running = self.apps[name]
        running.stop.set()
        if running.task is not None:
            await asyncio.wait_for(running.task, TIMEOUT)
            running.task = None

    async def close(self, name: str) -> None:
        """Stop an app and close its storage: its database session ends."""
        await self.stop(name)
        await self._closers[name].aclose()

    def wake(self) -> None:
        for running in self.apps.values():
            if running.app.shared is not None:
                running.app.shared.wake()


@pytest.fixture
async def deployment(
    postgres_url: str, make_settings: Callable[..., Settings], feed_server: FeedServer
) -> AsyncIterator[Callable[..., Deployment]]:
    async with AsyncExitStack() as stack:

        def make(feeds: list[dict[str, Any]], **bot: Any) -> Deployment:
            settings = make_settings(feeds, database=postgres_url, **bot)
            return Deployment(settings, Clock(), stack)

        yield make


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Standby instances retry the listener and channel locks often: no 5 s waits."""
    monkeypatch.setattr(bot.app_shared, "LISTENER_RETRY", 0.1)
    monkeypatch.setattr(bot.delivery.channel_locks, "RETRY", 0.1)


def feeds(server: FeedServer, n: int, title: str = "Nothing to see") -> list[dict[str, Any]]:
    return [{"url": server.feed(f"/f{i}.xml", [item(f"{i}-1", f"{title} {i}")])} for i in range(n)]


async def test_each_feed_is_polled_once_per_interval_spread_over_the_apps(
    deployment: Callable[..., Deployment], feed_server: FeedServer
) -> None:
    d = deployment(feeds(feed_server, 12), max_concurrency=2)
    for name in ("a", "b", "c"):  # all open first, so they start claiming together
        await d.open(name)
    apps = [await d.run(name) for name in ("a", "b", "c")]
    await until(lambda: sum(feed_server.requests.values()) >= 12, "every feed polled")
    await until(lambda: sum(r.polls for r in apps) == 12, "every poll recorded")
    assert sorted(feed_server.requests.values()) == [1] * 12
    # Each claims at most its two free slots, so each took a share.
    assert all(r.polls >= 2 for r in apps), [r.polls for r in apps]
    # Within the interval nobody polls again, however often they claim.
    d.clock.advance(60)
    d.wake()
    for r in apps:
        assert r.app.shared is not None
        await until(lambda r=r: r.app.shared is not None and not r.app.shared.in_flight, "idle")
    assert sum(r.polls for r in apps) == 12
    # Every due feed is taken: each instance's heartbeat may advance.
    await until(
        lambda: all(r.app.shared and r.app.shared.cycle_complete(d.clock(), 1.0) for r in apps),
        "every instance caught up",
    )
    # One interval on, each feed is polled once more, by whichever app claims it.
    d.clock.advance(300)
    d.wake()
    await until(lambda: sum(r.polls for r in apps) == 24, "every feed polled again")
    assert sorted(feed_server.requests.values()) == [2] * 12


async def test_a_dead_instances_leases_run_out_and_survivors_poll_its_feeds(
    deployment: Callable[..., Deployment], feed_server: FeedServer
) -> None:
    d = deployment(feeds(feed_server, 4))
    survivor = await d.open("survivor")
    # A SIGKILLed instance leaves its leases behind, unrenewed.
    storage = survivor.app.storage
    now = d.clock()
    dead = await storage.claim_due_feeds("dead-host:1:abc", now, now + LEASE, 2)
    assert len(dead) == 2
    await d.run("survivor")
    await until(lambda: survivor.polls == 2, "the free feeds polled")
    assert sum(feed_server.requests.values()) == 2  # not the dead instance's
    d.clock.advance(LEASE.total_seconds() + 1)
    d.wake()
    await until(lambda: survivor.polls == 4, "the dead instance's feeds polled")
    assert sorted(feed_server.requests.values()) == [1] * 4


async def test_a_clean_stop_lets_polls_in_flight_finish_so_nobody_fetches_them_again(
    deployment: Callable[..., Deployment], feed_server: FeedServer
) -> None:
    d = deployment(feeds(feed_server, 3), timeout="60s", per_host_concurrency=3)
    for i in range(3):
        feed_server.routes[f"/f{i}.xml"].hang = True
    first = await d.run("first")
    await until(lambda: sum(feed_server.requests.values()) == 3, "polls in flight")
    first.stop.set()  # SIGTERM: the polls are still waiting for their answers
    for i in range(3):
        feed_server.routes[f"/f{i}.xml"].hang = False
    feed_server.release_hung()
    await d.close("first")
    assert first.polls == 3  # finished and saved, not cancelled
    second = await d.run("second")  # same clock: within the interval
    assert second.app.shared is not None
    await until(lambda: second.app.shared.caught_up_at is not None, "a claim made")
    assert second.polls == 0
    assert sorted(feed_server.requests.values()) == [1, 1, 1]


async def test_a_poll_outlasting_the_stop_grace_is_cancelled_and_keeps_its_lease(
    deployment: Callable[..., Deployment],
    feed_server: FeedServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(bot.app_shared, "STOP_GRACE", 0.2)
    d = deployment(feeds(feed_server, 3), timeout="60s", per_host_concurrency=3)
    feed_server.routes["/f0.xml"].hang = True  # answers only after the grace
    first = await d.run("first")
    await until(lambda: first.polls == 2 and sum(feed_server.requests.values()) == 3, "polls")
    await d.close("first")  # the hanging poll is cancelled, its feed stays leased
    assert first.polls == 2
    feed_server.routes["/f0.xml"].hang = False
    second = await d.run("second")
    assert second.app.shared is not None
    await until(lambda: second.app.shared.caught_up_at is not None, "a claim made")
    assert second.polls == 0  # not fetched again at once: the lease was kept
    d.clock.advance(LEASE.total_seconds() + 1)  # the lease runs out; the feed is due
    d.wake()
    await until(lambda: second.polls == 1, "the cancelled poll's feed polled once it expired")
    assert feed_server.requests["/f0.xml"] == 2


async def queue_alert(app: App, n: int) -> None:
    """Queue one alert for the jsonl channel as another instance's poll would (a real
    ingest, which announces the queued alert to every instance)."""
    (channel,) = app.settings.channels
    news = Item(FEED, f"guid-{n}", f"https://example.org/{n}", f"ISKP statement {n}")
    match = Match("iskp", "ISKP", "group", "high", "ISKP", "ISKP", 100.0)

    def plan(items: list[Item]) -> list[IngestPlan]:
        return [IngestPlan(i, (match,), (Delivery("jsonl", channel.id, (match,)),)) for i in items]

    result = await app.storage.ingest(FeedState(FEED, FEED), [news], app.clock(), plan)
    assert result.alerts == 1


async def test_an_alert_queued_by_one_instance_is_delivered_once_by_the_channel_holder(
    deployment: Callable[..., Deployment], feed_server: FeedServer
) -> None:
    d = deployment(feeds(feed_server, 1))
    holder = await d.run("holder")
    await until(lambda: bool(holder.app.shared and holder.app.shared.locks.held), "channel")
    other = await d.run("other")
    assert other.app.shared is not None
    await until(lambda: other.polls + holder.polls == 1, "started")
    await queue_alert(other.app, 1)  # the holder hears of it and delivers it
    await until(lambda: len(holder.sink.delivered) == 1, "the holder delivers it")
    await until(lambda: holder.app.outbox.stats.sent == 1, "recorded")
    assert await holder.app.storage.pending_count() == 0
    assert other.sink.delivered == [] and not other.app.shared.locks.held
    # When the holder goes, the other takes the channel over and delivers from then on.
    await d.close("holder")
    await until(lambda: bool(other.app.shared and other.app.shared.locks.held), "taken over")
    await queue_alert(other.app, 2)
    await until(lambda: len(other.sink.delivered) == 1, "the new holder delivers")
    assert len(holder.sink.delivered) == 1
    assert holder.sink.delivered[0] != other.sink.delivered[0]


async def test_a_channel_broken_on_another_instance_stays_broken_when_taken_over(
    deployment: Callable[..., Deployment], feed_server: FeedServer
) -> None:
    d = deployment(feeds(feed_server, 1))
    holder = await d.run("holder")
    await until(lambda: bool(holder.app.shared and holder.app.shared.locks.held), "holder sends")
    other = await d.run("other")  # started while the channel was fine
    (channel,) = d.settings.channels
    holder.sink.refuse = "403 Missing Permissions"
    await queue_alert(holder.app, 1)

    async def broken() -> bool:
        return bool(await other.app.storage.broken_channels())

    await until(broken, "the holder marks the channel broken")
    await d.close("holder")
    await until(lambda: bool(other.app.shared and other.app.shared.locks.held), "taken over")
    # The new sender read the channel's state when it took the lock: no blind retry.
    assert await other.app.outbox.step(channel) is None
    assert other.sink.delivered == [] and holder.sink.delivered == []
    assert await other.app.storage.pending_count() == 1  # still queued, not lost


async def test_health_says_stopped_only_once_every_instance_stopped_cleanly(
    deployment: Callable[..., Deployment], feed_server: FeedServer
) -> None:
    d = deployment(feeds(feed_server, 2))
    a, b = await d.run("a"), await d.run("b")
    await until(lambda: a.polls + b.polls == 2, "both running")
    database = str(d.settings.bot.database)

    async def verdict() -> Verdict:
        return assess_shared(await asyncio.to_thread(read_heartbeat, database), d.clock())

    assert (await verdict()).healthy
    await d.close("a")  # one stops cleanly while the other polls: still running
    after_one = await verdict()
    assert after_one.healthy, after_one.reason
    await d.close("b")  # the last one: the deployment stopped
    after_all = await verdict()
    assert not after_all.healthy
    assert after_all.reason.startswith("no run alive: every instance stopped cleanly")


async def test_one_listener_at_a_time_and_it_moves_when_the_holder_closes(
    deployment: Callable[..., Deployment], feed_server: FeedServer
) -> None:
    d = deployment(feeds(feed_server, 1))
    apps = {name: await d.run(name) for name in ("a", "b", "c")}
    await until(lambda: len(d.listeners.active) == 1, "one listener")
    (first,) = d.listeners.active
    checks = apps[first].app.health_checks()
    assert checks["role"].detail.startswith("command listener")
    others = [n for n in apps if n != first]
    assert all(apps[n].app.health_checks()["role"].detail.startswith("standby") for n in others)
    await d.close(first)
    await until(lambda: len(d.listeners.active) == 1, "another listener")
    (second,) = d.listeners.active
    assert second != first
    assert d.listeners.most_at_once == 1
    starts = [name for name, call in d.listeners.calls if call == "start"]
    assert starts == [first, second]
    assert (first, "stop") in d.listeners.calls


async def test_terms_mutes_and_feeds_changed_on_one_instance_reach_the_others(
    deployment: Callable[..., Deployment], feed_server: FeedServer
) -> None:
    d = deployment(feeds(feed_server, 1), allow_private_feeds=True)  # added from chat
    a = await d.run("a")
    b = await d.run("b")
    await a.app.control.add_chat_term(ChatTerm("iskp", "Wilayat Khurasan", "group"), "ana")
    await until(
        lambda: any(
            "Wilayat Khurasan" in e.aliases for e in b.app.matcher.entities if e.id == "iskp"
        ),
        "the term reaches b",
    )
    await a.app.control.mute("tajikistan", None, "ana")
    await until(lambda: "tajikistan" in b.app.mutes, "the mute reaches b")
    added = feed_server.feed("/added.xml", [item("x", "Added from chat")])
    await a.app.control.add_chat_feed(added, "Added", "ana")
    await until(lambda: added in b.app.feeds, "the feed reaches b")
    await until(lambda: feed_server.requests.get("/added.xml", 0) == 1, "the added feed polled")
    assert await a.app.control.remove_chat_feed(added)
    await until(lambda: added not in b.app.feeds, "the removal reaches b")


async def test_once_never_polls_a_feed_another_instance_holds(
    deployment: Callable[..., Deployment], feed_server: FeedServer
) -> None:
    d = deployment(feeds(feed_server, 3))
    one = await d.open("one")
    now = d.clock()
    held = await one.app.storage.claim_due_feeds("running-instance", now, now + LEASE, 1)
    report = await one.app.run_once()
    assert len(report.outcomes) == 2
    assert held[0].feed_url.removeprefix(feed_server.url("")) not in feed_server.requests
    assert sum(feed_server.requests.values()) == 2


async def test_a_story_continued_on_another_instance_stays_one_story(
    deployment: Callable[..., Deployment], feed_server: FeedServer
) -> None:
    one = feed_server.feed("/one.xml", [KUNDUZ_A])
    two = feed_server.feed("/two.xml", [])
    d = deployment([{"url": one}, {"url": two}])
    a = await d.open("a")
    b = await d.open("b")  # its story index is read now: empty
    await a.app.run_once(deliver=False)
    feed_server.feed("/two.xml", [KUNDUZ_B])  # the same event, told by another feed
    d.clock.advance(300)
    await b.app.run_once(deliver=False)
    members = await b.app.storage.story_members_since(d.clock() - timedelta(hours=1))
    assert [m.item.guid for m in members] == [KUNDUZ_A["guid"], KUNDUZ_B["guid"]]
    assert members[0].story == members[1].story


async def test_feed_requests_carry_the_instances_user_agent_verbatim(
    deployment: Callable[..., Deployment], feed_server: FeedServer
) -> None:
    agent = "newswatch-bot/0.1 instance-b (+ops@example.org)"
    d = deployment(feeds(feed_server, 1), user_agent=agent)
    one = await d.open("one")
    await one.app.run_once(deliver=False)
    assert feed_server.request_headers["/f0.xml"]["User-Agent"] == agent


async def test_a_stored_feed_this_instance_cannot_poll_is_parked_for_an_interval(
    deployment: Callable[..., Deployment], feed_server: FeedServer, caplog: pytest.LogCaptureFixture
) -> None:
    d = deployment(feeds(feed_server, 1))
    one = await d.open("one")
    storage = one.app.storage
    gone = "https://removed.example/feed.xml"  # removed from the config: its row stays
    await storage.ensure_feeds([FeedState(gone, gone)])
    report = await one.app.run_once(deliver=False)
    assert [o.feed_url for o in report.outcomes] == [feed_server.url("/f0.xml")]
    assert caplog.text.count("neither configured nor added here") == 1
    # Not claimed again at every tick, by anyone: it would come first in every claim.
    d.clock.advance(60)
    now = d.clock()
    assert await storage.claim_due_feeds("another", now, now + LEASE, 10) == []
    # After an interval another instance (one that knows it, say) may have it.
    d.clock.advance(300)
    now = d.clock()
    claimed = await storage.claim_due_feeds("another", now, now + LEASE, 10)
    assert gone in [s.feed_url for s in claimed]


async def test_a_claimed_feed_added_elsewhere_is_looked_up_and_polled(
    deployment: Callable[..., Deployment], feed_server: FeedServer
) -> None:
    d = deployment(feeds(feed_server, 1), allow_private_feeds=True)
    a = await d.open("a")
    b = await d.open("b")  # not running: it hears no announcement, only claims
    await b.app.run_once(deliver=False)
    added = feed_server.feed("/added.xml", [item("x", "Added from chat")])
    await a.app.control.add_chat_feed(added, "Added", "ana")
    assert added not in b.app.feeds
    report = await b.app.run_once(deliver=False)
    assert [o.feed_url for o in report.outcomes] == [added]
    assert b.app.feeds[added].name == "Added"
