"""Stories, flood summaries and digests on Slack: the real SlackSink (slack_sdk) against FakeSlack.

The sink is driven through the port directly, as the outbox does. Posting is
not paced here (PACE = 0): pacing is a courtesy to Slack, not behaviour under test.
"""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

import bot.chat.slack.sink as slack_sink
from bot.chat.slack.render import BLOCKS_MAX, BLOCKS_TEXT_MAX, SECTION_MAX
from bot.chat.slack.sink import SlackSink, chart_filename, slack_settings
from tests.fakecontent import (
    HOSTILE,
    NOW,
    alert,
    delivery_error,
    digest,
    empty_digest,
    flood,
    listed_and_more,
    png,
    story_update,
)
from tests.fakeslack import FakeSlack

NEWS = "C0123ABCD"
KEY = "slack:C0123ABCD:2026-11-25"


@pytest.fixture(autouse=True)
def _no_proxy_no_pace(monkeypatch) -> None:
    # slack_sdk reads HTTP(S)_PROXY itself and ignores NO_PROXY.
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(slack_sink, "PACE", 0.0)


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    async with FakeSlack(channels={NEWS: "news"}) as fake:
        yield fake
        assert fake.errors == [], fake.errors


@pytest.fixture
async def sink(fake: FakeSlack, tmp_path: Path, monkeypatch) -> AsyncIterator[SlackSink]:
    monkeypatch.setenv("T_SLACK_BOT", fake.bot_token)
    raw = {"bot_token_env": "T_SLACK_BOT", "api_base": fake.api_base}
    sink = SlackSink(slack_settings(raw, tmp_path / "bot.toml"), tmp_path / "bot.toml", (NEWS,))
    await sink.start()
    try:
        yield sink
    finally:
        await sink.close()


def sent(call: dict[str, Any], name: str) -> Any:
    value = call["params"].get(name)
    return json.loads(value) if isinstance(value, str) and name != "text" else value


def block_texts(blocks: list[dict[str, Any]]) -> list[str]:
    out = []
    for block in blocks:
        if "text" in block:
            out.append(block["text"]["text"])
        out += [e["text"] for e in block.get("elements", [])]
    return out


def assert_inert(text: str) -> None:
    for raw in ("<!channel>", "<!here>", "<@U0BOT>", "<@&"):
        assert raw not in text
    assert "&lt;!channel&gt;" in text


async def test_reply_is_short_and_lands_in_the_thread(fake: FakeSlack, sink: SlackSink) -> None:
    parent_ts = await sink.deliver(alert(1, "slack", NEWS))
    reply = alert(
        2,
        "slack",
        NEWS,
        title="Toll rises after Kabul blast",
        reply_to=parent_ts,
        new_entities=("Kabul", HOSTILE),
    )
    await sink.deliver(reply)
    call = fake.calls("chat.postMessage")[-1]
    assert call["params"]["thread_ts"] == parent_ts
    (block,) = sent(call, "blocks")  # short: one section, not the full alert
    head, line = block["text"]["text"].split("\n")
    assert head == "*<https://example.org/news/2|Toll rises after Kabul blast>*"
    assert line.startswith("Regional Wire · adds: Kabul, ")
    assert_inert(line)
    assert "<!channel>" not in call["params"]["text"]
    (posted,) = [m for m in fake.posted(NEWS) if m.get("thread_ts") == parent_ts][1:]
    assert sent(call, "metadata")["event_payload"] == {"outbox_id": 2}
    assert posted["ts"] != parent_ts


async def test_reply_retried_after_a_dropped_connection_is_found_in_the_thread(
    fake: FakeSlack, sink: SlackSink
) -> None:
    parent_ts = await sink.deliver(alert(1, "slack", NEWS))
    fake.fail_next("chat.postMessage", drop_after_store=True)
    reply = alert(2, "slack", NEWS, reply_to=parent_ts)
    assert (await delivery_error(sink.deliver(reply))).retryable
    ts = await sink.deliver(alert(2, "slack", NEWS, reply_to=parent_ts, attempts=1))
    replies = [m for m in fake.posted(NEWS) if m.get("thread_ts") == parent_ts][1:]
    assert [m["ts"] for m in replies] == [ts]
    assert fake.calls("conversations.replies")


