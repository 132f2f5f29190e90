"""The port between the core and chat platforms.

A sink delivers one alert (optionally as a reply in the thread of an earlier
alert) and returns the platform's message id; it raises DeliveryError with
`retryable` set so the outbox knows whether to try again or to mark the
channel broken. Sinks must not drop an alert silently.
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
        """Connect and check credentials; raise ConfigError if they are refused."""
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
