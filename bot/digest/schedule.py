"""When a channel's daily digest is due: a pure function of (now, time of day, zone, last day).

The digest loop asks `decide` what to do, acts (send, or log a skip), records
the day it handled, and calls `decide` again at `next_check`. Nothing here
reads the clock or sleeps, so every DST edge case is a table test with fixed
datetimes.

Local times that do not exist or occur twice are resolved the way PEP 495
resolves ``fold=0`` (see `scheduled_at`), so every calendar day maps to one
instant and the loop never sends twice because a clock went back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

Action = Literal["send", "skip", "wait"]

MAX_LATE = timedelta(hours=12)
_ONE_DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class DigestDecision:
    """What the digest loop should do now for one channel.

    - ``send``: post the digest for `day` now, record `day` as sent.
    - ``skip``: `day`'s digest is too late (the bot was down); log it and
      record `day` as handled so it is not considered again.
    - ``wait``: nothing to do; `day` / `scheduled` name the next digest.

    In every case call `decide` again at `next_check` (always after `now`).
    """

    action: Action
    day: date  # the local date whose scheduled time `scheduled` is
    scheduled: datetime  # aware, UTC
    next_check: datetime  # aware, UTC; strictly after `now`


def scheduled_at(day: date, at: time, tz: ZoneInfo) -> datetime:
    """The instant (aware, UTC) of `day`'s digest at local time `at` in `tz`.

    A local time that does not exist (inside a spring-forward gap) moves forward
    by the length of the gap: 02:30 on a day clocks jump from 02:00 to 03:00 is
    03:30. A local time that happens twice (inside a fall-back hour) is its
    first occurrence. Both follow from interpreting the wall time with
    ``fold=0`` (PEP 495): the offset in force *before* the transition is used.
    """
    if at.tzinfo is not None:
        raise ValueError("the digest time of day must be a local time without a timezone")
    local = datetime.combine(day, at.replace(fold=0), tzinfo=tz)
    return local.astimezone(UTC)


def decide(
    now: datetime,
    at: time,
    tz: ZoneInfo,
    last_day: date | None,
    max_late: timedelta = MAX_LATE,
) -> DigestDecision:
    """Decide whether the digest is due now, given the last day already handled.

    The digest that matters is the one whose scheduled time is the most recent
    at or before `now`. If its day (or a later one) was already handled (sent
    or skipped) there is nothing to do until the next scheduled time. Otherwise
    it is sent when less than `max_late` late (the bot was down at the time and
    has just started) and skipped when later than that, because a digest of
    yesterday's news posted the next evening misleads more than it helps.

    Days between `last_day` and the most recent one are not sent: they are all
    older than `max_late`. A `last_day` after the most recent day (the timezone
    setting was changed eastwards) also means wait, so no day is sent twice.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be an aware datetime")
    if max_late <= timedelta(0):
        raise ValueError("max_late must be positive")
    now = now.astimezone(UTC)
    day, scheduled = _latest_at_or_before(now, at, tz)
    next_day, next_scheduled = _first_after(now, day, at, tz)
    if last_day is not None and day <= last_day:
        return DigestDecision("wait", next_day, next_scheduled, next_scheduled)
    action: Action = "send" if now - scheduled < max_late else "skip"
    return DigestDecision(action, day, scheduled, next_scheduled)


def _latest_at_or_before(now: datetime, at: time, tz: ZoneInfo) -> tuple[date, datetime]:
    """The latest day whose scheduled time is at or before `now`, and that time.

    Starts a day ahead of the local date and walks back: near a transition at
    midnight a gap-shifted time can land on a neighbouring date.
    """
    day = now.astimezone(tz).date() + _ONE_DAY
    while (scheduled := scheduled_at(day, at, tz)) > now:
        day -= _ONE_DAY
    return day, scheduled


def _first_after(now: datetime, day: date, at: time, tz: ZoneInfo) -> tuple[date, datetime]:
    """The first day after `day` whose scheduled time is strictly after `now`.

    Usually `day` + 1; more when a day was dropped from the calendar (Samoa,
    30 Dec 2011) and two dates share one instant.
    """
    day += _ONE_DAY
    while (scheduled := scheduled_at(day, at, tz)) <= now:
        day += _ONE_DAY
    return day, scheduled
