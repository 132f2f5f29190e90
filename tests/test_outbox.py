"""The durable outbox: nothing lost, nothing doubled, order kept, broken channels isolated."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest

from bot.app import App
from bot.chat.jsonl import JsonlSink
from bot.delivery.outbox import retry_delay
from bot.errors import DeliveryError
from bot.models import Alert
from tests.clock import Clock
from tests.feedserver import FeedServer, item


class ScriptedSink(JsonlSink):
    """The real JSONL sink, with failures injected at the port for chosen attempts."""

    def __init__(self, failures: list[DeliveryError | None]) -> None:
        super().__init__()
        self.failures = failures
        self.calls: list[int] = []

    async def deliver(self, alert: Alert) -> str:
        self.calls.append(alert.id)
        if self.failures:
            failure = self.failures.pop(0)
            if failure is not None:
                raise failure
        return await super().deliver(alert)


def lines(tmp_path: Path) -> list[dict]:
    path = tmp_path / "alerts.jsonl"
    records = [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []
    return [r for r in records if "alert_id" in r]  # alerts, not story edits


def three_items(server: FeedServer) -> str:
    return server.feed(
        "/a.xml",
        [
            item(3, "ISKP third report"),
            item(2, "ISKP second report"),
            item(1, "ISKP first report"),
        ],
    )


async def test_retryable_failure_stays_queued_and_order_is_kept(
    feed_server: FeedServer, make_settings, tmp_path: Path
) -> None:
    clock = Clock()
    sink = ScriptedSink([DeliveryError("HTTP 503", retryable=True)])
    settings = make_settings([{"url": three_items(feed_server)}])
    async with App.open(settings, clock=clock, sinks={"jsonl": sink}) as app:
        report = await app.run_once()
        assert report.alerts == 3
        # The head of the line failed: nothing behind it may overtake it.
        assert lines(tmp_path) == []
        assert await app.storage.pending_count() == 3
        await app.outbox.drain()  # not due yet: the backoff holds
        assert len(sink.calls) == 1
        clock.advance(retry_delay(1))
        await app.outbox.drain()
    got = [a["alert_id"] for a in lines(tmp_path)]
    assert got == sorted(got) and len(got) == 3
    rows = {r["id"]: r for r in await _rows(settings)}
    assert rows[got[0]]["attempts"] == 2 and rows[got[0]]["status"] == "sent"


async def test_permanent_failure_marks_channel_broken_and_keeps_alerts(
    feed_server: FeedServer, make_settings, tmp_path: Path
) -> None:
    sink = ScriptedSink([DeliveryError("403 Missing Access", retryable=False)])
    settings = make_settings([{"url": three_items(feed_server)}])
    async with App.open(settings, sinks={"jsonl": sink}) as app:
        await app.run_once()
        await app.outbox.drain()
        assert len(sink.calls) == 1  # no hammering a channel that refused us
        assert await app.storage.pending_count() == 3
        broken = await app.storage.broken_channels()
        assert list(broken.values()) == ["403 Missing Access"]
    # Re-enabled (e.g. by a command after the permission is fixed): all three go out once.
    async with App.open(settings) as app:
        await app.storage.set_channel_broken(
            "jsonl", str(tmp_path / "alerts.jsonl"), None, app.clock()
        )
    async with App.open(settings) as app:
        await app.outbox.drain()
    assert len(lines(tmp_path)) == 3


async def test_crash_between_match_and_delivery_loses_nothing(
    feed_server: FeedServer, make_settings, tmp_path: Path
) -> None:
    settings = make_settings([{"url": three_items(feed_server)}])
    async with App.open(settings) as app:
        # Poll only: the alerts are in the outbox, then the process "dies".
        for feed in settings.feeds:
            await app.poll_feed(feed)
    assert lines(tmp_path) == []
    async with App.open(settings) as app:
        report = await app.run_once()
        assert report.alerts == 0  # the items are seen...
    assert len(lines(tmp_path)) == 3  # ...and their alerts were delivered from the outbox


async def test_redelivery_after_ambiguous_failure_is_not_doubled(
    feed_server: FeedServer, make_settings, tmp_path: Path
) -> None:
    """The sink wrote the alert but the bot died before recording it as sent."""

    class WritesThenFails(JsonlSink):
        first = True

        async def deliver(self, alert: Alert) -> str:
            message_id = await super().deliver(alert)
            if self.first:
                self.first = False
                raise DeliveryError("connection reset after write", retryable=True)
            return message_id

    clock = Clock()
    settings = make_settings([{"url": feed_server.feed("/a.xml", [item(1, "ISKP report")])}])
    async with App.open(settings, clock=clock, sinks={"jsonl": WritesThenFails()}) as app:
        await app.run_once()
    clock.advance(3600)
    async with App.open(settings, clock=clock) as app:  # a fresh sink reads the file back
        await app.outbox.drain()
        assert await app.storage.pending_count() == 0
    assert len(lines(tmp_path)) == 1


async def test_unwritable_jsonl_is_retried_not_dropped(
    feed_server: FeedServer, make_settings, tmp_path: Path
) -> None:
    (tmp_path / "alerts.jsonl").mkdir()  # a directory where the file should be
    clock = Clock()
    settings = make_settings([{"url": feed_server.feed("/a.xml", [item(1, "ISKP report")])}])
    async with App.open(settings, clock=clock) as app:
        await app.run_once()
        assert await app.storage.pending_count() == 1
        (tmp_path / "alerts.jsonl").rmdir()
        clock.advance(3600)
        await app.outbox.drain()
        assert await app.storage.pending_count() == 0
    assert len(lines(tmp_path)) == 1


def test_retry_delay_grows_and_is_capped() -> None:
    delays = [retry_delay(n) for n in range(1, 30)]
    assert delays == sorted(delays)
    assert delays[0] == 5 and delays[-1] == 15 * 60
    assert retry_delay(1, retry_after=42.0) == 42.0


async def _rows(settings) -> list[dict]:
    from bot.storage.sqlite import open_storage

    async with open_storage(settings.bot.database) as storage:
        return await storage.outbox_rows()


async def test_broken_channel_is_retried_once_its_configuration_changes(
    feed_server: FeedServer, make_settings, tmp_path: Path
) -> None:
    sink = ScriptedSink([DeliveryError("403 Missing Access", retryable=False)])
    settings = make_settings([{"url": three_items(feed_server)}])
    async with App.open(settings, sinks={"jsonl": sink}) as app:
        await app.run_once()
    async with App.open(settings) as app:  # same configuration: still broken, not retried
        await app.outbox.drain()
        assert await app.storage.broken_channels()
    assert lines(tmp_path) == []
    changed = make_settings([{"url": three_items(feed_server)}])
    changed = replace(changed, channels=(replace(changed.channels[0], severity="medium"),))
    async with App.open(changed) as app:  # the operator fixed something: try again
        assert await app.storage.broken_channels() == {}
        await app.outbox.drain()
    assert len(lines(tmp_path)) == 3


class StorageBreakingSink(JsonlSink):
    """The real JSONL sink; its first delivery leaves the database refusing outbox
    updates (a real SQLite error, as a full disk would), so the post lands but
    recording it fails."""

    def __init__(self, database: Path) -> None:
        super().__init__()
        self.database = database
        self.calls: list[int] = []

    async def deliver(self, alert: Alert) -> str:
        self.calls.append(alert.id)
        message_id = await super().deliver(alert)
        if len(self.calls) == 1:
            with sqlite3.connect(self.database) as db:
                db.execute(
                    "CREATE TRIGGER refuse BEFORE UPDATE ON outbox "
                    "BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"
                )
        return message_id


async def test_a_post_whose_recording_failed_is_recorded_not_posted_again(
    feed_server: FeedServer, make_settings, tmp_path: Path
) -> None:
    settings = make_settings([{"url": feed_server.feed("/a.xml", [item(1, "ISKP report")])}])
    sink = StorageBreakingSink(settings.bot.database)
    async with App.open(settings, clock=Clock(), sinks={"jsonl": sink}) as app:
        with pytest.raises(sqlite3.IntegrityError, match="disk is full"):
            await app.run_once()
        with sqlite3.connect(settings.bot.database) as db:
            db.execute("DROP TRIGGER refuse")
        await app.outbox.drain()
        assert sink.calls == [1]  # posted once; the retry only recorded it
        assert await app.storage.pending_count() == 0
    assert [r["title"] for r in lines(tmp_path)] == ["ISKP report"]
