"""The port between the core and chat platforms.

A sink delivers one alert (optionally as a reply in the thread of an earlier
alert) and returns the platform's message id; it raises DeliveryError with
`retryable` set so the outbox knows whether to try again or to mark the
channel broken. Sinks must not drop an alert silently.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Protocol

from bot.models import Alert


@dataclass(frozen=True, slots=True)
class Digest:
    """A summary to post: plain text always, an optional PNG chart."""

    title: str
    text: str
    image_png: bytes | None = None


class Sink(Protocol):
    platform: str

    async def start(self) -> None:
        """Connect and check credentials; raise ConfigError if they are refused."""
        ...

    async def close(self) -> None: ...

    async def deliver(self, alert: Alert) -> str:
        """Post the alert (as a reply under `alert.reply_to` if set); return its message id.

        Must be idempotent per `alert.id`: a retry after an ambiguous failure
        must not post a second copy.
        """
        ...

    async def post_digest(self, channel_id: str, digest: Digest) -> str: ...


_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?")


def plain_text(text: str) -> str:
    """Feed text made safe for a terminal or log: no escape sequences or control characters."""
    text = _ANSI.sub("", text)
    return "".join(
        " " if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") and c not in "\u200d" else c
        for c in text
    )
