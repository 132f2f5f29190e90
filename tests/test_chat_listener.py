"""Delivery without the command connection (issue 15), with the real discord.py and
slack-bolt clients against the local fakes.

With several instances on one database every instance delivers through the REST /
Web APIs, and exactly one holds the command connection (Discord's gateway, Slack's
Socket Mode or HTTP events server). These tests pin the sink side of that: `start()`
alone delivers everything and opens no command connection; `start_listener()` opens
exactly one, `stop_listener()` closes it while delivery goes on, and it can be opened
again; a slash command is answered once. They also check the fakes' own records of
sessions and requests in flight, which the multi-process test relies on.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.app import App
from bot.chat.base import DELIVERY_ONLY, connection_state
from bot.chat.discord.settings import discord_settings as parse_discord_settings
from bot.chat.discord.sink import DiscordSink
from bot.chat.slack import sink as slack_sink
from bot.chat.slack.sink import SlackSink
from bot.chat.slack.sink import slack_settings as parse_slack_settings
from tests.conftest import chat_config
from tests.discord_fixtures import checked_fake
from tests.fakecontent import alert, digest, flood, story_update
from tests.fakediscord import ALERTS_CHANNEL_ID, GUILD_ID, PERM_MANAGE_GUILD, FakeDiscord
from tests.fakeslack import FakeSlack
from tests.intervals import Span, overlapping

ALERTS = str(ALERTS_CHANNEL_ID)
NEWS = "C0123ABCD"


# ---------------------------------------------------------------- the fakes' records


def test_spans_overlap_only_when_open_at_one_instant() -> None:
    a, b, c = Span(0.0, 1.0), Span(1.0, 2.0), Span(1.5, None)  # c is still open
    assert overlapping([a, b]) == []  # one closed as the other opened
    assert overlapping([c, a, b]) == [(b, c)]
    assert overlapping([Span(0.0, None), Span(5.0, 6.0)]) != []


# ---------------------------------------------------------------- Discord


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with checked_fake() as fake:
        yield fake


def discord_section(fake: FakeDiscord) -> dict[str, Any]:
    return {
        "token_env": "TEST_DISCORD_TOKEN",
        "api_base": fake.api_base,
        "gateway_url": fake.gateway_url,
        "guild_ready_timeout": "0.1s",
        "ready_timeout": "10s",
        "guild_ids": [str(GUILD_ID)],
    }


@pytest.fixture
async def rest_sink(fake: FakeDiscord, tmp_path: Path, monkeypatch) -> AsyncIterator[DiscordSink]:
    """A Discord sink started for delivery only, as on an instance that does not listen."""
    monkeypatch.setenv("TEST_DISCORD_TOKEN", fake.token)
    path = tmp_path / "bot.toml"
    sink = DiscordSink(parse_discord_settings(discord_section(fake), path), path)
    await sink.start()
    try:
        yield sink
    finally:
        await sink.close()


async def test_discord_delivers_everything_over_rest_without_a_gateway_session(
    fake: FakeDiscord, rest_sink: DiscordSink
) -> None:
    parent = alert(1, "discord", ALERTS)
    parent_id = await rest_sink.deliver(parent)
    await rest_sink.deliver(alert(2, "discord", ALERTS, reply_to=parent_id))  # opens a thread
    await rest_sink.deliver(alert(3, "discord", ALERTS, reply_to=parent_id))  # in the thread
    await rest_sink.update_story(story_update(parent, parent_id))
    await rest_sink.deliver_summary(flood("discord", ALERTS, 4))
    digest_id = await rest_sink.post_digest(ALERTS, digest(), "2026-11-25")

    assert fake.gateway_sessions == [] and fake.identifies == []
    assert len(fake.messages_in(ALERTS_CHANNEL_ID)) == 3  # alert, summary, digest
    (thread,) = fake.threads
    assert thread == int(parent_id) and len(fake.messages_in(thread)) == 2
    assert [str(e["message_id"]) for e in fake.edits] == [parent_id]
    chart = fake.messages[int(digest_id)]["attachments"]
    assert len(chart) == 1 and chart[0]["filename"].endswith(".png")
    assert rest_sink.connected and not rest_sink.listening
    assert connection_state(rest_sink) == (True, DELIVERY_ONLY)


@pytest.fixture
def discord_app_settings(tmp_path: Path, watchlist_dir: Path, fake: FakeDiscord, monkeypatch):
    monkeypatch.setenv("TEST_DISCORD_TOKEN", fake.token)
    return chat_config(tmp_path, watchlist_dir, [], "discord", (ALERTS,), discord_section(fake))


def callbacks_for(fake: FakeDiscord, interaction_id: int) -> list:
    return [
        r
        for r in fake.requests_to("POST", r"/interactions/\d+/[^/]+/callback")
        if r.path.split("/")[2] == str(interaction_id)
    ]


async def slash_list(fake: FakeDiscord) -> tuple[int, str]:
    """`/watch list` from a manager; (interaction id, the answer shown)."""
    edits = r"/webhooks/\d+/[^/]+/messages/@original"
    before = len(fake.requests_to("PATCH", edits))
    payload = fake.interaction("watch list", {}, permissions=PERM_MANAGE_GUILD)
    await fake.dispatch("INTERACTION_CREATE", payload)
    await fake.wait_for(lambda: len(fake.requests_to("PATCH", edits)) > before, timeout=10)
    return int(payload["id"]), fake.requests_to("PATCH", edits)[-1].json["content"]


async def test_discord_listener_stops_and_starts_while_delivery_goes_on(
    fake: FakeDiscord, discord_app_settings
) -> None:
    """The default path (start, then start_listener) and a holder that loses and
    regains the command connection."""
    async with App.open(discord_app_settings) as app:
        sink = app.sinks["discord"]
        assert isinstance(sink, DiscordSink)
        (first,) = fake.gateway_sessions
        assert first.open and first.info["identified"] and sink.listening
        assert fake.command_puts, "slash commands registered by the listener"
        assert app.health_checks()["chat:discord"].detail == "connected"
        interaction, answer = await slash_list(fake)
        assert "iskp" in answer and fake.interaction_responses[interaction] == 1

        await sink.stop_listener()
        await sink.stop_listener()  # idempotent
        await fake.wait_for(lambda: not first.open)
        assert not sink.listening and fake.live_gateway_sessions == 0
        check = app.health_checks()["chat:discord"]
        assert check.ok and check.detail == DELIVERY_ONLY
        posted = await sink.deliver(alert(1, "discord", ALERTS))
        assert int(posted) in fake.messages and len(fake.gateway_sessions) == 1

        await sink.start_listener()
        await sink.start_listener()  # idempotent: still one session
        assert len(fake.gateway_sessions) == 2 and fake.gateway_sessions[1].open
        assert sink.listening and app.health_checks()["chat:discord"].detail == "connected"
        interaction, answer = await slash_list(fake)
        assert "iskp" in answer
        assert fake.interaction_responses[interaction] == 1
        assert len(callbacks_for(fake, interaction)) == 1
    await fake.wait_for(lambda: not any(s.open for s in fake.gateway_sessions))
    assert fake.gateway_overlaps() == []


async def test_discord_stop_during_the_gateway_handshake_leaves_no_session(
    fake: FakeDiscord, rest_sink: DiscordSink
) -> None:
    """A listener stopped mid-handshake (the lock lost while connecting) leaves no
    socket open: left open it would become a second session beside the next holder's.
    The start returns instead of raising or waiting for its READY timeout."""
    fake.hello_released.clear()
    starting = asyncio.create_task(rest_sink.start_listener())
    (span,) = await fake.wait_for(lambda: fake.gateway_sessions)
    stopping = asyncio.create_task(rest_sink.stop_listener())
    await asyncio.wait_for(starting, timeout=10)  # returns: stopped first
    fake.hello_released.set()  # the fake reads the close frame only after HELLO
    await stopping
    await fake.wait_for(lambda: not span.open)
    assert fake.identifies == [] and not rest_sink.listening
    await rest_sink.deliver(alert(1, "discord", ALERTS))  # REST unaffected
    await rest_sink.start_listener()
    assert fake.live_gateway_sessions == 1 and fake.gateway_overlaps() == []


async def test_fake_discord_sees_two_listeners_and_overlapping_creates(
    fake: FakeDiscord, discord_app_settings
) -> None:
    """What the multi-instance test must never see, shown to be seen: two instances
    both listening answer one slash command twice, and two creates for one channel
    are in flight together."""
    async with App.open(discord_app_settings) as one, App.open(discord_app_settings) as two:
        assert len(fake.gateway_overlaps()) == 1 and fake.live_gateway_sessions == 2
        peers = {s.info["peer"] for s in fake.gateway_sessions}  # tells the clients apart
        assert len(peers) == 2 and None not in peers
        payload = fake.interaction("watch list", {}, permissions=PERM_MANAGE_GUILD)
        await fake.dispatch("INTERACTION_CREATE", payload)
        await fake.wait_for(lambda: fake.interaction_responses[int(payload["id"])] == 2)
        assert len(callbacks_for(fake, int(payload["id"]))) == 2  # the second is refused

        sinks = [one.sinks["discord"], two.sinks["discord"]]
        fake.create_latency = 0.2  # holds each create, as Discord's latency would
        await asyncio.gather(*(s.deliver(alert(n, "discord", ALERTS)) for n, s in enumerate(sinks)))
        assert len(fake.create_overlaps(ALERTS_CHANNEL_ID)) == 1
        fake.creates.clear()
        for n, sink in enumerate(sinks, start=10):
            await sink.deliver(alert(n, "discord", ALERTS))
        assert fake.create_overlaps() == [] and len(fake.creates[ALERTS_CHANNEL_ID]) == 2


# ---------------------------------------------------------------- Slack


@pytest.fixture
def _no_proxy(monkeypatch) -> None:
    # slack_sdk reads HTTP(S)_PROXY itself and ignores NO_PROXY.
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(slack_sink, "PACE", 0.0)


@pytest.fixture
async def slack(_no_proxy, monkeypatch) -> AsyncIterator[FakeSlack]:
    async with FakeSlack(channels={NEWS: "news"}) as fake:
        monkeypatch.setenv("T_SLACK_BOT", fake.bot_token)
        monkeypatch.setenv("T_SLACK_APP", fake.app_token)
        monkeypatch.setenv("T_SLACK_SECRET", fake.signing_secret)
        yield fake
        assert fake.errors == [], fake.errors


def slack_section(fake: FakeSlack, **extra: Any) -> dict[str, Any]:
    return {
        "bot_token_env": "T_SLACK_BOT",
        "app_token_env": "T_SLACK_APP",
        "signing_secret_env": "T_SLACK_SECRET",
        "api_base": fake.api_base,
        "managers": ["U0MANAGER"],
        **extra,
    }


async def test_slack_delivers_everything_over_the_web_api_without_socket_mode(
    slack: FakeSlack, tmp_path: Path
) -> None:
    path = tmp_path / "bot.toml"
    sink = SlackSink(parse_slack_settings(slack_section(slack), path), path, (NEWS,))
    # Commands bound, as the App does on every instance: still no socket without the listener.
    sink.bind_commands(object())  # type: ignore[arg-type]  # never called: nothing listens
    await sink.start()
    try:
        parent = alert(1, "slack", NEWS)
        ts = await sink.deliver(parent)
        await sink.deliver(alert(2, "slack", NEWS, reply_to=ts))
        await sink.update_story(story_update(parent, ts))
        await sink.deliver_summary(flood("slack", NEWS, 4))
        await sink.post_digest(NEWS, digest(), "2026-11-25")
        assert slack.socket_sessions == [] and slack.calls("apps.connections.open") == []
        assert len(slack.posted(NEWS)) >= 4 and len(slack.updates) == 1
        assert any(NEWS in f["channels"] for f in slack.files.values())  # the chart
        assert sink.connected and not sink.listening
        assert connection_state(sink) == (True, DELIVERY_ONLY)
    finally:
        await sink.close()


async def slack_list(fake: FakeSlack) -> tuple[str, str]:
    """`/watch list` over Socket Mode; (envelope id, the answer shown)."""
    before = len(fake.responses)
    ack = await fake.send_slash_command("/watch", "list", "U0MANAGER", NEWS)
    answer = (ack.get("payload") or {}).get("text", "")
    if answer == "Working on it…":
        await fake.wait_for(lambda: len(fake.responses) > before, timeout=10)
        answer = fake.responses[-1]["body"]["text"]
    return ack["envelope_id"], answer


async def test_slack_socket_mode_stops_and_starts_while_delivery_goes_on(
    slack: FakeSlack, tmp_path: Path, watchlist_dir: Path
) -> None:
    settings = chat_config(tmp_path, watchlist_dir, [], "slack", (NEWS,), slack_section(slack))
    async with App.open(settings) as app:
        sink = app.sinks["slack"]
        assert isinstance(sink, SlackSink)
        (first,) = slack.socket_sessions
        assert first.open and sink.listening
        envelope, answer = await slack_list(slack)
        assert "iskp" in answer and slack.acks_for(envelope) == 1

        await sink.stop_listener()
        await sink.stop_listener()  # idempotent
        await slack.wait_for(lambda: not first.open)
        assert not sink.listening and slack.sockets == []
        check = app.health_checks()["chat:slack"]
        assert check.ok and check.detail == DELIVERY_ONLY
        await sink.deliver(alert(1, "slack", NEWS))
        assert len(slack.posted(NEWS)) == 1 and len(slack.socket_sessions) == 1

        await sink.start_listener()
        await sink.start_listener()  # idempotent: still one connection
        assert len(slack.socket_sessions) == 2 and sink.listening
        envelope, answer = await slack_list(slack)
        assert "iskp" in answer and slack.acks_for(envelope) == 1
        assert app.health_checks()["chat:slack"].detail == "connected"
    await slack.wait_for(lambda: not any(s.open for s in slack.socket_sessions))
    assert slack.socket_overlaps() == []


async def test_slack_http_mode_serves_commands_only_while_listening(
    slack: FakeSlack, tmp_path: Path, watchlist_dir: Path, unused_port: int
) -> None:
    """The events server is the command connection in HTTP mode: the port is bound
    only between start_listener and stop_listener."""
    section = slack_section(slack, mode="http", host="127.0.0.1", port=unused_port)
    settings = chat_config(tmp_path, watchlist_dir, [], "slack", (NEWS,), section)
    url = f"http://127.0.0.1:{unused_port}/slack/events"

    async def reachable(http: aiohttp.ClientSession) -> bool:
        try:
            async with http.post(url, data=b"") as resp:
                return resp.status == 401  # unsigned: refused, but served
        except aiohttp.ClientConnectionError:
            return False

    async with App.open(settings) as app, aiohttp.ClientSession() as http:
        sink = app.sinks["slack"]
        assert sink.listening and await reachable(http)
        await sink.stop_listener()
        assert not sink.listening and not await reachable(http)
        await sink.deliver(alert(1, "slack", NEWS))
        await sink.start_listener()
        assert sink.listening and await reachable(http)
    assert slack.socket_sessions == []


@pytest.fixture
def unused_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
