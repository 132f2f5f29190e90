"""An in-process fake of Discord's REST API and gateway that the *real* discord.py talks to.

One aiohttp server on 127.0.0.1 (random port) serves REST under ``/api/v10/...`` and the
gateway websocket at ``/gateway``. Everything the client does is recorded in memory, every
JSON request body is validated against Discord's OpenAPI spec (vendored in
``tests/data/discord/``), and failures can be injected per route.

Pointing discord.py at the fake (verified against discord.py 2.7.1)::

    import discord, yarl
    from discord.gateway import DiscordWebSocket
    from discord.http import Route

    fake = FakeDiscord()
    await fake.start()
    old_base, old_gw = Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY
    Route.BASE = fake.api_base                                     # str, read per request
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(fake.gateway_url)  # must be a yarl.URL
    try:
        client = discord.Client(intents=discord.Intents.default(), guild_ready_timeout=0.1)
        task = asyncio.create_task(client.start(fake.token))
        await client.wait_until_ready()
        ...
    finally:
        await client.close(); await task
        Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY = old_base, old_gw
        await fake.stop()

``tests/discord_fixtures.py`` wraps that in ``pointed_at(fake)`` and ``running_client(...)``.

Why those two knobs: ``Route.BASE`` is a class attribute concatenated into every URL when a
``Route`` is built (webhook/interaction routes use the same class), and a plain
``discord.Client`` never calls ``GET /gateway/bot`` — it connects straight to
``DiscordWebSocket.DEFAULT_GATEWAY`` (``yarl.URL``; discord.py calls ``.with_query`` on it).
After READY it reconnects/resumes to ``READY.resume_gateway_url``, which the fake points back
at itself. ``guild_ready_timeout`` is a ``Client`` option (default 2 s: how long discord.py
waits for further GUILD_CREATEs before firing ``on_ready``); pass 0.1 in tests.

Wire facts the fake reproduces because discord.py depends on them:

* JSON responses carry ``Content-Type: application/json`` exactly; discord.py compares the
  header verbatim and treats ``application/json; charset=utf-8`` as plain text.
* A 429 is only retried if the response has a ``Via`` header (Discord's are proxied by
  Google: ``Via: 1.1 google``) and a JSON body with ``retry_after``; otherwise discord.py
  assumes a Cloudflare ban and raises ``HTTPException``. ``fail_next(..., 429)`` sends both.
* 500/502/504/524 are retried unconditionally after ``1 + 2*attempt`` seconds (5 attempts).
* ``channel.send`` always sends ``nonce`` (random 64-bit if not given, as a *string*) plus
  ``enforce_nonce: true``; interaction callbacks are POSTed with ``?with_response=1`` and
  parsed as ``{"interaction": {...}, "resource": {"type": 4, "message": {...}}}``.
* The gateway is asked for ``compress=zlib-stream``; the fake honours it (one zlib stream per
  connection, each message ending in a ``Z_SYNC_FLUSH``).

Validation: see ``SpecValidator``. Errors go to ``fake.errors`` (tests assert it is empty)
and, with ``reject_invalid=True`` (default), the request is answered with Discord's
``400 Invalid Form Body`` (code 50035). Unknown keys are errors here although real Discord
ignores them — the point is to catch typos. ``SPEC_OVERLAYS`` lists the places where the
vendored spec is stricter than the live API/discord.py and is patched.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import datetime as dt
import functools
import hashlib
import itertools
import json
import re
import secrets
import time
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from aiohttp import WSMsgType, web

from tests.intervals import Span, overlapping

SPEC_DIR = Path(__file__).resolve().parent / "data" / "discord"
SPEC_PATH = SPEC_DIR / "openapi.json"

DISCORD_EPOCH_MS = 1_420_070_400_000

# Fixed, realistic-looking snowflakes so tests/config can refer to them before start().
BOT_USER_ID = 1_300_000_000_000_000_001
APPLICATION_ID = BOT_USER_ID  # for bot apps created today, application id == bot user id
GUILD_ID = 1_300_000_000_000_000_100
BOT_ROLE_ID = 1_300_000_000_000_000_101
ALERTS_CHANNEL_ID = 1_300_000_000_000_000_201
OPS_CHANNEL_ID = 1_300_000_000_000_000_202
USER_ID = 1_300_000_000_000_000_500  # a human member, also the guild owner

# Permission bits (https://discord.com/developers/docs/topics/permissions)
PERM_ADD_REACTIONS = 1 << 6
PERM_ADMINISTRATOR = 1 << 3
PERM_MANAGE_CHANNELS = 1 << 4
PERM_MANAGE_GUILD = 1 << 5
PERM_VIEW_CHANNEL = 1 << 10
PERM_SEND_MESSAGES = 1 << 11
PERM_MANAGE_MESSAGES = 1 << 13
PERM_EMBED_LINKS = 1 << 14
PERM_ATTACH_FILES = 1 << 15
PERM_READ_MESSAGE_HISTORY = 1 << 16
PERM_USE_APPLICATION_COMMANDS = 1 << 31
PERM_MANAGE_THREADS = 1 << 34
PERM_CREATE_PUBLIC_THREADS = 1 << 35
PERM_SEND_MESSAGES_IN_THREADS = 1 << 38

DEFAULT_MEMBER_PERMISSIONS = (
    PERM_VIEW_CHANNEL
    | PERM_SEND_MESSAGES
    | PERM_EMBED_LINKS
    | PERM_ATTACH_FILES
    | PERM_READ_MESSAGE_HISTORY
    | PERM_ADD_REACTIONS
    | PERM_USE_APPLICATION_COMMANDS
    | PERM_CREATE_PUBLIC_THREADS
    | PERM_SEND_MESSAGES_IN_THREADS
)
DEFAULT_BOT_PERMISSIONS = DEFAULT_MEMBER_PERMISSIONS | PERM_MANAGE_THREADS | PERM_MANAGE_MESSAGES

# Gateway intents that must be switched on in the developer portal.
INTENT_GUILDS = 1 << 0
INTENT_GUILD_MEMBERS = 1 << 1
INTENT_GUILD_PRESENCES = 1 << 8
INTENT_GUILD_MESSAGES = 1 << 9
INTENT_MESSAGE_CONTENT = 1 << 15
PRIVILEGED_INTENTS = INTENT_GUILD_MEMBERS | INTENT_GUILD_PRESENCES | INTENT_MESSAGE_CONTENT

MESSAGE_FLAG_EPHEMERAL = 1 << 6
MESSAGE_FLAG_LOADING = 1 << 7

# Canned Discord error bodies (real shapes and codes).
UNAUTHORIZED = {"message": "401: Unauthorized", "code": 0}
MISSING_PERMISSIONS = {"message": "Missing Permissions", "code": 50013}
MISSING_ACCESS = {"message": "Missing Access", "code": 50001}
UNKNOWN_CHANNEL = {"message": "Unknown Channel", "code": 10003}
UNKNOWN_MESSAGE = {"message": "Unknown Message", "code": 10008}
UNKNOWN_APPLICATION = {"message": "Unknown Application", "code": 10002}
UNKNOWN_INTERACTION = {"message": "Unknown interaction", "code": 10062}
UNKNOWN_WEBHOOK = {"message": "Unknown Webhook", "code": 10015}
WRONG_CHANNEL_TYPE = {"message": "Cannot execute action on this channel type", "code": 50024}
ALREADY_ACKNOWLEDGED = {"message": "Interaction has already been acknowledged.", "code": 40060}
THREAD_ALREADY_CREATED = {
    "message": "A thread has already been created for this message",
    "code": 160004,
}
CANNOT_EDIT_OTHERS = {"message": "Cannot edit a message authored by another user", "code": 50005}
NOT_FOUND = {"message": "404: Not Found", "code": 0}
METHOD_NOT_ALLOWED = {"message": "405: Method Not Allowed", "code": 0}
RATE_LIMITED = {"message": "You are being rate limited.", "retry_after": 0.2, "global": False}
BAD_GATEWAY_HTML = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>cloudflare</center>\r\n"
    "</body>\r\n</html>\r\n"
)


# --------------------------------------------------------------------------- validator

# Where the vendored spec is stricter than what Discord accepts and discord.py sends.
# Each entry: (schema name, property, replacement property schema or None to delete).
SPEC_OVERLAYS: list[tuple[str, str, dict[str, Any] | None, str]] = [
    (
        "ApplicationCommandUpdateRequest",
        "nsfw",
        {"type": ["boolean", "null"]},
        "documented command field; discord.py always sends it on sync",
    ),
    (
        "ApplicationCommandCreateRequest",
        "nsfw",
        {"type": ["boolean", "null"]},
        "documented command field; discord.py always sends it",
    ),
    (
        "RichEmbed",
        "flags",
        {"type": ["integer", "null"]},
        "discord.Embed.to_dict() always sends 'flags': 0; Discord accepts it",
    ),
    (
        "MessageEditRequestPartial",
        "tts",
        {"type": ["boolean", "null"]},
        "discord.py's handle_message_parameters sends 'tts': false on every edit; ignored",
    ),
    (
        "IncomingWebhookUpdateRequestPartial",
        "tts",
        {"type": ["boolean", "null"]},
        "same for interaction/webhook message edits (edit_original_response)",
    ),
    (
        "MessageCreateRequest",
        "content",
        {"type": ["string", "null"], "maxLength": 2000},
        "spec says 4000 (Nitro users); bots get 50035 above 2000",
    ),
    (
        "MessageEditRequestPartial",
        "content",
        {"type": ["string", "null"], "maxLength": 2000},
        "spec says 4000 (Nitro users); bots get 50035 above 2000",
    ),
]


@functools.cache
def _load_spec() -> dict[str, Any]:
    spec = json.loads(SPEC_PATH.read_text(encoding="utf-8"))
    schemas = spec["components"]["schemas"]
    for name, prop, replacement, _why in SPEC_OVERLAYS:
        props = schemas[name].setdefault("properties", {})
        if replacement is None:
            props.pop(prop, None)
        else:
            props[prop] = replacement
    return spec


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _is_type(value: Any, expected: str) -> bool:
    actual = _type_name(value)
    if actual == expected:
        return True
    if expected == "number" and actual == "integer":
        return True
    return expected == "integer" and actual == "number" and float(value).is_integer()


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


class SpecValidator:
    """A small JSON-Schema (OpenAPI 3.1 dialect) validator for Discord request bodies.

    Supports ``$ref`` (local pointers, with sibling keywords), ``type`` (string or list),
    OpenAPI 3.0 ``nullable``, ``enum``, ``const``, ``properties``, ``required``,
    ``additionalProperties`` (bool or schema), ``min/maxProperties``, ``items``,
    ``min/maxItems``, ``uniqueItems``, ``min/maxLength``, ``pattern``,
    ``minimum``/``maximum``/``exclusiveMinimum``/``exclusiveMaximum``, ``allOf``,
    ``anyOf``, ``oneOf`` (exactly one branch must match) and the formats ``snowflake``
    (digit string; integers are accepted too because Discord and discord.py use them),
    ``date-time`` and ``uri``. Other formats and annotations are ignored.

    Closed objects: an object schema that declares ``properties`` and says nothing about
    ``additionalProperties`` is treated as ``additionalProperties: false`` — unknown keys
    are errors. Under ``allOf`` the property names of all branches are merged before that
    check, so composition still works.
    """

    def __init__(self, spec: dict[str, Any] | None = None) -> None:
        self.spec = spec if spec is not None else _load_spec()
        self._patterns: dict[str, re.Pattern[str]] = {}

    # -- spec lookup
    def request_schema(self, method: str, spec_path: str) -> dict[str, Any] | None:
        op = self.spec["paths"].get(spec_path, {}).get(method.lower())
        if not op or "requestBody" not in op:
            return None
        content = op["requestBody"].get("content", {})
        media = content.get("application/json")
        return None if media is None else media.get("schema")

    def resolve(self, ref: str) -> Any:
        if not ref.startswith("#/"):
            raise ValueError(f"only local $ref supported: {ref}")
        node: Any = self.spec
        for part in ref[2:].split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return node

    # -- validation
    def validate(self, instance: Any, schema: Any, path: str = "$") -> list[str]:
        errors: list[str] = []
        self._check(instance, schema, path, errors, closed=True)
        return errors

    def _deref(self, schema: Any) -> Any:
        while isinstance(schema, dict) and "$ref" in schema:
            rest = {k: v for k, v in schema.items() if k != "$ref"}
            target = self.resolve(schema["$ref"])
            if rest:
                return {"allOf": [target, rest]}
            schema = target
        return schema

    def _declared(self, schema: Any) -> set[str] | None:
        """Property names an object schema allows, or None if it is open."""
        schema = self._deref(schema)
        if not isinstance(schema, dict):
            return None
        addl = schema.get("additionalProperties")
        if addl is not None and addl is not False:
            return None
        names: set[str] = set(schema.get("properties", {}))
        declares = "properties" in schema or addl is False
        for sub in schema.get("allOf", []):
            sub_names = self._declared(sub)
            sub_schema = self._deref(sub)
            if isinstance(sub_schema, dict) and (
                "properties" in sub_schema or "allOf" in sub_schema
            ):
                if sub_names is None:
                    return None
                names |= sub_names
                declares = True
        return names if declares else None

    def _check(self, inst: Any, schema: Any, path: str, errors: list[str], *, closed: bool) -> None:
        schema = self._deref(schema)
        if schema is True or schema == {}:
            return
        if schema is False:
            errors.append(f"{path}: no value allowed here")
            return
        if inst is None and schema.get("nullable") is True:
            return
        fmt = schema.get("format")
        if fmt == "snowflake" and _type_name(inst) == "integer" and inst >= 0:
            return

        types = schema.get("type")
        if types is not None:
            types = [types] if isinstance(types, str) else list(types)
            if schema.get("nullable") is True:
                types.append("null")
            if not any(_is_type(inst, t) for t in types):
                errors.append(f"{path}: expected {'|'.join(types)}, got {_type_name(inst)}")
                return

        if "const" in schema and _canonical(inst) != _canonical(schema["const"]):
            errors.append(f"{path}: must be {schema['const']!r}, got {inst!r}")
        if "enum" in schema and _canonical(inst) not in {_canonical(e) for e in schema["enum"]}:
            errors.append(f"{path}: {inst!r} not one of {schema['enum']!r}")

        if isinstance(inst, str):
            self._check_string(inst, schema, path, errors)
        elif _type_name(inst) in ("integer", "number"):
            self._check_number(inst, schema, path, errors)
        elif isinstance(inst, list):
            self._check_array(inst, schema, path, errors)
        elif isinstance(inst, dict):
            self._check_object(inst, schema, path, errors, closed=closed)

        for sub in schema.get("allOf", []):
            self._check(inst, sub, path, errors, closed=False)
        if "anyOf" in schema:
            self._check_union(inst, schema["anyOf"], path, errors, exactly_one=False)
        if "oneOf" in schema:
            self._check_union(inst, schema["oneOf"], path, errors, exactly_one=True)

    def _check_string(self, inst: str, schema: dict, path: str, errors: list[str]) -> None:
        if "maxLength" in schema and len(inst) > schema["maxLength"]:
            errors.append(f"{path}: length {len(inst)} > maxLength {schema['maxLength']}")
        if "minLength" in schema and len(inst) < schema["minLength"]:
            errors.append(f"{path}: length {len(inst)} < minLength {schema['minLength']}")
        pattern = schema.get("pattern")
        if pattern is not None:
            rx = self._patterns.get(pattern)
            if rx is None:
                rx = self._patterns[pattern] = re.compile(pattern)
            if not rx.search(inst):
                errors.append(f"{path}: {inst!r} does not match {pattern!r}")
        fmt = schema.get("format")
        if fmt == "date-time":
            try:
                dt.datetime.fromisoformat(inst.replace("Z", "+00:00"))
            except ValueError:
                errors.append(f"{path}: {inst!r} is not an ISO 8601 date-time")
        elif fmt == "uri":
            parts = urlsplit(inst)
            if not parts.scheme or not (parts.netloc or parts.scheme == "attachment"):
                errors.append(f"{path}: {inst!r} is not an absolute URI")

    def _check_number(self, inst: float, schema: dict, path: str, errors: list[str]) -> None:
        if "minimum" in schema and inst < schema["minimum"]:
            errors.append(f"{path}: {inst} < minimum {schema['minimum']}")
        if "maximum" in schema and inst > schema["maximum"]:
            errors.append(f"{path}: {inst} > maximum {schema['maximum']}")
        ex_min = schema.get("exclusiveMinimum")
        if isinstance(ex_min, int | float) and not isinstance(ex_min, bool) and inst <= ex_min:
            errors.append(f"{path}: {inst} <= exclusiveMinimum {ex_min}")
        ex_max = schema.get("exclusiveMaximum")
        if isinstance(ex_max, int | float) and not isinstance(ex_max, bool) and inst >= ex_max:
            errors.append(f"{path}: {inst} >= exclusiveMaximum {ex_max}")

    def _check_array(self, inst: list, schema: dict, path: str, errors: list[str]) -> None:
        if "maxItems" in schema and len(inst) > schema["maxItems"]:
            errors.append(f"{path}: {len(inst)} items > maxItems {schema['maxItems']}")
        if "minItems" in schema and len(inst) < schema["minItems"]:
            errors.append(f"{path}: {len(inst)} items < minItems {schema['minItems']}")
        if schema.get("uniqueItems") and len({_canonical(x) for x in inst}) != len(inst):
            errors.append(f"{path}: items are not unique")
        items = schema.get("items")
        if isinstance(items, dict | bool):
            for i, item in enumerate(inst):
                self._check(item, items, f"{path}[{i}]", errors, closed=True)

    def _check_object(
        self, inst: dict, schema: dict, path: str, errors: list[str], *, closed: bool
    ) -> None:
        props: dict[str, Any] = schema.get("properties", {})
        for name in schema.get("required", []):
            if name not in inst:
                errors.append(f"{path}: missing required property {name!r}")
        if "maxProperties" in schema and len(inst) > schema["maxProperties"]:
            errors.append(f"{path}: {len(inst)} properties > maxProperties")
        if "minProperties" in schema and len(inst) < schema["minProperties"]:
            errors.append(f"{path}: {len(inst)} properties < minProperties")
        addl = schema.get("additionalProperties")
        for key, value in inst.items():
            sub_path = f"{path}.{key}"
            if key in props:
                self._check(value, props[key], sub_path, errors, closed=True)
            elif isinstance(addl, dict):
                self._check(value, addl, sub_path, errors, closed=True)
        if not closed:
            return
        allowed = self._declared(schema)
        if allowed is None:
            return
        for key in inst:
            if key not in allowed:
                errors.append(f"{path}: unknown property {key!r}")

    def _check_union(
        self, inst: Any, branches: list, path: str, errors: list[str], *, exactly_one: bool
    ) -> None:
        results = []
        for branch in branches:
            branch_errors: list[str] = []
            self._check(inst, branch, path, branch_errors, closed=True)
            results.append(branch_errors)
        matched = sum(1 for r in results if not r)
        if matched == 1 or (matched > 1 and not exactly_one):
            return
        if matched > 1:
            errors.append(f"{path}: matches {matched} oneOf branches (ambiguous)")
            return
        closest = min(results, key=len)
        kind = "oneOf" if exactly_one else "anyOf"
        errors.append(f"{path}: matches no {kind} branch; closest: {'; '.join(closest)}")


# --------------------------------------------------------------------------- records


@dataclass
class RecordedRequest:
    """One REST request as the fake saw it (retries are separate entries)."""

    method: str
    path: str  # relative to /api/v10, e.g. "/channels/123/messages"
    query: dict[str, str]
    json: Any
    headers: dict[str, str]
    files: list[dict[str, Any]] = field(default_factory=list)
    status: int | None = None
    validation_errors: list[str] = field(default_factory=list)
    injected: bool = False  # answered by fail_next


@dataclass
class _Failure:
    method: str
    pattern: re.Pattern[str]
    status: int
    body: Any
    headers: dict[str, str]
    times: int
    after_store: bool
    drop: bool = False
    stall: bool = False


@dataclass
class _Interaction:
    id: int
    token: str
    type: int
    channel_id: int | None
    guild_id: int | None
    payload: dict[str, Any]
    dispatched_at: float | None = None
    response_type: int | None = None
    original_message_id: int | None = None


class _Session:
    """One gateway websocket connection."""

    def __init__(self, ws: web.WebSocketResponse, compress: str | None) -> None:
        self.ws = ws
        self.zlib = zlib.compressobj() if compress == "zlib-stream" else None
        self.lock = asyncio.Lock()
        self.seq = 0
        self.session_id: str | None = None
        self.intents = 0
        self.live = False  # identified or resumed: receives dispatches
        self.span = Span(info={"identified": False, "resumed": False})

    async def send(self, payload: dict[str, Any]) -> None:
        async with self.lock:
            await self._send_locked(payload)

    async def dispatch(self, event: str, data: Any) -> None:
        async with self.lock:  # seq order == wire order
            self.seq += 1
            await self._send_locked({"op": 0, "t": event, "s": self.seq, "d": data})

    async def _send_locked(self, payload: dict[str, Any]) -> None:
        if self.ws.closed:
            return
        text = json.dumps(payload, separators=(",", ":"))
        if self.zlib is not None:
            data = self.zlib.compress(text.encode()) + self.zlib.flush(zlib.Z_SYNC_FLUSH)
            await self.ws.send_bytes(data)
        else:
            await self.ws.send_str(text)


# --------------------------------------------------------------------------- helpers


def _json_response(obj: Any, status: int = 200, headers: dict[str, str] | None = None):
    # Exactly "application/json": discord.py's json_or_text compares the header verbatim.
    h = {"Content-Type": "application/json"}
    if headers:
        h.update(headers)
    return web.Response(status=status, body=json.dumps(obj).encode(), headers=h)


_CREATE = re.compile(r"/channels/(\d+)/messages")


def _peer(request: web.Request) -> tuple[str, int] | None:
    """The client's (host, port): which bot process it was (psutil maps ports to pids)."""
    peer = request.transport.get_extra_info("peername") if request.transport else None
    return (peer[0], peer[1]) if peer else None


