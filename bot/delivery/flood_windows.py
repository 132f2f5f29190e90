"""The flood cap applied per channel: its window kept in memory, held alerts, their summary.

bot/delivery/flood.py decides (pure) whether a top-level alert may post now;
this is the outbox's state around that decision. One channel worker owns a
channel, so its window (start, top-level posts) is read from storage once and
then kept here, and a channel known to hold nothing back costs no query per
alert until one is held. Sending the summary is the outbox's job (the same
retry policy as an alert); this says which summary is due and when.
"""

from __future__ import annotations

import logging
from datetime import datetime

from bot.config import ChannelSettings, format_duration
from bot.delivery.flood import admit, window_end
from bot.models import Alert, FloodSummary
from bot.storage.outbox import OutboxStore

log = logging.getLogger("bot.delivery.outbox")  # the outbox's log lines, as before the split


class FloodWindows:
    def __init__(self, storage: OutboxStore) -> None:
        self.storage = storage
        # Per channel: its flood window (start, top-level posts), and whether it is
        # known to hold nothing back.
        self._windows: dict[str, tuple[datetime | None, int]] = {}
        self._quiet: set[str] = set()

    def is_quiet(self, channel: ChannelSettings) -> bool:
        """True when the channel is known to hold no alert back (no summary to look for)."""
        return channel.key in self._quiet

    async def check_quiet(self, channel: ChannelSettings) -> None:
        """Remember the channel as quiet if storage holds none of its alerts back."""
        if not await self.storage.held_count(channel.platform, channel.id):
            self._quiet.add(channel.key)  # until an alert is held

    def posted(self, channel: ChannelSettings) -> None:
        """A top-level alert went out: it counts against the open window."""
        if channel.key in self._windows:
            start, posted = self._windows[channel.key]
            self._windows[channel.key] = (start, posted + 1)

    async def _window(self, channel: ChannelSettings) -> tuple[datetime | None, int]:
        """The channel's flood window: read from storage once, then kept here."""
        if channel.key not in self._windows:
            self._windows[channel.key] = await self.storage.flood_window(
                channel.platform, channel.id
            )
        return self._windows[channel.key]

    async def admit(self, channel: ChannelSettings, alert: Alert, now: datetime) -> bool:
        """Apply the flood cap to a top-level alert; hold it (False) if the window is full."""
        if channel.flood_cap <= 0:
            return True
        start, posted = await self._window(channel)
        decision = admit(
            now,
            start,
            posted,
            cap=channel.flood_cap,
            window=channel.flood_window,
            severity=alert.severity,
        )
        if decision.window_start != start:
            await self.storage.set_flood_window(channel.platform, channel.id, decision.window_start)
            self._windows[channel.key] = (decision.window_start, 0)
        if decision.send:
            return True
        await self.storage.hold_alert(alert.id, now)
        # The outbox's step() has just checked: a quiet channel held nothing back until now.
        first = channel.key in self._quiet
        self._quiet.discard(channel.key)
        end = window_end(decision.window_start, channel.flood_window)
        log.log(
            logging.INFO if first else logging.DEBUG,
            "%s: %d alerts in %s reached the flood cap; holding the rest for one summary at %s",
            channel.key,
            channel.flood_cap,
            format_duration(channel.flood_window),
            end.strftime("%H:%M:%S %Z") if end else "the window's end",
        )
        return False

    async def summary_due(
        self, channel: ChannelSettings, now: datetime
    ) -> tuple[FloodSummary, int, datetime] | None:
        """The summary to deliver: one already made, or the held alerts of an ended window."""
        pending = await self.storage.next_summary(channel.platform, channel.id)
        if pending is not None:
            return pending
        start, _ = await self._window(channel)
        end = window_end(start, channel.flood_window)
        if start is None or end is None or end > now:
            return None
        if await self.storage.create_summary(channel.platform, channel.id, start, end, now):
            self._windows[channel.key] = (None, 0)  # the next alert opens a new window
            return await self.storage.next_summary(channel.platform, channel.id)
        return None

    async def until_window_end(self, channel: ChannelSettings, now: datetime) -> float | None:
        """Seconds until the held alerts' summary is due (called only when some are held)."""
        start, _ = await self._window(channel)
        end = window_end(start, channel.flood_window)
        return None if end is None else max((end - now).total_seconds(), 0.0)
