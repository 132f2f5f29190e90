"""The daily digest end to end on a seeded database: content, once a day, catch-up, retries."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest

from bot.app import App
from bot.chat.jsonl import JsonlSink
from bot.config import (
    ChannelSettings,
    DigestChannel,
    DigestSettings,
    FeedSettings,
    FirstPoll,
    settings_from_dict,
)
from bot.delivery.outbox import Outbox, retry_delay
from bot.digest.model import Digest
from bot.digest.service import DigestService
from bot.errors import DeliveryError
from bot.models import Entity, FeedState
from bot.storage.sqlite import SQLiteStorage, open_storage
from tests.clock import Clock
from tests.feedserver import FeedServer, item
from tests.outbox_helpers import match, queue, records

ENTITIES = [
    Entity("iskp", "ISKP", "group"),
    Entity("ttp", "TTP", "group"),
    Entity("tajikistan", "Tajikistan", "region"),
]
FEED_A = "https://a.example/feed.xml"
FEED_B = "https://b.example/feed.xml"


class FlakySink(JsonlSink):
    """The real JSONL sink; the first `failures` digest posts fail after being written."""

    def __init__(self, failures: list[DeliveryError] | None = None) -> None:
        super().__init__()
        self.failures = failures or []
        self.posted: list[tuple[str, Digest, str]] = []

    async def post_digest(self, channel_id: str, digest: Digest, key: str) -> str:
        self.posted.append((channel_id, digest, key))
        message_id = await super().post_digest(channel_id, digest, key)
        if self.failures:  # the post landed but the bot never heard back
            raise self.failures.pop(0)
        return message_id


@pytest.fixture
async def storage(tmp_path: Path):
    async with open_storage(tmp_path / "bot.sqlite3") as s:
        yield s


def service(
    storage: SQLiteStorage,
    tmp_path: Path,
    clock: Clock,
    sink: JsonlSink,
    at: time = time(8, 0),
    tz: str = "Asia/Kolkata",
    feeds: list[tuple[FeedSettings, FeedState | None]] | None = None,
) -> DigestService:
    ch = ChannelSettings("jsonl", str(tmp_path / "digest.jsonl"))
    settings = DigestSettings((DigestChannel(ch.key, at, tz),), top_stories=3, chart=True)
    return DigestService(
        settings,
        (ch,),
        "UTC",
        storage,
        {"jsonl": sink},
        clock,
        lambda: ENTITIES,
        lambda: feeds or [],
    )


OUTBOXES: dict[DigestService, Outbox] = {}


async def tick(svc: DigestService) -> float:
    """A scheduler tick, then the channel's outbox worker delivers what it queued.

    Each service gets one outbox, wired as in bot/app.py; a new service (a
    restart) gets a new one.
    """
    outbox = OUTBOXES.get(svc)
    if outbox is None:
        channels = tuple(svc.channels.values())
        outbox = Outbox(svc.storage, svc.sinks, channels, svc.clock, build_digest=svc.build)
        svc.on_queued = outbox.digest_queued
        await outbox.load_broken()
        OUTBOXES[svc] = outbox
    wait = await svc.tick()
    await outbox.drain()
    return wait


async def ran_before(storage: SQLiteStorage, tmp_path: Path, now: datetime) -> None:
    """The bot has been running for days: an item it fetched three days ago."""
    ch = ChannelSettings("jsonl", str(tmp_path / "alerts.jsonl"))
    await queue(storage, ch, now - timedelta(days=3), ["an old item"])


def digests(tmp_path: Path) -> list[dict]:
    return [r for r in records(tmp_path / "digest.jsonl") if "digest_key" in r]


async def seed(storage: SQLiteStorage, tmp_path: Path, now: datetime) -> None:
    """Two days of news: ISKP up, TTP down, Tajikistan new today, one story in two feeds."""
    ch = ChannelSettings("jsonl", str(tmp_path / "alerts.jsonl"))
    yesterday = now - timedelta(hours=30)
    await queue(storage, ch, yesterday, ["ISKP old", "TTP old 1", "TTP old 2"])
    await queue(storage, ch, yesterday, ["TTP b"], matches=(match("ttp", "TTP"),))
    today = now - timedelta(hours=3)
    await queue(storage, ch, today, ["ISKP attack in Kunduz"], story="kunduz", feed=FEED_A)
    await queue(storage, ch, today, ["Kunduz attack toll rises"], story="kunduz", feed=FEED_B)
    await queue(storage, ch, today, ["ISKP statement"], feed=FEED_B)
    await queue(storage, ch, today, ["Tajik border"], matches=(match("tajikistan", "Tajikistan"),))


async def test_the_digest_counts_compares_ranks_and_spots_new_entities(
    storage: SQLiteStorage, tmp_path: Path
) -> None:
    clock = Clock()
    await seed(storage, tmp_path, clock.now)
    digest = await service(storage, tmp_path, clock, JsonlSink()).build(clock.now, "UTC")
    counts = {c.entity_id: (c.mentions, c.previous) for c in digest.counts}
    # "TTP old 1/2" carry the default ISKP match; "TTP b" is the one TTP mention.
    assert counts == {"iskp": (3, 3), "ttp": (0, 1), "tajikistan": (1, 0)}
    assert digest.top_stories[0].title == "ISKP attack in Kunduz"
    assert digest.top_stories[0].sources == 2
    assert [c.entity_id for c in digest.new_entities] == ["tajikistan"]
    assert digest.chart_png is not None and digest.chart_png.startswith(b"\x89PNG")


async def test_a_silent_and_a_failing_feed_show_as_blind_spots(
    storage: SQLiteStorage, tmp_path: Path
) -> None:
    clock = Clock()
    quiet = FeedSettings(FEED_A, FEED_A, "Quiet Wire", 300.0, FirstPoll())
    broken = FeedSettings(FEED_B, FEED_B, "Broken Wire", 300.0, FirstPoll())
    broken_state = FeedState(
        FEED_B,
        FEED_B,
        failing_since=clock.now - timedelta(hours=6),
        last_error="HTTP 503",
        error_count=9,
    )
    # Quiet Wire had news every hour, then nothing for a day.
    ch = ChannelSettings("jsonl", str(tmp_path / "alerts.jsonl"))
    for hour in range(30, 23, -1):
        when = clock.now - timedelta(hours=hour)
        await queue(storage, ch, when, [f"item {hour}"], feed=FEED_A)
    svc = service(
        storage, tmp_path, clock, JsonlSink(), feeds=[(quiet, None), (broken, broken_state)]
    )
    digest = await svc.build(clock.now, "UTC")
    problems = {p.name: p.problem for p in digest.feed_problems}
    assert set(problems) == {"Quiet Wire", "Broken Wire"}
    assert "silent" in problems["Quiet Wire"] and "503" in problems["Broken Wire"]


async def test_sent_once_at_the_local_time_and_not_again_after_a_restart(
    storage: SQLiteStorage, tmp_path: Path
) -> None:
    clock = Clock()  # 08:00 UTC = 13:30 in Kolkata
    sink = JsonlSink()
    svc = service(storage, tmp_path, clock, sink, at=time(14, 0))
    wait = await tick(svc)
    assert digests(tmp_path) == [] and wait == pytest.approx(1800)
    clock.advance(wait)
    await tick(svc)
    await tick(svc)
    (sent,) = digests(tmp_path)
    assert sent["digest_key"] == f"jsonl:{tmp_path / 'digest.jsonl'}:2026-11-25"
    clock.advance(3600)  # a restart an hour later: a new service, the same database
    await tick(service(storage, tmp_path, clock, JsonlSink(), at=time(14, 0)))
    assert len(digests(tmp_path)) == 1
    clock.advance(23 * 3600)  # the next day
    await tick(svc)
    assert [d["digest_key"][-10:] for d in digests(tmp_path)] == ["2026-11-25", "2026-11-26"]


async def test_a_missed_digest_is_sent_on_start_when_less_than_12h_late(
    storage: SQLiteStorage, tmp_path: Path
) -> None:
    clock = Clock()
    clock.now = datetime(2026, 11, 25, 2, 30 + 9, tzinfo=UTC)  # 08:09 in Kolkata
    await ran_before(storage, tmp_path, clock.now)
    await tick(service(storage, tmp_path, clock, JsonlSink(), at=time(8, 0)))
    assert len(digests(tmp_path)) == 1


async def test_a_digest_more_than_12h_late_is_skipped_with_a_log_line(
    storage: SQLiteStorage, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock()
    clock.now = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)  # 20:30 in Kolkata: 12h30 late
    await ran_before(storage, tmp_path, clock.now)
    svc = service(storage, tmp_path, clock, JsonlSink(), at=time(8, 0))
    with caplog.at_level(logging.WARNING):
        await tick(svc)
    assert digests(tmp_path) == []
    assert "skipping it" in caplog.text and "2026-11-25" in caplog.text
    assert (
        await storage.digest_status(svc.settings.channels[0].key, date(2026, 11, 25)) == "skipped"
    )
    clock.now = datetime(2026, 11, 26, 2, 30, tzinfo=UTC)  # 08:00 the next day
    await tick(svc)
    assert len(digests(tmp_path)) == 1


async def test_a_post_that_landed_but_failed_is_not_posted_twice(
    storage: SQLiteStorage, tmp_path: Path
) -> None:
    clock = Clock()
    clock.now = datetime(2026, 11, 25, 2, 30, tzinfo=UTC)
    await ran_before(storage, tmp_path, clock.now)
    sink = FlakySink([DeliveryError("HTTP 502", retryable=True)])
    svc = service(storage, tmp_path, clock, sink, at=time(8, 0))
    await tick(svc)
    key = svc.settings.channels[0].key
    assert await storage.digest_status(key, date(2026, 11, 25)) == "queued"
    await tick(svc)
    assert len(sink.posted) == 1  # waiting before the retry
    clock.advance(retry_delay(1))  # the outbox's backoff, as for an alert
    await tick(svc)
    assert len(sink.posted) == 2 and sink.posted[0][2] == sink.posted[1][2]  # same key
    assert len(digests(tmp_path)) == 1
    assert await storage.digest_status(key, date(2026, 11, 25)) == "sent"


async def test_an_empty_day_still_posts_a_digest(storage: SQLiteStorage, tmp_path: Path) -> None:
    clock = Clock()
    clock.now = datetime(2026, 11, 25, 2, 30, tzinfo=UTC)
    await ran_before(storage, tmp_path, clock.now)
    sink = FlakySink()
    await tick(service(storage, tmp_path, clock, sink, at=time(8, 0)))
    ((_, digest, _),) = sink.posted
    assert digest.empty  # sinks post it as one line
    assert len(digests(tmp_path)) == 1


async def test_a_new_installation_waits_for_the_next_scheduled_digest(
    storage: SQLiteStorage, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Started for the first time after today's time: no empty digest at start-up."""
    clock = Clock()
    clock.now = datetime(2026, 11, 25, 4, 30, tzinfo=UTC)  # 10:00 in Kolkata, 2h "late"
    svc = service(storage, tmp_path, clock, JsonlSink(), at=time(8, 0))
    with caplog.at_level(logging.INFO):
        await tick(svc)
    assert digests(tmp_path) == []
    assert "first daily digest will be posted at Thu 26 Nov 08:00 IST" in caplog.text
    clock.now = datetime(2026, 11, 26, 2, 30, tzinfo=UTC)
    await tick(svc)
    assert len(digests(tmp_path)) == 1