async def test_summary_lists_every_held_alert_with_its_link(
    fake: FakeSlack, sink: SlackSink
) -> None:
    summary = flood("slack", NEWS, 12)
    ts = await sink.deliver_summary(summary)
    (call,) = fake.calls("chat.postMessage")
    blocks = sent(call, "blocks")
    assert blocks[0]["text"]["text"] == "*12 more alerts: ISKP ×4, Kabul ×4, Tajikistan ×4*"
    listing = "\n".join(block_texts(blocks[1:]))
    for held in summary.alerts:
        assert f"• <https://example.org/news/{held.id}|{held.item.title}> — Regional Wire" in (
            listing
        )
    assert "more" not in listing
    assert sent(call, "metadata") == {
        "event_type": "newswatch_summary",
        "event_payload": {"summary_id": summary.id},
    }
    assert [m["ts"] for m in fake.posted(NEWS)] == [ts]


async def test_a_summary_of_300_fits_the_limits_and_counts_the_rest(
    fake: FakeSlack, sink: SlackSink
) -> None:
    await sink.deliver_summary(flood("slack", NEWS, 300, title_words=20))
    blocks = sent(fake.calls("chat.postMessage")[-1], "blocks")
    texts = block_texts(blocks)
    assert len(blocks) <= BLOCKS_MAX and all(len(t) <= SECTION_MAX for t in texts)
    assert sum(map(len, texts)) <= BLOCKS_TEXT_MAX
    lines = "\n".join(texts[1:]).splitlines()
    listed, more = listed_and_more(lines, "• <https://")
    assert listed + more == 300 and listed > 40


async def test_summary_after_a_dropped_connection_appears_once(
    fake: FakeSlack, sink: SlackSink
) -> None:
    fake.fail_next("chat.postMessage", drop_after_store=True)
    summary = flood("slack", NEWS, 3)
    failed = await delivery_error(sink.deliver_summary(summary))
    assert failed.retryable
    ts = await sink.deliver_summary(summary)
    assert [m["ts"] for m in fake.posted(NEWS)] == [ts]
    assert len(fake.calls("chat.postMessage")) == 1


async def test_update_story_edits_the_parent(fake: FakeSlack, sink: SlackSink) -> None:
    parent = alert(1, "slack", NEWS)
    ts = await sink.deliver(parent)
    await sink.update_story(story_update(parent, ts, sources=3))
    (update,) = fake.updates
    assert update["ts"] == ts
    original = sent(fake.calls("chat.postMessage")[0], "blocks")
    assert update["blocks"][:-1] == original  # the alert as first posted...
    (status,) = block_texts(update["blocks"][-1:])  # ...plus how the story has grown
    assert status == f"3 sources · last update <!date^{int(NOW.timestamp())}^{{time}}|14:05 UTC>"
    (message,) = fake.posted(NEWS)
    assert message["metadata"]["event_payload"] == {"outbox_id": 1}  # still findable


async def test_update_story_of_a_deleted_or_foreign_parent_gives_up(
    fake: FakeSlack, sink: SlackSink
) -> None:
    parent = alert(1, "slack", NEWS)
    ts = await sink.deliver(parent)
    fake.delete_message(NEWS, ts)
    gone = await delivery_error(sink.update_story(story_update(parent, ts)))
    assert not gone.retryable and "message_not_found" in str(gone)
    foreign = fake.add_message(NEWS, "a human wrote this")
    not_ours = await delivery_error(sink.update_story(story_update(parent, foreign)))
    assert not not_ours.retryable and "cant_update_message" in str(not_ours)


async def test_update_story_server_error_is_retryable(fake: FakeSlack, sink: SlackSink) -> None:
    parent = alert(1, "slack", NEWS)
    ts = await sink.deliver(parent)
    fake.fail_next("chat.update", status=503, error="service_unavailable")
    failed = await delivery_error(sink.update_story(story_update(parent, ts)))
    assert failed.retryable