def _bucket(path: str) -> str:
    """A stable fake X-RateLimit-Bucket per route shape (ids stripped)."""
    shape = re.sub(r"/[0-9]+", "/:id", path)
    return hashlib.md5(shape.encode(), usedforsecurity=False).hexdigest()


def _now_iso(ts: float | None = None) -> str:
    moment = dt.datetime.fromtimestamp(time.time() if ts is None else ts, dt.UTC)
    return moment.isoformat(timespec="microseconds")


def snowflake_time(snowflake: int) -> float:
    return ((snowflake >> 22) + DISCORD_EPOCH_MS) / 1000


def _normalize_embeds(embeds: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """Embeds as Discord echoes them back: type defaults to rich, flags dropped."""
    out = []
    for embed in embeds or []:
        e = copy.deepcopy(embed)
        e.setdefault("type", "rich")
        e.pop("flags", None)
        e["content_scan_version"] = 0
        out.append(e)
    return out


def _infer_option_type(value: Any) -> int:
    if isinstance(value, bool):
        return 5
    if isinstance(value, int):
        return 4
    if isinstance(value, float):
        return 10
    return 3


_FILES = web.RequestKey("files", list)


class _Route:
    def __init__(self, method: str, pattern: str, handler, spec: str | None, auth: bool) -> None:
        self.method = method
        self.regex = re.compile(pattern)
        self.handler = handler
        self.spec = spec
        self.auth = auth


class _Reply(Exception):
    def __init__(self, status: int, body: Any) -> None:
        super().__init__(status)
        self.status = status
        self.body = body


# --------------------------------------------------------------------------- the fake


class FakeDiscord:
    """Fake Discord REST + gateway. See the module docstring for how to use it.

    Lifecycle: ``await start()`` / ``await stop()`` (or ``async with FakeDiscord() as f``);
    ``api_base``, ``gateway_url``, ``port``, ``token`` (the one valid bot token).

    Driving it from a test:
      dispatch(event, data)      send an op-0 DISPATCH to every live gateway session
      interaction(name, options, user_id, permissions=, guild_id=, channel_id=, ...)
      autocomplete(name, options, user_id, focused=...)   build INTERACTION_CREATE payloads
      fail_next(method, path_regex, status, body=None, headers=None, times=1,
                after_store=False, drop=False)             inject failures
      close_gateway(code) / send_reconnect()               exercise RESUME
      add_channel(...), add_user(...)                      extra guild state (before start)
      wait_for(predicate, timeout)                         await a state change, no polling

    State tests can inspect (all plain Python objects, JSON-shaped like Discord's):
      requests        every REST request (RecordedRequest), retries included;
                      requests_to(method, path_regex) filters them
      messages        {message_id: message object} for every stored message;
                      messages_in(channel_id) = non-ephemeral ones in that channel/thread;
                      messages_under(channel_id) = those of a channel and its threads
      attachments     {attachment_id: {"filename", "description", "content_type", "data",
                      "message_id"}} files uploaded with messages (multipart ``files[N]``);
                      attachment_data(message, filename) = the bytes
      edits           [{"channel_id", "message_id", "body"}] PATCHed channel messages
      threads         {thread_id: channel object (type 11)}
      channels        {channel_id: channel object} guild text channels and threads
      command_puts    [{"guild_id": int | None, "payload": [...]}] bulk overwrites
      commands        {None | guild_id: [registered command objects]}
      callbacks       [{"interaction_id", "token", "type", "data", "query", "payload"}]
      followups       [{"token", "message", "payload"}] webhook follow-up messages
      identifies      IDENTIFY payloads (``intents`` = last identify's intents)
      resumes, gateway_connects, presence_updates, heartbeats, nonce_hits
      errors          validation / protocol errors (should stay empty)

    For several bot processes on one fake (issue 15; times are the fake's monotonic clock;
    "peer" is the client's (host, port), which psutil maps to a process):
      gateway_sessions   [Span] one per gateway websocket, open to close; info:
                         "identified" (IDENTIFY accepted), "resumed", "peer".
                         gateway_overlaps() = pairs ever open at once (must stay
                         empty: one command listener at a time);
                         live_gateway_sessions = identified sessions open now
      creates            {channel_id: [Span]} each POST /channels/{id}/messages, from
                         arrival to answer; info: "nonce", "status", "peer".
                         create_overlaps(channel_id=None) = pairs in flight at once
                         for one channel; ``create_latency`` (seconds, also a
                         constructor argument) holds every create that long
      interaction_responses  Counter {interaction_id: initial-response POSTs}, refused
                         ones included (a second answer is a 400 "already acknowledged")
      hello_released     an asyncio.Event, set; cleared, the gateway holds HELLO back
    """

    def __init__(
        self,
        *,
        token: str = "fake-bot-token.abc.def",
        bot_username: str = "NewsWatch",
        application_id: int = APPLICATION_ID,
        bot_user_id: int = BOT_USER_ID,
        guild_id: int = GUILD_ID,
        guild_name: str = "Newsroom",
        channels: list[dict[str, Any]] | None = None,
        bot_permissions: int = DEFAULT_BOT_PERMISSIONS,
        everyone_permissions: int = DEFAULT_MEMBER_PERMISSIONS,
        allowed_privileged_intents: int = 0,
        application_flags: int = (1 << 19) | (1 << 23),
        heartbeat_interval_ms: int = 41_250,
        nonce_ttl: float = 300.0,
        interaction_deadline: float = 3.0,
        reject_invalid: bool = True,
        gateway_echo: bool = True,
        ratelimit_headers: bool = True,
        create_latency: float = 0.0,
    ) -> None:
        self.token = token
        self.application_id = application_id
        self.bot_user_id = bot_user_id
        self.guild_id = guild_id
        self.guild_name = guild_name
        self.bot_permissions = bot_permissions
        self.everyone_permissions = everyone_permissions
        self.allowed_privileged_intents = allowed_privileged_intents
        self.application_flags = application_flags
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.nonce_ttl = nonce_ttl
        self.interaction_deadline = interaction_deadline
        self.reject_invalid = reject_invalid
        self.gateway_echo = gateway_echo
        self.ratelimit_headers = ratelimit_headers
        self.create_latency = create_latency
        #: cleared, new gateway connections wait for HELLO (a handshake in progress)
        self.hello_released = asyncio.Event()
        self.hello_released.set()

        self.validator = SpecValidator()
        self._ids = itertools.count(1)
        self._last_snowflake = 0
        self._port: int | None = None
        self._runner: web.AppRunner | None = None
        self._sessions: set[_Session] = set()
        self._session_seqs: dict[str, int] = {}
        self._changed = asyncio.Event()
        self._failures: list[_Failure] = []
        #: paths whose response is being held (fail_next(stall=True)), in order
        self.stalled: list[str] = []
        self._release_stalled = asyncio.Event()
        self._nonces: dict[tuple[int, str], tuple[int, float]] = {}
        self._interactions: dict[int, _Interaction] = {}
        self._interactions_by_token: dict[str, _Interaction] = {}

        self.users: dict[int, dict[str, Any]] = {}
        self.bot_user = self._make_user(bot_user_id, bot_username, bot=True)
        self.add_user(USER_ID, "editor")

        self.requests: list[RecordedRequest] = []
        self.errors: list[str] = []
        self.messages: dict[int, dict[str, Any]] = {}
        self.attachments: dict[int, dict[str, Any]] = {}
        self.edits: list[dict[str, Any]] = []
        self.channels: dict[int, dict[str, Any]] = {}
        self.threads: dict[int, dict[str, Any]] = {}
        self.command_puts: list[dict[str, Any]] = []
        self.commands: dict[int | None, list[dict[str, Any]]] = {}
        self._command_ids: dict[tuple[int | None, str, int], int] = {}
        self.callbacks: list[dict[str, Any]] = []
        self.followups: list[dict[str, Any]] = []
        self.identifies: list[dict[str, Any]] = []
        self.resumes: list[dict[str, Any]] = []
        self.gateway_connects: list[dict[str, str]] = []
        self.presence_updates: list[dict[str, Any]] = []
        self.heartbeats = 0
        self.nonce_hits = 0
        self.gateway_sessions: list[Span] = []
        self.creates: dict[int, list[Span]] = {}
        self.interaction_responses: Counter[int] = Counter()

        for ch in channels or [
            {"id": ALERTS_CHANNEL_ID, "name": "alerts"},
            {"id": OPS_CHANNEL_ID, "name": "ops"},
        ]:
            self.add_channel(**ch)

        r = _Route
        cid, mid, tok, num = r"(?P<channel_id>\d+)", r"(?P<message_id>\d+)", r"[^/]+", r"\d+"
        self._routes = [
            r("GET", r"/users/@me", self._get_me, None, True),
            r("GET", r"/oauth2/applications/@me", self._get_app, None, True),
            r("GET", r"/applications/@me", self._get_app, None, True),
            r("GET", r"/gateway", self._get_gateway, None, False),
            r("GET", r"/gateway/bot", self._get_gateway_bot, None, True),
            r("GET", rf"/channels/{cid}", self._get_channel, "/channels/{channel_id}", True),
            r(
                "POST",
                rf"/channels/{cid}/messages",
                self._post_message,
                "/channels/{channel_id}/messages",
                True,
            ),
            r(
                "GET",
                rf"/channels/{cid}/messages/{mid}",
                self._get_message,
                "/channels/{channel_id}/messages/{message_id}",
                True,
            ),
            r(
                "PATCH",
                rf"/channels/{cid}/messages/{mid}",
                self._patch_message,
                "/channels/{channel_id}/messages/{message_id}",
                True,
            ),
            r(
                "DELETE",
                rf"/channels/{cid}/messages/{mid}",
                self._delete_message,
                "/channels/{channel_id}/messages/{message_id}",
                True,
            ),
            r(
                "POST",
                rf"/channels/{cid}/messages/{mid}/threads",
                self._post_thread,
                "/channels/{channel_id}/messages/{message_id}/threads",
                True,
            ),
            r("POST", rf"/channels/{cid}/typing", self._post_typing, None, True),
            r(
                "PUT",
                rf"/applications/(?P<app_id>{num})/commands",
                self._put_commands,
                "/applications/{application_id}/commands",
                True,
            ),
            r(
                "GET",
                rf"/applications/(?P<app_id>{num})/commands",
                self._get_commands,
                "/applications/{application_id}/commands",
                True,
            ),
            r(
                "PUT",
                rf"/applications/(?P<app_id>{num})/guilds/(?P<guild_id>{num})/commands",
                self._put_commands,
                "/applications/{application_id}/guilds/{guild_id}/commands",
                True,
            ),
            r(
                "GET",
                rf"/applications/(?P<app_id>{num})/guilds/(?P<guild_id>{num})/commands",
                self._get_commands,
                "/applications/{application_id}/guilds/{guild_id}/commands",
                True,
            ),
            r(
                "POST",
                rf"/interactions/(?P<interaction_id>{num})/(?P<token>{tok})/callback",
                self._post_callback,
                "/interactions/{interaction_id}/{interaction_token}/callback",
                False,
            ),
            r(
                "GET",
                rf"/webhooks/(?P<app_id>{num})/(?P<token>{tok})/messages/(?P<mid>@original|{num})",
                self._get_webhook_message,
                None,
                False,
            ),
            r(
                "PATCH",
                rf"/webhooks/(?P<app_id>{num})/(?P<token>{tok})/messages/(?P<mid>@original|{num})",
                self._patch_webhook_message,
                "/webhooks/{webhook_id}/{webhook_token}/messages/@original",
                False,
            ),
            r(
                "DELETE",
                rf"/webhooks/(?P<app_id>{num})/(?P<token>{tok})/messages/(?P<mid>@original|{num})",
                self._delete_webhook_message,
                None,
                False,
            ),
            r(
                "POST",
                rf"/webhooks/(?P<app_id>{num})/(?P<token>{tok})",
                self._post_followup,
                "/webhooks/{webhook_id}/{webhook_token}",
                False,
            ),
        ]

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_get("/gateway", self._gateway)
        app.router.add_route("*", "/api/v10/{tail:.*}", self._api)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self._port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        self._release_stalled.set()
        for session in list(self._sessions):
            with contextlib.suppress(Exception):
                await session.ws.close(code=1001)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeDiscord:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("FakeDiscord not started")
        return self._port

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v10"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    @property
    def intents(self) -> int | None:
        return self.identifies[-1].get("intents") if self.identifies else None

    # ------------------------------------------------------------------ configuration
    def snowflake(self) -> int:
        ms = int(time.time() * 1000) - DISCORD_EPOCH_MS
        value = (ms << 22) | (1 << 17) | (next(self._ids) & 0xFFF)
        if value <= self._last_snowflake:
            value = self._last_snowflake + 1
        self._last_snowflake = value
        return value

    def _make_user(self, user_id: int, username: str, *, bot: bool = False) -> dict[str, Any]:
        user: dict[str, Any] = {
            "id": str(user_id),
            "username": username,
            "avatar": None,
            "discriminator": "0" if not bot else "1234",
            "public_flags": 0,
            "flags": 0,
            "banner": None,
            "accent_color": None,
            "global_name": None if bot else username.title(),
            "avatar_decoration_data": None,
            "collectibles": None,
            "primary_guild": None,
        }
        if bot:
            user.update(bot=True, verified=True, mfa_enabled=False, email=None, locale="en-US")
        self.users[user_id] = user
        return user

    def add_user(self, user_id: int, username: str) -> dict[str, Any]:
        """Register a human user (used for interaction authors and resolved options)."""
        return self._make_user(user_id, username)

    def add_channel(
        self,
        name: str,
        id: int | None = None,
        type: int = 0,
        position: int | None = None,
        permission_overwrites: list[dict[str, Any]] | None = None,
        parent_id: int | None = None,
        topic: str | None = None,
    ) -> dict[str, Any]:
        """Add a guild channel (before start(), or dispatch CHANNEL_CREATE yourself)."""
        channel_id = id if id is not None else self.snowflake()
        channel = {
            "id": str(channel_id),
            "type": type,
            "guild_id": str(self.guild_id),
            "name": name,
            "position": position if position is not None else len(self.channels),
            "parent_id": None if parent_id is None else str(parent_id),
            "topic": topic,
            "nsfw": False,
            "last_message_id": None,
            "rate_limit_per_user": 0,
            "permission_overwrites": list(permission_overwrites or []),
            "flags": 0,
        }
        self.channels[channel_id] = channel
        return channel

    def fail_next(
        self,
        method: str,
        path_regex: str,
        status: int,
        body: Any = None,
        headers: dict[str, str] | None = None,
        times: int = 1,
        after_store: bool = False,
        drop: bool = False,
        stall: bool = False,
    ) -> None:
        """Answer the next ``times`` matching requests with ``status``.

        ``method`` is an HTTP method or ``"*"``; ``path_regex`` must ``fullmatch`` the path
        relative to ``/api/v10`` (e.g. ``r"/channels/\\d+/messages"``). ``body`` defaults
        to Discord's real body for the status (429 also gets the rate-limit headers, incl.
        ``Via`` which discord.py requires before it will retry; 5xx get an HTML proxy page).
        A ``str``/``bytes`` body is sent as text/html. ``after_store=True`` runs the real
        handler first (message stored, nonce remembered) and then returns the failure.
        ``drop=True`` closes the connection instead of answering (``status`` is then
        ignored): with ``after_store`` the ambiguous failure of a dropped connection
        after Discord stored the message. discord.py does not retry it itself.
        ``stall=True`` (with ``after_store``) holds the response until the fake stops,
        so a test can kill the client while its request is pending.
        """
        if body is None:
            if status == 429:
                body = dict(RATE_LIMITED)
            elif status == 401:
                body = dict(UNAUTHORIZED)
            elif status == 403:
                body = dict(MISSING_PERMISSIONS)
            elif status == 404:
                body = dict(UNKNOWN_CHANNEL)
            elif status == 400:
                body = {"message": "Invalid Form Body", "code": 50035, "errors": {}}
            elif status >= 500:
                body = BAD_GATEWAY_HTML
        self._failures.append(
            _Failure(
                method=method.upper(),
                pattern=re.compile(path_regex),
                status=status,
                body=body,
                headers=dict(headers or {}),
                times=times,
                after_store=after_store,
                drop=drop,
                stall=stall,
            )
        )

    # ------------------------------------------------------------------ querying
    def messages_in(self, channel_id: int, *, include_ephemeral: bool = False) -> list[dict]:
        out = []
        for msg in self.messages.values():
            if int(msg["channel_id"]) != int(channel_id):
                continue
            if not include_ephemeral and msg.get("flags", 0) & MESSAGE_FLAG_EPHEMERAL:
                continue
            out.append(msg)
        return out

    def messages_under(self, channel_id: int) -> list[dict]:
        """Non-ephemeral messages in a channel and in the threads started from it."""
        threads = [t for t, c in self.threads.items() if int(c["parent_id"]) == int(channel_id)]
        return [m for cid in (int(channel_id), *threads) for m in self.messages_in(cid)]

    def requests_to(self, method: str, path_regex: str) -> list[RecordedRequest]:
        rx = re.compile(path_regex)
        return [
            r
            for r in self.requests
            if method in ("*", r.method) and rx.fullmatch(r.path) is not None
        ]

    def gateway_overlaps(self) -> list[tuple[Span, Span]]:
        """Pairs of gateway websockets that were ever open at the same time."""
        return overlapping(self.gateway_sessions)

    @property
    def live_gateway_sessions(self) -> int:
        """Gateway sessions open now that identified or resumed (receive dispatches)."""
        return sum(1 for s in self._sessions if s.live)

    def create_overlaps(self, channel_id: int | None = None) -> list[tuple[Span, Span]]:
        """Pairs of message creates for one channel (any, or `channel_id`) in flight at once."""
        channels = (
            self.creates if channel_id is None else {channel_id: self.creates.get(channel_id, [])}
        )
        return [pair for spans in channels.values() for pair in overlapping(spans)]

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = 5.0) -> Any:
        """Wait (without polling) until ``predicate()`` is truthy; returns its value."""
        async with asyncio.timeout(timeout):
            while True:
                event = self._changed
                result = predicate()
                if result:
                    return result
                await event.wait()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    # ------------------------------------------------------------------ gateway
    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True, max_msg_size=0)
        await ws.prepare(request)
        self.gateway_connects.append(dict(request.query))
        if request.query.get("encoding", "json") != "json":
            await ws.close(code=4002, message=b"Error while decoding payload.")
            return ws
        session = _Session(ws, request.query.get("compress"))
        session.span.info["peer"] = _peer(request)
        self.gateway_sessions.append(session.span)
        self._sessions.add(session)
        self._notify()
        try:
            await self.hello_released.wait()
            await session.send(
                {
                    "op": 10,
                    "t": None,
                    "s": None,
                    "d": {
                        "heartbeat_interval": self.heartbeat_interval_ms,
                        "_trace": ['["gateway-fake",{"micros":0}]'],
                    },
                }
            )
            async for msg in ws:
                if msg.type is WSMsgType.TEXT:
                    try:
                        payload = json.loads(msg.data)
                    except ValueError:
                        self.errors.append(f"gateway: undecodable frame {msg.data[:80]!r}")
                        await ws.close(code=4002, message=b"Error while decoding payload.")
                        break
                    await self._gateway_op(session, payload)
                elif msg.type is WSMsgType.BINARY:
                    self.errors.append("gateway: client sent a binary frame")
        finally:
            session.live = False
            session.span.close()
            self._sessions.discard(session)
            if session.session_id is not None:
                self._session_seqs[session.session_id] = session.seq
            self._notify()
        return ws

    async def _gateway_op(self, session: _Session, payload: dict[str, Any]) -> None:
        op, d = payload.get("op"), payload.get("d")
        if op == 1:
            self.heartbeats += 1
            await session.send({"op": 11, "t": None, "s": None, "d": None})
        elif op == 2:
            await self._identify(session, d or {})
        elif op == 6:
            await self._resume(session, d or {})
        elif op == 3:
            self.presence_updates.append(d)
        elif op == 8:
            await self._request_members(session, d or {})
        else:
            self.errors.append(f"gateway: unexpected op {op}: {payload!r}")
            await session.ws.close(code=4001, message=b"Unknown opcode.")
        self._notify()

    async def _identify(self, session: _Session, d: dict[str, Any]) -> None:
        self.identifies.append(d)
        if d.get("token") != self.token:
            await session.ws.close(code=4004, message=b"Authentication failed.")
            return
        intents = d.get("intents")
        if not isinstance(intents, int):
            await session.ws.close(code=4013, message=b"Invalid intent(s).")
            return
        if intents & PRIVILEGED_INTENTS & ~self.allowed_privileged_intents:
            await session.ws.close(code=4014, message=b"Disallowed intent(s).")
            return
        session.intents = intents
        session.session_id = secrets.token_hex(16)
        session.live = True
        session.span.info["identified"] = True
        ready: dict[str, Any] = {
            "v": 10,
            "user": self.bot_user,
            "user_settings": {},
            "guilds": [{"id": str(self.guild_id), "unavailable": True}],
            "session_id": session.session_id,
            "session_type": "normal",
            "resume_gateway_url": self.gateway_url,
            "relationships": [],
            "private_channels": [],
            "presences": [],
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": ["us-east", "us-central"],
            "auth": {},
            "application": {"id": str(self.application_id), "flags": self.application_flags},
            "_trace": ['["gateway-fake",{"micros":0}]'],
        }
        if "shard" in d:
            ready["shard"] = d["shard"]
        await session.dispatch("READY", ready)
        if intents & INTENT_GUILDS:
            await session.dispatch("GUILD_CREATE", self.guild_payload(intents))

    async def _resume(self, session: _Session, d: dict[str, Any]) -> None:
        self.resumes.append(d)
        sid = d.get("session_id")
        if d.get("token") != self.token:
            await session.ws.close(code=4004, message=b"Authentication failed.")
            return
        if sid not in self._session_seqs:
            await session.send({"op": 9, "t": None, "s": None, "d": False})
            return
        session.session_id = sid
        session.seq = self._session_seqs.pop(sid)
        session.live = True
        session.span.info["resumed"] = True
        await session.dispatch("RESUMED", {"_trace": ['["gateway-fake",{"micros":0}]']})

    async def _request_members(self, session: _Session, d: dict[str, Any]) -> None:
        members = [self.member_payload(uid) for uid in self.users]
        chunk = {
            "guild_id": str(self.guild_id),
            "members": members,
            "chunk_index": 0,
            "chunk_count": 1,
            "not_found": [],
        }
        if d.get("nonce") is not None:
            chunk["nonce"] = d["nonce"]
        if d.get("presences"):
            chunk["presences"] = []
        await session.dispatch("GUILD_MEMBERS_CHUNK", chunk)

    async def dispatch(self, event: str, data: dict[str, Any]) -> None:
        """Send a DISPATCH (op 0) event to every live gateway session."""
        sessions = [s for s in self._sessions if s.live]
        if not sessions:
            raise RuntimeError("no identified gateway session to dispatch to")
        if event == "INTERACTION_CREATE":
            interaction = self._interactions.get(int(data["id"]))
            if interaction is not None:
                interaction.dispatched_at = time.monotonic()
        for session in sessions:
            await session.dispatch(event, data)

    async def _echo(self, event: str, data: dict[str, Any], intent: int) -> None:
        if not self.gateway_echo:
            return
        for session in [s for s in self._sessions if s.live and s.intents & intent]:
            await session.dispatch(event, data)

    async def close_gateway(self, code: int = 4000) -> None:
        """Close every gateway connection server-side (discord.py will try to RESUME)."""
        for session in list(self._sessions):
            session.live = False
            await session.ws.close(code=code, message=b"fake close")

    async def send_reconnect(self) -> None:
        """Send op 7 RECONNECT to every live session."""
        for session in [s for s in self._sessions if s.live]:
            await session.send({"op": 7, "t": None, "s": None, "d": None})

    # ------------------------------------------------------------------ payload builders
    def member_payload(self, user_id: int, *, with_user: bool = True) -> dict[str, Any]:
        roles = [str(BOT_ROLE_ID)] if user_id == self.bot_user_id else []
        member: dict[str, Any] = {
            "roles": roles,
            "premium_since": None,
            "pending": False,
            "nick": None,
            "mute": False,
            "joined_at": "2024-01-01T00:00:00.000000+00:00",
            "flags": 0,
            "deaf": False,
            "communication_disabled_until": None,
            "banner": None,
            "avatar": None,
        }
        if with_user:
            member["user"] = self.users[user_id]
        return member

    def guild_payload(self, intents: int = INTENT_GUILDS) -> dict[str, Any]:
        everyone = {
            "id": str(self.guild_id),
            "name": "@everyone",
            "permissions": str(self.everyone_permissions),
            "position": 0,
            "color": 0,
            "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
            "hoist": False,
            "managed": False,
            "mentionable": False,
            "icon": None,
            "unicode_emoji": None,
            "flags": 0,
            "description": None,
        }
        bot_role = dict(
            everyone,
            id=str(BOT_ROLE_ID),
            name=self.bot_user["username"],
            permissions=str(self.bot_permissions),
            position=1,
            managed=True,
            tags={"bot_id": str(self.bot_user_id)},
        )
        member_ids = list(self.users) if intents & INTENT_GUILD_MEMBERS else [self.bot_user_id]
        channels = [
            {k: v for k, v in c.items() if k != "guild_id"}
            for c in self.channels.values()
            if c["type"] not in (10, 11, 12)
        ]
        threads = [dict(t) for t in self.threads.values()]
        return {
            "id": str(self.guild_id),
            "name": self.guild_name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "banner": None,
            "description": None,
            "owner_id": str(USER_ID),
            "region": "deprecated",
            "afk_channel_id": None,
            "afk_timeout": 300,
            "system_channel_id": None,
            "system_channel_flags": 0,
            "widget_enabled": False,
            "verification_level": 1,
            "default_message_notifications": 1,
            "explicit_content_filter": 2,
            "mfa_level": 0,
            "nsfw_level": 0,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "premium_progress_bar_enabled": False,
            "preferred_locale": "en-US",
            "rules_channel_id": None,
            "public_updates_channel_id": None,
            "safety_alerts_channel_id": None,
            "vanity_url_code": None,
            "features": [],
            "max_members": 25000000,
            "max_video_channel_users": 25,
            "max_stage_video_channel_users": 50,
            "application_id": None,
            "incidents_data": None,
            "roles": [everyone, bot_role],
            "emojis": [],
            "stickers": [],
            "joined_at": "2024-01-01T00:00:00.000000+00:00",
            "large": False,
            "unavailable": False,
            "lazy": True,
            "member_count": len(self.users),
            "members": [self.member_payload(uid) for uid in member_ids],
            "channels": channels,
            "threads": threads,
            "presences": [],
            "voice_states": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
            "embedded_activities": [],
            "activity_instances": [],
            "version": int(time.time() * 1000),
        }

    def _registered_command(self, name: str, guild_id: int | None) -> dict[str, Any] | None:
        for scope in (guild_id, None) if guild_id is not None else (None,):
            for cmd in self.commands.get(scope, []):
                if cmd["name"] == name and cmd.get("type", 1) == 1:
                    return cmd
        return None

    def interaction(
        self,
        name: str,
        options: dict[str, Any] | list[dict[str, Any]] | None = None,
        user_id: int = USER_ID,
        *,
        permissions: int | str = DEFAULT_MEMBER_PERMISSIONS,
        guild_id: int | bool | None = True,
        channel_id: int | None = None,
        roles: list[int] | None = None,
        locale: str = "en-US",
        focused: str | None = None,
        interaction_type: int = 2,
    ) -> dict[str, Any]:
        """Build a realistic APPLICATION_COMMAND (type 2) INTERACTION_CREATE payload.

        ``name`` is the full command path: ``"watch"``, ``"watch add"`` (subcommand) or
        ``"config feeds add"`` (group + subcommand). ``options`` is ``{name: value}`` for the
        leaf (types come from the registered command if it was synced to the fake, else are
        inferred: str→3, int→4, bool→5, float→10) or a raw list of option dicts.
        ``guild_id=True`` means the fake's guild; ``None`` builds a DM interaction.
        ``channel_id`` defaults to the first text channel; unknown ``user_id``s are added.
        Sync your CommandTree to the fake first: guild commands only resolve in discord.py
        when ``data.guild_id`` is present, which (as on Discord) is set only for commands
        registered to a guild.
        Snowflake-typed options (user 6, channel 7, role 8) get ``data.resolved`` entries.
        ``focused`` marks an option as focused (autocomplete). The interaction is remembered
        so its callback/webhook routes work; send it with ``await fake.dispatch(
        "INTERACTION_CREATE", payload)``.
        """
        gid = self.guild_id if guild_id is True else (guild_id or None)
        if user_id not in self.users:
            self.add_user(user_id, f"user{len(self.users)}")
        if channel_id is None:
            channel_id = next(
                (cid for cid, c in self.channels.items() if c["type"] == 0), ALERTS_CHANNEL_ID
            )
        parts = name.split()
        cmd = self._registered_command(parts[0], gid)

        # Walk the registered definition to learn which path parts are groups/subcommands
        definition: dict[str, Any] | None = cmd
        chain: list[tuple[str, int]] = []
        for i, part in enumerate(parts[1:], start=1):
            kind = 1 if i == len(parts) - 1 else 2
            if definition is not None:
                found = next(
                    (o for o in definition.get("options") or [] if o["name"] == part), None
                )
                if found is not None:
                    kind = found["type"]
                definition = found
            chain.append((part, kind))
        leaf_defs = {o["name"]: o for o in (definition or {}).get("options") or []}

        resolved: dict[str, dict[str, Any]] = {}
        if isinstance(options, list):
            leaf = [dict(o) for o in options]
        else:
            leaf = []
            for opt_name, value in (options or {}).items():
                opt_type = leaf_defs.get(opt_name, {}).get("type") or _infer_option_type(value)
                if opt_type in (6, 7, 8, 9) and not isinstance(value, str):
                    value = str(value)
                leaf.append({"name": opt_name, "type": opt_type, "value": value})
        for opt in leaf:
            if focused is not None and opt["name"] == focused:
                opt["focused"] = True
            self._resolve_option(opt, resolved, gid)

        nested: list[dict[str, Any]] = leaf
        for part, kind in reversed(chain):
            nested = [{"name": part, "type": kind, "options": nested}]

        data: dict[str, Any] = {
            "id": cmd["id"] if cmd else str(self.snowflake()),
            "name": parts[0],
            "type": 1,
        }
        if nested:
            data["options"] = nested
        if resolved:
            data["resolved"] = resolved
        if cmd is not None and cmd.get("guild_id"):
            data["guild_id"] = cmd["guild_id"]

        interaction_id = self.snowflake()
        token = "aW50ZXJhY3Rpb246" + secrets.token_urlsafe(96)
        perms = str(permissions)
        app_perms = str(self.bot_permissions | self.everyone_permissions)
        payload: dict[str, Any] = {
            "id": str(interaction_id),
            "application_id": str(self.application_id),
            "type": interaction_type,
            "data": data,
            "token": token,
            "version": 1,
            "locale": locale,
            "app_permissions": app_perms,
            "entitlements": [],
            "entitlement_sku_ids": [],
            "attachment_size_limit": 10 * 1024 * 1024,
        }
        if gid is not None:
            channel = dict(self.channels.get(channel_id) or {"id": str(channel_id), "type": 0})
            channel["permissions"] = perms
            member = self.member_payload(user_id)
            member["roles"] = [str(r) for r in roles or []]
            member["permissions"] = perms
            member["unusual_dm_activity_until"] = None
            payload.update(
                guild_id=str(gid),
                guild={"id": str(gid), "locale": "en-US", "features": []},
                guild_locale="en-US",
                channel_id=str(channel_id),
                channel=channel,
                member=member,
                authorizing_integration_owners={"0": str(gid)},
                context=0,
            )
        else:
            payload.update(
                channel_id=str(channel_id),
                channel={
                    "id": str(channel_id),
                    "type": 1,
                    "last_message_id": None,
                    "flags": 0,
                    "recipients": [self.users[user_id]],
                },
                user=self.users[user_id],
                authorizing_integration_owners={"0": str(self.guild_id)},
                context=1,
            )
        self._register_interaction(payload, gid)
        return payload

    def autocomplete(
        self,
        name: str,
        options: dict[str, Any] | list[dict[str, Any]] | None = None,
        user_id: int = USER_ID,
        *,
        focused: str,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """Build an APPLICATION_COMMAND_AUTOCOMPLETE (type 4) payload; ``focused`` names the
        option being typed (its value is the partial text)."""
        return self.interaction(
            name, options, user_id, focused=focused, interaction_type=4, **kwargs
        )

    def _resolve_option(self, opt: dict[str, Any], resolved: dict, gid: int | None) -> None:
        t, value = opt.get("type"), opt.get("value")
        if t in (6, 9) and value is not None and int(value) in self.users:
            uid = int(value)
            resolved.setdefault("users", {})[str(uid)] = self.users[uid]
            if gid is not None:
                member = self.member_payload(uid, with_user=False)
                member["permissions"] = str(self.everyone_permissions)
                resolved.setdefault("members", {})[str(uid)] = member
        elif t == 7 and value is not None and int(value) in self.channels:
            ch = self.channels[int(value)]
            entry = {
                "id": ch["id"],
                "name": ch["name"],
                "type": ch["type"],
                "permissions": str(self.everyone_permissions),
                "flags": ch.get("flags", 0),
                "guild_id": ch.get("guild_id"),
                "parent_id": ch.get("parent_id"),
            }
            if ch["type"] in (10, 11, 12):
                entry["thread_metadata"] = ch["thread_metadata"]
            resolved.setdefault("channels", {})[ch["id"]] = entry

    def _register_interaction(self, payload: dict[str, Any], gid: int | None) -> None:
        state = _Interaction(
            id=int(payload["id"]),
            token=payload["token"],
            type=payload["type"],
            channel_id=int(payload["channel_id"]),
            guild_id=gid,
            payload=payload,
        )
        self._interactions[state.id] = state
        self._interactions_by_token[state.token] = state

    def message_payload(
        self,
        channel_id: int,
        body: dict[str, Any],
        *,
        author: dict[str, Any] | None = None,
        message_type: int = 0,
        flags: int = 0,
        extra: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        mid = self.snowflake()
        embeds = _normalize_embeds(body.get("embeds"))
        msg: dict[str, Any] = {
            "type": message_type,
            "content": body.get("content") or "",
            "mentions": [],
            "mention_roles": [],
            "attachments": [],
            "embeds": embeds,
            "timestamp": _now_iso(snowflake_time(mid)),
            "edited_timestamp": None,
            "flags": flags,
            "components": copy.deepcopy(body.get("components") or []),
            "id": str(mid),
            "channel_id": str(channel_id),
            "author": author or self.bot_user,
            "pinned": False,
            "mention_everyone": False,
            "tts": bool(body.get("tts")),
        }
        if body.get("nonce") is not None:
            msg["nonce"] = body["nonce"]
        if body.get("message_reference"):
            msg["message_reference"] = dict(body["message_reference"], type=0)
            msg["type"] = 19
        if extra:
            msg.update(extra)
        return msg

    # ------------------------------------------------------------------ REST plumbing
    def _ratelimit_headers(self, path: str) -> dict[str, str]:
        if not self.ratelimit_headers:
            return {}
        return {
            "X-RateLimit-Limit": "50",
            "X-RateLimit-Remaining": "49",
            "X-RateLimit-Reset": f"{time.time() + 1:.3f}",
            "X-RateLimit-Reset-After": "1.000",
            "X-RateLimit-Bucket": _bucket(path),
            "Via": "1.1 google",
        }

    async def _read_body(self, request: web.Request) -> tuple[Any, list[dict[str, Any]]]:
        if not request.can_read_body:
            return None, []
        ctype = request.content_type
        if ctype == "application/json":
            text = await request.text()
            if not text:
                return None, []
            try:
                return json.loads(text), []
            except ValueError as exc:
                raise _Reply(400, {"message": "400: Bad Request", "code": 0}) from exc
        if ctype == "multipart/form-data":
            form = await request.post()
            files = []
            payload = None
            for key, value in form.items():
                if key == "payload_json":
                    payload = json.loads(value if isinstance(value, str) else value.file.read())
                elif hasattr(value, "file"):
                    files.append(
                        {
                            "field": key,
                            "filename": value.filename,
                            "content_type": value.content_type,
                            "data": value.file.read(),
                        }
                    )
            return payload, files
        raw = await request.read()
        self.errors.append(f"{request.method} {request.path}: unsupported content type {ctype}")
        return raw.decode(errors="replace"), []

    def _match_failure(self, method: str, path: str) -> _Failure | None:
        for failure in self._failures:
            if failure.times <= 0:
                continue
            if failure.method not in ("*", method):
                continue
            if failure.pattern.fullmatch(path):
                failure.times -= 1
                return failure
        return None

    def _failure_response(self, failure: _Failure, path: str) -> web.Response:
        headers: dict[str, str] = {}
        if failure.status == 429:
            body = failure.body if isinstance(failure.body, dict) else {}
            retry_after = float(body.get("retry_after", 0.2))
            is_global = bool(body.get("global"))
            headers.update(
                {
                    "Retry-After": str(max(1, int(retry_after + 0.999))),
                    "X-RateLimit-Limit": "5",
                    "X-RateLimit-Remaining": "0",
                    "X-RateLimit-Reset": f"{time.time() + retry_after:.3f}",
                    "X-RateLimit-Reset-After": f"{retry_after:.3f}",
                    "X-RateLimit-Bucket": _bucket(path),
                    "X-RateLimit-Scope": "global" if is_global else "user",
                    "Via": "1.1 google",
                }
            )
            if is_global:
                headers["X-RateLimit-Global"] = "true"
        headers.update(failure.headers)
        if isinstance(failure.body, dict | list):
            return _json_response(failure.body, failure.status, headers)
        body = failure.body.encode() if isinstance(failure.body, str) else failure.body or b""
        headers.setdefault("Content-Type", "text/html")
        return web.Response(status=failure.status, body=body, headers=headers)

    def _drop(self, request: web.Request, record: RecordedRequest) -> web.StreamResponse:
        """Close the connection without an answer: the client cannot know what happened."""
        record.injected = True
        record.status = 0
        self._notify()
        transport = request.transport
        assert transport is not None
        transport.close()
        raise asyncio.CancelledError  # aiohttp: handler abandoned, nothing written

    async def _api(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["tail"]
        method = request.method
        record = RecordedRequest(
            method=method,
            path=path,
            query=dict(request.query),
            json=None,
            headers=dict(request.headers),
        )
        self.requests.append(record)
        create = _CREATE.fullmatch(path) if method == "POST" else None
        span = Span(info={"peer": _peer(request)})
        if create is not None:
            self.creates.setdefault(int(create[1]), []).append(span)
        try:
            if create is not None and self.create_latency:
                await asyncio.sleep(self.create_latency)  # Discord's latency, not a wait
            response = await self._handle(request, record)
        except _Reply as reply:
            response = _json_response(reply.body, reply.status, self._ratelimit_headers(path))
        finally:
            span.close()  # also when the client hung up (cancelled) or a stall ended
            if isinstance(record.json, dict):
                span.info["nonce"] = record.json.get("nonce")
        record.status = span.info["status"] = response.status
        self._notify()
        return response

    async def _handle(self, request: web.Request, record: RecordedRequest) -> web.StreamResponse:
        method, path = record.method, record.path
        route, match, path_known = None, None, False
        for candidate in self._routes:
            m = candidate.regex.fullmatch(path)
            if m is None:
                continue
            path_known = True
            if candidate.method == method:
                route, match = candidate, m
                break
        if route is None or match is None:
            self.errors.append(f"{method} {path}: route not implemented by FakeDiscord")
            if path_known:
                raise _Reply(405, METHOD_NOT_ALLOWED)
            raise _Reply(404, NOT_FOUND)

        body, files = await self._read_body(request)
        record.json, record.files = body, files

        if route.auth and request.headers.get("Authorization") != f"Bot {self.token}":
            raise _Reply(401, UNAUTHORIZED)

        if route.spec is not None and body is not None:
            schema = self.validator.request_schema(method, route.spec)
            if schema is None:
                record.validation_errors.append(f"{method} {route.spec} takes no JSON body")
            else:
                record.validation_errors.extend(self.validator.validate(body, schema))
            if record.validation_errors:
                self.errors.extend(f"{method} {path}: {e}" for e in record.validation_errors)
                if self.reject_invalid:
                    raise _Reply(
                        400,
                        {
                            "message": "Invalid Form Body",
                            "code": 50035,
                            "errors": {"_fake": record.validation_errors},
                        },
                    )

        failure = self._match_failure(method, path)
        if failure is not None and not failure.after_store:
            if failure.drop:
                return self._drop(request, record)
            record.injected = True
            return self._failure_response(failure, path)

        request[_FILES] = files  # multipart uploads, for the message handlers
        try:
            result = await route.handler(request, body=body, **match.groupdict())
        except _Reply:
            if failure is not None:
                record.injected = True
                return self._failure_response(failure, path)
            raise
        if failure is not None:
            if failure.stall:
                self.stalled.append(path)
                self._notify()
                await self._release_stalled.wait()  # set by stop()
                raise asyncio.CancelledError  # nothing written: the client never hears back
            if failure.drop:
                return self._drop(request, record)
            record.injected = True
            return self._failure_response(failure, path)
        if isinstance(result, web.StreamResponse):
            return result
        if result is None:
            return web.Response(status=204, headers=self._ratelimit_headers(path))
        return _json_response(result, 200, self._ratelimit_headers(path))

    # ------------------------------------------------------------------ REST handlers
    def _channel(self, channel_id: str | int) -> dict[str, Any]:
        channel = self.channels.get(int(channel_id))
        if channel is None:
            raise _Reply(404, UNKNOWN_CHANNEL)
        return channel

    async def _get_me(self, request, body) -> dict[str, Any]:
        return self.bot_user

    async def _get_app(self, request, body) -> dict[str, Any]:
        owner = self.users[USER_ID]
        return {
            "id": str(self.application_id),
            "name": self.bot_user["username"],
            "icon": None,
            "description": "",
            "summary": "",
            "type": None,
            "hook": True,
            "bot_public": True,
            "bot_require_code_grant": False,
            "verify_key": "0" * 64,
            "owner": owner,
            "team": None,
            "flags": self.application_flags,
            "bot": self.bot_user,
            "redirect_uris": [],
            "interactions_endpoint_url": None,
            "role_connections_verification_url": None,
            "approximate_guild_count": 1,
            "approximate_user_install_count": 0,
            "install_params": {"scopes": ["bot", "applications.commands"], "permissions": "0"},
            "integration_types_config": {"0": {}},
            "tags": [],
        }

    async def _get_gateway(self, request, body) -> dict[str, Any]:
        return {"url": self.gateway_url}

    async def _get_gateway_bot(self, request, body) -> dict[str, Any]:
        return {
            "url": self.gateway_url,
            "shards": 1,
            "session_start_limit": {
                "total": 1000,
                "remaining": 999,
                "reset_after": 14_400_000,
                "max_concurrency": 1,
            },
        }

    async def _get_channel(self, request, body, channel_id) -> dict[str, Any]:
        return self._channel(channel_id)

    async def _post_typing(self, request, body, channel_id) -> None:
        self._channel(channel_id)
        return None

    async def _post_message(self, request, body, channel_id) -> dict[str, Any]:
        channel = self._channel(channel_id)
        body = body or {}
        uploads = self._uploads(request, body)
        if not uploads and not any(
            body.get(k) for k in ("content", "embeds", "components", "sticker_ids", "poll")
        ):
            raise _Reply(400, {"message": "Cannot send an empty message", "code": 50006})
        nonce = body.get("nonce")
        key = None
        if nonce is not None and body.get("enforce_nonce"):
            key = (self.bot_user_id, str(nonce))
            now = time.monotonic()
            seen = self._nonces.get(key)
            if seen is not None and now - seen[1] <= self.nonce_ttl and seen[0] in self.messages:
                self.nonce_hits += 1
                return self.messages[seen[0]]
        flags = int(body.get("flags") or 0) & ((1 << 2) | (1 << 12))  # SUPPRESS_* only
        msg = self.message_payload(int(channel_id), body, flags=flags)
        mid = int(msg["id"])
        self._attach(msg, uploads)
        self.messages[mid] = msg
        channel["last_message_id"] = msg["id"]
        if key is not None:
            self._nonces[key] = (mid, time.monotonic())
        if channel["type"] in (10, 11, 12):
            channel["message_count"] = channel.get("message_count", 0) + 1
            channel["total_message_sent"] = channel.get("total_message_sent", 0) + 1
        event = dict(msg, guild_id=channel["guild_id"])
        event["member"] = self.member_payload(self.bot_user_id, with_user=False)
        await self._echo("MESSAGE_CREATE", event, INTENT_GUILD_MESSAGES)
        return msg

    def _uploads(self, request: web.Request, body: dict[str, Any]) -> list[dict[str, Any]]:
        """The files of a multipart message, each matched to its ``attachments`` entry.

        Discord names the parts ``files[N]`` and expects ``payload_json.attachments``
        to hold ``{"id": N, "filename": …}`` for each; a part without its entry, or an
        entry without its part, is a client bug.
        """
        files = request.get(_FILES) or []
        entries = {str(a.get("id")): a for a in body.get("attachments") or []}
        uploads = []
        for part in files:
            m = re.fullmatch(r"files\[(\d+)\]", part["field"])
            if m is None:
                self.errors.append(f"multipart field {part['field']!r} is not files[N]")
                continue
            entry = entries.pop(m.group(1), None)
            if entry is None:
                self.errors.append(f"{part['field']} has no attachments entry with id {m[1]}")
                entry = {}
            uploads.append(
                {
                    "filename": entry.get("filename") or part["filename"],
                    "description": entry.get("description"),
                    "content_type": part["content_type"],
                    "data": part["data"],
                }
            )
        for ident in entries:
            self.errors.append(f"attachments entry {ident} has no files[{ident}] part")
        return uploads

    def _attach(self, msg: dict[str, Any], uploads: list[dict[str, Any]]) -> None:
        """Store uploads as the message's attachments; resolve ``attachment://`` in embeds."""
        urls = {}
        for upload in uploads:
            aid = self.snowflake()
            url = f"http://127.0.0.1:{self.port}/attachments/{msg['channel_id']}/{aid}/"
            url += upload["filename"]
            self.attachments[aid] = dict(upload, message_id=msg["id"], id=aid)
            msg["attachments"].append(
                {
                    "id": str(aid),
                    "filename": upload["filename"],
                    "description": upload["description"],
                    "content_type": upload["content_type"],
                    "size": len(upload["data"]),
                    "url": url,
                    "proxy_url": url,
                }
            )
            urls[f"attachment://{upload['filename']}"] = url
        for embed in msg["embeds"]:
            for key in ("image", "thumbnail"):
                ref = (embed.get(key) or {}).get("url", "")
                if not ref.startswith("attachment://"):
                    continue
                if ref not in urls:
                    self.errors.append(f"embed {key} {ref} names no attached file")
                else:
                    embed[key] = {"url": urls[ref], "proxy_url": urls[ref]}

    def attachment_data(self, message: dict[str, Any], filename: str) -> bytes:
        """The bytes uploaded as ``filename`` with ``message`` (KeyError if there are none)."""
        for a in message["attachments"]:
            if a["filename"] == filename:
                return self.attachments[int(a["id"])]["data"]
        raise KeyError(filename)

    def _stored_message(self, channel_id: str, message_id: str) -> dict[str, Any]:
        self._channel(channel_id)
        msg = self.messages.get(int(message_id))
        if msg is None or msg["channel_id"] != str(int(channel_id)):
            raise _Reply(404, UNKNOWN_MESSAGE)
        return msg

    async def _get_message(self, request, body, channel_id, message_id) -> dict[str, Any]:
        return self._stored_message(channel_id, message_id)

    def _apply_edit(self, msg: dict[str, Any], body: dict[str, Any]) -> None:
        for key in ("content", "components"):
            if key in body:
                msg[key] = (
                    copy.deepcopy(body[key])
                    if body[key] is not None
                    else ("" if key == "content" else [])
                )
        if "embeds" in body:
            msg["embeds"] = _normalize_embeds(body["embeds"])
        if body.get("flags") is not None:
            keep = msg.get("flags", 0) & ~((1 << 2) | MESSAGE_FLAG_LOADING)
            msg["flags"] = keep | (int(body["flags"]) & (1 << 2))
        else:
            msg["flags"] = msg.get("flags", 0) & ~MESSAGE_FLAG_LOADING
        msg["edited_timestamp"] = _now_iso()

    async def _patch_message(self, request, body, channel_id, message_id) -> dict[str, Any]:
        msg = self._stored_message(channel_id, message_id)
        if msg["author"]["id"] != self.bot_user["id"]:
            raise _Reply(403, CANNOT_EDIT_OTHERS)
        self._apply_edit(msg, body or {})
        self.edits.append(
            {"channel_id": int(channel_id), "message_id": int(message_id), "body": body or {}}
        )
        channel = self.channels[int(channel_id)]
        event = dict(msg, guild_id=channel["guild_id"])
        await self._echo("MESSAGE_UPDATE", event, INTENT_GUILD_MESSAGES)
        return msg

    async def _delete_message(self, request, body, channel_id, message_id) -> None:
        msg = self._stored_message(channel_id, message_id)
        del self.messages[int(msg["id"])]
        channel = self.channels[int(channel_id)]
        await self._echo(
            "MESSAGE_DELETE",
            {"id": msg["id"], "channel_id": msg["channel_id"], "guild_id": channel["guild_id"]},
            INTENT_GUILD_MESSAGES,
        )
        return None

    async def _post_thread(self, request, body, channel_id, message_id) -> dict[str, Any]:
        msg = self._stored_message(channel_id, message_id)
        parent = self.channels[int(channel_id)]
        if parent["type"] not in (0, 5):
            raise _Reply(400, WRONG_CHANNEL_TYPE)
        if int(message_id) in self.threads:
            raise _Reply(400, THREAD_ALREADY_CREATED)
        body = body or {}
        archive = body.get("auto_archive_duration") or 4320
        thread_id = int(message_id)  # a thread started from a message shares its id
        now = _now_iso()
        thread = {
            "id": str(thread_id),
            "type": 11 if parent["type"] == 0 else 10,
            "last_message_id": None,
            "flags": 0,
            "guild_id": parent["guild_id"],
            "name": body["name"],
            "parent_id": parent["id"],
            "rate_limit_per_user": body.get("rate_limit_per_user") or 0,
            "bitrate": 64000,
            "user_limit": 0,
            "rtc_region": None,
            "owner_id": self.bot_user["id"],
            "thread_metadata": {
                "archived": False,
                "archive_timestamp": now,
                "auto_archive_duration": archive,
                "locked": False,
                "create_timestamp": now,
            },
            "message_count": 0,
            "member_count": 1,
            "total_message_sent": 0,
            "member": {
                "id": str(thread_id),
                "user_id": self.bot_user["id"],
                "join_timestamp": now,
                "flags": 1,
                "muted": False,
                "mute_config": None,
            },
        }
        self.threads[thread_id] = thread
        self.channels[thread_id] = thread
        msg["thread"] = {k: v for k, v in thread.items() if k != "member"}
        event = {k: v for k, v in thread.items() if k != "member"}
        event["newly_created"] = True
        await self._echo("THREAD_CREATE", event, INTENT_GUILDS)
        return thread

    def _check_app(self, app_id: str) -> None:
        if int(app_id) != self.application_id:
            raise _Reply(404, UNKNOWN_APPLICATION)

    async def _put_commands(self, request, body, app_id, guild_id=None) -> list[dict[str, Any]]:
        self._check_app(app_id)
        scope = None if guild_id is None else int(guild_id)
        if scope is not None and scope != self.guild_id:
            raise _Reply(403, MISSING_ACCESS)
        payload = body or []
        self.command_puts.append({"guild_id": scope, "payload": copy.deepcopy(payload)})
        registered = []
        for cmd in payload:
            ctype = cmd.get("type") or 1
            key = (scope, cmd["name"], ctype)
            cid = self._command_ids.get(key)
            if cid is None:
                cid = self._command_ids[key] = self.snowflake()
            perms = cmd.get("default_member_permissions")
            out = {
                "id": str(cid),
                "application_id": str(self.application_id),
                "version": str(self.snowflake()),
                "default_member_permissions": None if perms is None else str(perms),
                "type": ctype,
                "name": cmd["name"],
                "name_localizations": cmd.get("name_localizations"),
                "description": cmd.get("description") or "",
                "description_localizations": cmd.get("description_localizations"),
                "dm_permission": cmd.get("dm_permission", True),
                "contexts": cmd.get("contexts"),
                "integration_types": cmd.get("integration_types") or [0],
                "nsfw": bool(cmd.get("nsfw")),
            }
            if cmd.get("options"):
                out["options"] = copy.deepcopy(cmd["options"])
            if scope is not None:
                out["guild_id"] = str(scope)
            registered.append(out)
        self.commands[scope] = registered
        return registered

    async def _get_commands(self, request, body, app_id, guild_id=None) -> list[dict[str, Any]]:
        self._check_app(app_id)
        return self.commands.get(None if guild_id is None else int(guild_id), [])

    async def _post_callback(self, request, body, interaction_id, token) -> Any:
        self.interaction_responses[int(interaction_id)] += 1
        state = self._interactions.get(int(interaction_id))
        if state is None or state.token != token:
            raise _Reply(404, UNKNOWN_INTERACTION)
        if state.response_type is not None:
            raise _Reply(400, ALREADY_ACKNOWLEDGED)
        if (
            state.dispatched_at is not None
            and time.monotonic() - state.dispatched_at > self.interaction_deadline
        ):
            raise _Reply(404, UNKNOWN_INTERACTION)
        body = body or {}
        ctype = body.get("type")
        data = body.get("data") or {}
        state.response_type = ctype
        self.callbacks.append(
            {
                "interaction_id": state.id,
                "token": token,
                "type": ctype,
                "data": data,
                "query": dict(request.query),
                "payload": body,
            }
        )
        info: dict[str, Any] = {"id": str(state.id), "type": state.type}
        resource: dict[str, Any] | None = None
        if ctype in (4, 5):
            flags = int(data.get("flags") or 0) & (MESSAGE_FLAG_EPHEMERAL | (1 << 2) | (1 << 12))
            if ctype == 5:
                flags |= MESSAGE_FLAG_LOADING
            msg = self._interaction_message(state, data if ctype == 4 else {}, flags)
            state.original_message_id = int(msg["id"])
            info.update(
                response_message_id=msg["id"],
                response_message_loading=ctype == 5,
                response_message_ephemeral=bool(flags & MESSAGE_FLAG_EPHEMERAL),
            )
            if ctype == 4:
                resource = {"type": 4, "message": msg}
        if request.query.get("with_response") not in ("1", "true", "True"):
            return None
        out: dict[str, Any] = {"interaction": info}
        if resource is not None:
            out["resource"] = resource
        return out

    def _interaction_message(
        self, state: _Interaction, data: dict[str, Any], flags: int
    ) -> dict[str, Any]:
        user = state.payload.get("member", {}).get("user") or state.payload.get("user")
        metadata = {
            "id": str(state.id),
            "type": state.type,
            "user": user,
            "authorizing_integration_owners": state.payload.get(
                "authorizing_integration_owners", {}
            ),
            "name": state.payload.get("data", {}).get("name"),
            "command_type": 1,
        }
        extra = {
            "webhook_id": str(self.application_id),
            "application_id": str(self.application_id),
            "interaction_metadata": metadata,
        }
        msg = self.message_payload(
            state.channel_id or 0,
            data,
            message_type=20,
            flags=flags,
            extra=extra,
        )
        self.messages[int(msg["id"])] = msg
        return msg

    def _webhook_state(self, app_id: str, token: str) -> _Interaction:
        self._check_app(app_id)
        state = self._interactions_by_token.get(token)
        if state is None:
            raise _Reply(401, {"message": "Invalid Webhook Token", "code": 50027})
        return state

    def _webhook_target(self, state: _Interaction, mid: str) -> dict[str, Any]:
        if mid == "@original":
            if state.original_message_id is None:
                raise _Reply(404, UNKNOWN_MESSAGE)
            target = state.original_message_id
        else:
            target = int(mid)
        msg = self.messages.get(target)
        if msg is None or msg.get("interaction_metadata", {}).get("id") != str(state.id):
            raise _Reply(404, UNKNOWN_MESSAGE)
        return msg

    async def _get_webhook_message(self, request, body, app_id, token, mid) -> dict[str, Any]:
        return self._webhook_target(self._webhook_state(app_id, token), mid)

    async def _patch_webhook_message(self, request, body, app_id, token, mid) -> dict[str, Any]:
        msg = self._webhook_target(self._webhook_state(app_id, token), mid)
        self._apply_edit(msg, body or {})
        return msg

    async def _delete_webhook_message(self, request, body, app_id, token, mid) -> None:
        msg = self._webhook_target(self._webhook_state(app_id, token), mid)
        del self.messages[int(msg["id"])]
        return None

    async def _post_followup(self, request, body, app_id, token) -> dict[str, Any] | None:
        state = self._webhook_state(app_id, token)
        if state.response_type is None:
            raise _Reply(404, UNKNOWN_WEBHOOK)
        body = body or {}
        flags = int(body.get("flags") or 0) & (MESSAGE_FLAG_EPHEMERAL | (1 << 2) | (1 << 12))
        msg = self._interaction_message(state, body, flags)
        self.followups.append({"token": token, "message": msg, "payload": body})
        if request.query.get("wait") in ("true", "1", "True"):
            return msg
        return None
