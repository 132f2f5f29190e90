"""Delivering to Slack, and its slash commands, with slack-bolt and slack_sdk.

Slack has no idempotency key, so every post carries message `metadata`
naming it (an alert's outbox id, a flood summary's id, a digest's key); after
an ambiguous failure (timeout, dropped connection) the next attempt first
looks for it in the channel's recent history (a thread's, for a reply).
An alert looks first whenever its outbox row was claimed before (the outbox
commits the claim before the request leaves), so a crash between Slack
storing the message and the bot recording it posts nothing twice.
Summaries and digests always look first: they are rare. 429s wait for
Retry-After; posts are paced at about one per second per channel.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import re
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp
import aiohttp.web
from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.web.async_client import AsyncWebClient

from bot.chat.slack.render import (
    alert_blocks,
    alert_text,
    digest_blocks,
    digest_text,
    reply_blocks,
    reply_text,
    story_blocks,
    summary_blocks,
    summary_text,
)
from bot.config import RequiredSecret, http_url_problem
from bot.digest.model import Digest
from bot.errors import ConfigError, DeliveryError, PlatformUnreachable
from bot.models import Alert, FloodSummary, StoryUpdate

if TYPE_CHECKING:
    from bot.commands import Commands

log = logging.getLogger(__name__)

METADATA_EVENT = "newswatch_alert"
SUMMARY_EVENT = "newswatch_summary"
DIGEST_EVENT = "newswatch_digest"
CHART_TITLE = "Mentions per day, last 7 days"
HISTORY_LOOKBACK = 100  # messages searched for an earlier try of a post
PACE = 1.0  # seconds between posts to one channel (Slack's guidance: about 1/s)
BROKEN_ERRORS = frozenset(
    {
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "invalid_auth",
        "account_inactive",
        "token_revoked",
        "missing_scope",
        "restricted_action",
    }
)
# The token no longer works: the connection to Slack counts as down (/healthz).
AUTH_ERRORS = frozenset({"invalid_auth", "not_authed", "account_inactive", "token_revoked"})
# An edit of a message that is gone or not the bot's: give up on that message.
GONE_ERRORS = frozenset({"message_not_found", "cant_update_message", "edit_window_closed"})


@dataclass(frozen=True, slots=True)
class SlackSettings:
    mode: str = "socket"  # "socket" or "http"
    bot_token_env: str = "SLACK_BOT_TOKEN"
    app_token_env: str = "SLACK_APP_TOKEN"
    signing_secret_env: str = "SLACK_SIGNING_SECRET"
    managers: tuple[str, ...] = ()
    manager_usergroup: str | None = None
    commands: tuple[str, str, str] = ("/watch", "/feeds", "/digest")
    api_base: str | None = None
    host: str = "0.0.0.0"
    port: int = 3000


def slack_settings(raw: dict[str, Any], path: Path) -> SlackSettings:
    """Validate the [slack] table of bot.toml."""
    p = str(path)
    known = {
        "mode",
        "bot_token_env",
        "app_token_env",
        "signing_secret_env",
        "managers",
        "manager_usergroup",
        "commands",
        "api_base",
        "host",
        "port",
    }
    for key in raw:
        if key not in known:
            raise ConfigError(
                p, f"slack.{key}", "unknown key", f"use one of: {', '.join(sorted(known))}"
            )
    mode = raw.get("mode", "socket")
    if mode not in ("socket", "http"):
        raise ConfigError(p, "slack.mode", f"unknown mode {mode!r}", 'use "socket" or "http"')
    envs = {}
    for key, default in (
        ("bot_token_env", "SLACK_BOT_TOKEN"),
        ("app_token_env", "SLACK_APP_TOKEN"),
        ("signing_secret_env", "SLACK_SIGNING_SECRET"),
    ):
        value = raw.get(key, default)
        if not isinstance(value, str) or not value.isidentifier():
            raise ConfigError(p, f"slack.{key}", f"{value!r} is not an environment variable name")
        envs[key] = value
    managers = raw.get("managers", [])
    if not isinstance(managers, list) or not all(
        isinstance(m, str) and m[:1] in ("U", "W") and m.isalnum() for m in managers
    ):
        raise ConfigError(p, "slack.managers", "must be a list of user ids", 'write ["U0123ABCD"]')
    group = raw.get("manager_usergroup")
    if group is not None and not (isinstance(group, str) and group.startswith("S")):
        raise ConfigError(
            p, "slack.manager_usergroup", f"{group!r} is not a user-group id", 'write "S0123ABCD"'
        )
    names = raw.get("commands", ["/watch", "/feeds", "/digest"])
    if not (
        isinstance(names, list)
        and len(names) == 3
        and all(isinstance(n, str) and re.fullmatch(r"/[a-z0-9_-]{1,31}", n) for n in names)
    ):
        raise ConfigError(
            p,
            "slack.commands",
            "must name the three commands",
            'write ["/watch", "/feeds", "/digest"]',
        )
    api_base = raw.get("api_base")
    if api_base is not None:
        if (
            not isinstance(api_base, str)
            or not api_base.startswith(("http://", "https://"))
            or http_url_problem(api_base)
        ):
            raise ConfigError(p, "slack.api_base", f"{api_base!r} is not a URL")
        api_base = api_base.rstrip("/") + "/"  # slack_sdk joins method names onto it
    port = raw.get("port", 3000)
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise ConfigError(
            p, "slack.port", f"{port!r} is not a port number", "use a port from 1 to 65535"
        )
    return SlackSettings(
        mode=mode,
        managers=tuple(managers),
        manager_usergroup=group,
        commands=(names[0], names[1], names[2]),
        api_base=api_base,
        host=str(raw.get("host", "0.0.0.0")),
        port=port,
        **envs,
    )


def slack_secrets(settings: SlackSettings) -> tuple[RequiredSecret, ...]:
    """What must be in the environment before the sink starts (checked by `check`).

    Socket Mode connects only with an app-level token (xapp-), so another
    kind there is an error; a bot token other than xoxb- is only warned
    about, since Slack itself is the judge (auth.test at start).
    """
    bot = RequiredSecret(
        "slack.bot_token_env", settings.bot_token_env, "xoxb-… bot token", prefix="xoxb-"
    )
    if settings.mode == "socket":
        app = RequiredSecret(
            "slack.app_token_env",
            settings.app_token_env,
            "xapp-… app-level token",
            prefix="xapp-",
            prefix_required=True,
        )
    else:
        app = RequiredSecret(
            "slack.signing_secret_env", settings.signing_secret_env, "signing secret"
        )
    return (bot, app)


def _env(path: Path, key: str, name: str, what: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        raise ConfigError(
            str(path),
            f"slack.{key}",
            f"the environment variable {name} is not set",
            f"export {name}=<{what}>",
        )
    return value


class SlackSink:
    platform = "slack"

    def __init__(
        self, settings: SlackSettings, config_path: Path, channel_ids: tuple[str, ...]
    ) -> None:
        self.settings = settings
        self.config_path = config_path
        self.channel_ids = channel_ids
        self.client: AsyncWebClient | None = None
        self._commands: Commands | None = None
        self._handler: Any = None
        self._runner: Any = None
        self._last_post: dict[str, float] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._group_members: tuple[float, frozenset[str]] = (0.0, frozenset())
        self._api_up = False  # the last call to Slack's Web API worked (for /healthz)
        self._listener_lock = asyncio.Lock()
        self._listening = False

    @property
    def connected(self) -> bool:
        """Slack accepted the token and its API answered the last call.

        The Web API has no connection to watch, so this is what the calls saw:
        false from a failed reach (network, outage) or a revoked token until a
        call works again; in Socket Mode, also while the socket is down.
        """
        if not self._api_up:
            return False
        socket = getattr(self._handler, "client", None)
        session = getattr(socket, "current_session", None)
        return socket is None or (session is not None and not session.closed)

    def bind_commands(self, commands: Commands) -> None:
        self._commands = commands

    async def start(self) -> None:
        """The Web API client, its token checked (auth.test); no command connection."""
        s = self.settings
        token = _env(self.config_path, "bot_token_env", s.bot_token_env, "xoxb-… bot token")
        # No retry inside slack_sdk: its default re-sends a post after a dropped
        # connection (a duplicate if Slack had stored it). The outbox retries,
        # checking the channel's history first.
        self.client = (
            AsyncWebClient(token=token, retry_handlers=[], base_url=s.api_base)
            if s.api_base
            else AsyncWebClient(token=token, retry_handlers=[])
        )
        try:
            await self.client.auth_test()
            self._api_up = True
        except (aiohttp.ClientError, OSError, TimeoutError) as e:
            raise PlatformUnreachable(
                f"cannot reach Slack ({self.client.base_url}): {type(e).__name__}: {e}"
            ) from None
        except SlackApiError as e:
            raise ConfigError(
                str(self.config_path),
                "slack.bot_token_env",
                f"Slack rejected the token in {s.bot_token_env} ({_api_error(e)[1]})",
                "copy the Bot User OAuth Token again (OAuth & Permissions)",
            ) from None

    @property
    def listening(self) -> bool:
        return self._listening

    async def start_listener(self) -> None:
        """Take slash commands: connect Socket Mode, or serve the HTTP events endpoint.

        Only one instance of a deployment does: Slack spreads a Socket Mode
        app's events over all its connections, and an HTTP endpoint is one
        address. Nothing to open until commands are bound.
        """
        async with self._listener_lock:
            if self._listening or self._commands is None:
                return
            await self._start_commands()
            self._listening = True

    async def stop_listener(self) -> None:
        """Close the Socket Mode connection or stop the HTTP server; posting goes on."""
        async with self._listener_lock:
            self._listening = False
            handler, self._handler = self._handler, None
            runner, self._runner = self._runner, None
            if handler is not None:
                await handler.close_async()
            if runner is not None:
                await runner.cleanup()

    async def _start_commands(self) -> None:
        # A new handler each time: a closed Socket Mode client does not reconnect.
        from slack_bolt.async_app import AsyncApp

        s = self.settings
        if s.mode == "socket":
            app_token = _env(
                self.config_path, "app_token_env", s.app_token_env, "xapp-… app-level token"
            )
            app = AsyncApp(client=self.client, request_verification_enabled=False)
            self._register(app)
            from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

            handler = AsyncSocketModeHandler(app, app_token, web_client=self.client)
            await handler.connect_async()
            self._handler = handler
        else:
            secret = _env(
                self.config_path, "signing_secret_env", s.signing_secret_env, "signing secret"
            )
            app = AsyncApp(client=self.client, signing_secret=secret)
            self._register(app)
            runner = aiohttp.web.AppRunner(app.web_app(path="/slack/events"))
            await runner.setup()
            try:
                await aiohttp.web.TCPSite(runner, s.host, s.port).start()
            except BaseException:
                await runner.cleanup()
                raise
            self._runner = runner

    def _register(self, app: Any) -> None:
        from bot.chat.slack.commands import handle

        def listener(group: str) -> Any:
            # bolt passes arguments by parameter name: the listener takes only its own.
            async def on_command(ack: Any, command: dict, respond: Any) -> None:
                assert self._commands is not None
                await handle(self._commands, self.is_manager, group, command, ack, respond)

            return on_command

        for group, name in zip(("watch", "feeds", "digest"), self.settings.commands, strict=True):
            app.command(name)(listener(group))

    async def is_manager(self, user_id: str, channel_id: str) -> bool:
        s = self.settings
        if not s.managers and not s.manager_usergroup:
            # Nobody named: anyone in a channel the bot posts to may manage.
            return channel_id in self.channel_ids
        if user_id in s.managers:
            return True
        if s.manager_usergroup and self.client is not None:
            fetched, members = self._group_members
            if time.monotonic() - fetched > 300:
                try:
                    reply = await self.client.usergroups_users_list(usergroup=s.manager_usergroup)
                    members = frozenset(reply.get("users", []))
                    self._group_members = (time.monotonic(), members)
                except SlackApiError as e:
                    log.warning("cannot read Slack user group %s: %s", s.manager_usergroup, e)
            return user_id in members
        return False

    async def close(self) -> None:
        await self.stop_listener()

    @contextlib.asynccontextmanager
    async def _posting(self, channel_id: str) -> AsyncIterator[AsyncWebClient]:
        """One post or edit in a channel: in order, paced, its failures mapped once."""
        assert self.client is not None, "start() first"
        lock = self._locks.setdefault(channel_id, asyncio.Lock())
        async with lock:
            await self._pace(channel_id)
            try:
                yield self.client
            except SlackApiError as e:
                if _api_error(e)[1] in AUTH_ERRORS:
                    self._api_up = False
                raise self._error(channel_id, e) from e
            except (aiohttp.ClientError, TimeoutError, OSError) as e:
                self._api_up = False
                raise DeliveryError(f"Slack unreachable: {type(e).__name__}", retryable=True) from e
            except SlackRequestError as e:  # the upload URL refused a file's bytes
                raise DeliveryError(f"Slack file upload failed: {e}", retryable=True) from e
            else:
                self._api_up = True
            finally:
                self._last_post[channel_id] = time.monotonic()

    async def _post_once(
        self, channel_id: str, metadata: dict[str, Any], *, look_first: bool, **message: Any
    ) -> str:
        """chat.postMessage carrying `metadata`, unless an earlier try already reached Slack.

        With `look_first`, the channel's recent history (or the thread's, for
        a reply) is searched for that metadata first.
        """
        async with self._posting(channel_id) as client:
            if look_first:
                recent = await self._recent(channel_id, message.get("thread_ts"))
                found = _posted(recent, metadata)
                if found:
                    return found
            reply = await client.chat_postMessage(
                channel=channel_id,
                unfurl_links=False,
                unfurl_media=False,
                metadata=metadata,
                **message,
            )
        return str(reply["ts"])  # ts is text: as a float it would lose digits

    async def deliver(self, alert: Alert) -> str:
        if alert.reply_to:
            text, blocks = reply_text(alert), reply_blocks(alert)
        else:
            text, blocks = alert_text(alert), alert_blocks(alert)
        return await self._post_once(
            alert.channel_id,
            _metadata(METADATA_EVENT, outbox_id=alert.id),
            look_first=alert.claimed or alert.attempts > 0,
            text=text,
            blocks=blocks,
            thread_ts=alert.reply_to,
        )

    async def deliver_summary(self, summary: FloodSummary) -> str:
        # A summary has no attempt count and is rare: always look before posting.
        return await self._post_once(
            summary.channel_id,
            _metadata(SUMMARY_EVENT, summary_id=summary.id),
            look_first=True,
            text=summary_text(summary),
            blocks=summary_blocks(summary),
        )

    async def update_story(self, update: StoryUpdate) -> None:
        """chat.update of the parent alert: same blocks, plus the story's status line."""
        parent = update.parent
        async with self._posting(parent.channel_id) as client:
            await client.chat_update(
                channel=parent.channel_id,
                ts=update.message_id,
                text=alert_text(parent),
                blocks=story_blocks(update),
                metadata=_metadata(METADATA_EVENT, outbox_id=parent.id),
            )

    async def post_digest(self, channel_id: str, digest: Digest, key: str) -> str:
        """The digest as Block Kit, then its chart uploaded into the channel.

        Each half is looked for in the channel's history first, so a retry
        after either failed posts only what is missing.
        """
        metadata = _metadata(DIGEST_EVENT, key=key)
        chart = chart_filename(key)
        async with self._posting(channel_id) as client:
            recent = await self._recent(channel_id)
            ts = _posted(recent, metadata)
            if ts is None:
                reply = await client.chat_postMessage(
                    channel=channel_id,
                    text=digest_text(digest),
                    blocks=digest_blocks(digest),
                    unfurl_links=False,
                    unfurl_media=False,
                    metadata=metadata,
                )
                ts = str(reply["ts"])
            if digest.chart_png and not digest.empty and not _has_file(recent, chart):
                # files.getUploadURLExternal, the bytes to its URL, files.completeUploadExternal.
                await client.files_upload_v2(
                    channel=channel_id,
                    file=digest.chart_png,
                    filename=chart,
                    title=CHART_TITLE,
                    alt_txt=f"{CHART_TITLE}: {digest.title}",
                )
        return ts

    async def _pace(self, channel_id: str) -> None:
        wait = self._last_post.get(channel_id, 0.0) + PACE - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)  # rate limiting, not synchronisation

    async def _recent(self, channel_id: str, thread_ts: str | None = None) -> list[dict[str, Any]]:
        """The channel's latest messages (a thread's, for a reply), with their metadata."""
        assert self.client is not None
        if thread_ts:
            page = await self.client.conversations_replies(
                channel=channel_id, ts=thread_ts, limit=HISTORY_LOOKBACK, include_all_metadata=True
            )
        else:
            page = await self.client.conversations_history(
                channel=channel_id, limit=HISTORY_LOOKBACK, include_all_metadata=True
            )
        return list(page.get("messages", []))

    def _error(self, channel_id: str, e: SlackApiError) -> DeliveryError:
        status, error, headers = _api_error(e)
        if status == 429 or error == "ratelimited":
            retry_after = float(headers.get("Retry-After", 1))
            return DeliveryError("Slack rate limit", retryable=True, retry_after=retry_after)
        if error in BROKEN_ERRORS:
            return DeliveryError(f"Slack channel {channel_id}: {error}", retryable=False)
        if error in GONE_ERRORS:
            return DeliveryError(f"Slack message in {channel_id}: {error}", retryable=False)
        if status >= 500 or error in ("internal_error", "fatal_error", "service_unavailable"):
            return DeliveryError(f"Slack server error ({status} {error})", retryable=True)
        return DeliveryError(f"Slack refused the message: {error}", retryable=False, rejected=True)