async def test_digest_is_block_kit_with_its_chart_uploaded(
    fake: FakeSlack, sink: SlackSink
) -> None:
    ts = await sink.post_digest(NEWS, digest(), KEY)
    (call,) = fake.calls("chat.postMessage")
    blocks = sent(call, "blocks")
    assert blocks[0] == {
        "type": "header",
        "text": {"type": "plain_text", "text": "Daily digest · Wed 25 Nov 2026"},
    }
    texts = block_texts(blocks)
    assert "*Group*\nISKP *12* (+3)\nTTP *4* (−2)" in texts
    assert "*Region*\nKabul *7* (=)" in texts
    stories = next(t for t in texts if t.startswith("*Top stories*"))
    assert "1. <https://example.org/news/1|Blast at Kabul market> — 3 sources" in stories
    assert "2. Border talks resume — 1 source" in stories  # javascript: is not linked
    assert "*Blind spots*\n<https://quiet.example/feed|Quiet Wire>: silent for 3d" in texts
    assert sent(call, "metadata") == {
        "event_type": "newswatch_digest",
        "event_payload": {"key": KEY},
    }
    assert call["params"]["text"].startswith("Daily digest · Wed 25 Nov 2026\n")
    # The chart: upload URL, bytes, then shared into the channel.
    (asked,) = fake.calls("files.getUploadURLExternal")
    assert asked["params"]["filename"] == chart_filename(KEY)
    (completed,) = fake.calls("files.completeUploadExternal")
    assert completed["params"]["channel_id"] == NEWS
    (chart,) = fake.files.values()
    assert chart["data"] == png() and chart["channels"] == [NEWS]
    assert Image.open(io.BytesIO(chart["data"])).format == "PNG"
    digest_message, chart_message = fake.posted(NEWS)
    assert digest_message["ts"] == ts and chart_message["files"][0]["name"] == chart["filename"]


async def test_hostile_names_in_a_digest_are_inert(fake: FakeSlack, sink: SlackSink) -> None:
    await sink.post_digest(NEWS, digest(hostile=True), KEY)
    (call,) = fake.calls("chat.postMessage")
    assert_inert("\n".join(block_texts(sent(call, "blocks"))))
    assert_inert(call["params"]["text"])


async def test_empty_digest_is_one_line(fake: FakeSlack, sink: SlackSink) -> None:
    await sink.post_digest(NEWS, empty_digest(), KEY)
    (call,) = fake.calls("chat.postMessage")
    (text,) = block_texts(sent(call, "blocks"))
    assert "\n" not in text and text.startswith("*Daily digest · Wed 25 Nov 2026*: no watched")
    assert not fake.calls("files.getUploadURLExternal")  # one line: no chart


async def test_retried_digest_with_the_same_key_posts_once(
    fake: FakeSlack, sink: SlackSink
) -> None:
    fake.fail_next("chat.postMessage", drop_after_store=True)
    failed = await delivery_error(sink.post_digest(NEWS, digest(), KEY))
    assert failed.retryable
    ts = await sink.post_digest(NEWS, digest(), KEY)
    assert await sink.post_digest(NEWS, digest(), KEY) == ts
    assert len(fake.calls("chat.postMessage")) == 1
    assert len(fake.calls("files.completeUploadExternal")) == 1
    assert [len(m.get("files") or []) for m in fake.posted(NEWS)] == [0, 1]


@pytest.mark.parametrize("step", ["upload", "files.completeUploadExternal"])
async def test_digest_whose_chart_failed_posts_only_the_chart_again(
    fake: FakeSlack, sink: SlackSink, step: str
) -> None:
    fake.fail_next(step, status=500)
    failed = await delivery_error(sink.post_digest(NEWS, digest(), KEY))
    assert failed.retryable
    ts = await sink.post_digest(NEWS, digest(), KEY)
    assert len(fake.calls("chat.postMessage")) == 1
    digest_message, chart_message = fake.posted(NEWS)
    assert digest_message["ts"] == ts and chart_message["files"]
