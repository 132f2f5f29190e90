"""Delivering to Discord with discord.py: alerts, thread replies, flood summaries,
story edits and digests, every post idempotent by its nonce.

Only this package imports discord. The sink maps discord.py's exceptions to
DeliveryError once: server errors and timeouts are retried from the outbox,
missing permissions and deleted channels mark the channel broken, a
malformed message is set aside. 429s are waited out inside discord.py,
which follows Discord's rate-limit buckets.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp
import discord
import yarl

from bot.chat.discord.render import (
    CHART_FILENAME,
    alert_embed,
    digest_embed,
    digest_line,
    reply_embed,
    story_line,
    summary_embeds,
    thread_name,
)
from bot.chat.discord.settings import DiscordSettings
from bot.digest.model import Digest
from bot.errors import ConfigError, DeliveryError, PlatformUnreachable
from bot.models import Alert, FloodSummary, StoryUpdate

if TYPE_CHECKING:
    from bot.commands import Commands

log = logging.getLogger(__name__)

NO_MENTIONS = discord.AllowedMentions.none()
UNKNOWN_CHANNEL = 10003
THREAD_ALREADY_CREATED = 160004


def _nonce(key: str) -> str:
    """A stable nonce for one thing to post (Discord keeps 25 characters)."""
    return "nw" + hashlib.sha1(key.encode()).hexdigest()[:22]


def nonce_for(alert: Alert) -> str:
    """The same alert always carries the same nonce."""
    return _nonce(f"{alert.id}:{alert.channel_id}:{alert.item.feed_url}:{alert.item.guid}")


def summary_nonce(summary: FloodSummary) -> str:
    """Never equal to an alert's: the key starts with a word, an alert's with its id."""
    return _nonce(f"summary:{summary.id}:{summary.channel_id}")


def digest_nonce(channel_id: str, key: str) -> str:
    return _nonce(f"digest:{key}:{channel_id}")


@contextlib.contextmanager
def delivery_errors(what: str) -> Iterator[None]:
    """Map discord.py's exceptions to DeliveryError, once for every kind of post or edit.

    Server errors and timeouts are retried; missing permission and a deleted
    channel (or message, for an edit) are not; any other refusal sets the
    message aside. `what` names the channel or message for the log.
    """
    try:
        yield
    except discord.Forbidden as e:
        raise DeliveryError(
            f"{what}: missing permission ({e.text or e.status})", retryable=False
        ) from e
    except discord.NotFound as e:
        raise DeliveryError(f"{what} not found ({e.text or e.status})", retryable=False) from e
    except discord.DiscordServerError as e:
        raise DeliveryError(f"Discord server error {e.status}", retryable=True) from e
    except discord.HTTPException as e:
        if e.status == 429:
            raise DeliveryError("Discord rate limit", retryable=True) from e
        raise DeliveryError(
            f"Discord refused the message ({e.status}: {e.text})",
            retryable=False,
            rejected=True,
        ) from e
    except (aiohttp.ClientError, TimeoutError, OSError) as e:
        raise DeliveryError(f"Discord unreachable: {type(e).__name__}", retryable=True) from e


def redirect_discord_py(api_base: str | None, gateway_url: str | None) -> None:
    """THE ONE PLACE that changes discord.py's module globals; only for `api_base` /
    `gateway_url` (a rate-limit proxy, or the tests' fake Discord on 127.0.0.1).

    discord.py (2.x) has no supported option for another API base: `Client(proxy=…)`
    is an HTTP proxy, not a base URL, and every REST URL, interaction callbacks
    included, is built from the class attribute `Route.BASE`; the gateway starts
    from `DiscordWebSocket.DEFAULT_GATEWAY`. Both are process-wide, so one process
    talks to one Discord: the bot runs one DiscordSink per process.
    """
    if api_base:
        discord.http.Route.BASE = api_base
    if gateway_url:
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)


class DiscordSink:
    """Delivery over Discord's REST API; slash commands over the gateway, when listening.

    `start()` logs in (REST: every post, thread, edit and upload is an HTTP
    request); `start_listener()` opens the gateway session, which receives the
    slash commands, and registers them. With several instances on one
    database only the one holding the command connection listens: two gateway
    sessions would each receive every interaction, and the second answer fails.
    """

    platform = "discord"

    def __init__(self, settings: DiscordSettings, config_path: Path) -> None:
        self.settings = settings
        self.config_path = config_path
        self.client = discord.Client(
            intents=discord.Intents(guilds=True),  # no message content: we only post
            guild_ready_timeout=settings.guild_ready_timeout,
        )
        self.tree = discord.app_commands.CommandTree(self.client)
        self._ready = asyncio.Event()
        self._runner: asyncio.Task[None] | None = None
        self._listener_lock = asyncio.Lock()
        self._listening = False
        self._gateway_up = False
        self._rest_up = False  # logged in, and the last REST call reached Discord
        self._sockets: set[aiohttp.ClientWebSocketResponse] = set()
        self._track_gateway_sockets()
        self.client.event(self.on_ready)
        self.client.event(self.on_resumed)
        self.client.event(self.on_disconnect)

    def _track_gateway_sockets(self) -> None:
        """Remember every gateway websocket discord.py opens, so stop_listener can close it.

        discord.py keeps only a finished handshake's socket (`client.ws`). One
        still in its handshake when stop_listener cancels the connect loop is
        otherwise closed only by garbage collection, and never once HELLO has
        started its heartbeat thread, which holds it: it would stay open, a
        second session beside the next holder's.
        """
        connect = self.client.http.ws_connect

        async def tracked(url: str, *, compress: int = 0) -> aiohttp.ClientWebSocketResponse:
            socket = await connect(url, compress=compress)
            self._sockets = {s for s in self._sockets if not s.closed} | {socket}
            return socket

        self.client.http.ws_connect = tracked  # type: ignore[method-assign]

    async def on_ready(self) -> None:
        if self._listening:  # not a late READY of a session stop_listener() ended
            self._ready.set()
            self._gateway_up = True

    async def on_resumed(self) -> None:
        self._gateway_up = self._listening

    async def on_disconnect(self) -> None:
        self._gateway_up = False

    @property
    def connected(self) -> bool:
        """Discord answers REST calls and, while listening, the gateway session is up.

        REST has no connection to watch, so this is what the calls saw: false
        from a failed reach or a refused token until a call works again.
        """
        if self.client.is_closed() or not self._rest_up:
            return False
        return self._gateway_up if self._listening else True

    @property
    def listening(self) -> bool:
        return self._listening

    def bind_commands(self, commands: Commands) -> None:
        from bot.chat.discord.slash import register

        register(self.tree, commands, self.settings)

    async def start(self) -> None:
        """Log in for REST delivery; no gateway session (see `start_listener`)."""
        token = os.environ.get(self.settings.token_env, "").strip()
        if not token:
            raise ConfigError(
                str(self.config_path),
                "discord.token_env",
                f"the environment variable {self.settings.token_env} is not set",
                f"export {self.settings.token_env}=<your bot token>",
            )
        if self.settings.api_base or self.settings.gateway_url:
            redirect_discord_py(self.settings.api_base, self.settings.gateway_url)
        try:
            await self.client.login(token)
        except (aiohttp.ClientError, OSError, TimeoutError) as e:
            await self.client.close()
            raise PlatformUnreachable(
                f"cannot reach Discord ({discord.http.Route.BASE}): {type(e).__name__}: {e}"
            ) from None
        except discord.LoginFailure:
            await self.client.close()
            raise ConfigError(
                str(self.config_path),
                "discord.token_env",
                f"Discord rejected the token in {self.settings.token_env}",
                "copy the bot token again from the Developer Portal (Bot → Reset Token)",
            ) from None
        self._rest_up = True

    async def start_listener(self) -> None:
        """Open the gateway session, wait for READY (bounded), register the slash commands.

        The wait is outside the lock, so stop_listener() can end a handshake
        that hangs (the command connection lost to another instance meanwhile).
        """
        async with self._listener_lock:
            if self._listening and self._runner is not None and not self._runner.done():
                return  # already listening (a connect loop that died is started again)
            self._listening = True
            self._ready.clear()
            runner = self._runner = asyncio.create_task(
                self.client.connect(), name="discord-gateway"
            )
        ready = asyncio.create_task(self._ready.wait())
        done, _ = await asyncio.wait(
            {ready, runner},
            timeout=self.settings.ready_timeout,
            return_when=asyncio.FIRST_COMPLETED,
        )
        if ready not in done:
            ready.cancel()
            if runner.cancelled() or self._runner is not runner:
                return  # stop_listener() came first
            if runner.done() and runner.exception():
                self._listening = False
                raise DeliveryError(f"Discord gateway: {runner.exception()}", retryable=True)
            log.warning(
                "Discord not ready after %gs; alerts wait in the outbox",
                self.settings.ready_timeout,
            )
        if self._runner is runner:
            await self._sync_commands()

    async def stop_listener(self) -> None:
        """Close the gateway session (code 1000: Discord ends it at once); REST goes on.

        Cancelling discord.py's connect loop stops it reconnecting; closing its
        websocket ends the session, so the next holder's is the only one.
        """
        async with self._listener_lock:
            self._listening = False
            runner, self._runner = self._runner, None
            if runner is not None:
                runner.cancel()
                await asyncio.gather(runner, return_exceptions=True)
            ws = self.client.ws
            if ws is not None and ws.open:
                await ws.close(code=1000)  # also stops its heartbeat thread
            sockets, self._sockets = self._sockets, set()
            for socket in sockets:
                if not socket.closed:
                    await socket.close(code=1000)
            self._gateway_up = False
            self._ready.clear()

    async def _sync_commands(self) -> None:
        if not self.tree.get_commands():
            return
        try:
            if self.settings.guild_ids:
                for gid in self.settings.guild_ids:
                    guild = discord.Object(id=gid)
                    self.tree.copy_global_to(guild=guild)
                    await self.tree.sync(guild=guild)
            else:
                await self.tree.sync()
        except discord.HTTPException as e:
            log.error("could not register slash commands with Discord: %s", e)

    async def close(self) -> None:
        self._listening = False
        await self.client.close()
        if self._runner is not None:
            self._runner.cancel()
            await asyncio.gather(self._runner, return_exceptions=True)

    @contextlib.contextmanager
    def _calling(self, what: str) -> Iterator[None]:
        """One REST call, errors mapped by delivery_errors; notes whether Discord answered."""
        try:
            with delivery_errors(what):
                yield
        except DeliveryError as e:
            cause = e.__cause__  # not an HTTP answer: Discord was not reached
            if not isinstance(cause, discord.HTTPException) or cause.status == 401:
                self._rest_up = False
            raise
        else:
            self._rest_up = True

    def _mentions(self, alert: Alert) -> tuple[str | None, discord.AllowedMentions]:
        """The only mention the bot ever makes: the configured role, on a high-severity alert."""
        role = self.settings.alert_role_id
        if alert.severity != "high" or not role or alert.reply_to:
            return None, NO_MENTIONS
        mentions = discord.AllowedMentions(
            everyone=False, users=False, replied_user=False, roles=[discord.Object(id=role)]
        )
        return f"<@&{role}>", mentions

    async def _send(self, channel_id: str, nonce: str, **message: Any) -> str:
        """Post one message with a nonce (a retry is answered with the stored message)."""
        channel = self.client.get_partial_messageable(int(channel_id))
        message.setdefault("allowed_mentions", NO_MENTIONS)
        with self._calling(f"Discord channel {channel_id}"):
            sent = await channel.send(nonce=nonce, **message)
        return str(sent.id)

    async def deliver(self, alert: Alert) -> str:
        if alert.reply_to:
            with self._calling(f"Discord channel {alert.channel_id}"):
                message = await self._reply_in_thread(alert, reply_embed(alert))
            return str(message.id)
        content, mentions = self._mentions(alert)
        return await self._send(
            alert.channel_id,
            nonce_for(alert),
            content=content,
            embed=alert_embed(alert),
            allowed_mentions=mentions,
        )

    async def deliver_summary(self, summary: FloodSummary) -> str:
        return await self._send(
            summary.channel_id, summary_nonce(summary), embeds=summary_embeds(summary)
        )

    async def update_story(self, update: StoryUpdate) -> None:
        """Edit the parent alert in place: same embed, led by the story's status line."""
        parent = update.parent
        channel = self.client.get_partial_messageable(int(parent.channel_id))
        message = channel.get_partial_message(int(update.message_id))
        _, mentions = self._mentions(parent)
        what = f"Discord message {update.message_id} in channel {parent.channel_id}"
        with self._calling(what):
            await message.edit(
                embed=alert_embed(parent, lead=story_line(update)), allowed_mentions=mentions
            )

    async def post_digest(self, channel_id: str, digest: Digest, key: str) -> str:
        """One message: the digest embed with its chart attached and shown inside it."""
        nonce = digest_nonce(channel_id, key)
        if digest.empty:
            return await self._send(channel_id, nonce, content=digest_line(digest))
        if not digest.chart_png:
            return await self._send(channel_id, nonce, embed=digest_embed(digest))
        chart = discord.File(
            io.BytesIO(digest.chart_png),
            filename=CHART_FILENAME,
            description="Mentions per day, last 7 days",
        )
        embed = digest_embed(digest, image_url=f"attachment://{CHART_FILENAME}")
        return await self._send(channel_id, nonce, embed=embed, file=chart)

    async def _reply_in_thread(self, alert: Alert, embed: discord.Embed) -> discord.Message:
        """Post in the thread on the parent alert, creating the thread the first time.

        A thread started from a message has that message's id, so no mapping
        needs storing.
        """
        assert alert.reply_to is not None
        thread = self.client.get_partial_messageable(int(alert.reply_to))
        try:
            return await thread.send(
                embed=embed, allowed_mentions=NO_MENTIONS, nonce=nonce_for(alert)
            )
        except discord.NotFound as e:
            if e.code != UNKNOWN_CHANNEL:
                raise
        try:
            await self.client.http.start_thread_with_message(
                int(alert.channel_id),
                int(alert.reply_to),
                name=thread_name(alert),
                auto_archive_duration=1440,
            )
        except discord.HTTPException as e:
            if e.code != THREAD_ALREADY_CREATED:
                raise
        return await thread.send(embed=embed, allowed_mentions=NO_MENTIONS, nonce=nonce_for(alert))
