"""A local fake of the parts of Slack the bot talks to, for tests.

Serves on 127.0.0.1 only:

* Web API at ``/api/<method>`` (``auth.test``, ``chat.postMessage``, ``chat.update``,
  ``chat.postEphemeral``, ``conversations.history``, ``conversations.replies``,
  ``files.getUploadURLExternal``, ``files.completeUploadExternal``,
  ``apps.connections.open``), POST form/JSON or GET query, token in
  ``Authorization: Bearer`` (or a ``token`` param).
* File upload URLs at ``/upload/<file_id>`` (handed out by
  ``files.getUploadURLExternal``; the bytes are POSTed there, unauthenticated,
  as to Slack's pre-signed URLs), shared into a channel as a message with
  ``files`` by ``files.completeUploadExternal``.
* Socket Mode websocket at ``/socket?ticket=...`` (URL handed out by
  ``apps.connections.open``).
* ``response_url`` sink at ``/response/<id>``.

Usage::

    async with FakeSlack() as fake:
        client = AsyncWebClient(token=fake.bot_token, base_url=fake.api_base)
        ...

Everything the fake sees is recorded (``requests``, ``messages``, ``updates``,
``files``, ``acks``, ``responses``, ``errors``); ``await fake.wait_for(predicate)``
waits without polling sleeps: every request/ack/response wakes the waiters.

For several bot processes on one fake (issue 15): ``socket_sessions`` holds a
``tests.intervals.Span`` per Socket Mode websocket (open to close, the fake's
monotonic clock) and ``socket_overlaps()`` the pairs ever open at once, which
must stay empty (one command listener at a time); ``acks_for(envelope_id)``
counts the answers to one envelope.

Block Kit limits are checked as Slack applies them: 50 blocks, 3,000 characters
of section text, 150 of header text, 10 context elements, and about 13,000
characters of block text in one message (``msg_blocks_too_long`` above that,
undocumented: https://github.com/slackapi/bolt-js/issues/2509).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar, TypeVar

from aiohttp import WSMsgType, web
from multidict import CIMultiDict

from tests.intervals import Span, overlapping

T = TypeVar("T")

JSON_CT = "application/json"

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def signed_request(secret: str, body: bytes, timestamp: int) -> dict[str, str]:
    """Headers Slack sends on HTTP-mode requests (events, commands, interactivity).

    ``X-Slack-Signature = v0=hex(hmac_sha256(secret, "v0:{timestamp}:{body}"))``.
    """
    base = b"v0:" + str(timestamp).encode() + b":" + body
    digest = hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {
        "X-Slack-Request-Timestamp": str(timestamp),
        "X-Slack-Signature": f"v0={digest}",
    }


@dataclass
class _Failure:
    status: int
    error: str | None
    retry_after: int | float | None
    drop_after_store: bool
    remaining: int
    stall_after_store: bool = False
    when: Callable[[dict[str, Any]], Any] | None = None
    raw_body: str | None = None


def _as_bool(value: Any, default: bool | None = None) -> bool | None:
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    s = str(value).strip().lower()
    if s in _TRUE:
        return True
    if s in _FALSE:
        return False
    return default


def _ts_key(ts: str) -> Decimal:
    return Decimal(ts)


class FakeSlack:
    """Fake Slack Web API + Socket Mode + response_url sink on 127.0.0.1."""

    def __init__(
        self,
        *,
        bot_token: str = "xoxb-fake-bot-token",
        app_token: str = "xapp-1-A123-fake-app-token",
        signing_secret: str = "fake-signing-secret",
        channels: dict[str, str] | None = None,
        not_joined: set[str] | frozenset[str] = frozenset(),
        team_id: str = "T0FAKE",
        team_domain: str = "fake-team",
        bot_user_id: str = "U0BOT",
        bot_id: str = "B0BOT",
        app_id: str = "A123",
    ) -> None:
        self.bot_token = bot_token
        self.app_token = app_token
        self.signing_secret = signing_secret
        #: channel id -> name
        self.channels: dict[str, str] = dict(
            channels if channels is not None else {"C123": "news", "C456": "alerts"}
        )
        #: channel ids that exist but the bot is not a member of
        self.not_joined: set[str] = set(not_joined)
        self.team_id = team_id
        self.team_domain = team_domain
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.app_id = app_id

        # recorded state
        self.messages: dict[str, list[dict[str, Any]]] = {}
        #: every successful chat.update: {"channel", "ts", "text", "blocks"}
        self.updates: list[dict[str, Any]] = []
        #: file id -> {"id", "filename", "length", "alt_txt", "title", "data" (bytes or
        #: None until uploaded), "channels" (where shared)}
        self.files: dict[str, dict[str, Any]] = {}
        self.ephemerals: list[dict[str, Any]] = []
        self.requests: list[dict[str, Any]] = []
        self.errors: list[str] = []
        self.acks: list[dict[str, Any]] = []
        self.responses: list[dict[str, Any]] = []
        self.envelopes: dict[str, dict[str, Any]] = {}
        self.sockets: list[web.WebSocketResponse] = []
        self.socket_messages: list[dict[str, Any]] = []
        #: one span per Socket Mode websocket, open to close
        self.socket_sessions: list[Span] = []

        self._failures: dict[str, list[_Failure]] = {}
        #: methods whose response is being held (stall_after_store), in order
        self.stalled: list[str] = []
        self._release_stalled = asyncio.Event()
        self._ts_counter = itertools.count(100)
        self._tickets: set[str] = set()
        self._response_urls: dict[str, int] = {}  # id -> uses
        self._ack_waiters: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._changed = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> FakeSlack:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_get("/socket", self._socket)
        app.router.add_post("/response/{rid}", self._response_url)
        app.router.add_post("/upload/{file_id}", self._upload)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server  # aiohttp exposes no public accessor for the bound port
        assert server is not None and server.sockets
        self.port = server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        self._release_stalled.set()
        for ws in list(self.sockets):
            await ws.close()
        for fut in self._ack_waiters.values():
            fut.cancel()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeSlack:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_base(self) -> str:
        """For ``AsyncWebClient(base_url=...)``; the trailing slash matters."""
        return f"{self.base_url}/api/"

    # ------------------------------------------------------------------ helpers for tests
    def fail_next(
        self,
        method: str,
        *,
        status: int = 200,
        error: str | None = None,
        retry_after: int | float | None = None,
        drop_after_store: bool = False,
        stall_after_store: bool = False,
        when: Callable[[dict[str, Any]], Any] | None = None,
        times: int = 1,
        raw_body: str | None = None,
    ) -> None:
        """Make the next ``times`` calls of ``method`` fail.

        * ``retry_after=N`` (or ``status=429``): HTTP 429, ``Retry-After: N``,
          body ``{"ok": false, "error": "ratelimited"}``.
        * ``error="..."``: ``{"ok": false, "error": ...}`` with ``status``.
        * ``drop_after_store=True``: do the work (store the message), then close
          the TCP connection without answering.
        * ``stall_after_store=True``: do the work, then hold the response until
          the fake stops (the client waits, as when Slack is slow to answer):
          a test can kill the client while its request is pending.
        * ``{authorization}`` in ``error`` is replaced by the request's
          Authorization header, as a careless proxy or server echoes it back
          (for tests that the bot never shows a token from an error).
        * ``raw_body="..."`` (with ``status``): that body, labelled as JSON but not
          JSON, as a proxy or load balancer in front of Slack may answer.
        * ``when=predicate``: only calls whose parameters satisfy it fail (for
          example ``lambda p: p.get("thread_ts")`` for thread replies only).
        """
        if retry_after is not None and status == 200:
            status = 429
        if status == 429 and error is None:
            error = "ratelimited"
        if status == 429 and retry_after is None:
            retry_after = 1
        if status >= 500 and error is None:
            error = "internal_error"
        after_store = drop_after_store or stall_after_store
        if not after_store and status == 200 and error is None:
            raise ValueError(
                "fail_next needs status, error, retry_after, drop_after_store or stall_after_store"
            )
        self._failures.setdefault(method, []).append(
            _Failure(
                status,
                error,
                retry_after,
                drop_after_store,
                times,
                stall_after_store,
                when,
                raw_body,
            )
        )

    def add_channel(self, channel_id: str, name: str, *, joined: bool = True) -> None:
        self.channels[channel_id] = name
        if not joined:
            self.not_joined.add(channel_id)
        else:
            self.not_joined.discard(channel_id)

    def add_message(self, channel: str, text: str, *, user: str = "U0HUMAN") -> str:
        """Store a message someone else wrote (the bot cannot edit it); return its ts."""
        ts = self._next_ts()
        self.messages.setdefault(channel, []).append(
            {"type": "message", "ts": ts, "channel": channel, "text": text, "user": user}
        )
        return ts

    def delete_message(self, channel: str, ts: str) -> None:
        """As if someone deleted the message in Slack."""
        self.messages[channel] = [m for m in self.messages.get(channel, []) if m["ts"] != ts]

    def posted(self, channel: str | None = None) -> list[dict[str, Any]]:
        """Stored messages, oldest first (all channels if ``channel`` is None)."""
        if channel is not None:
            return list(self.messages.get(channel, []))
        out = [m for msgs in self.messages.values() for m in msgs]
        return sorted(out, key=lambda m: _ts_key(m["ts"]))

    def calls(self, method: str) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["method"] == method]

    async def wait_for(self, predicate: Callable[[], T], timeout: float = 5.0) -> T:
        """Wait until ``predicate()`` is truthy; return its value.

        Re-evaluated whenever the fake records something (request, ack,
        response, socket change). Raises ``TimeoutError``.
        """
        try:
            async with asyncio.timeout(timeout):
                while True:
                    event = self._changed
                    result = predicate()
                    if result:
                        return result
                    await event.wait()
        except TimeoutError:
            raise TimeoutError(
                f"FakeSlack.wait_for timed out after {timeout}s; "
                f"{len(self.requests)} requests: {[r['method'] for r in self.requests][-10:]}"
            ) from None

    def _notify(self) -> None:
        event, self._changed = self._changed, asyncio.Event()
        event.set()

    def _next_ts(self) -> str:
        return f"1732520000.{next(self._ts_counter):06d}"

    # ------------------------------------------------------------------ Web API
    async def _api(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        params: dict[str, Any] = dict(request.query)
        raw = await request.read()
        ctype = request.content_type
        if raw:
            if ctype == JSON_CT:
                try:
                    body = json.loads(raw)
                except ValueError:
                    self.errors.append(f"{method}: body is not valid JSON")
                    body = {}
                if isinstance(body, dict):
                    params.update(body)
                else:
                    self.errors.append(f"{method}: JSON body is not an object")
            elif ctype in ("application/x-www-form-urlencoded", "multipart/form-data", ""):
                post = await request.post()
                params.update({k: v for k, v in post.items() if isinstance(v, str)})
            else:
                self.errors.append(f"{method}: unexpected Content-Type {ctype!r}")
        token = None
        auth = request.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            token = auth[len("Bearer ") :]
        elif "token" in params:
            token = str(params["token"])
        self.requests.append(
            {
                "method": method,
                "http_method": request.method,
                "params": params,
                "headers": CIMultiDict(request.headers),
                "token": token,
                "content_type": ctype,
            }
        )
        self._notify()

        failure = self._take_failure(method, params)
        after_store = failure is not None and (
            failure.drop_after_store or failure.stall_after_store
        )
        if failure is not None and not after_store:
            headers = {}
            if failure.retry_after is not None:
                headers["Retry-After"] = str(failure.retry_after)
            error = (failure.error or "").replace("{authorization}", auth) or failure.error
            if failure.raw_body is not None:
                return web.Response(
                    text=failure.raw_body, status=failure.status, content_type="application/json"
                )
            return web.json_response(
                {"ok": False, "error": error}, status=failure.status, headers=headers
            )

        handler = self._METHODS.get(method)
        if handler is None:
            self.errors.append(f"unknown/unimplemented method {method}")
            result: dict[str, Any] = {"ok": False, "error": "unknown_method"}
        else:
            result = self._check_token(method, token) or handler(self, params)
        self._notify()

        if failure is not None and failure.stall_after_store:
            self.stalled.append(method)
            self._notify()
            await self._release_stalled.wait()  # set by stop()
            raise asyncio.CancelledError  # nothing written: the client never hears back
        if failure is not None and failure.drop_after_store:
            # Ambiguous failure: the work is done, the client never hears back.
            transport = request.transport
            assert transport is not None
            transport.close()
            raise asyncio.CancelledError  # aiohttp: handler abandoned, nothing written
        return web.json_response(result)

    def _take_failure(self, method: str, params: dict[str, Any]) -> _Failure | None:
        queue = self._failures.get(method)
        if not queue:
            return None
        failure = queue[0]
        if failure.when is not None and not failure.when(params):
            return None
        failure.remaining -= 1
        if failure.remaining <= 0:
            queue.pop(0)
        return failure

    def _check_token(self, method: str, token: str | None) -> dict[str, Any] | None:
        if not token:
            return {"ok": False, "error": "not_authed"}
        if method == "apps.connections.open":
            if token == self.app_token:
                return None
            if token.startswith("xapp-"):
                return {"ok": False, "error": "invalid_auth"}
            return {"ok": False, "error": "not_allowed_token_type"}
        if token == self.bot_token:
            return None
        if token.startswith("xapp-"):
            return {"ok": False, "error": "not_allowed_token_type"}
        return {"ok": False, "error": "invalid_auth"}

    def _resolve_channel(self, params: dict[str, Any]) -> tuple[str | None, dict[str, Any] | None]:
        channel = params.get("channel")
        if not channel:
            return None, {"ok": False, "error": "channel_not_found"}
        channel = str(channel)
        if channel.startswith("#"):
            for cid, name in self.channels.items():
                if name == channel[1:]:
                    channel = cid
                    break
        if channel not in self.channels:
            return None, {"ok": False, "error": "channel_not_found"}
        if channel in self.not_joined:
            return None, {"ok": False, "error": "not_in_channel"}
        return channel, None

    def _json_param(self, method: str, params: dict[str, Any], name: str) -> Any:
        value = params.get(name)
        if isinstance(value, str):
            if value == "":
                return None
            try:
                return json.loads(value)
            except ValueError:
                self.errors.append(f"{method}: {name} is not valid JSON: {value[:80]!r}")
                return None
        return value

    def _validate_content(
        self, method: str, params: dict[str, Any]
    ) -> tuple[dict[str, Any] | None, Any, Any, Any]:
        """Return (error_result, blocks, attachments, metadata)."""
        text = params.get("text")
        blocks = self._json_param(method, params, "blocks")
        attachments = self._json_param(method, params, "attachments")
        metadata = self._json_param(method, params, "metadata")
        if text is not None and not isinstance(text, str):
            self.errors.append(f"{method}: text is not a string: {type(text).__name__}")
        if blocks is not None:
            if not isinstance(blocks, list) or not all(
                isinstance(b, dict) and isinstance(b.get("type"), str) for b in blocks
            ):
                self.errors.append(f"{method}: blocks must be a list of objects with 'type'")
                return {"ok": False, "error": "invalid_blocks"}, None, None, None
            if len(blocks) > 50:
                self.errors.append(f"{method}: {len(blocks)} blocks (max 50)")
                return {"ok": False, "error": "invalid_blocks"}, None, None, None
            error = self._check_blocks(method, blocks)
            if error:
                return {"ok": False, "error": error}, None, None, None
        if metadata is not None and (
            not isinstance(metadata, dict)
            or not isinstance(metadata.get("event_type"), str)
            or not isinstance(metadata.get("event_payload"), dict)
        ):
            self.errors.append(f"{method}: metadata needs event_type (str) and event_payload (obj)")
            return {"ok": False, "error": "invalid_metadata_format"}, None, None, None
        if not text and not blocks and not attachments:
            return {"ok": False, "error": "no_text"}, None, None, None
        if isinstance(text, str) and len(text) > 40000:
            self.errors.append(f"{method}: text is {len(text)} chars (max 40000)")
            return {"ok": False, "error": "msg_too_long"}, None, None, None
        return None, blocks, attachments, metadata

    _TEXT_LIMITS: ClassVar[dict[str, int]] = {"section": 3000, "header": 150}

    def _check_blocks(self, method: str, blocks: list[dict[str, Any]]) -> str | None:
        """Slack's per-block limits and its (undocumented) total; the error it answers."""
        total = 0
        for i, block in enumerate(blocks):
            text = (block.get("text") or {}).get("text") or ""
            limit = self._TEXT_LIMITS.get(block["type"])
            if limit is not None and len(text) > limit:
                self.errors.append(
                    f"{method}: blocks[{i}] {block['type']} text {len(text)} > {limit}"
                )
                return "invalid_blocks"
            elements = block.get("elements") or []
            if block["type"] == "context" and not 1 <= len(elements) <= 10:
                self.errors.append(f"{method}: blocks[{i}] context has {len(elements)} elements")
                return "invalid_blocks"
            total += len(text) + sum(len(e.get("text") or "") for e in elements)
        if total > 13_000:
            self.errors.append(f"{method}: {total} characters of block text (Slack: ~13,000)")
            return "msg_blocks_too_long"
        return None

    def _public(self, msg: dict[str, Any], *, with_metadata: bool) -> dict[str, Any]:
        out = {
            k: v
            for k, v in msg.items()
            if k not in {"channel", "metadata", "unfurl_links", "unfurl_media", "mrkdwn", "params"}
            and v is not None
        }
        if with_metadata and msg.get("metadata") is not None:
            out["metadata"] = msg["metadata"]
        return out

    # --- methods -------------------------------------------------------------
    def _auth_test(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": f"https://{self.team_domain}.slack.com/",
            "team": "Fake Team",
            "user": "newswatch",
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _chat_post_message(self, params: dict[str, Any]) -> dict[str, Any]:
        method = "chat.postMessage"
        channel, err = self._resolve_channel(params)
        if err:
            return err
        assert channel is not None
        err, blocks, attachments, metadata = self._validate_content(method, params)
        if err:
            return err
        thread_ts = params.get("thread_ts") or None
        msgs = self.messages.setdefault(channel, [])
        if thread_ts is not None:
            thread_ts = str(thread_ts)
            parent = next((m for m in msgs if m["ts"] == thread_ts), None)
            if parent is None:
                self.errors.append(f"{method}: thread_ts {thread_ts} is not a message in {channel}")
            else:
                if parent.get("thread_ts") not in (None, parent["ts"]):
                    self.errors.append(f"{method}: thread_ts {thread_ts} is itself a reply")
                parent["thread_ts"] = parent["ts"]
                parent["reply_count"] = parent.get("reply_count", 0) + 1
        ts = self._next_ts()
        msg: dict[str, Any] = {
            "type": "message",
            "subtype": "bot_message",
            "ts": ts,
            "channel": channel,
            "text": params.get("text") or "",
            "user": self.bot_user_id,
            "bot_id": self.bot_id,
            "app_id": self.app_id,
            "team": self.team_id,
            "blocks": blocks,
            "attachments": attachments,
            "thread_ts": thread_ts,
            "reply_broadcast": _as_bool(params.get("reply_broadcast")),
            "metadata": metadata,
            "unfurl_links": _as_bool(params.get("unfurl_links")),
            "unfurl_media": _as_bool(params.get("unfurl_media")),
            "mrkdwn": _as_bool(params.get("mrkdwn")),
            "params": params,
        }
        msgs.append(msg)
        return {
            "ok": True,
            "channel": channel,
            "ts": ts,
            "message": self._public(msg, with_metadata=True),
        }

    def _chat_update(self, params: dict[str, Any]) -> dict[str, Any]:
        method = "chat.update"
        channel, err = self._resolve_channel(params)
        if err:
            return err
        assert channel is not None
        ts = str(params.get("ts") or "")
        msg = next((m for m in self.messages.get(channel, []) if m["ts"] == ts), None)
        if msg is None:
            return {"ok": False, "error": "message_not_found"}
        if msg.get("user") != self.bot_user_id:
            return {"ok": False, "error": "cant_update_message"}
        err, blocks, attachments, metadata = self._validate_content(method, params)
        if err:
            return err
        msg["text"] = params.get("text") or ""
        if "blocks" in params:
            msg["blocks"] = blocks
        if "attachments" in params:
            msg["attachments"] = attachments
        if "metadata" in params:
            msg["metadata"] = metadata
        msg["edited"] = {"user": self.bot_user_id, "ts": self._next_ts()}
        self.updates.append(
            {"channel": channel, "ts": ts, "text": msg["text"], "blocks": msg.get("blocks")}
        )
        return {
            "ok": True,
            "channel": channel,
            "ts": ts,
            "text": msg["text"],
            "message": self._public(msg, with_metadata=True),
        }

    def _chat_post_ephemeral(self, params: dict[str, Any]) -> dict[str, Any]:
        channel, err = self._resolve_channel(params)
        if err:
            return err
        if not params.get("user"):
            return {"ok": False, "error": "user_not_in_channel"}
        err, blocks, attachments, _ = self._validate_content("chat.postEphemeral", params)
        if err:
            return err
        ts = self._next_ts()
        self.ephemerals.append(
            {
                "channel": channel,
                "user": params["user"],
                "text": params.get("text") or "",
                "blocks": blocks,
                "attachments": attachments,
                "thread_ts": params.get("thread_ts") or None,
                "message_ts": ts,
            }
        )
        return {"ok": True, "message_ts": ts}

    def _history(self, params: dict[str, Any]) -> dict[str, Any]:
        channel, err = self._resolve_channel(params)
        if err:
            return err
        assert channel is not None
        try:
            limit = int(params.get("limit") or 100)
        except ValueError:
            limit = 100
        limit = max(1, min(limit, 999))
        inclusive = bool(_as_bool(params.get("inclusive"), False))
        with_md = bool(_as_bool(params.get("include_all_metadata"), False))
        try:
            oldest = Decimal(str(params.get("oldest") or "0"))
            latest = Decimal(str(params["latest"])) if params.get("latest") else None
        except InvalidOperation:
            return {"ok": False, "error": "invalid_ts_oldest"}

        def keep(m: dict[str, Any]) -> bool:
            if m.get("thread_ts") not in (None, m["ts"]) and not m.get("reply_broadcast"):
                return False  # thread replies live in conversations.replies
            k = _ts_key(m["ts"])
            if k < oldest or (k == oldest and not inclusive and oldest != 0):
                return False
            return latest is None or k < latest or (k == latest and inclusive)

        msgs = sorted(
            (m for m in self.messages.get(channel, []) if keep(m)),
            key=lambda m: _ts_key(m["ts"]),
            reverse=True,
        )
        start = int(params.get("cursor") or 0) if str(params.get("cursor") or "0").isdigit() else 0
        page = msgs[start : start + limit]
        has_more = start + limit < len(msgs)
        return {
            "ok": True,
            "messages": [self._public(m, with_metadata=with_md) for m in page],
            "has_more": has_more,
            "pin_count": 0,
            "channel_actions_ts": None,
            "channel_actions_count": 0,
            "response_metadata": {"next_cursor": str(start + limit) if has_more else ""},
        }

    def _replies(self, params: dict[str, Any]) -> dict[str, Any]:
        channel, err = self._resolve_channel(params)
        if err:
            return err
        assert channel is not None
        ts = str(params.get("ts") or "")
        msgs = self.messages.get(channel, [])
        if not any(m["ts"] == ts for m in msgs):
            return {"ok": False, "error": "thread_not_found"}
        with_md = bool(_as_bool(params.get("include_all_metadata"), False))
        thread = [m for m in msgs if m["ts"] == ts or m.get("thread_ts") == ts]
        thread.sort(key=lambda m: _ts_key(m["ts"]))
        return {
            "ok": True,
            "messages": [self._public(m, with_metadata=with_md) for m in thread],
            "has_more": False,
            "response_metadata": {"next_cursor": ""},
        }

    def _get_upload_url(self, params: dict[str, Any]) -> dict[str, Any]:
        filename = params.get("filename")
        try:
            length = int(params.get("length") or 0)
        except (TypeError, ValueError):
            length = 0
        if not filename or length <= 0:
            self.errors.append("files.getUploadURLExternal: needs filename and length > 0")
            return {"ok": False, "error": "invalid_arguments"}
        file_id = f"F{uuid.uuid4().hex[:10].upper()}"
        self.files[file_id] = {
            "id": file_id,
            "filename": str(filename),
            "length": length,
            "alt_txt": params.get("alt_txt"),
            "title": None,
            "data": None,
            "channels": [],
        }
        return {"ok": True, "upload_url": f"{self.base_url}/upload/{file_id}", "file_id": file_id}

    async def _upload(self, request: web.Request) -> web.StreamResponse:
        """The pre-signed upload URL: takes the bytes as the body (or a multipart part)."""
        file_id = request.match_info["file_id"]
        failure = self._take_failure("upload", {})
        if failure is not None and not failure.drop_after_store:
            return web.Response(status=failure.status, text=failure.error or "error")
        if request.content_type == "multipart/form-data":
            post = await request.post()
            part = next((v for v in post.values() if hasattr(v, "file")), None)
            data = part.file.read() if part is not None else b""
        else:
            data = await request.read()
        record = self.files.get(file_id)
        self.requests.append(
            {
                "method": "upload",
                "http_method": request.method,
                "params": {"file_id": file_id},
                "headers": CIMultiDict(request.headers),
                "token": None,
                "content_type": request.content_type,
            }
        )
        self._notify()
        if record is None:
            self.errors.append(f"upload to unknown file id {file_id}")
            return web.Response(status=404, text="not found")
        if len(data) != record["length"]:
            self.errors.append(f"upload {file_id}: {len(data)} bytes, announced {record['length']}")
        record["data"] = data
        self._notify()
        if failure is not None:  # drop_after_store: stored, then the connection dies
            assert request.transport is not None
            request.transport.close()
            raise asyncio.CancelledError
        return web.Response(text=f"OK - {len(data)}")

    def _complete_upload(self, params: dict[str, Any]) -> dict[str, Any]:
        method = "files.completeUploadExternal"
        wanted = self._json_param(method, params, "files")
        if not isinstance(wanted, list) or not wanted:
            self.errors.append(f"{method}: files must be a non-empty JSON list")
            return {"ok": False, "error": "invalid_arguments"}
        records = []
        for entry in wanted:
            record = self.files.get(str((entry or {}).get("id")))
            if record is None or record["data"] is None:
                return {"ok": False, "error": "file_not_found"}
            record["title"] = entry.get("title") or record["filename"]
            records.append(record)
        channel = None
        if params.get("channel_id"):
            channel, err = self._resolve_channel({"channel": params["channel_id"]})
            if err:
                return err
        files = [self._file_object(r) for r in records]
        if channel is not None:
            ts = self._next_ts()
            self.messages.setdefault(channel, []).append(
                {
                    "type": "message",
                    "ts": ts,
                    "channel": channel,
                    "text": params.get("initial_comment") or "",
                    "user": self.bot_user_id,
                    "files": files,
                    "upload": True,
                    "thread_ts": params.get("thread_ts") or None,
                }
            )
            for r in records:
                r["channels"].append(channel)
        return {"ok": True, "files": [{"id": f["id"], "title": f["title"]} for f in files]}

    def _file_object(self, record: dict[str, Any]) -> dict[str, Any]:
        name = record["filename"]
        ext = name.rsplit(".", 1)[-1].lower() if "." in name else "binary"
        return {
            "id": record["id"],
            "name": name,
            "title": record["title"],
            "mimetype": "image/png" if ext == "png" else "application/octet-stream",
            "filetype": ext,
            "user": self.bot_user_id,
            "size": len(record["data"] or b""),
            "url_private": f"{self.base_url}/files/{record['id']}/{name}",
        }

    def _connections_open(self, params: dict[str, Any]) -> dict[str, Any]:
        ticket = uuid.uuid4().hex
        self._tickets.add(ticket)
        return {"ok": True, "url": f"ws://127.0.0.1:{self.port}/socket?ticket={ticket}"}

    _METHODS: ClassVar[dict[str, Callable[[FakeSlack, dict[str, Any]], dict[str, Any]]]] = {
        "auth.test": _auth_test,
        "chat.postMessage": _chat_post_message,
        "chat.update": _chat_update,
        "chat.postEphemeral": _chat_post_ephemeral,
        "conversations.history": _history,
        "conversations.replies": _replies,
        "files.getUploadURLExternal": _get_upload_url,
        "files.completeUploadExternal": _complete_upload,
        "apps.connections.open": _connections_open,
    }

    # ------------------------------------------------------------------ Socket Mode
    async def _socket(self, request: web.Request) -> web.StreamResponse:
        ticket = request.query.get("ticket", "")
        if ticket not in self._tickets:
            self.errors.append(f"socket: unknown ticket {ticket!r}")
            return web.Response(status=401, text="invalid ticket")
        self._tickets.discard(ticket)  # one use, like Slack's
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        await ws.send_json(
            {
                "type": "hello",
                "num_connections": len(self.sockets) + 1,
                "debug_info": {
                    "host": "fake-slack",
                    "build_number": 1,
                    "approximate_connection_time": 18060,
                },
                "connection_info": {"app_id": self.app_id},
            }
        )
        self.sockets.append(ws)
        peer = request.transport.get_extra_info("peername") if request.transport else None
        span = Span(info={"peer": (peer[0], peer[1]) if peer else None})  # which process
        self.socket_sessions.append(span)
        self._notify()
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                try:
                    data = json.loads(msg.data)
                except ValueError:
                    self.errors.append(f"socket: non-JSON message {msg.data[:80]!r}")
                    continue
                self.socket_messages.append(data)
                env_id = data.get("envelope_id") if isinstance(data, dict) else None
                if env_id is None:
                    self.errors.append(f"socket: message without envelope_id: {data!r}")
                elif env_id not in self.envelopes:
                    self.errors.append(f"socket: ack for unknown envelope {env_id}")
                else:
                    ack = {
                        "envelope_id": env_id,
                        "payload": data.get("payload"),
                        "envelope": self.envelopes[env_id],
                    }
                    self.acks.append(ack)
                    fut = self._ack_waiters.pop(env_id, None)
                    if fut is not None and not fut.done():
                        fut.set_result(ack)
                self._notify()
        finally:
            span.close()
            if ws in self.sockets:
                self.sockets.remove(ws)
            self._notify()
        return ws

    def socket_overlaps(self) -> list[tuple[Span, Span]]:
        """Pairs of Socket Mode connections that were ever open at the same time."""
        return overlapping(self.socket_sessions)

    def acks_for(self, envelope_id: str) -> int:
        """How many times an envelope was acknowledged (answered)."""
        return sum(1 for ack in self.acks if ack["envelope_id"] == envelope_id)

    async def wait_for_socket(self, timeout: float = 5.0) -> web.WebSocketResponse:
        return (await self.wait_for(lambda: self.sockets, timeout))[-1]

    async def send_envelope(
        self, envelope: dict[str, Any], timeout: float = 5.0, *, expect_ack: bool = True
    ) -> dict[str, Any] | None:
        """Send an envelope on the newest socket; wait for and return its ack."""
        ws = await self.wait_for_socket(timeout)
        env_id = envelope["envelope_id"]
        self.envelopes[env_id] = envelope
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._ack_waiters[env_id] = fut
        await ws.send_json(envelope)
        if not expect_ack:
            return None
        try:
            async with asyncio.timeout(timeout):
                return await fut
        except TimeoutError:
            self._ack_waiters.pop(env_id, None)
            raise TimeoutError(f"no ack for envelope {env_id} within {timeout}s") from None

    def new_response_url(self) -> str:
        rid = uuid.uuid4().hex[:16]
        self._response_urls[rid] = 0
        return f"{self.base_url}/response/{rid}"

    async def send_slash_command(
        self,
        command: str = "/watch",
        text: str = "",
        user_id: str = "U123",
        channel_id: str = "C123",
        *,
        user_name: str = "alice",
        channel_name: str | None = None,
        envelope_id: str | None = None,
        timeout: float = 5.0,
        **extra: Any,
    ) -> dict[str, Any]:
        """Deliver a slash command over Socket Mode; return the ack record.

        Ack record: ``{"envelope_id", "payload" (the ack's response payload or
        None), "envelope" (what was sent; ``envelope["payload"]["response_url"]``)}``.
        """
        payload = {
            "token": "fake-verification-token",
            "team_id": self.team_id,
            "team_domain": self.team_domain,
            "channel_id": channel_id,
            "channel_name": channel_name or self.channels.get(channel_id, "unknown"),
            "user_id": user_id,
            "user_name": user_name,
            "command": command,
            "text": text,
            "api_app_id": self.app_id,
            "is_enterprise_install": "false",
            "response_url": self.new_response_url(),
            "trigger_id": f"{uuid.uuid4().int % 10**13}.{uuid.uuid4().hex[:20]}",
            **extra,
        }
        envelope = {
            "envelope_id": envelope_id or str(uuid.uuid4()),
            "type": "slash_commands",
            "accepts_response_payload": True,
            "payload": payload,
        }
        ack = await self.send_envelope(envelope, timeout)
        assert ack is not None
        return ack

    async def resend(
        self,
        envelope_id: str,
        *,
        retry_attempt: int = 1,
        retry_reason: str = "timeout",
        timeout: float = 5.0,
    ) -> dict[str, Any]:
        """Re-deliver an envelope with the same envelope_id (a Slack retry)."""
        envelope = {
            **self.envelopes[envelope_id],
            "retry_attempt": retry_attempt,
            "retry_reason": retry_reason,
        }
        ack = await self.send_envelope(envelope, timeout)
        assert ack is not None
        return ack

    async def send_disconnect(self, reason: str = "refresh_requested") -> None:
        """Ask connected clients to reconnect (Slack's ``disconnect`` message)."""
        for ws in list(self.sockets):
            await ws.send_json({"type": "disconnect", "reason": reason, "debug_info": {}})

    # ------------------------------------------------------------------ response_url
    async def _response_url(self, request: web.Request) -> web.StreamResponse:
        rid = request.match_info["rid"]
        raw = await request.read()
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            body = {"_raw": raw.decode(errors="replace")}
            self.errors.append(f"response_url {rid}: body is not JSON")
        record = {
            "id": rid,
            "url": str(request.url),
            "body": body,
            "headers": CIMultiDict(request.headers),
        }
        if rid not in self._response_urls:
            self.errors.append(f"response_url {rid}: unknown id")
            self._notify()
            return web.Response(status=404, text="no_such_url")
        self._response_urls[rid] += 1
        if self._response_urls[rid] > 5:
            self.errors.append(f"response_url {rid}: used more than 5 times")
            self._notify()
            return web.Response(status=404, text="used_url")
        if isinstance(body, dict):
            if not body.get("text") and not body.get("blocks") and not body.get("delete_original"):
                self.errors.append(f"response_url {rid}: no text/blocks")
            rt = body.get("response_type")
            if rt is not None and rt not in ("in_channel", "ephemeral"):
                self.errors.append(f"response_url {rid}: bad response_type {rt!r}")
        self.responses.append(record)
        self._notify()
        return web.json_response({"ok": True})