def _api_error(e: SlackApiError) -> tuple[int, str, Mapping[str, str]]:
    """Status, Slack's error code and headers of a refusal.

    slack_sdk hands over its own response for a JSON answer, but the raw aiohttp
    response when the body is not JSON (a proxy's error page labelled as JSON):
    that one has `status` and no `get`.
    """
    response = e.response
    if hasattr(response, "status_code") and hasattr(response, "get"):
        return response.status_code, str(response.get("error", "")), response.headers
    status = int(getattr(response, "status", 0) or 0)
    return status, f"unreadable answer (HTTP {status})", getattr(response, "headers", {}) or {}


def _metadata(event_type: str, **payload: Any) -> dict[str, Any]:
    """Message metadata naming what a message is, so history can tell if it was posted."""
    return {"event_type": event_type, "event_payload": payload}


def _posted(messages: list[dict[str, Any]], metadata: dict[str, Any]) -> str | None:
    """The ts of the message carrying `metadata`, if one of `messages` does."""
    for message in messages:
        meta = message.get("metadata") or {}
        if meta.get("event_type") == metadata["event_type"] and all(
            (meta.get("event_payload") or {}).get(k) == v
            for k, v in metadata["event_payload"].items()
        ):
            return str(message["ts"])
    return None


def _has_file(messages: list[dict[str, Any]], filename: str) -> bool:
    return any(f.get("name") == filename for m in messages for f in m.get("files") or [])


def chart_filename(key: str) -> str:
    """Unique per digest, so a retry can tell its chart was already shared."""
    return f"digest-{hashlib.sha1(key.encode()).hexdigest()[:10]}.png"
