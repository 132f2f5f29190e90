"""Stories, flood summaries and digests on Discord: the real DiscordSink against FakeDiscord.

The sink is driven through the port directly (as the outbox does); every
request body is validated against Discord's OpenAPI spec by the fake, and
multipart uploads are checked against their ``attachments`` entries.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import AsyncIterator
from datetime import UTC
from pathlib import Path

import discord
import pytest
from PIL import Image

from bot.chat.discord.render import DESCRIPTION_MAX, EMBEDS_MAX, TOTAL_MAX
from bot.chat.discord.settings import discord_settings
from bot.chat.discord.sink import DiscordSink
from tests.discord_fixtures import checked_fake
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
from tests.fakediscord import ALERTS_CHANNEL_ID, FakeDiscord

ALERTS = str(ALERTS_CHANNEL_ID)
MESSAGES = rf"/channels/{ALERTS}/messages"


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with checked_fake() as fake:
        yield fake


@pytest.fixture
async def sink(fake: FakeDiscord, tmp_path: Path, monkeypatch) -> AsyncIterator[DiscordSink]:
    monkeypatch.setenv("TEST_DISCORD_TOKEN", fake.token)
    raw = {
        "token_env": "TEST_DISCORD_TOKEN",
        "api_base": fake.api_base,
        "gateway_url": fake.gateway_url,
        "guild_ready_timeout": "0.1s",
        "ready_timeout": "10s",
        "alert_role_id": "345678901234567890",
    }
    sink = DiscordSink(discord_settings(raw, tmp_path / "bot.toml"), tmp_path / "bot.toml")
    await sink.start()
    try:
        yield sink
    finally:
        await sink.close()


def texts(message: dict) -> str:
    """Everything a reader sees in a message, as JSON (zero-width spaces stay \\u200b)."""
    return json.dumps([message.get("content"), message.get("embeds")])


def assert_inert(message: dict) -> None:
    seen = texts(message)
    assert "@everyone" not in seen and "@here" not in seen
    assert not re.search(r"(?<!\\)<@&", seen)  # a role mention only when escaped
    assert not re.search(r"(?<!\\)\[x\]\(y\)", seen)  # the masked link is not one


async def test_reply_is_short_and_lands_in_the_thread(fake: FakeDiscord, sink: DiscordSink) -> None:
    parent_id = await sink.deliver(alert(1, "discord", ALERTS))
    reply = alert(
        2,
        "discord",
        ALERTS,
        title="Toll rises after Kabul blast",
        reply_to=parent_id,
        entities=(0, 2),
        new_entities=("Kabul", HOSTILE),
    )
    await sink.deliver(reply)
    (posted,) = fake.messages_in(int(parent_id))  # the thread started from the parent
    (embed,) = posted["embeds"]
    assert embed["title"] == "Toll rises after Kabul blast"
    assert embed["url"] == "https://example.org/news/2"
    assert embed["description"].startswith("Regional Wire · adds: Kabul, ")
    assert "fields" not in embed and "footer" not in embed  # not the full alert
    assert_inert(posted)
    post = fake.requests_to("POST", rf"/channels/{parent_id}/messages")[-1].json
    assert post["allowed_mentions"] == {"parse": []}


async def test_summary_lists_every_held_alert_with_its_link(
    fake: FakeDiscord, sink: DiscordSink
) -> None:
    summary = flood("discord", ALERTS, 12)
    message_id = await sink.deliver_summary(summary)
    message = fake.messages[int(message_id)]
    (embed,) = message["embeds"]
    assert embed["title"] == "12 more alerts: ISKP ×4, Kabul ×4, Tajikistan ×4"
    for held in summary.alerts:
        assert f"](https://example.org/news/{held.id}) — Regional Wire" in embed["description"]
    assert "more" not in embed["description"]
    post = fake.requests_to("POST", MESSAGES)[-1].json
    assert post["allowed_mentions"] == {"parse": []} and post["enforce_nonce"] is True


async def test_a_summary_of_300_fits_the_limits_and_counts_the_rest(
    fake: FakeDiscord, sink: DiscordSink
) -> None:
    summary = flood("discord", ALERTS, 300, title_words=20)
    message = fake.messages[int(await sink.deliver_summary(summary))]
    embeds = message["embeds"]
    assert 1 < len(embeds) <= EMBEDS_MAX
    assert all(len(e["description"]) <= DESCRIPTION_MAX for e in embeds)
    assert sum(len(discord.Embed.from_dict(e)) for e in embeds) <= TOTAL_MAX
    lines = "\n".join(e["description"] for e in embeds).splitlines()
    listed, more = listed_and_more(lines, "• [")
    assert listed + more == 300 and listed > 20


async def test_summary_after_a_dropped_connection_appears_once(
    fake: FakeDiscord, sink: DiscordSink
) -> None:
    fake.fail_next("POST", MESSAGES, 0, after_store=True, drop=True)
    summary = flood("discord", ALERTS, 3)
    failed = await delivery_error(sink.deliver_summary(summary))
    assert failed.retryable
    message_id = await sink.deliver_summary(summary)  # the outbox's retry: same nonce
    assert [m["id"] for m in fake.messages_in(ALERTS_CHANNEL_ID)] == [message_id]
    assert fake.nonce_hits == 1


async def test_summary_and_alert_nonces_differ(fake: FakeDiscord, sink: DiscordSink) -> None:
    summary = flood("discord", ALERTS, 1)
    await sink.deliver(alert(summary.id, "discord", ALERTS))  # the summary's number
    await sink.deliver_summary(summary)
    assert len(fake.messages_in(ALERTS_CHANNEL_ID)) == 2


async def test_update_story_edits_the_parent(fake: FakeDiscord, sink: DiscordSink) -> None:
    parent = alert(1, "discord", ALERTS)  # high severity: the role is mentioned
    message_id = await sink.deliver(parent)
    await sink.update_story(story_update(parent, message_id, sources=3))
    (edit,) = fake.edits
    assert edit["message_id"] == int(message_id)
    message = fake.messages[int(message_id)]
    (embed,) = message["embeds"]
    stamp = int(NOW.astimezone(UTC).timestamp())
    assert embed["description"].startswith(f"3 sources · last update <t:{stamp}:t>")
    assert embed["title"] == "ISKP report number 1" and embed["url"]
    assert message["content"] == "<@&345678901234567890>"  # left as it was
    assert edit["body"]["allowed_mentions"]["parse"] == []


async def test_update_story_retries_a_dropped_connection_and_gives_up_on_a_deleted_parent(
    fake: FakeDiscord, sink: DiscordSink
) -> None:
    parent = alert(1, "discord", ALERTS)
    message_id = await sink.deliver(parent)
    fake.fail_next("PATCH", rf"{MESSAGES}/{message_id}", 0, drop=True)
    failed = await delivery_error(sink.update_story(story_update(parent, message_id)))
    assert failed.retryable
    del fake.messages[int(message_id)]  # someone deleted it
    gone = await delivery_error(sink.update_story(story_update(parent, message_id)))
    assert not gone.retryable and "not found" in str(gone)


async def test_digest_is_an_embed_with_its_chart_attached(
    fake: FakeDiscord, sink: DiscordSink
) -> None:
    message_id = await sink.post_digest(ALERTS, digest(), "discord:1:2026-11-25")
    message = fake.messages[int(message_id)]
    (embed,) = message["embeds"]
    assert embed["title"] == "Daily digest · Wed 25 Nov 2026"
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert fields["Group"].splitlines() == ["ISKP **12** (+3)", "TTP **4** (−2)"]
    assert fields["Region"] == "Kabul **7** (=)"
    assert fields["First seen"] == "Jundallah (group) **2**"
    assert fields["Blind spots"] == "[Quiet Wire](https://quiet.example/feed): silent for 3d"
    assert (
        "1. [Blast at Kabul market](https://example.org/news/1) — 3 sources"
        in (embed["description"])
    )
    assert "2. Border talks resume — 1 source" in embed["description"]  # javascript: unlinked
    # The chart: uploaded as files[0] with the message, shown inside the embed.
    (upload,) = fake.requests_to("POST", MESSAGES)[-1].files
    assert upload["field"] == "files[0]" and upload["filename"] == "digest.png"
    assert fake.attachment_data(message, "digest.png") == png()
    assert Image.open(io.BytesIO(fake.attachment_data(message, "digest.png"))).format == "PNG"
    assert embed["image"]["url"] == message["attachments"][0]["url"]
    sent = fake.requests_to("POST", MESSAGES)[-1].json
    assert sent["embeds"][0]["image"]["url"] == "attachment://digest.png"
    assert sent["allowed_mentions"] == {"parse": []}


async def test_hostile_names_in_a_digest_are_inert(fake: FakeDiscord, sink: DiscordSink) -> None:
    message_id = await sink.post_digest(ALERTS, digest(hostile=True), "k")
    assert_inert(fake.messages[int(message_id)])


async def test_empty_digest_is_one_line(fake: FakeDiscord, sink: DiscordSink) -> None:
    message = fake.messages[int(await sink.post_digest(ALERTS, empty_digest(), "k"))]
    assert message["embeds"] == [] and message["attachments"] == []
    assert "\n" not in message["content"]
    assert message["content"].startswith("**Daily digest · Wed 25 Nov 2026**: no watched")


async def test_retried_digest_with_the_same_key_posts_once(
    fake: FakeDiscord, sink: DiscordSink
) -> None:
    fake.fail_next("POST", MESSAGES, 0, after_store=True, drop=True)
    failed = await delivery_error(sink.post_digest(ALERTS, digest(), "discord:1:2026-11-25"))
    assert failed.retryable
    first = await sink.post_digest(ALERTS, digest(), "discord:1:2026-11-25")
    again = await sink.post_digest(ALERTS, digest(), "discord:1:2026-11-25")
    assert first == again
    assert len(fake.messages_in(ALERTS_CHANNEL_ID)) == 1
    assert len(fake.attachments) == 1
    other_day = await sink.post_digest(ALERTS, digest(), "discord:1:2026-11-26")
    assert other_day != first
