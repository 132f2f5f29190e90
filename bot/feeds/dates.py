"""Which item dates to believe: pure rules, applied once per poll with the fetch time.

Feeds carry dates from another age: year 0001 from an empty database field,
9999-12-31 as "never expires", a year ahead from a broken clock. Such a date
breaks everything that does arithmetic with it (story windows overflow,
first-poll age windows call it new, chat platforms refuse the timestamp), so
the poller replaces it here, in one place, with the time the feed was fetched
and keeps a note saying so that the alert shows.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from bot.models import Item

# No news feed item predates 1990 (the web itself barely does); older is a
# placeholder or a parsing accident.
EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)
# Clocks and time zones drift: a date up to a day ahead of the fetch is kept.
FUTURE_SLACK = timedelta(days=1)
USING_FETCH_TIME = "using the fetch time"


def impossible_date_reason(published: datetime, fetched_at: datetime) -> str | None:
    """Why a feed's date cannot be believed, or None when it can."""
    if published < EARLIEST:
        return f"before {EARLIEST.year}"
    if published - fetched_at > FUTURE_SLACK:
        return "more than a day after the fetch"
    return None


def settle_date(item: Item, fetched_at: datetime) -> Item:
    """The item with a believable `published`: an impossible date becomes the fetch time.

    The item's `date_note` then records the feed's date and why it was
    replaced. An undated item stays undated (that is not impossible, and
    first-poll age windows count it as old).
    """
    if item.published is None:
        if item.date_note:  # a date the calendar could not hold (bot/feeds/parse.py)
            note = f"{item.date_note}; {USING_FETCH_TIME}"
            return replace(item, published=fetched_at, date_note=note)
        return item
    reason = impossible_date_reason(item.published, fetched_at)
    if reason is None:
        return item
    when = item.published.isoformat(sep=" ", timespec="minutes")
    note = f"date {when} is impossible ({reason}); {USING_FETCH_TIME}"
    return replace(item, published=fetched_at, date_note=note)
