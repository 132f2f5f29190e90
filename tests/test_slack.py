"""The Slack adapter end to end: real slack_sdk / slack-bolt against a local fake Slack."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest

from bot.app import App
from bot.delivery.outbox import retry_delay
from bot.errors import ConfigError
from tests.clock import Clock
from tests.conftest import chat_config
from tests.fakeslack import FakeSlack, signed_request
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

NEWS, ALERTS, GONE = "C0123ABCD", "C0456EFGH", "C0999ZZZZ"


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch) -> None:
    # slack_sdk reads HTTP(S)_PROXY itself and ignores NO_PROXY.
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    async with FakeSlack(channels={NEWS: "news", ALERTS: "alerts"}) as fake:
        yield fake


@pytest.fixture
def slack_settings(tmp_path: Path, watchlist_dir: Path, fake: FakeSlack, monkeypatch):
    monkeypatch.setenv("T_SLACK_BOT", fake.bot_token)
    monkeypatch.setenv("T_SLACK_APP", fake.app_token)
    monkeypatch.setenv("T_SLACK_SECRET", fake.signing_secret)

    def make(
        feeds: list[dict[str, Any]],
        channels=(NEWS,),
        bot: dict[str, Any] | None = None,
        **slack: Any,
    ):
        section = {
            "bot_token_env": "T_SLACK_BOT",
            "app_token_env": "T_SLACK_APP",
            "signing_secret_env": "T_SLACK_SECRET",
            "api_base": fake.api_base,
            **slack,
        }
        return chat_config(
            tmp_path, watchlist_dir, feeds, "slack", tuple(channels), section, **(bot or {})
        )

    return make


async def test_alert_blocks_are_inert_and_carry_the_outbox_id(
    fake: FakeSlack, feed_server: FeedServer, slack_settings
) -> None:
    url = feed_server.feed(
        "/a.xml", [item(1, "ISKP claims attack <!channel> <@U0BOT> &amp; more", "ISKP said")]
    )
    async with App.open(slack_settings([{"url": url, "name": "Wire"}])) as app:
        assert (await app.run_once()).alerts == 1
    (post,) = fake.calls("chat.postMessage")
    p = post["params"]
    blocks = json.loads(p["blocks"]) if isinstance(p["blocks"], str) else p["blocks"]
    section = blocks[0]["text"]["text"]
    assert "<!channel>" not in section and "&lt;!channel&gt;" in section
    assert "<@U0BOT>" not in section and "&amp;" in section
    assert section.startswith("*<https://example.org/news/1|")
    assert str(p["unfurl_links"]).lower() == "false"
    meta = json.loads(p["metadata"]) if isinstance(p["metadata"], str) else p["metadata"]
    assert meta["event_type"] == "newswatch_alert" and meta["event_payload"]["outbox_id"] >= 1
    assert "<!channel>" not in p["text"]
    assert fake.errors == []


async def test_thread_reply_uses_thread_ts_as_text(
    fake: FakeSlack, feed_server: FeedServer, slack_settings
) -> None:
    from bot.models import Alert, Item

    url = feed_server.feed("/a.xml", [item(1, "ISKP claims attack")])
    async with App.open(slack_settings([{"url": url}])) as app:
        await app.run_once()
        (parent,) = fake.posted(NEWS)
        rows = await app.storage.outbox_rows()
        assert rows[0]["message_id"] == parent["ts"]  # stored as text, all digits kept
        reply = Alert(
            99,
            "slack",
            NEWS,
            Item(url, "g2", "https://example.org/news/2", "ISKP: toll rises"),
            (),
            app.clock(),
            reply_to=parent["ts"],
        )
        await app.sinks["slack"].deliver(reply)
    (call,) = fake.calls("chat.postMessage")[1:]
    assert call["params"]["thread_ts"] == parent["ts"]
    assert fake.errors == []


async def test_429_waits_retry_after_then_posts_once(
    fake: FakeSlack, feed_server: FeedServer, slack_settings
) -> None:
    fake.fail_next("chat.postMessage", retry_after=30)
    clock = Clock()
    url = feed_server.feed("/a.xml", [item(1, "ISKP claims attack")])
    async with App.open(slack_settings([{"url": url}]), clock=clock) as app:
        await app.run_once()
        (row,) = await app.storage.outbox_rows()
        assert row["status"] == "pending"
        assert row["next_attempt_at"] - clock.now.timestamp() == pytest.approx(30)
        clock.advance(30)
        await app.outbox.drain()
    assert len(fake.posted(NEWS)) == 1


async def test_dropped_connection_after_store_posts_exactly_once(
    fake: FakeSlack, feed_server: FeedServer, slack_settings
) -> None:
    fake.fail_next("chat.postMessage", drop_after_store=True)
    clock = Clock()
    url = feed_server.feed("/a.xml", [item(1, "ISKP claims attack")])
    async with App.open(slack_settings([{"url": url}]), clock=clock) as app:
        await app.run_once()
        assert len(fake.posted(NEWS)) == 1  # Slack has it, the bot does not know
        assert await app.storage.pending_count() == 1
        clock.advance(retry_delay(1))
        await app.outbox.drain()
        assert await app.storage.pending_count() == 0
    assert len(fake.posted(NEWS)) == 1
    assert len(fake.calls("chat.postMessage")) == 1
    assert fake.calls("conversations.history")


async def test_an_answer_that_is_not_json_is_a_server_error_retried_once(
    fake: FakeSlack, feed_server: FeedServer, slack_settings, caplog
) -> None:
    fake.fail_next("chat.postMessage", status=502, raw_body="<html>502 Bad Gateway</html>")
    clock = Clock()
    url = feed_server.feed("/a.xml", [item(1, "ISKP claims attack")])
    async with App.open(slack_settings([{"url": url}]), clock=clock) as app:
        await app.run_once()
        assert await app.storage.pending_count() == 1
        clock.advance(retry_delay(1))
        await app.outbox.drain()
        assert await app.storage.pending_count() == 0
    assert len(fake.posted(NEWS)) == 1
    assert "failed unexpectedly" not in caplog.text  # understood, not a sink bug
    assert "Slack server error (502" in caplog.text


async def test_channel_not_found_breaks_only_that_channel(
    fake: FakeSlack, feed_server: FeedServer, slack_settings
) -> None:
    url = feed_server.feed("/a.xml", [item(1, "ISKP claims attack"), item(2, "ISKP again")])
    async with App.open(slack_settings([{"url": url}], channels=(GONE, ALERTS))) as app:
        await app.run_once()
        broken = await app.storage.broken_channels()
    assert "channel_not_found" in broken[("slack", GONE)]
    assert len(fake.posted(ALERTS)) == 2
    assert sum(c["params"]["channel"] == GONE for c in fake.calls("chat.postMessage")) == 1


async def test_tokens_are_checked_at_start(fake: FakeSlack, slack_settings, monkeypatch) -> None:
    settings = slack_settings([])
    monkeypatch.setenv("T_SLACK_BOT", "xoxb-wrong")
    with pytest.raises(ConfigError, match="rejected the token in T_SLACK_BOT"):
        async with App.open(settings):
            pass
    monkeypatch.delenv("T_SLACK_BOT")
    with pytest.raises(ConfigError, match="T_SLACK_BOT is not set"):
        async with App.open(settings):
            pass


async def command(fake: FakeSlack, text: str, user: str, cmd: str = "/watch", **kw) -> str:
    """Send a slash command over Socket Mode; return what the user sees (ack or response)."""
    before = len(fake.responses)
    ack = await fake.send_slash_command(command=cmd, text=text, user_id=user, channel_id=NEWS, **kw)
    answer = (ack.get("payload") or {}).get("text", "")
    if answer == "Working on it…":
        await fake.wait_for(lambda: len(fake.responses) > before, timeout=10)
        response = fake.responses[-1]
        body = response.get("json") or response.get("body") or response
        return body["text"] if isinstance(body, dict) else str(body)
    return answer


async def test_socket_mode_commands(
    fake: FakeSlack, feed_server: FeedServer, slack_settings
) -> None:
    settings = slack_settings([], managers=["U0MANAGER"])
    async with App.open(settings) as app:
        await fake.wait_for_socket()
        assert "Now watching `Wilayat Khurasan`" in await command(
            fake, "add Wilayat Khurasan to iskp", "U0MANAGER"
        )
        assert "permission" in await command(fake, "add Something Else", "U0OTHER")
        assert "Usage" in await command(fake, "help", "U0OTHER")
        assert "Unknown subcommand `frob`" in await command(fake, "frob", "U0OTHER")
        assert "iskp" in await command(fake, "list", "U0OTHER")
        assert "Muted `tajikistan`" in await command(fake, "mute tajikistan 2h", "U0MANAGER")
        assert "would have matched" in await command(fake, "test Khurasan 7", "U0OTHER")
        url = feed_server.feed("/chat.xml", [item(1, "Tajikistan news")])
        assert "Added" in await command(fake, f"add <{url}> Chat", "U0MANAGER", cmd="/feeds")
        assert "Chat" in await command(fake, "list", "U0OTHER", cmd="/feeds")
        assert "Posted the digest" in await command(fake, "now", "U0OTHER", cmd="/digest")
        digests = [
            m
            for m in fake.posted(NEWS)
            if (m.get("metadata") or {}).get("event_type") == "newswatch_digest"
        ]
        assert len(digests) == 1 and len(digests[0]["blocks"]) == 1  # empty: one line
        # Slack retries a command it thinks timed out: the term is not added twice.
        ack = await fake.send_slash_command(
            command="/watch", text="add Jundallah", user_id="U0MANAGER", channel_id=NEWS
        )
        await fake.resend(ack["envelope_id"], retry_attempt=1, retry_reason="timeout")
        terms = [t.term for t in await app.storage.chat_terms()]
        assert terms.count("Jundallah") == 1
        # Every managing command checks permission.
        for cmd, text in [
            ("/watch", "remove Jundallah"),
            ("/watch", "mute iskp"),
            ("/watch", "unmute tajikistan"),
            ("/feeds", f"add {url}"),
            ("/feeds", f"remove {url}"),
        ]:
            assert "permission" in await command(fake, text, "U0OTHER", cmd=cmd), text
        assert "Stopped watching `Jundallah`" in await command(
            fake, "remove Jundallah", "U0MANAGER"
        )
        assert "Unmuted" in await command(fake, "unmute tajikistan", "U0MANAGER")
        assert "Stopped polling" in await command(fake, f"remove {url}", "U0MANAGER", cmd="/feeds")
        assert "Status of" in await command(fake, "status", "U0OTHER", cmd="/feeds")
    assert fake.errors == []


async def test_a_digest_now_that_slack_delivers_twice_is_posted_once(
    fake: FakeSlack, slack_settings
) -> None:
    async with App.open(slack_settings([])) as app:
        await fake.wait_for_socket()
        ack = await fake.send_slash_command(
            command="/digest", text="now", user_id="U0OTHER", channel_id=NEWS
        )
        await fake.wait_for(lambda: len(fake.responses) == 1, timeout=10)
        # Slack thought the command timed out and sends it again, trigger_id and all.
        await fake.resend(ack["envelope_id"], retry_attempt=1, retry_reason="timeout")
        await fake.wait_for(lambda: len(fake.responses) == 2, timeout=10)
        assert await app.storage.pending_count() == 0
    digests = [
        m
        for m in fake.posted(NEWS)
        if (m.get("metadata") or {}).get("event_type") == "newswatch_digest"
    ]
    assert len(digests) == 1
    assert all("Posted the digest" in r["body"]["text"] for r in fake.responses)
    assert fake.errors == []


async def test_without_managers_anyone_in_an_alert_channel_manages(
    fake: FakeSlack, slack_settings
) -> None:
    async with App.open(slack_settings([])):
        await fake.wait_for_socket()
        ack = await fake.send_slash_command(
            command="/watch", text="add Jundallah", user_id="U0ANY", channel_id=NEWS
        )
        assert "Now watching" in ack["payload"]["text"]
        ack = await fake.send_slash_command(
            command="/watch", text="add Jaish al-Adl", user_id="U0ANY", channel_id="C0ELSEWHERE"
        )
        assert "permission" in ack["payload"]["text"]


async def test_http_mode_verifies_signatures(fake: FakeSlack, slack_settings, unused_port) -> None:
    settings = slack_settings([], mode="http", host="127.0.0.1", port=unused_port, managers=["U1"])
    url = f"http://127.0.0.1:{unused_port}/slack/events"
    form = {
        "command": "/watch",
        "text": "add Jundallah",
        "user_id": "U1",
        "user_name": "ana",
        "channel_id": NEWS,
        "team_id": "T0FAKE",
        "response_url": fake.new_response_url(),
        "trigger_id": "1.2.3",
    }
    body = urlencode(form).encode()
    now = int(time.time())
    cases = [
        (signed_request(fake.signing_secret, body, now - 600), 401),  # too old
        (signed_request("wrong-secret", body, now), 401),
        ({**signed_request(fake.signing_secret, body, now), "X-Slack-Signature": "v0=bad"}, 401),
        (signed_request(fake.signing_secret, body, now), 200),
    ]
    async with App.open(settings) as app, aiohttp.ClientSession() as http:
        for headers, status in cases:
            headers = {**headers, "Content-Type": "application/x-www-form-urlencoded"}
            async with http.post(url, data=body, headers=headers) as resp:
                assert resp.status == status
                if status == 200:
                    assert "Now watching" in (await resp.json())["text"]
            added = [t.term for t in await app.storage.chat_terms()]
            assert added == ([] if status == 401 else ["Jundallah"])


@pytest.fixture
def unused_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_unreachable_slack_is_one_clear_error(slack_settings, unused_port) -> None:
    from bot.errors import PlatformUnreachable

    settings = slack_settings([], api_base=f"http://127.0.0.1:{unused_port}/api/")
    with pytest.raises(PlatformUnreachable, match="cannot reach Slack"):
        async with App.open(settings):
            pass


async def test_a_story_from_two_feeds_is_one_alert_a_reply_in_its_thread_and_an_update(
    fake: FakeSlack, feed_server: FeedServer, slack_settings
) -> None:
    a = feed_server.feed("/a.xml", [KUNDUZ_A])
    b = feed_server.feed("/b.xml", [DUSHANBE, KUNDUZ_B])
    async with App.open(slack_settings([{"url": a}, {"url": b}])) as app:
        await app.poll_feed(app.feeds[a])
        await app.poll_feed(app.feeds[b])
        await app.outbox.drain()
    messages = fake.posted(NEWS)
    top = [m for m in messages if m.get("thread_ts") in (None, m["ts"])]
    replies = [m for m in messages if m.get("thread_ts") not in (None, m["ts"])]
    assert [KUNDUZ_A["title"] in m["text"] for m in top] == [True, False]
    (reply,) = replies
    assert reply["thread_ts"] == top[0]["ts"] and KUNDUZ_B["title"] in reply["text"]
    (update,) = fake.updates
    assert update["ts"] == top[0]["ts"]
    assert "2 sources" in json.dumps(update["blocks"])
    assert fake.errors == []


async def test_a_burst_past_the_flood_cap_becomes_one_summary_when_the_window_ends(
    fake: FakeSlack, feed_server: FeedServer, slack_settings
) -> None:
    clock = Clock()
    # Feeds list newest first; these share a date, so they alert bottom-up.
    url = feed_server.feed("/a.xml", [FLOODS, DOVAL_MOSCOW, KUNDUZ_A, DOVAL, BORDER])
    settings = slack_settings([{"url": url}], bot={"flood_cap": 2, "flood_window": "10m"})
    async with App.open(settings, clock=clock) as app:
        await app.run_once()
        # Two alerts fill the window; the high-severity ISKP alert is never held.
        assert len(fake.posted(NEWS)) == 3
        clock.advance(600)
        await app.outbox.drain()
        assert await app.storage.pending_count() == 0
    summary = fake.posted(NEWS)[-1]
    text = json.dumps(summary["blocks"], ensure_ascii=False)
    assert "2 more alerts" in summary["text"]
    for held in (FLOODS, DOVAL_MOSCOW):
        assert held["link"] in text
    assert summary["metadata"]["event_type"] == "newswatch_summary"
    assert fake.errors == []
