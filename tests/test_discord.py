"""The Discord adapter end to end: the real discord.py client against a local fake Discord.

Feeds come from the local feed server, alerts go through the real outbox and
the real DiscordSink; every request body is validated against Discord's
OpenAPI spec by the fake (fake.errors must stay empty).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.app import App
from bot.errors import ConfigError
from tests.clock import Clock
from tests.conftest import chat_config
from tests.discord_fixtures import checked_fake
from tests.fakediscord import (
    ALERTS_CHANNEL_ID,
    MESSAGE_FLAG_EPHEMERAL,
    OPS_CHANNEL_ID,
    PERM_MANAGE_GUILD,
    FakeDiscord,
)
from tests.feedserver import FeedServer, item
from tests.story_items import (
    BORDER,
    DOVAL,
    DOVAL_MOSCOW,
    DUSHANBE,
    FLOODS,
    KUNDUZ_A,
    KUNDUZ_B,
)

ALERTS = str(ALERTS_CHANNEL_ID)
OPS = str(OPS_CHANNEL_ID)


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with checked_fake() as fake:
        yield fake


@pytest.fixture
def discord_settings(tmp_path: Path, watchlist_dir: Path, fake: FakeDiscord, monkeypatch):
    monkeypatch.setenv("TEST_DISCORD_TOKEN", fake.token)

    def make(
        feeds: list[dict[str, Any]],
        channels: list[str] = (ALERTS,),
        bot: dict[str, Any] | None = None,
        **discord: Any,
    ):
        section = {
            "token_env": "TEST_DISCORD_TOKEN",
            "api_base": fake.api_base,
            "gateway_url": fake.gateway_url,
            "guild_ready_timeout": "0.1s",
            "ready_timeout": "10s",
            **discord,
        }
        return chat_config(
            tmp_path, watchlist_dir, feeds, "discord", tuple(channels), section, **(bot or {})
        )

    return make


async def test_alert_is_an_embed_that_mentions_nobody(
    fake: FakeDiscord, feed_server: FeedServer, discord_settings
) -> None:
    url = feed_server.feed(
        "/a.xml",
        [
            item(
                1,
                "@everyone ISKP **claims** <@&123456789012345678> # attack",
                "<p>Islamic State Khorasan said @here [click](https://evil.example)</p>",
            )
        ],
    )
    async with App.open(discord_settings([{"url": url, "name": "Wire"}])) as app:
        report = await app.run_once()
    assert report.alerts == 1
    (message,) = fake.messages_in(ALERTS_CHANNEL_ID)
    post = fake.requests_to("POST", rf"/channels/{ALERTS}/messages")[0].json
    assert post["allowed_mentions"] == {"parse": []}
    assert post["enforce_nonce"] is True and post["nonce"]
    (embed,) = post["embeds"]
    assert embed["url"] == "https://example.org/news/1"
    # "<@&…>" is kept as escaped text, never a mention; "@everyone" gets a zero-width space.
    assert "@everyone" not in embed["title"] and "<@&" not in embed["title"]
    assert "\\*\\*claims\\*\\*" in embed["title"]
    assert "**ISKP**" in embed["description"]  # the matched words, in bold
    assert "@here" not in embed["description"]
    assert {"name": "Source", "value": "Wire", "inline": True} in embed["fields"]
    assert "content" not in post or not post["content"]
    assert message["embeds"]


async def test_alert_role_is_the_only_mention_and_only_on_high_severity(
    fake: FakeDiscord, feed_server: FeedServer, discord_settings
) -> None:
    role = "345678901234567890"
    url = feed_server.feed(
        "/a.xml", [item(1, "ISKP claims attack"), item(2, "Tajikistan border quiet")]
    )
    async with App.open(discord_settings([{"url": url}], alert_role_id=role)) as app:
        await app.run_once()
    posts = [r.json for r in fake.requests_to("POST", rf"/channels/{ALERTS}/messages")]
    high = next(p for p in posts if "ISKP" in p["embeds"][0]["title"])
    low = next(p for p in posts if "Tajikistan" in p["embeds"][0]["title"])
    assert high["content"] == f"<@&{role}>"
    assert high["allowed_mentions"]["roles"] in ([role], [int(role)])
    assert high["allowed_mentions"].get("parse", []) == []
    assert low["allowed_mentions"] == {"parse": []} and not low.get("content")


async def test_reply_in_thread_creates_the_thread_once(
    fake: FakeDiscord, feed_server: FeedServer, discord_settings
) -> None:
    """Later items of a story go into the thread on the first alert (issue 6 decides when)."""
    from bot.models import Alert, Item

    url = feed_server.feed("/a.xml", [item(1, "ISKP claims attack in Kabul")])
    async with App.open(discord_settings([{"url": url}])) as app:
        await app.run_once()
        (parent,) = fake.messages_in(ALERTS_CHANNEL_ID)
        follow_up = Item(url, "g2", "https://example.org/news/2", "ISKP: death toll rises")
        for n in (1001, 1002):
            reply = Alert(n, "discord", ALERTS, follow_up, (), app.clock(), reply_to=parent["id"])
            await app.sinks["discord"].deliver(reply)
    assert len(fake.threads) == 1
    thread_id = int(parent["id"])  # a thread started from a message has its id
    assert len(fake.messages_in(thread_id)) == 2
    created = fake.requests_to("POST", rf"/channels/{ALERTS}/messages/{parent['id']}/threads")
    assert len(created) == 1 and created[0].json["name"] == "ISKP: death toll rises"
    for r in fake.requests_to("POST", rf"/channels/{thread_id}/messages"):
        assert r.json["allowed_mentions"] == {"parse": []}


async def test_502_after_the_message_was_stored_posts_exactly_once(
    fake: FakeDiscord, feed_server: FeedServer, discord_settings
) -> None:
    fake.fail_next("POST", rf"/channels/{ALERTS}/messages", 502, after_store=True)
    url = feed_server.feed("/a.xml", [item(1, "ISKP claims attack")])
    async with App.open(discord_settings([{"url": url}])) as app:
        await app.run_once()
        pending = await app.storage.pending_count()
    # discord.py retried the 502 with the same nonce: Discord returned the stored message.
    assert len(fake.messages_in(ALERTS_CHANNEL_ID)) == 1
    assert len(fake.requests_to("POST", rf"/channels/{ALERTS}/messages")) == 2
    assert pending == 0


async def test_429_is_waited_out(
    fake: FakeDiscord, feed_server: FeedServer, discord_settings
) -> None:
    fake.fail_next("POST", rf"/channels/{ALERTS}/messages", 429)
    url = feed_server.feed("/a.xml", [item(1, "ISKP claims attack")])
    async with App.open(discord_settings([{"url": url}])) as app:
        await app.run_once()
        assert await app.storage.pending_count() == 0
    assert len(fake.messages_in(ALERTS_CHANNEL_ID)) == 1
    assert len(fake.requests_to("POST", rf"/channels/{ALERTS}/messages")) == 2


async def test_403_marks_the_channel_broken_and_others_continue(
    fake: FakeDiscord, feed_server: FeedServer, discord_settings
) -> None:
    fake.fail_next("POST", rf"/channels/{ALERTS}/messages", 403, times=5)
    url = feed_server.feed("/a.xml", [item(1, "ISKP claims attack"), item(2, "ISKP again")])
    settings = discord_settings([{"url": url}], channels=[ALERTS, OPS])
    async with App.open(settings) as app:
        await app.run_once()
        broken = await app.storage.broken_channels()
        rows = await app.storage.outbox_rows()
    assert ("discord", ALERTS) in broken and "permission" in broken[("discord", ALERTS)]
    assert len(fake.messages_under(OPS_CHANNEL_ID)) == 2  # one story: parent and reply
    assert len(fake.requests_to("POST", rf"/channels/{ALERTS}/messages")) == 1  # no hammering
    assert sum(r["status"] == "pending" for r in rows if r["channel_id"] == ALERTS) == 2


async def test_missing_and_rejected_tokens_are_one_clear_error(
    fake: FakeDiscord, discord_settings, monkeypatch
) -> None:
    settings = discord_settings([])
    monkeypatch.delenv("TEST_DISCORD_TOKEN")
    with pytest.raises(ConfigError, match="TEST_DISCORD_TOKEN is not set"):
        async with App.open(settings):
            pass
    monkeypatch.setenv("TEST_DISCORD_TOKEN", "not-the-token")
    with pytest.raises(ConfigError, match="rejected the token in TEST_DISCORD_TOKEN"):
        async with App.open(settings):
            pass


async def test_only_the_guilds_intent_is_requested(fake: FakeDiscord, discord_settings) -> None:
    async with App.open(discord_settings([])):
        pass
    assert fake.intents == 1  # GUILDS only: no message content, no members


def _edits(fake: FakeDiscord) -> list:
    return fake.requests_to("PATCH", r"/webhooks/\d+/[^/]+/messages/@original")


async def run_command(
    fake: FakeDiscord, name: str, options: dict[str, Any], permissions: int
) -> str:
    """Dispatch a slash command and return the bot's answer.

    The bot acknowledges at once with an ephemeral deferral, then edits that
    response with the answer.
    """
    before = len(_edits(fake))
    payload = fake.interaction(name, options, permissions=permissions)
    await fake.dispatch("INTERACTION_CREATE", payload)
    await fake.wait_for(lambda: len(_edits(fake)) > before, timeout=10)
    (ack,) = [
        r
        for r in fake.requests_to("POST", r"/interactions/\d+/[^/]+/callback")
        if r.path.split("/")[2] == str(payload["id"])
    ]
    assert ack.json["type"] == 5 and ack.json["data"]["flags"] & MESSAGE_FLAG_EPHEMERAL
    edit = _edits(fake)[-1].json
    assert edit["allowed_mentions"] == {"parse": []}
    return edit["content"]


async def test_slash_commands_manage_watch_terms(
    fake: FakeDiscord, feed_server: FeedServer, discord_settings
) -> None:
    manager, member = PERM_MANAGE_GUILD, 0
    settings = discord_settings([], guild_ids=[str(fake_guild())])
    async with App.open(settings) as app:
        assert fake.command_puts, "commands were registered"
        names = {c["name"] for c in fake.commands[fake_guild()]}
        assert {"watch", "feeds", "digest"} <= names
        text = await run_command(
            fake, "watch add", {"term": "Wilayat Khurasan", "entity": "iskp"}, manager
        )
        assert "Now watching `Wilayat Khurasan`" in text
        text = await run_command(fake, "watch add", {"term": "Something Else"}, member)
        assert "permission" in text
        text = await run_command(fake, "watch add", {"term": "bad <@&1> term"}, manager)
        assert "markup" in text
        text = await run_command(fake, "watch list", {}, member)
        assert "iskp" in text
        text = await run_command(
            fake, "watch mute", {"entity": "tajikistan", "duration": "2h"}, manager
        )
        assert "Muted `tajikistan` for 2h" in text
        text = await run_command(fake, "watch mute", {"entity": "nope"}, manager)
        assert "No entity `nope`" in text
        text = await run_command(fake, "feeds add", {"url": "ftp://example.org/x"}, manager)
        assert "http" in text
        url = feed_server.feed("/new.xml", [item(1, "Tajikistan news")])
        text = await run_command(fake, "feeds add", {"url": url}, manager)
        assert "Added" in text
        assert url.rstrip("/") in {u.rstrip("/") for u in app.feeds}
        text = await run_command(fake, "feeds status", {}, member)
        assert "Status of" in text
        text = await run_command(fake, "watch test", {"term": "Khurasan", "days": 7}, member)
        assert "would have matched" in text


def fake_guild() -> int:
    from tests.fakediscord import GUILD_ID

    return GUILD_ID


async def test_every_other_slash_command(
    fake: FakeDiscord, feed_server: FeedServer, discord_settings
) -> None:
    manager, member = PERM_MANAGE_GUILD, 0
    url = feed_server.feed("/chat.xml", [item(1, "Tajikistan news")])
    async with App.open(discord_settings([], guild_ids=[str(fake_guild())])):
        # Autocomplete offers entity ids, best prefix first.
        await fake.dispatch(
            "INTERACTION_CREATE",
            fake.autocomplete("watch mute", {"entity": "ta"}, focused="entity"),
        )
        choices = await fake.wait_for(
            lambda: [
                r.json["data"]["choices"]
                for r in fake.requests_to("POST", r"/interactions/\d+/[^/]+/callback")
                if r.json["type"] == 8
            ]
        )
        assert choices[0][0]["value"] == "tajikistan"

        assert "Muted" in await run_command(fake, "watch mute", {"entity": "tajikistan"}, manager)
        assert "permission" in await run_command(
            fake, "watch unmute", {"entity": "tajikistan"}, member
        )
        assert "Unmuted" in await run_command(
            fake, "watch unmute", {"entity": "tajikistan"}, manager
        )
        assert "Now watching" in await run_command(
            fake, "watch add", {"term": "Jundallah"}, manager
        )
        assert "Stopped watching `Jundallah`" in await run_command(
            fake, "watch remove", {"term": "Jundallah"}, manager
        )
        assert "is not watched" in await run_command(
            fake, "watch remove", {"term": "Jundallah"}, manager
        )
        assert "permission" in await run_command(fake, "watch remove", {"term": "ISKP"}, member)
        assert "Added" in await run_command(
            fake, "feeds add", {"url": url, "name": "Chat"}, manager
        )
        assert "Chat" in await run_command(fake, "feeds list", {}, member)
        assert "permission" in await run_command(fake, "feeds remove", {"url": url}, member)
        assert "Stopped polling" in await run_command(fake, "feeds remove", {"url": url}, manager)
        assert "Posted the digest" in await run_command(fake, "digest now", {}, member)
        (digest,) = [m for m in fake.messages_in(ALERTS_CHANNEL_ID) if "digest" in m["content"]]
        assert "\n" not in digest["content"]  # nothing was mentioned: one line
        assert "Page 9 does not exist" in await run_command(fake, "watch list", {"page": 9}, member)
        # A choice option arrives as its value (the commands are generated from the catalogue).
        assert "Watching 1 person" in await run_command(
            fake, "watch list", {"kind": "person"}, member
        )


async def test_unreachable_discord_is_one_clear_error(discord_settings) -> None:
    import socket

    from bot.errors import PlatformUnreachable

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = discord_settings([], api_base=f"http://127.0.0.1:{port}/api/v10")
    with pytest.raises(PlatformUnreachable, match="cannot reach Discord"):
        async with App.open(settings):
            pass


async def test_a_story_from_two_feeds_is_one_alert_a_reply_in_its_thread_and_an_edit(
    fake: FakeDiscord, feed_server: FeedServer, discord_settings
) -> None:
    a = feed_server.feed("/a.xml", [KUNDUZ_A])
    b = feed_server.feed("/b.xml", [DUSHANBE, KUNDUZ_B])
    async with App.open(discord_settings([{"url": a}, {"url": b}])) as app:
        await app.poll_feed(app.feeds[a])
        await app.poll_feed(app.feeds[b])
        await app.outbox.drain()
    top = fake.messages_in(ALERTS_CHANNEL_ID)
    assert [m["embeds"][0]["title"] for m in top] == [KUNDUZ_A["title"], DUSHANBE["title"]]
    parent = top[0]
    (reply,) = fake.messages_in(int(parent["id"]))  # the thread started from the parent
    assert KUNDUZ_B["title"] in json.dumps(reply)
    assert fake.threads[int(parent["id"])]["name"] == KUNDUZ_A["title"]
    (edit,) = fake.edits
    assert edit["message_id"] == int(parent["id"])
    assert "2 sources" in json.dumps(edit["body"])
    assert fake.errors == []


async def test_a_burst_past_the_flood_cap_becomes_one_summary_when_the_window_ends(
    fake: FakeDiscord, feed_server: FeedServer, discord_settings
) -> None:
    clock = Clock()
    # Feeds list newest first; these share a date, so they alert bottom-up.
    url = feed_server.feed("/a.xml", [FLOODS, DOVAL_MOSCOW, KUNDUZ_A, DOVAL, BORDER])
    settings = discord_settings([{"url": url}], bot={"flood_cap": 2, "flood_window": "10m"})
    async with App.open(settings, clock=clock) as app:
        await app.run_once()
        # Two alerts fill the window; the high-severity ISKP alert is never held.
        posted = [m["embeds"][0]["title"] for m in fake.messages_in(ALERTS_CHANNEL_ID)]
        assert sorted(posted) == sorted(i["title"] for i in (BORDER, DOVAL, KUNDUZ_A))
        clock.advance(600)
        await app.outbox.drain()
        assert await app.storage.pending_count() == 0
    summary = fake.messages_in(ALERTS_CHANNEL_ID)[-1]
    text = json.dumps(summary["embeds"], ensure_ascii=False)
    assert "2 more alerts" in text
    for held in (FLOODS, DOVAL_MOSCOW):
        assert held["title"] in text and held["link"] in text
    last_post = fake.requests_to("POST", rf"/channels/{ALERTS}/messages")[-1]
    assert last_post.json["allowed_mentions"] == {"parse": []}
    assert fake.errors == []


async def test_health_check_follows_the_gateway_connection(
    fake: FakeDiscord, feed_server: FeedServer, discord_settings
) -> None:
    """/healthz's chat:discord check: up once READY, down when the gateway is gone."""
    url = feed_server.feed("/a.xml", [item(1, "ISKP report")])
    async with App.open(discord_settings([{"url": url}])) as app:
        assert app.health_checks()["chat:discord"].ok
        await fake.close_gateway(4004)  # "authentication failed": discord.py gives up
        for _ in range(500):  # bounded: discord.py notices the close within moments
            if not app.health_checks()["chat:discord"].ok:
                break
            await asyncio.sleep(0.01)
        assert app.health_checks()["chat:discord"].detail == "not connected"
