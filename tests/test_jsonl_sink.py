"""The JSONL sink: replies, flood summaries, story edits and digests as records, each once."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from bot.chat.jsonl import JsonlSink
from bot.storage.sqlite import open_storage
from tests.contract.conftest import alert_to, ingest, item
from tests.fakecontent import NOW, alert, digest, flood, png, story_update


def records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


async def test_reply_record_carries_the_story(tmp_path: Path) -> None:
    path = tmp_path / "alerts.jsonl"
    reply = alert(2, "jsonl", str(path), reply_to="jsonl-1", new_entities=("Kabul",))
    assert await JsonlSink().deliver(reply) == "jsonl-2"
    (record,) = records(path)
    assert record["alert_id"] == 2 and record["reply_to"] == "jsonl-1"
    assert record["story"] == "s1" and record["new_entities"] == ["Kabul"]


async def test_summary_is_written_once(tmp_path: Path) -> None:
    path = tmp_path / "alerts.jsonl"
    summary = flood("jsonl", str(path), 12)
    await JsonlSink().deliver_summary(summary)
    await JsonlSink().deliver_summary(summary)  # a retry by a fresh sink reads the file back
    (record,) = records(path)
    assert record["summary_id"] == summary.id
    assert record["headline"] == "12 more alerts: ISKP ×4, Kabul ×4, Tajikistan ×4"
    assert [a["url"] for a in record["alerts"]] == [a.item.url for a in summary.alerts]
    assert record["window_end"] == NOW.isoformat()


async def test_story_update_is_an_edit_record(tmp_path: Path) -> None:
    path = tmp_path / "alerts.jsonl"
    await JsonlSink().update_story(story_update(alert(1, "jsonl", str(path)), "jsonl-1"))
    assert records(path) == [{"edit": "jsonl-1", "sources": 3, "last_update": NOW.isoformat()}]


async def test_digest_record_is_structured_and_written_once(tmp_path: Path) -> None:
    path = tmp_path / "alerts.jsonl"
    sink = JsonlSink()
    assert await sink.post_digest(str(path), digest(), "jsonl:2026-11-25") == (
        "jsonl-digest-jsonl:2026-11-25"
    )
    await sink.post_digest(str(path), digest(), "jsonl:2026-11-25")
    (record,) = records(path)
    assert record["digest_key"] == "jsonl:2026-11-25"
    assert record["chart_png_bytes"] == len(png())
    d = record["digest"]
    assert "chart_png" not in d and d["end"] == NOW.isoformat()
    assert d["counts"][0] == {
        "entity_id": "iskp",
        "name": "ISKP",
        "kind": "group",
        "mentions": 12,
        "previous": 9,
    }
    assert d["top_stories"][0]["first_seen"].startswith("2026-11-25T08:05")


async def test_a_retried_alert_is_looked_for_and_not_written_twice(tmp_path: Path) -> None:
    """Claimed before (the try that wrote it died before recording) or tried before:
    a fresh sink reads the file back and finds it there."""
    path = tmp_path / "alerts.jsonl"
    first = alert(1, "jsonl", str(path))
    await JsonlSink().deliver(first)
    await JsonlSink().deliver(replace(first, claimed=True))
    await JsonlSink().deliver(replace(first, attempts=2))
    assert [r["alert_id"] for r in records(path)] == [1]


async def test_a_first_try_appends_without_reading_the_file(tmp_path: Path) -> None:
    """An alert never claimed nor tried cannot be in the file (the outbox claims a row
    durably before its first request), so a process that only appends new alerts does
    not read back a file that grows with every alert ever written. Shown here by a
    file whose lines would say otherwise: only a retry reads them."""
    path = tmp_path / "alerts.jsonl"
    path.write_text('{"alert_id": 7, "title": "alert 7 of an earlier database"}\n')
    sink = JsonlSink()
    await sink.deliver(alert(7, "jsonl", str(path)))
    assert [r["alert_id"] for r in records(path)] == [7, 7]
    assert sink._written == {}  # nothing was read
    await sink.deliver(replace(alert(7, "jsonl", str(path)), claimed=True))
    await sink.deliver(replace(alert(8, "jsonl", str(path)), attempts=1))
    await sink.deliver(alert(9, "jsonl", str(path)))
    assert [r["alert_id"] for r in records(path)] == [7, 7, 8, 9]
    # Once read, the sink's memory holds what it appended since: a retry of 9 finds it.
    await sink.deliver(replace(alert(9, "jsonl", str(path)), claimed=True))
    assert [r["alert_id"] for r in records(path)] == [7, 7, 8, 9]


async def test_story_edits_do_not_read_the_file(tmp_path: Path) -> None:
    path = tmp_path / "alerts.jsonl"
    sink = JsonlSink()
    await sink.update_story(story_update(alert(1, "jsonl", str(path)), "jsonl-1"))
    await sink.update_story(story_update(alert(1, "jsonl", str(path)), "jsonl-1"))
    assert len(records(path)) == 2 and sink._written == {}


async def test_a_write_that_died_before_it_was_recorded_is_not_written_again(
    tmp_path: Path,
) -> None:
    """The outbox as it runs, on a real SQLite store: claimed, written, then the process
    dies before mark_sent. The restarted bot loads the alert claimed and the sink finds
    it in the file; a new alert of the same run is appended without that look-up."""
    path = tmp_path / "alerts.jsonl"
    db = tmp_path / "bot.sqlite3"
    async with open_storage(db) as store:
        await ingest(store, [item(1)], plan=alert_to("jsonl", str(path)))
        first = await store.next_alert("jsonl", str(path))
        assert first is not None and not first.claimed
        await store.claim_alert(first.id, NOW)
        await JsonlSink().deliver(first)  # and the process dies here
    async with open_storage(db) as store:
        again = await store.next_alert("jsonl", str(path))
        assert again is not None and again.id == first.id and again.claimed
        sink = JsonlSink()
        await sink.deliver(again)
        await store.mark_sent(again.id, "jsonl-1", NOW, None)
        await ingest(store, [item(2)], plan=alert_to("jsonl", str(path)))
        second = await store.next_alert("jsonl", str(path))
        assert second is not None and not second.claimed
        await store.claim_alert(second.id, NOW)
        await sink.deliver(second)
    assert [r["alert_id"] for r in records(path)] == [first.id, second.id]
