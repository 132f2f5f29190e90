"""Flood control: a cap on top-level alerts per channel and window, and the summary after it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.config import ChannelSettings
from bot.delivery.flood import admit
from bot.delivery.outbox import Outbox
from bot.errors import DeliveryError
from bot.storage.sqlite import SQLiteStorage, open_storage
from tests.clock import Clock
from tests.outbox_helpers import RecordingJsonlSink, match, queue, records

T0 = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


# -- the pure decision ---------------------------------------------------------------


def test_admit_opens_a_window_and_holds_past_the_cap() -> None:
    first = admit(T0, None, 0, cap=3, window=600, severity="medium")
    assert first.send and first.window_start == T0
    assert admit(T0 + timedelta(minutes=1), T0, 2, cap=3, window=600, severity="low").send
    full = admit(T0 + timedelta(minutes=2), T0, 3, cap=3, window=600, severity="medium")
    assert not full.send and full.window_start == T0


def test_high_severity_is_never_held() -> None:
    assert admit(T0, T0, 99, cap=3, window=600, severity="high").send


def test_a_new_window_starts_when_the_old_one_ends() -> None:
    later = admit(T0 + timedelta(seconds=600), T0, 3, cap=3, window=600, severity="medium")
    assert later.send and later.window_start == T0 + timedelta(seconds=600)


def test_cap_zero_turns_flood_control_off() -> None:
    decision = admit(T0, T0, 10_000, cap=0, window=600, severity="low")
    assert decision.send and decision.window_start is None


# -- the outbox --------------------------------------------------------------------


@pytest.fixture
async def storage(tmp_path: Path):
    async with open_storage(tmp_path / "bot.sqlite3") as s:
        yield s


def channel(tmp_path: Path, cap: int = 3, window: float = 600.0) -> ChannelSettings:
    return ChannelSettings(
        "jsonl", str(tmp_path / "alerts.jsonl"), flood_cap=cap, flood_window=window
    )


def outbox(storage: SQLiteStorage, ch: ChannelSettings, sink, clock: Clock) -> Outbox:
    return Outbox(storage, {"jsonl": sink}, (ch,), clock)


async def test_alerts_past_the_cap_wait_for_one_summary_at_the_window_end(
    storage: SQLiteStorage, tmp_path: Path
) -> None:
    clock, sink, ch = Clock(), RecordingJsonlSink(), channel(tmp_path)
    titles = [f"Report {i}" for i in range(7)]
    await queue(storage, ch, clock.now, titles)
    box = outbox(storage, ch, sink, clock)
    await box.drain()
    assert [a.item.title for a in sink.delivered] == titles[:3]
    assert box.stats.held == 4 and not sink.summaries
    # Nothing is dropped: the held alerts are still in the outbox.
    assert await storage.pending_count() == 4

    clock.advance(599)
    await box.drain()
    assert not sink.summaries  # the window has not ended yet

    clock.advance(1)
    await box.drain()
    (summary,) = sink.summaries
    assert [a.item.title for a in summary.alerts] == titles[3:]
    assert summary.headline() == "4 more alerts: ISKP ×4"
    assert summary.window_end - summary.window_start == timedelta(seconds=600)
    assert await storage.pending_count() == 0
    written = records(tmp_path / "alerts.jsonl")
    assert [r["alert_id"] for r in written[-1]["alerts"]] == [a.id for a in summary.alerts]


async def test_after_the_summary_a_new_window_posts_normally(
    storage: SQLiteStorage, tmp_path: Path
) -> None:
    clock, sink, ch = Clock(), RecordingJsonlSink(), channel(tmp_path, cap=2)
    await queue(storage, ch, clock.now, ["a1", "a2", "a3"])
    box = outbox(storage, ch, sink, clock)
    await box.drain()
    clock.advance(600)
    await box.drain()
    assert len(sink.summaries) == 1
    clock.advance(60)
    await queue(storage, ch, clock.now, ["b1", "b2", "b3"])
    await box.drain()
    assert [a.item.title for a in sink.delivered] == ["a1", "a2", "b1", "b2"]
    assert box.stats.held == 2  # a3, then b3


async def test_high_severity_posts_even_when_the_window_is_full(
    storage: SQLiteStorage, tmp_path: Path
) -> None:
    clock, sink, ch = Clock(), RecordingJsonlSink(), channel(tmp_path, cap=1)
    await queue(storage, ch, clock.now, ["first", "second"])
    await queue(storage, ch, clock.now, ["urgent"], matches=(match(severity="high"),))
    await outbox(storage, ch, sink, clock).drain()
    assert [a.item.title for a in sink.delivered] == ["first", "urgent"]


async def test_replies_in_a_story_thread_do_not_count(
    storage: SQLiteStorage, tmp_path: Path
) -> None:
    clock, sink, ch = Clock(), RecordingJsonlSink(), channel(tmp_path, cap=1)
    await queue(
        storage, ch, clock.now, ["blast", "blast update", "blast toll rises"], story="first"
    )
    await outbox(storage, ch, sink, clock).drain()
    assert [a.reply_to is None for a in sink.delivered] == [True, False, False]
    assert not sink.summaries


async def test_held_alerts_and_the_window_survive_a_restart(tmp_path: Path) -> None:
    clock, ch = Clock(), channel(tmp_path, cap=1)
    async with open_storage(tmp_path / "bot.sqlite3") as storage:
        await queue(storage, ch, clock.now, ["one", "two", "three"])
        await outbox(storage, ch, RecordingJsonlSink(), clock).drain()
    clock.advance(600)
    sink = RecordingJsonlSink()
    async with open_storage(tmp_path / "bot.sqlite3") as storage:
        await outbox(storage, ch, sink, clock).drain()
        assert [a.item.title for a in sink.summaries[0].alerts] == ["two", "three"]
        assert await storage.pending_count() == 0


async def test_a_failed_summary_is_retried_and_posted_once(
    storage: SQLiteStorage, tmp_path: Path
) -> None:
    clock, sink, ch = Clock(), RecordingJsonlSink(), channel(tmp_path, cap=1)
    await queue(storage, ch, clock.now, ["one", "two", "three"])
    box = outbox(storage, ch, sink, clock)
    await box.drain()
    clock.advance(600)
    sink.fail_summary.append(DeliveryError("HTTP 502", retryable=True, retry_after=30))
    await box.drain()
    assert len(sink.summaries) == 1 and await storage.pending_count() == 2
    clock.advance(30)
    await box.drain()
    assert len(sink.summaries) == 2
    assert sink.summaries[0].id == sink.summaries[1].id  # the same summary, not a second
    assert sum("summary_id" in r for r in records(tmp_path / "alerts.jsonl")) == 1
    assert await storage.pending_count() == 0


async def test_a_summary_refused_for_good_marks_the_channel_broken_and_keeps_alerts(
    storage: SQLiteStorage, tmp_path: Path
) -> None:
    clock, sink, ch = Clock(), RecordingJsonlSink(), channel(tmp_path, cap=1)
    await queue(storage, ch, clock.now, ["one", "two"])
    box = outbox(storage, ch, sink, clock)
    await box.drain()
    clock.advance(600)
    sink.fail_summary.append(DeliveryError("403 Missing Access", retryable=False))
    await box.drain()
    assert await storage.broken_channels() == {("jsonl", ch.id): "403 Missing Access"}
    assert await storage.pending_count() == 1


async def test_flood_cap_off_posts_everything(storage: SQLiteStorage, tmp_path: Path) -> None:
    clock, sink, ch = Clock(), RecordingJsonlSink(), channel(tmp_path, cap=0)
    await queue(storage, ch, clock.now, [f"r{i}" for i in range(25)])
    await outbox(storage, ch, sink, clock).drain()
    assert len(sink.delivered) == 25 and not sink.summaries
