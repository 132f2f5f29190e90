"""The port between the core and chat platforms.

A sink delivers one alert (optionally as a reply in the thread of an earlier
alert) and returns the platform's message id; it raises DeliveryError with
`retryable` set so the outbox knows whether to try again or to mark the
channel broken. Sinks must not drop an alert silently.

Delivery and commands are two connections (issue 15): `start()` connects for
delivery only (Discord's REST API, Slack's Web API), which every instance of a
deployment may do at once; `start_listener()` opens the command connection
(Discord's gateway, Slack's Socket Mode or HTTP events server), which exactly
one instance may hold, since a slash command must be answered once. A single
instance calls both; sinks without commands (console, JSON lines) have nothing
to open and implement the listener methods as no-ops.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Protocol

from bot.digest.model import Digest
from bot.models import Alert, FloodSummary, StoryUpdate


class Sink(Protocol):
    platform: str

    async def start(self) -> None:
        """Connect for delivery and check credentials; raise ConfigError if they are refused.

        Opens no command connection: another instance may hold it.
        """
        ...

    async def start_listener(self) -> None:
        """Open the command connection (slash commands), after `start()`.

        Idempotent; may be called again after `stop_listener()` (an instance
        that lost the command connection to another and takes it back).
        """
        ...

    async def stop_listener(self) -> None:
        """Close the command connection only: delivery goes on. Idempotent."""
        ...

    @property
    def listening(self) -> bool:
        """Between `start_listener()` and `stop_listener()` (or `close()`)."""
        ...

    async def close(self) -> None: ...

    async def deliver(self, alert: Alert) -> str:
        """Post the alert and return its message id.

        With `alert.reply_to` set, post a short reply in the thread of that
        message instead (source, linked title, `alert.new_entities`): the
        story's parent already carries the full alert.

        Must be idempotent per `alert.id`: a retry after an ambiguous failure
        must not post a second copy.
        """
        ...

    async def deliver_summary(self, summary: FloodSummary) -> str:
        """Post the alerts a flood cap held back as one message; return its id.

        Lists every held alert with its link (as many as the platform's limits
        allow, then how many more). Idempotent per `summary.id`.
        """
        ...

    async def update_story(self, update: StoryUpdate) -> None:
        """Edit a story's parent message to show its source count and last update.

        Raise DeliveryError(retryable=True) to be asked again later; any other
        DeliveryError gives up on editing that message (deleted, not ours).
        """
        ...

    async def post_digest(self, channel_id: str, digest: Digest, key: str) -> str:
        """Post a daily digest (with its chart, if any); return the message id.

        Idempotent per `key` (channel and day): a retry after an ambiguous
        failure must not post the digest twice.
        """
        ...


_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?")


class NoCommandConnection:
    """For sinks that only write (console, JSON lines): there is no command connection
    to open or close, and nothing ever listens."""

    async def start_listener(self) -> None:
        return None

    async def stop_listener(self) -> None:
        return None

    @property
    def listening(self) -> bool:
        return False


def plain_text(text: str) -> str:
    """Feed text made safe for a terminal or log: no escape sequences or control characters."""
    text = _ANSI.sub("", text)
    return "".join(
        " " if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") and c not in "\u200d" else c
        for c in text
    )


def plain_lines(text: str) -> str:
    """Multi-line text made terminal-safe line by line, keeping its line breaks."""
    return "\n".join(plain_text(line) for line in text.splitlines())


def connection_up(sink: object) -> bool | None:
    """Whether a chat sink's connection is up (its `connected` property), for /healthz.

    None for sinks without a connection (console, JSON lines): they have no
    check. Read with getattr so the property stays optional on the port.
    """
    value = getattr(sink, "connected", None)
    return None if value is None else bool(value)


DELIVERY_ONLY = "connected for delivery only; another instance holds the command connection"


def connection_state(sink: object) -> tuple[bool, str] | None:
    """A chat sink's /healthz check as (ok, detail); None for sinks without a connection.

    An instance that delivers but does not hold the command connection is
    healthy: with several instances on one database exactly one listens, so
    the others say so rather than fail.
    """
    up = connection_up(sink)
    if up is None:
        return None
    if not up:
        return False, "not connected"
    if getattr(sink, "listening", True):
        return True, "connected"
    return True, DELIVERY_ONLY
