"""Which channels want an alert? Pure functions of the matches and channel filters."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from bot.config import ChannelSettings, FirstPoll
from bot.models import Item, Match, severity_rank
from bot.storage.base import Delivery


def accepts(channel: ChannelSettings, item: Item, matches: Sequence[Match]) -> bool:
    """A channel takes an alert when at least one match passes all of its filters."""
    if channel.feeds and item.feed_url not in channel.feeds and item.feed_name not in channel.feeds:
        return False
    minimum = severity_rank(channel.severity)
    return any(
        (not channel.kinds or m.kind in channel.kinds)
        and (not channel.entities or m.entity_id in channel.entities)
        and severity_rank(m.severity) >= minimum
        for m in matches
    )


def route(
    item: Item, matches: Sequence[Match], channels: Sequence[ChannelSettings]
) -> tuple[Delivery, ...]:
    """One delivery per accepting channel, carrying every match for context."""
    if not matches:
        return ()
    return tuple(
        Delivery(c.platform, c.id, tuple(matches)) for c in channels if accepts(c, item, matches)
    )


def first_poll_allows(policy: FirstPoll, item: Item, now: datetime) -> bool:
    """On a feed's first successful read, may this already-present item alert?

    Under an age window only items dated within it count as new: not undated
    ones, not ones dated after the fetch (a future date proves nothing about
    age), and not ones whose impossible date was replaced by the fetch time
    (`date_note`), which would otherwise look brand new.
    """
    if policy.mode == "all":
        return True
    if policy.mode == "newer":
        if item.published is None or item.date_note:
            return False
        return now - timedelta(seconds=policy.max_age) <= item.published <= now
    return False
