"""The JSONL sink: replies, flood summaries, story edits and digests as records, each once."""

from __future__ import annotations

import json
from pathlib import Path

from bot.chat.jsonl import JsonlSink
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
