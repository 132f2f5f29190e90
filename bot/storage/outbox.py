"""The outbox: alerts, flood windows and summaries, broken channels, queued digests.

Everything waiting for delivery, and what became of it.

One aggregate of the storage interface (bot/storage/base.py joins them): written
against by the pipeline and by tests/contract/, implemented once per engine.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Protocol

from bot.models import Alert, DeliveryProblem, DigestJob, FloodSummary


class OutboxStore(Protocol):
    async def next_alert(self, platform: str, channel_id: str) -> Alert | None:
        """The oldest undelivered alert for a channel, due or not (order is kept)."""
        ...

    async def alert_due_at(self, alert_id: int) -> datetime: ...

    async def claim_alert(self, alert_id: int, now: datetime) -> None:
        """Commit that a try is about to leave, before the request (see Alert.claimed)."""
        ...

    async def mark_sent(
        self, alert_id: int, message_id: str, now: datetime, reply_to: str | None = None
    ) -> None:
        """Record a delivery; a top-level alert of a story becomes the story's parent in its
        channel, a reply (`reply_to` set) makes the story one source bigger there."""
        ...

    async def mark_retry(
        self, alert_id: int, error: str, next_attempt_at: datetime, now: datetime
    ) -> None: ...

    async def mark_dead(self, alert_id: int, error: str, now: datetime) -> None: ...

    async def pending_count(self) -> int: ...

    async def outbox_backlog(self) -> tuple[int, datetime | None]:
        """Pending alerts and when the oldest was queued (for metrics)."""
        ...

    async def set_channel_broken(
        self,
        platform: str,
        channel_id: str,
        reason: str | None,
        now: datetime,
        config_hash: str | None = None,
    ) -> None:
        """Mark (reason) or clear (None) a channel whose platform refused it for good."""
        ...

    async def broken_channels(self) -> dict[tuple[str, str], str]: ...

    async def broken_channel_details(
        self,
    ) -> dict[tuple[str, str], tuple[str, str | None]]: ...

    async def flood_window(self, platform: str, channel_id: str) -> tuple[datetime | None, int]:
        """When the channel's flood window started, and its top-level posts since then."""
        ...

    async def set_flood_window(
        self, platform: str, channel_id: str, start: datetime | None
    ) -> None: ...

    async def hold_alert(self, alert_id: int, now: datetime) -> None: ...

    async def held_count(self, platform: str, channel_id: str) -> int: ...

    async def create_summary(
        self,
        platform: str,
        channel_id: str,
        window_start: datetime,
        window_end: datetime,
        now: datetime,
    ) -> int | None:
        """Collect held alerts into one summary and close the window; None if none held."""
        ...

    async def next_summary(
        self, platform: str, channel_id: str
    ) -> tuple[FloodSummary, int, datetime] | None:
        """The oldest undelivered summary: (summary, attempts so far, when it is due)."""
        ...

    async def mark_summary(
        self,
        summary_id: int,
        status: str,
        now: datetime,
        *,
        message_id: str | None = None,
        error: str | None = None,
        next_attempt_at: datetime | None = None,
    ) -> None: ...

    async def queue_digest(
        self, channel: str, day: date, period_end: datetime, timezone: str, now: datetime
    ) -> None:
        """Queue a day's digest for the channel's outbox worker; a day queued stays queued."""
        ...

    async def next_digest_job(self, channel: str) -> DigestJob | None:
        """The channel's oldest queued digest (due or not)."""
        ...

    async def claim_digest(self, channel: str, day: date, now: datetime) -> None: ...

    async def mark_digest(
        self,
        channel: str,
        day: date,
        status: str,
        now: datetime,
        *,
        message_id: str | None = None,
        error: str | None = None,
        next_attempt_at: datetime | None = None,
    ) -> None: ...

    async def delivery_problems(self, since: datetime) -> list[DeliveryProblem]:
        """Broken channels, and digests and alerts given up on since `since`."""
        ...
