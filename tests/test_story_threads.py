"""One thread per story: later items reply under the first, and the first shows the count."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import ChannelSettings
from bot.delivery.outbox import Outbox, retry_delay
from bot.errors import DeliveryError
from bot.storage.sqlite import SQLiteStorage, open_storage
from tests.clock import Clock
from tests.outbox_helpers import RecordingJsonlSink, match, queue, records


@pytest.fixture
async def storage(tmp_path: Path):
    async with open_storage(tmp_path / "bot.sqlite3") as s:
        yield s


def channel(tmp_path: Path, name: str = "alerts") -> ChannelSettings:
    return ChannelSettings("jsonl", str(tmp_path / f"{name}.jsonl"), flood_cap=0)


async def test_later_items_of_a_story_reply_in_its_thread(
    storage: SQLiteStorage, tmp_path: Path
) -> None:
    clock, sink, ch = Clock(), RecordingJsonlSink(), channel(tmp_path)
    await queue(storage, ch, clock.now, ["Blast in Mir Ali", "Mir Ali toll rises"], story="first")
    await Outbox(storage, {"jsonl": sink}, (ch,), clock).drain()
    parent, reply = sink.delivered
    assert parent.reply_to is None and parent.story is not None
    assert reply.reply_to == f"jsonl-{parent.id}" and reply.story == parent.story
    written = records(tmp_path / "alerts.jsonl")
    assert (
        written[1]["reply_to"] == written[0]["message_id"] if "message_id" in written[0] else True
    )


async def test_a_reply_names_only_the_entities_the_story_did_not_have(
    storage: SQLiteStorage, tmp_path: Path
) -> None:
    clock, sink, ch = Clock(), RecordingJsonlSink(), channel(tmp_path)
    iskp, ttp = match(), match("ttp", "TTP")
    await queue(storage, ch, clock.now, ["first"], story="s1", matches=(iskp,))
    await queue(storage, ch, clock.now, ["second"], story="s1", matches=(iskp, ttp))
    await queue(storage, ch, clock.now, ["third"], story="s1", matches=(ttp,))
    await Outbox(storage, {"jsonl": sink}, (ch,), clock).drain()
    assert [a.new_entities for a in sink.delivered] == [(), ("TTP",), ()]


async def test_the_parent_is_edited_once_after_a_burst_of_replies(
    storage: SQLiteStorage, tmp_path: Path
) -> None:
    clock, sink, ch = Clock(), RecordingJsonlSink(), channel(tmp_path)
    await queue(storage, ch, clock.now, ["a", "b", "c"], story="s1")
    await queue(storage, ch, clock.now, ["d"], story="s1", feed="https://other.example/rss")
    box = Outbox(storage, {"jsonl": sink}, (ch,), clock)
    await box.drain()
    (update,) = sink.updates  # the edit waits for a quiet moment: one edit, not three
    # Four reports from two feeds: two sources.
    assert (update.sources, update.revision) == (2, 4) and update.parent.item.title == "a"
    assert update.message_id == f"jsonl-{sink.delivered[0].id}"
    assert records(tmp_path / "alerts.jsonl")[-1]["sources"] == 2
    await box.drain()
    assert len(sink.updates) == 1  # already shown: no second edit


async def test_threading_survives_a_restart(tmp_path: Path) -> None:
    clock, ch = Clock(), channel(tmp_path)
    async with open_storage(tmp_path / "bot.sqlite3") as storage:
        await queue(storage, ch, clock.now, ["first"], story="s1")
        await Outbox(storage, {"jsonl": RecordingJsonlSink()}, (ch,), clock).drain()
    sink = RecordingJsonlSink()
    async with open_storage(tmp_path / "bot.sqlite3") as storage:
        await queue(storage, ch, clock.now, ["second"], story="s1")
        await Outbox(storage, {"jsonl": sink}, (ch,), clock).drain()
    (reply,) = sink.delivered
    assert reply.reply_to is not None
    assert sink.updates[0].revision == 2


async def test_each_channel_has_its_own_thread(storage: SQLiteStorage, tmp_path: Path) -> None:
    clock, sink = Clock(), RecordingJsonlSink()
    a, b = channel(tmp_path, "a"), channel(tmp_path, "b")
    await queue(storage, a, clock.now, ["first"], story="s1")
    await queue(storage, b, clock.now, ["second"], story="s1")
    await Outbox(storage, {"jsonl": sink}, (a, b), clock).drain()
    # Channel b never saw the first item: its first item of the story is a new message.
    assert all(alert.reply_to is None for alert in sink.delivered)


async def test_when_the_parent_was_refused_the_next_item_opens_the_thread(
    storage: SQLiteStorage, tmp_path: Path
) -> None:
    clock, sink, ch = Clock(), RecordingJsonlSink(), channel(tmp_path)
    sink.fail_deliver.append(DeliveryError("400 Invalid Form Body", retryable=False, rejected=True))
    await queue(storage, ch, clock.now, ["first", "second", "third"], story="first")
    await Outbox(storage, {"jsonl": sink}, (ch,), clock).drain()
    _refused, opened, reply = sink.delivered
    assert opened.reply_to is None and reply.reply_to == f"jsonl-{opened.id}"


async def test_a_failed_edit_is_retried_later_and_a_lost_parent_is_left_alone(
    storage: SQLiteStorage, tmp_path: Path
) -> None:
    clock, sink, ch = Clock(), RecordingJsonlSink(), channel(tmp_path)
    await queue(storage, ch, clock.now, ["a", "b"], story="first")
    box = Outbox(storage, {"jsonl": sink}, (ch,), clock)
    sink.fail_update.append(DeliveryError("HTTP 503", retryable=True))
    await box.drain()
    assert len(sink.updates) == 1
    await box.drain()
    assert len(sink.updates) == 1  # waiting before the next try
    clock.advance(60)
    sink.fail_update.append(DeliveryError("Unknown Message", retryable=False))
    await box.drain()
    assert len(sink.updates) == 2
    clock.advance(60)
    await box.drain()
    assert len(sink.updates) == 2  # given up on that message; alerts still flow
    await queue(storage, ch, clock.now, ["c"], story="first")
    await box.drain()
    assert sink.delivered[-1].item.title == "c"


async def test_a_failing_edit_backs_off_like_an_alert(
    storage: SQLiteStorage, tmp_path: Path
) -> None:
    clock, sink, ch = Clock(), RecordingJsonlSink(), channel(tmp_path)
    await queue(storage, ch, clock.now, ["a", "b"], story="first")
    box = Outbox(storage, {"jsonl": sink}, (ch,), clock)
    sink.fail_update += [DeliveryError("HTTP 503", retryable=True) for _ in range(3)]
    await box.drain()  # the alert, its reply, and a first failed edit
    waits = []
    for _ in range(3):
        wait = await box.step(ch)
        assert wait is not None
        waits.append(wait)
        clock.advance(wait)
    assert waits == [retry_delay(1), retry_delay(2), retry_delay(3)]
    assert await box.step(ch) is None and len(sink.updates) == 4  # the fourth try worked
    assert "edit" in records(tmp_path / "alerts.jsonl")[-1]
