"""FakeSlack driven by the real slack_sdk / slack_bolt clients."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.app.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from tests.fakeslack import FakeSlack, signed_request

SPEC = Path(__file__).resolve().parent / "data" / "slack" / "slack_web_openapi_v2.json"


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    # slack_sdk picks up HTTP(S)_PROXY itself (ignoring NO_PROXY): keep traffic on 127.0.0.1.
    for var in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    async with FakeSlack(not_joined={"C999"}, channels={"C123": "news", "C999": "private"}) as f:
        yield f


def client_for(fake: FakeSlack, token: str | None = None, **kw: Any) -> AsyncWebClient:
    return AsyncWebClient(token=token or fake.bot_token, base_url=fake.api_base, **kw)


async def test_auth_test_ok_and_invalid(fake: FakeSlack) -> None:
    resp = await client_for(fake).auth_test()
    assert resp["ok"] is True
    assert resp["user_id"] == fake.bot_user_id
    assert resp["team_id"] == fake.team_id
    assert resp["bot_id"] == fake.bot_id
    assert resp.headers["content-type"] == "application/json; charset=utf-8"
    assert fake.requests[0]["headers"]["Authorization"] == f"Bearer {fake.bot_token}"

    with pytest.raises(SlackApiError) as ei:
        await client_for(fake, token="xoxb-wrong").auth_test()
    assert ei.value.response["error"] == "invalid_auth"


async def test_post_message_is_stored(fake: FakeSlack) -> None:
    client = client_for(fake)
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*ISKP* claims attack"}}]
    metadata = {"event_type": "newswatch_alert", "event_payload": {"item_id": "abc"}}
    r1 = await client.chat_postMessage(
        channel="C123",
        text="ISKP claims attack",
        blocks=blocks,
        metadata=metadata,
        unfurl_links=False,
        unfurl_media=False,
        mrkdwn=True,
    )
    r2 = await client.chat_postMessage(channel="C123", text="follow-up", thread_ts=r1["ts"])
    assert r1["ts"] == "1732520000.000100"
    assert float(r2["ts"]) > float(r1["ts"])
    assert r1["channel"] == "C123" and r1["message"]["text"] == "ISKP claims attack"

    msgs = fake.posted("C123")
    assert [m["text"] for m in msgs] == ["ISKP claims attack", "follow-up"]
    first = msgs[0]
    assert first["blocks"] == blocks
    assert first["metadata"] == metadata
    assert (first["unfurl_links"], first["unfurl_media"], first["mrkdwn"]) == (False, False, True)
    assert msgs[1]["thread_ts"] == r1["ts"]
    assert fake.errors == []

    with pytest.raises(SlackApiError) as ei:
        await client.chat_postMessage(channel="C404", text="x")
    assert ei.value.response["error"] == "channel_not_found"
    with pytest.raises(SlackApiError) as ei:
        await client.chat_postMessage(channel="C999", text="x")
    assert ei.value.response["error"] == "not_in_channel"

    upd = await client.chat_update(channel="C123", ts=r1["ts"], text="edited")
    assert upd["text"] == "edited" and fake.posted("C123")[0]["text"] == "edited"

    eph = await client.chat_postEphemeral(channel="C123", user="U123", text="only you")
    assert fake.ephemerals[0]["text"] == "only you" and eph["message_ts"]


async def test_ratelimited_surfaces_as_429(fake: FakeSlack) -> None:
    fake.fail_next("chat.postMessage", retry_after=7)
    with pytest.raises(SlackApiError) as ei:
        await client_for(fake).chat_postMessage(channel="C123", text="hi")
    assert ei.value.response.status_code == 429
    assert ei.value.response.headers["Retry-After"] == "7"
    assert ei.value.response["error"] == "ratelimited"
    assert fake.posted("C123") == []
    # one-shot: the next call goes through
    await client_for(fake).chat_postMessage(channel="C123", text="hi")
    assert len(fake.posted("C123")) == 1


async def test_injected_error(fake: FakeSlack) -> None:
    fake.fail_next("chat.postMessage", error="fatal_error", times=2)
    client = client_for(fake)
    for _ in range(2):
        with pytest.raises(SlackApiError) as ei:
            await client.chat_postMessage(channel="C123", text="hi")
        assert ei.value.response["error"] == "fatal_error"
    assert (await client.chat_postMessage(channel="C123", text="hi"))["ok"]


async def test_drop_after_store_is_ambiguous(fake: FakeSlack) -> None:
    # retry_handlers=[]: by default slack_sdk retries once on ServerDisconnectedError.
    fake.fail_next("chat.postMessage", drop_after_store=True)
    with pytest.raises(aiohttp.ClientConnectionError):
        await client_for(fake, retry_handlers=[]).chat_postMessage(
            channel="C123",
            text="maybe posted",
            metadata={"event_type": "newswatch_alert", "event_payload": {"item_id": "k1"}},
        )
    assert [m["text"] for m in fake.posted("C123")] == ["maybe posted"]

    hist = await client_for(fake).conversations_history(
        channel="C123", limit=10, include_all_metadata=True
    )
    assert hist["messages"][0]["text"] == "maybe posted"
    assert hist["messages"][0]["metadata"]["event_payload"] == {"item_id": "k1"}
    plain = await client_for(fake).conversations_history(channel="C123")
    assert "metadata" not in plain["messages"][0]


async def test_default_client_retries_dropped_post_and_duplicates(fake: FakeSlack) -> None:
    """Surprise worth knowing: AsyncWebClient's default AsyncConnectionErrorRetryHandler
    re-sends chat.postMessage after a dropped connection, so the message lands twice."""
    fake.fail_next("chat.postMessage", drop_after_store=True)
    resp = await client_for(fake).chat_postMessage(channel="C123", text="dup")
    assert resp["ok"]
    assert [m["text"] for m in fake.posted("C123")] == ["dup", "dup"]


async def test_update_refuses_missing_and_foreign_messages(fake: FakeSlack) -> None:
    client = client_for(fake)
    ts = (await client.chat_postMessage(channel="C123", text="v1"))["ts"]
    await client.chat_update(channel="C123", ts=ts, text="v2")
    assert fake.updates == [{"channel": "C123", "ts": ts, "text": "v2", "blocks": None}]
    foreign = fake.add_message("C123", "a human wrote this")
    fake.delete_message("C123", ts)
    for target, error in ((ts, "message_not_found"), (foreign, "cant_update_message")):
        with pytest.raises(SlackApiError) as ei:
            await client.chat_update(channel="C123", ts=target, text="v3")
        assert ei.value.response["error"] == error
    assert len(fake.updates) == 1 and fake.errors == []


async def test_files_upload_v2_shares_the_file_into_the_channel(fake: FakeSlack) -> None:
    data = b"\x89PNG\r\n\x1a\n" + bytes(range(200))
    done = await client_for(fake, retry_handlers=[]).files_upload_v2(
        channel="C123", file=data, filename="chart.png", title="Chart", alt_txt="7 days"
    )
    assert fake.errors == []
    assert [c["method"] for c in fake.requests] == [
        "files.getUploadURLExternal",
        "upload",
        "files.completeUploadExternal",
    ]
    (record,) = fake.files.values()
    assert record["data"] == data and record["channels"] == ["C123"]
    assert record["alt_txt"] == "7 days" and record["title"] == "Chart"
    assert done["file"]["id"] == record["id"]
    (shared,) = (await client_for(fake).conversations_history(channel="C123"))["messages"]
    assert shared["files"][0]["name"] == "chart.png" and shared["files"][0]["size"] == len(data)


async def test_completing_an_upload_that_never_came_fails(fake: FakeSlack) -> None:
    client = client_for(fake)
    url = await client.files_getUploadURLExternal(filename="x.png", length=3)
    with pytest.raises(SlackApiError) as ei:
        await client.files_completeUploadExternal(
            files=[{"id": url["file_id"], "title": "x"}], channel_id="C123"
        )
    assert ei.value.response["error"] == "file_not_found"
    assert fake.posted("C123") == []


@pytest.mark.parametrize(
    ("blocks", "error"),
    [
        ([{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}], "invalid_blocks"),
        ([{"type": "header", "text": {"type": "plain_text", "text": "x" * 151}}], "invalid_blocks"),
        (
            [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 2900}}] * 5,
            "msg_blocks_too_long",
        ),
    ],
)
async def test_block_limits_are_slacks(fake: FakeSlack, blocks: list, error: str) -> None:
    with pytest.raises(SlackApiError) as ei:
        await client_for(fake).chat_postMessage(channel="C123", text="t", blocks=blocks)
    assert ei.value.response["error"] == error
    assert len(fake.errors) == 1  # recorded: the client broke a limit
    fake.errors.clear()


async def test_history_order_and_window(fake: FakeSlack) -> None:
    client = client_for(fake)
    tss = [(await client.chat_postMessage(channel="C123", text=f"m{i}"))["ts"] for i in range(5)]
    h = await client.conversations_history(channel="C123", limit=2)
    assert [m["text"] for m in h["messages"]] == ["m4", "m3"] and h["has_more"] is True
    h = await client.conversations_history(channel="C123", oldest=tss[1], latest=tss[4])
    assert [m["text"] for m in h["messages"]] == ["m3", "m2"]


async def test_wait_for_wakes_on_request(fake: FakeSlack) -> None:
    import asyncio

    waiter = asyncio.create_task(fake.wait_for(lambda: fake.calls("chat.postMessage"), 2))
    await asyncio.sleep(0)
    await client_for(fake).chat_postMessage(channel="C123", text="x")
    assert len(await waiter) == 1
    with pytest.raises(TimeoutError):
        await fake.wait_for(lambda: False, timeout=0.05)


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = spec["definitions"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _missing(spec: dict[str, Any], schema: dict[str, Any], obj: Any, where: str) -> list[str]:
    schema = _resolve(spec, schema)
    out = []
    if isinstance(obj, dict):
        out += [f"{where}.{k}" for k in schema.get("required", []) if k not in obj]
        for k, sub in schema.get("properties", {}).items():
            if k in obj:
                out += _missing(spec, sub, obj[k], f"{where}.{k}")
    elif isinstance(obj, list) and "items" in schema:
        for i, item in enumerate(obj):
            out += _missing(spec, schema["items"], item, f"{where}[{i}]")
    return out


async def test_responses_match_spec_required_keys(fake: FakeSlack) -> None:
    spec = json.loads(SPEC.read_text())
    client = client_for(fake)
    posted = await client.chat_postMessage(channel="C123", text="a", metadata=None)
    got: dict[str, Any] = {
        "/auth.test": (await client.auth_test()).data,
        "/chat.postMessage": posted.data,
        "/chat.update": (await client.chat_update(channel="C123", ts=posted["ts"], text="b")).data,
        "/chat.postEphemeral": (
            await client.chat_postEphemeral(channel="C123", user="U1", text="e")
        ).data,
        "/conversations.history": (await client.conversations_history(channel="C123")).data,
    }
    problems = []
    for path, body in got.items():
        (op,) = spec["paths"][path].values()
        problems += _missing(spec, op["responses"]["200"]["schema"], body, path)
    assert problems == []

    # error shape: the spec's "default" (error) schemas require ok + error
    with pytest.raises(SlackApiError) as ei:
        await client.chat_postMessage(channel="C404", text="x")
    (op,) = spec["paths"]["/chat.postMessage"].values()
    assert _missing(spec, op["responses"]["default"]["schema"], ei.value.response.data, "e") == []

    # apps.connections.open is not in this (2021) spec; check what the SDK reads.
    opened = await client.apps_connections_open(app_token=fake.app_token)
    assert opened["ok"] and opened["url"].startswith(f"ws://127.0.0.1:{fake.port}/socket?ticket=")
    with pytest.raises(SlackApiError) as ei:
        await client.apps_connections_open(app_token=fake.bot_token)
    assert ei.value.response["error"] == "not_allowed_token_type"


async def test_bolt_socket_mode_slash_command(fake: FakeSlack) -> None:
    app = AsyncApp(client=AsyncWebClient(token=fake.bot_token, base_url=fake.api_base))
    seen: list[dict[str, Any]] = []

    @app.command("/watch")
    async def watch(ack: Any, respond: Any, command: dict[str, Any]) -> None:
        seen.append(command)
        await ack(text=f"Adding {command['text'].split()[-1]}…")
        await respond(text="Added ISKP", response_type="ephemeral")

    # The handler's SocketModeClient uses app.client as its web_client, so
    # apps.connections.open goes to fake.api_base with the xapp token.
    handler = AsyncSocketModeHandler(app, app_token=fake.app_token)
    await handler.connect_async()
    try:
        await fake.wait_for_socket()
        ack = await fake.send_slash_command(command="/watch", text="add ISKP", user_id="U123")
        assert ack["payload"] == {"text": "Adding ISKP…"}
        assert fake.acks == [ack]
        await fake.wait_for(lambda: fake.responses)
        assert fake.responses[0]["body"]["text"] == "Added ISKP"
        assert fake.responses[0]["body"]["response_type"] == "ephemeral"
        assert ack["envelope"]["payload"]["response_url"] == fake.responses[0]["url"]
        assert seen[0]["text"] == "add ISKP"

        # Slack retry of the same envelope: bolt runs the listener again (no dedup).
        again = await fake.resend(ack["envelope_id"], retry_attempt=1, retry_reason="timeout")
        assert again["envelope_id"] == ack["envelope_id"]
        await fake.wait_for(lambda: len(fake.responses) == 2)
        assert len(seen) == 2
    finally:
        await handler.close_async()
    assert [r["method"] for r in fake.requests][:2] == ["apps.connections.open", "auth.test"]
    assert fake.calls("apps.connections.open")[0]["token"] == fake.app_token
    assert fake.errors == []


def test_signed_request() -> None:
    body = b"token=x&command=%2Fwatch"
    h = signed_request("s3cret", body, 1732520000)
    want = hmac.new(b"s3cret", b"v0:1732520000:" + body, hashlib.sha256).hexdigest()
    assert h == {"X-Slack-Request-Timestamp": "1732520000", "X-Slack-Signature": f"v0={want}"}
    from slack_sdk.signature import SignatureVerifier

    verifier = SignatureVerifier("s3cret", clock=type("C", (), {"now": lambda self: 1732520001})())
    assert verifier.is_valid_request(body, h)
