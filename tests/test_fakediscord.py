"""Smoke tests: the real discord.py client against tests.fakediscord.FakeDiscord."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator

import aiohttp
import discord
import pytest
import yarl
from discord import app_commands
from discord.gateway import DiscordWebSocket
from discord.http import Route

from tests.discord_fixtures import pointed_at, running_client
from tests.fakediscord import (
    ALERTS_CHANNEL_ID,
    GUILD_ID,
    PERM_MANAGE_GUILD,
    USER_ID,
    FakeDiscord,
    SpecValidator,
)

ORIGINAL_BASE = Route.BASE
ORIGINAL_GATEWAY = DiscordWebSocket.DEFAULT_GATEWAY


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as server:
        with pointed_at(server):
            yield server
    assert Route.BASE == ORIGINAL_BASE
    assert DiscordWebSocket.DEFAULT_GATEWAY == ORIGINAL_GATEWAY


def make_client(**options) -> discord.Client:
    return discord.Client(intents=discord.Intents.default(), guild_ready_timeout=0.1, **options)


# ---------------------------------------------------------------- wiring


def test_default_gateway_is_a_yarl_url() -> None:
    assert isinstance(DiscordWebSocket.DEFAULT_GATEWAY, yarl.URL)
    assert Route.BASE == "https://discord.com/api/v10"


async def test_json_content_type_is_exact(fake: FakeDiscord) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.get(
            f"{fake.api_base}/users/@me", headers={"Authorization": f"Bot {fake.token}"}
        ) as resp,
    ):
        assert resp.status == 200
        assert resp.headers["Content-Type"] == "application/json"
        assert (await resp.json())["id"] == str(fake.bot_user_id)
    assert fake.api_base.endswith("/api/v10")
    assert fake.gateway_url == f"ws://127.0.0.1:{fake.port}/gateway"


async def test_login_ready_guild_and_channels(fake: FakeDiscord) -> None:
    client = make_client()
    ready = asyncio.Event()
    client.event(_setter("on_ready", ready))
    async with running_client(client, fake.token):
        await asyncio.wait_for(ready.wait(), 5)
        assert client.user is not None and client.user.id == fake.bot_user_id
        assert client.application_id == fake.application_id
        guild = client.get_guild(GUILD_ID)
        assert guild is not None and guild.name == "Newsroom"
        channel = client.get_channel(ALERTS_CHANNEL_ID)
        assert isinstance(channel, discord.TextChannel) and channel.name == "alerts"
        perms = channel.permissions_for(guild.me)
        assert perms.send_messages and perms.embed_links and perms.create_public_threads
    assert fake.intents == discord.Intents.default().value
    assert fake.gateway_connects[0]["compress"] == "zlib-stream"
    assert fake.heartbeats >= 1
    assert fake.errors == []


async def test_invalid_token_is_login_failure(fake: FakeDiscord) -> None:
    client = make_client()
    with pytest.raises(discord.LoginFailure):
        async with running_client(client, "not-the-token"):
            pass
    assert client.is_closed()
    assert fake.requests[0].path == "/users/@me" and fake.requests[0].status == 401


async def test_privileged_intent_not_enabled_is_refused(fake: FakeDiscord) -> None:
    intents = discord.Intents.default()
    intents.message_content = True
    client = discord.Client(intents=intents, guild_ready_timeout=0.1)
    with pytest.raises(discord.PrivilegedIntentsRequired):
        async with running_client(client, fake.token):
            pass


# ---------------------------------------------------------------- messages


async def test_send_embed_with_nonce_is_stored_and_valid(fake: FakeDiscord) -> None:
    client = make_client()
    async with running_client(client, fake.token):
        channel = client.get_channel(ALERTS_CHANNEL_ID)
        embed = discord.Embed(
            title="Quake M6.1",
            url="https://example.org/quake",
            description="details",
            colour=0xE67E22,
        )
        embed.add_field(name="Feed", value="usgs", inline=True)
        embed.set_footer(text="newswatch")
        sent = await channel.send(
            "alert", embed=embed, allowed_mentions=discord.AllowedMentions.none(), nonce="a1b2c3"
        )
        thread = await sent.create_thread(name="Quake M6.1", auto_archive_duration=1440)
        in_thread = await thread.send("follow-up")
        edited = await sent.edit(content="alert (updated)")

    assert fake.errors == []
    assert sent.id in fake.messages and sent.nonce == "a1b2c3"
    stored = fake.messages[sent.id]
    assert stored["embeds"][0]["title"] == "Quake M6.1"
    post = fake.requests_to("POST", rf"/channels/{ALERTS_CHANNEL_ID}/messages")[0]
    assert post.json["allowed_mentions"] == {"parse": []}
    assert post.json["nonce"] == "a1b2c3" and post.json["enforce_nonce"] is True
    assert post.json["embeds"][0]["color"] == 0xE67E22
    assert thread.id == sent.id and thread.parent_id == ALERTS_CHANNEL_ID
    assert fake.threads[thread.id]["type"] == 11
    assert [m["content"] for m in fake.messages_in(thread.id)] == ["follow-up"]
    assert in_thread.channel.id == thread.id
    assert edited.content == "alert (updated)" and stored["edited_timestamp"] is not None


async def test_same_nonce_twice_stores_one_message(fake: FakeDiscord) -> None:
    client = make_client()
    async with running_client(client, fake.token):
        channel = client.get_channel(ALERTS_CHANNEL_ID)
        first = await channel.send("once", nonce="dup-1")
        second = await channel.send("once", nonce="dup-1")
    assert first.id == second.id
    assert len(fake.messages_in(ALERTS_CHANNEL_ID)) == 1
    assert fake.nonce_hits == 1 and fake.errors == []


async def test_429_once_is_retried(fake: FakeDiscord) -> None:
    fake.fail_next("POST", r"/channels/\d+/messages", 429)
    client = make_client()
    async with running_client(client, fake.token):
        channel = client.get_channel(ALERTS_CHANNEL_ID)
        msg = await channel.send("after rate limit")
    posts = fake.requests_to("POST", r"/channels/\d+/messages")
    assert [p.status for p in posts] == [429, 200]
    assert posts[0].json["nonce"] == posts[1].json["nonce"]
    assert [m["id"] for m in fake.messages_in(ALERTS_CHANNEL_ID)] == [str(msg.id)]
    assert fake.errors == []


async def test_429_without_via_header_is_not_retried(fake: FakeDiscord) -> None:
    # discord.py treats a 429 lacking "Via" as a Cloudflare ban: no retry, HTTPException.
    fake.fail_next("POST", r"/channels/\d+/messages", 429, headers={"Via": ""})
    client = make_client()
    async with running_client(client, fake.token):
        with pytest.raises(discord.HTTPException) as info:
            await client.get_channel(ALERTS_CHANNEL_ID).send("x")
    assert info.value.status == 429
    assert len(fake.requests_to("POST", r"/channels/\d+/messages")) == 1


async def test_502_after_store_then_retry_returns_same_message(fake: FakeDiscord) -> None:
    # Discord stored the message but the proxy answered 502; discord.py retries after 1 s
    # with the same nonce and gets the stored message back instead of a duplicate.
    fake.fail_next("POST", r"/channels/\d+/messages", 502, after_store=True)
    client = make_client()
    async with running_client(client, fake.token):
        msg = await client.get_channel(ALERTS_CHANNEL_ID).send("stored despite 502")
    posts = fake.requests_to("POST", r"/channels/\d+/messages")
    assert [p.status for p in posts] == [502, 200]
    assert [m["id"] for m in fake.messages_in(ALERTS_CHANNEL_ID)] == [str(msg.id)]
    assert fake.nonce_hits == 1


async def test_dropped_connection_after_store_is_ambiguous(fake: FakeDiscord) -> None:
    # The message is stored but the client only sees the connection close; discord.py
    # does not retry that itself. A retry with the same nonce gets the stored message.
    fake.fail_next("POST", r"/channels/\d+/messages", 0, after_store=True, drop=True)
    client = make_client()
    async with running_client(client, fake.token):
        channel = client.get_channel(ALERTS_CHANNEL_ID)
        with pytest.raises(aiohttp.ClientError):
            await channel.send("stored, never answered", nonce="drop-1")
        again = await channel.send("stored, never answered", nonce="drop-1")
    assert [m["id"] for m in fake.messages_in(ALERTS_CHANNEL_ID)] == [str(again.id)]
    assert fake.nonce_hits == 1 and fake.errors == []


async def test_file_upload_is_stored_and_shown_in_the_embed(fake: FakeDiscord) -> None:
    client = make_client()
    data = b"\x89PNG\r\n\x1a\n" + bytes(range(256))
    async with running_client(client, fake.token):
        channel = client.get_channel(ALERTS_CHANNEL_ID)
        embed = discord.Embed(title="chart").set_image(url="attachment://chart.png")
        for _ in range(2):  # the same nonce twice: one message
            sent = await channel.send(
                embed=embed,
                file=discord.File(io.BytesIO(data), filename="chart.png", description="7 days"),
                nonce="file-1",
            )
    assert fake.errors == []
    (stored,) = fake.messages_in(ALERTS_CHANNEL_ID)
    assert fake.attachment_data(stored, "chart.png") == data
    (attachment,) = stored["attachments"]
    assert attachment["size"] == len(data) and attachment["description"] == "7 days"
    assert stored["embeds"][0]["image"]["url"] == attachment["url"]
    assert sent.attachments[0].filename == "chart.png"
    post = fake.requests_to("POST", r"/channels/\d+/messages")[0]
    assert post.files[0]["field"] == "files[0]" and post.json["attachments"][0]["id"] == 0
    assert fake.nonce_hits == 1


async def test_embed_naming_a_missing_attachment_is_an_error(fake: FakeDiscord) -> None:
    client = make_client()
    async with running_client(client, fake.token):
        embed = discord.Embed(title="chart").set_image(url="attachment://missing.png")
        await client.get_channel(ALERTS_CHANNEL_ID).send(embed=embed)
    assert fake.errors == ["embed image attachment://missing.png names no attached file"]


async def test_edits_are_recorded_and_unknown_messages_are_404(fake: FakeDiscord) -> None:
    client = make_client()
    async with running_client(client, fake.token):
        channel = client.get_partial_messageable(ALERTS_CHANNEL_ID)
        sent = await channel.send("v1")
        await channel.get_partial_message(sent.id).edit(content="v2")
        with pytest.raises(discord.NotFound) as missing:
            await channel.get_partial_message(sent.id + 1).edit(content="v2")
    assert missing.value.code == 10008
    assert fake.edits == [
        {"channel_id": ALERTS_CHANNEL_ID, "message_id": sent.id, "body": fake.edits[0]["body"]}
    ]
    assert fake.edits[0]["body"]["content"] == "v2"
    assert fake.messages[sent.id]["content"] == "v2" and fake.errors == []


@pytest.mark.parametrize(
    ("status", "exc", "code"),
    [(403, discord.Forbidden, 50013), (404, discord.NotFound, 10003)],
)
async def test_injected_client_errors_surface(fake: FakeDiscord, status, exc, code) -> None:
    fake.fail_next("POST", r"/channels/\d+/messages", status)
    client = make_client()
    async with running_client(client, fake.token):
        with pytest.raises(exc) as info:
            await client.get_channel(ALERTS_CHANNEL_ID).send("nope")
    assert info.value.code == code
    assert fake.messages == {}


async def test_unknown_channel_is_404(fake: FakeDiscord) -> None:
    client = make_client()
    async with running_client(client, fake.token):
        with pytest.raises(discord.NotFound):
            await client.get_partial_messageable(42).send("x")


# ---------------------------------------------------------------- app commands


def build_tree(client: discord.Client, seen: list[tuple[str, int]], done: asyncio.Event):
    tree = app_commands.CommandTree(client)
    watch = app_commands.Group(name="watch", description="Manage watches")

    @watch.command(name="add", description="Add a watch")
    @app_commands.describe(query="What to watch for", channel="Where to post")
    async def add(
        interaction: discord.Interaction,
        query: str,
        channel: discord.TextChannel | None = None,
        limit: int = 5,
    ) -> None:
        seen.append((query, limit))
        where = channel.name if channel else "default"
        await interaction.response.send_message(f"watching {query} in {where}", ephemeral=True)
        done.set()

    @add.autocomplete("query")
    async def query_complete(interaction: discord.Interaction, current: str):
        done.set()
        return [app_commands.Choice(name=q, value=q) for q in ("quake", "quarry") if current in q]

    tree.add_command(watch, guild=discord.Object(GUILD_ID))
    return tree


async def test_command_sync_and_ephemeral_response(fake: FakeDiscord) -> None:
    client = make_client()
    seen: list[tuple[str, int]] = []
    done = asyncio.Event()
    tree = build_tree(client, seen, done)
    async with running_client(client, fake.token):
        synced = await tree.sync(guild=discord.Object(GUILD_ID))
        assert [c.name for c in synced] == ["watch"]
        assert fake.command_puts[0]["guild_id"] == GUILD_ID
        assert fake.command_puts[0]["payload"][0]["options"][0]["name"] == "add"

        payload = fake.interaction(
            "watch add",
            {"query": "quake", "channel": ALERTS_CHANNEL_ID, "limit": 3},
            USER_ID,
            permissions=PERM_MANAGE_GUILD,
        )
        sub = payload["data"]["options"][0]
        assert sub["type"] == 1 and [o["type"] for o in sub["options"]] == [3, 7, 4]
        assert payload["data"]["guild_id"] == str(GUILD_ID)
        await fake.dispatch("INTERACTION_CREATE", payload)
        await asyncio.wait_for(done.wait(), 5)
        callback = await fake.wait_for(lambda: fake.callbacks and fake.callbacks[0])

    assert seen == [("quake", 3)]
    assert callback["type"] == 4
    assert callback["data"]["flags"] == 64
    assert callback["data"]["content"] == "watching quake in alerts"
    assert callback["query"] == {"with_response": "1"}
    assert fake.messages_in(ALERTS_CHANNEL_ID) == []  # ephemeral
    assert fake.errors == []


async def test_autocomplete_and_double_ack(fake: FakeDiscord) -> None:
    client = make_client()
    done = asyncio.Event()
    tree = build_tree(client, [], done)
    async with running_client(client, fake.token):
        await tree.sync(guild=discord.Object(GUILD_ID))
        payload = fake.autocomplete("watch add", {"query": "qua"}, focused="query")
        assert payload["type"] == 4
        assert payload["data"]["options"][0]["options"][0]["focused"] is True
        await fake.dispatch("INTERACTION_CREATE", payload)
        callback = await fake.wait_for(lambda: fake.callbacks and fake.callbacks[0])

        # Discord refuses a second response to the same interaction
        state = fake.interaction("watch add", {"query": "x"})
        await fake.dispatch("INTERACTION_CREATE", state)
        await fake.wait_for(lambda: len(fake.callbacks) == 2)
        interaction_url = f"/interactions/{state['id']}/{state['token']}/callback"
        async with (
            aiohttp.ClientSession() as session,
            session.post(fake.api_base + interaction_url, json={"type": 5}) as resp,
        ):
            assert resp.status == 400
            assert (await resp.json())["code"] == 40060
    assert callback["type"] == 8
    assert callback["data"]["choices"] == [
        {"name": "quake", "value": "quake"},
        {"name": "quarry", "value": "quarry"},
    ]
    assert fake.errors == []


async def test_global_command_deferred_then_edit_original(fake: FakeDiscord) -> None:
    client = make_client()
    tree = app_commands.CommandTree(client)
    finished = asyncio.Event()

    @tree.command(name="status", description="Show status")
    async def status(interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        await interaction.edit_original_response(content="all good")
        await interaction.followup.send("details", ephemeral=True)
        finished.set()

    async with running_client(client, fake.token):
        await tree.sync()  # global: PUT /applications/{id}/commands
        fetched = await tree.fetch_commands()
        assert [c.name for c in fetched] == ["status"]
        channel = await client.fetch_channel(ALERTS_CHANNEL_ID)  # GET /channels/{id}
        assert channel.name == "alerts"
        payload = fake.interaction("status")
        assert "guild_id" not in payload["data"]  # global command
        await fake.dispatch("INTERACTION_CREATE", payload)
        await asyncio.wait_for(finished.wait(), 5)
    assert fake.command_puts == [{"guild_id": None, "payload": fake.command_puts[0]["payload"]}]
    assert fake.callbacks[0]["type"] == 5 and fake.callbacks[0]["data"] == {"flags": 64}
    replies = [m for m in fake.messages.values() if "interaction_metadata" in m]
    assert [m["content"] for m in replies] == ["all good", "details"]
    assert all(m["flags"] & 64 for m in replies)
    assert len(fake.followups) == 1
    assert fake.errors == []


# ---------------------------------------------------------------- gateway & validator


async def test_gateway_resume_after_server_close(fake: FakeDiscord) -> None:
    client = make_client()
    resumed = asyncio.Event()
    client.event(_setter("on_resumed", resumed))
    async with running_client(client, fake.token):
        await fake.close_gateway(4000)
        await asyncio.wait_for(resumed.wait(), 5)
        msg = await client.get_channel(ALERTS_CHANNEL_ID).send("still here")
    assert len(fake.identifies) == 1 and len(fake.resumes) == 1
    assert fake.resumes[0]["seq"] >= 2  # READY + GUILD_CREATE at least
    assert str(msg.id) in {m["id"] for m in fake.messages.values()}


async def test_auto_sharded_client_uses_gateway_bot(fake: FakeDiscord) -> None:
    client = discord.AutoShardedClient(intents=discord.Intents.default(), guild_ready_timeout=0.1)
    async with running_client(client, fake.token):
        assert client.get_channel(ALERTS_CHANNEL_ID) is not None
    assert fake.requests_to("GET", "/gateway/bot")
    assert fake.identifies[0]["shard"] == [0, 1]


def test_validator_rejects_unknown_keys_and_bad_values() -> None:
    v = SpecValidator()
    schema = v.request_schema("POST", "/channels/{channel_id}/messages")
    assert v.validate({"content": "hi", "embeds": [{"title": "t"}]}, schema) == []
    assert v.validate({"allowed_mentions": {"parse": [], "users": [123]}}, schema) == []
    errors = v.validate({"content": "x" * 2001, "embed": {}}, schema)
    assert any("maxLength 2000" in e for e in errors)
    assert any("unknown property 'embed'" in e for e in errors)
    errors = v.validate({"embeds": [{"colour": 1, "url": "example.org"}]}, schema)
    assert any("'colour'" in e for e in errors) and any("absolute URI" in e for e in errors)
    assert v.validate({"nonce": True}, schema)  # neither int, string nor null
    put = v.request_schema("PUT", "/applications/{application_id}/commands")
    assert v.validate([{"name": "x", "description": "d", "optoins": []}], put)
    assert v.validate(json.loads('[{"name": "x", "description": "d", "type": 1}]'), put) == []


async def test_invalid_body_is_rejected_and_recorded(fake: FakeDiscord) -> None:
    client = make_client()
    async with running_client(client, fake.token):
        with pytest.raises(discord.HTTPException) as info:
            await client.http.send_message(ALERTS_CHANNEL_ID, params=_bad_params())
    assert info.value.status == 400 and info.value.code == 50035
    assert any("unknown property 'bogus'" in e for e in fake.errors)
    fake.errors.clear()


def _bad_params():
    from discord.http import MultipartParameters

    return MultipartParameters(payload={"content": "x", "bogus": 1}, multipart=None, files=None)


def _setter(name: str, event: asyncio.Event):
    async def handler(*_args) -> None:
        event.set()

    handler.__name__ = name
    return handler