class RefusingSink(JsonlSink):
    """The real JSONL sink, whose digest posts are refused with the given errors first."""

    def __init__(self, *refusals: DeliveryError) -> None:
        super().__init__()
        self.refusals = list(refusals)
        self.tries = 0

    async def post_digest(self, channel_id: str, digest: Digest, key: str) -> str:
        self.tries += 1
        if self.refusals:
            raise self.refusals.pop(0)
        return await super().post_digest(channel_id, digest, key)


async def test_a_permanent_refusal_stops_retrying_and_is_reported(
    storage: SQLiteStorage, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock()
    clock.now = datetime(2026, 11, 25, 2, 30, tzinfo=UTC)
    await ran_before(storage, tmp_path, clock.now)
    gone = DeliveryError("Slack channel C1: channel_not_found", retryable=False)
    sink = RefusingSink(gone, gone, gone, gone)
    svc = service(storage, tmp_path, clock, sink, at=time(8, 0))
    with caplog.at_level(logging.ERROR):
        await tick(svc)
    for _ in range(4):  # an hour later, and later: no retry while nothing changed
        clock.advance(900)
        await tick(svc)
    assert sink.tries == 1
    key = svc.settings.channels[0].key
    assert "refused the digest for 2026-11-25 for good" in caplog.text
    assert await storage.digest_status(key, date(2026, 11, 25)) == "queued"  # kept, not lost
    (problem,) = await storage.delivery_problems(clock.now - timedelta(days=1))
    assert problem.channel == key and "channel_not_found" in problem.error


async def test_a_rejected_digest_is_set_aside_and_named_in_the_next_digest(
    storage: SQLiteStorage, tmp_path: Path
) -> None:
    clock = Clock()
    clock.now = datetime(2026, 11, 25, 2, 30, tzinfo=UTC)
    await ran_before(storage, tmp_path, clock.now)
    bad = DeliveryError("Slack refused the message: invalid_blocks", retryable=False, rejected=True)
    sink = RefusingSink(bad)
    svc = service(storage, tmp_path, clock, sink, at=time(8, 0))
    await tick(svc)
    key = svc.settings.channels[0].key
    assert await storage.digest_status(key, date(2026, 11, 25)) == "dead"
    clock.advance(600)
    await tick(svc)
    assert sink.tries == 1 and digests(tmp_path) == []
    clock.advance(24 * 3600 - 600)  # the next day's digest says what was missed
    await tick(svc)
    (record,) = digests(tmp_path)
    problems = {p["name"]: p["problem"] for p in record["digest"]["feed_problems"]}
    assert problems[f"delivery to {key}"] == (
        "digest for 2026-11-25 not posted: Slack refused the message: invalid_blocks"
    )


async def test_a_queued_digest_goes_out_in_turn_with_the_channel_alerts(
    storage: SQLiteStorage, tmp_path: Path
) -> None:
    clock = Clock()
    clock.now = datetime(2026, 11, 25, 2, 30, tzinfo=UTC)
    await ran_before(storage, tmp_path, clock.now)
    ch = ChannelSettings("jsonl", str(tmp_path / "digest.jsonl"))
    await queue(storage, ch, clock.now - timedelta(minutes=1), ["ISKP before"])
    svc = service(storage, tmp_path, clock, JsonlSink(), at=time(8, 0))
    await svc.tick()  # queued now, delivered below
    await queue(storage, ch, clock.now, ["ISKP after"])
    await tick(svc)
    order = [r.get("title", "digest") for r in records(tmp_path / "digest.jsonl")]
    assert order == ["ISKP before", "digest", "ISKP after"]


async def test_the_app_queues_the_scheduled_digest_and_its_outbox_posts_it(
    tmp_path: Path, watchlist_dir: Path, feed_server: FeedServer
) -> None:
    """The wiring in bot/app.py: scheduler → queue → the channel's outbox worker."""
    url = feed_server.feed("/a.xml", [item(1, "ISKP claims attack")])
    alerts = tmp_path / "alerts.jsonl"
    settings = settings_from_dict(
        {
            "bot": {"database": str(tmp_path / "db.sqlite3"), "watchlists": str(watchlist_dir)},
            "feeds": [{"url": url, "first_poll": "all"}],
            "channels": [{"platform": "jsonl", "id": str(alerts), "flood_cap": 0}],
            "digest": {"time": "09:00", "channels": [f"jsonl:{alerts}"], "chart": False},
        },
        tmp_path / "bot.toml",
    )
    clock = Clock()  # 08:00 UTC
    async with App.open(settings, clock=clock) as app:
        await app.run_once()  # the bot runs before the digest's time
        clock.advance(3600)
        await app.digest.tick()
        assert await app.storage.digest_status(f"jsonl:{alerts}", clock.now.date()) == "queued"
        await app.outbox.drain()
        assert await app.storage.digest_status(f"jsonl:{alerts}", clock.now.date()) == "sent"
    kinds = ["digest" if "digest_key" in r else "alert" for r in records(alerts)]
    assert kinds == ["alert", "digest"]
