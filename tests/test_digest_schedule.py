"""bot.digest.schedule: when each channel's digest is sent, with fixed datetimes across DST."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, available_timezones

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.digest.schedule import DigestDecision, decide, scheduled_at

LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")
KOLKATA = ZoneInfo("Asia/Kolkata")
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")
APIA = ZoneInfo("Pacific/Apia")
EIGHT = time(8, 0)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# -- scheduled_at -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "at", "tz", "expected", "local"),
    [
        # Ordinary days: winter and summer offsets.
        (date(2026, 11, 25), EIGHT, LONDON, utc(2026, 11, 25, 8), "08:00+00:00"),
        (date(2026, 7, 1), EIGHT, LONDON, utc(2026, 7, 1, 7), "08:00+01:00"),
        # London springs forward 01:00 -> 02:00 on 29 Mar 2026: 01:30 is moved on by the gap.
        (date(2026, 3, 29), time(1, 30), LONDON, utc(2026, 3, 29, 1, 30), "02:30+01:00"),
        # London falls back 02:00 -> 01:00 on 25 Oct 2026: 01:30 is the first (BST) one.
        (date(2026, 10, 25), time(1, 30), LONDON, utc(2026, 10, 25, 0, 30), "01:30+01:00"),
        # New York springs forward 02:00 -> 03:00 on 8 Mar 2026.
        (date(2026, 3, 8), time(2, 30), NEW_YORK, utc(2026, 3, 8, 7, 30), "03:30-04:00"),
        # New York falls back 02:00 -> 01:00 on 1 Nov 2026: the first 01:30 is EDT.
        (date(2026, 11, 1), time(1, 30), NEW_YORK, utc(2026, 11, 1, 5, 30), "01:30-04:00"),
        # The days either side of a change are 23 and 25 hours apart at 08:00.
        (date(2026, 3, 7), EIGHT, NEW_YORK, utc(2026, 3, 7, 13), "08:00-05:00"),
        (date(2026, 3, 8), EIGHT, NEW_YORK, utc(2026, 3, 8, 12), "08:00-04:00"),
        # Half-hour offset, no DST.
        (date(2026, 11, 25), time(9, 0), KOLKATA, utc(2026, 11, 25, 3, 30), "09:00+05:30"),
        # Lord Howe moves its clocks by 30 minutes: 02:00 -> 02:30 on 4 Oct 2026.
        (date(2026, 10, 4), time(2, 15), LORD_HOWE, utc(2026, 10, 3, 15, 45), "02:45+11:00"),
        # ... and 02:00 -> 01:30 on 5 Apr 2026: 01:45 happens twice, the first is +11:00.
        (date(2026, 4, 5), time(1, 45), LORD_HOWE, utc(2026, 4, 4, 14, 45), "01:45+11:00"),
    ],
)
def test_scheduled_at(day: date, at: time, tz: ZoneInfo, expected: datetime, local: str) -> None:
    got = scheduled_at(day, at, tz)
    assert got == expected
    assert got.tzinfo is UTC
    assert got.astimezone(tz).isoformat(timespec="minutes")[11:] == local


def test_scheduled_at_rejects_an_aware_time_of_day() -> None:
    with pytest.raises(ValueError, match="local time"):
        scheduled_at(date(2026, 1, 1), time(8, 0, tzinfo=UTC), LONDON)


def test_scheduled_at_ignores_fold_one() -> None:
    """A time of day parsed with fold=1 still means the first occurrence."""
    assert scheduled_at(date(2026, 10, 25), time(1, 30, fold=1), LONDON) == utc(2026, 10, 25, 0, 30)


# -- decide -------------------------------------------------------------------------------

NOV24, NOV25, NOV26 = date(2026, 11, 24), date(2026, 11, 25), date(2026, 11, 26)


@pytest.mark.parametrize(
    ("now", "last_day", "expected"),
    [
        # On time.
        (
            utc(2026, 11, 25, 8),
            NOV24,
            DigestDecision("send", NOV25, utc(2026, 11, 25, 8), utc(2026, 11, 26, 8)),
        ),
        # A minute early: wait for today's.
        (
            utc(2026, 11, 25, 7, 59),
            NOV24,
            DigestDecision("wait", NOV25, utc(2026, 11, 25, 8), utc(2026, 11, 25, 8)),
        ),
        # Already sent today: wait for tomorrow's.
        (
            utc(2026, 11, 25, 8, 0, 1),
            NOV25,
            DigestDecision("wait", NOV26, utc(2026, 11, 26, 8), utc(2026, 11, 26, 8)),
        ),
        # A last day after today's (the zone setting moved east): still wait, never resend.
        (
            utc(2026, 11, 25, 9),
            NOV26,
            DigestDecision("wait", NOV26, utc(2026, 11, 26, 8), utc(2026, 11, 26, 8)),
        ),
        # Down at 08:00, started at 19:59: 11h59 late, sent.
        (
            utc(2026, 11, 25, 19, 59),
            NOV24,
            DigestDecision("send", NOV25, utc(2026, 11, 25, 8), utc(2026, 11, 26, 8)),
        ),
        # Started at 20:01: 12h01 late, skipped.
        (
            utc(2026, 11, 25, 20, 1),
            NOV24,
            DigestDecision("skip", NOV25, utc(2026, 11, 25, 8), utc(2026, 11, 26, 8)),
        ),
        # Exactly 12 h late is not "less than 12 h": skipped.
        (
            utc(2026, 11, 25, 20),
            NOV24,
            DigestDecision("skip", NOV25, utc(2026, 11, 25, 8), utc(2026, 11, 26, 8)),
        ),
        # Down for days: only the most recent day counts.
        (
            utc(2026, 11, 25, 9),
            date(2026, 11, 20),
            DigestDecision("send", NOV25, utc(2026, 11, 25, 8), utc(2026, 11, 26, 8)),
        ),
        # Never sent: a bot started an hour after the time sends ...
        (
            utc(2026, 11, 25, 9),
            None,
            DigestDecision("send", NOV25, utc(2026, 11, 25, 8), utc(2026, 11, 26, 8)),
        ),
        # ... one started 13 h after skips ...
        (
            utc(2026, 11, 25, 21),
            None,
            DigestDecision("skip", NOV25, utc(2026, 11, 25, 8), utc(2026, 11, 26, 8)),
        ),
        # ... and one started just before the time skips yesterday's, then waits.
        (
            utc(2026, 11, 25, 7, 59),
            None,
            DigestDecision("skip", NOV24, utc(2026, 11, 24, 8), utc(2026, 11, 25, 8)),
        ),
    ],
)
def test_decide_in_london_in_winter(
    now: datetime, last_day: date | None, expected: DigestDecision
) -> None:
    assert decide(now, EIGHT, LONDON, last_day) == expected


def test_decide_accepts_now_in_any_offset() -> None:
    now = datetime(2026, 11, 25, 3, 0, tzinfo=ZoneInfo("America/New_York"))  # 08:00 UTC
    assert decide(now, EIGHT, LONDON, NOV24).action == "send"


def test_decide_honours_max_late() -> None:
    now = utc(2026, 11, 25, 9)
    assert decide(now, EIGHT, LONDON, NOV24, max_late=timedelta(minutes=59)).action == "skip"
    assert decide(now, EIGHT, LONDON, NOV24, max_late=timedelta(minutes=61)).action == "send"


@pytest.mark.parametrize(
    ("now", "at", "max_late", "match"),
    [
        (datetime(2026, 11, 25, 8), EIGHT, timedelta(hours=12), "aware"),
        (utc(2026, 11, 25, 8), EIGHT, timedelta(0), "positive"),
        (utc(2026, 11, 25, 8), time(8, tzinfo=UTC), timedelta(hours=12), "local time"),
    ],
)
def test_decide_rejects_bad_input(now: datetime, at: time, max_late: timedelta, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        decide(now, at, LONDON, None, max_late)


def test_spring_forward_time_inside_the_gap() -> None:
    """New York, 02:30 on 8 Mar 2026 does not exist: the digest goes at 03:30 EDT."""
    at, last = time(2, 30), date(2026, 3, 7)
    before = datetime(2026, 3, 8, 3, 29, tzinfo=NEW_YORK)
    assert decide(before, at, NEW_YORK, last).action == "wait"
    assert decide(before, at, NEW_YORK, last).next_check == utc(2026, 3, 8, 7, 30)
    sent = decide(datetime(2026, 3, 8, 3, 30, tzinfo=NEW_YORK), at, NEW_YORK, last)
    assert (sent.action, sent.day) == ("send", date(2026, 3, 8))
    # The next day is ordinary again: 02:30 EDT.
    assert sent.next_check == datetime(2026, 3, 9, 2, 30, tzinfo=NEW_YORK)


def test_fall_back_time_inside_the_repeated_hour_is_sent_once() -> None:
    """London, 01:30 on 25 Oct 2026 happens twice: sent at the first, not at the second."""
    at, day = time(1, 30), date(2026, 10, 25)
    first = decide(utc(2026, 10, 25, 0, 30), at, LONDON, date(2026, 10, 24))
    assert (first.action, first.day) == ("send", day)
    second = decide(utc(2026, 10, 25, 1, 30), at, LONDON, day)  # 01:30 GMT, the repeat
    assert second.action == "wait"
    assert second.next_check == utc(2026, 10, 26, 1, 30)


def test_fall_back_in_new_york_after_a_restart_in_the_repeated_hour() -> None:
    """Down at the first 01:30, back at the second: one hour late, sent once."""
    at, day = time(1, 30), date(2026, 11, 1)
    back = decide(utc(2026, 11, 1, 6, 30), at, NEW_YORK, date(2026, 10, 31))
    assert back == DigestDecision("send", day, utc(2026, 11, 1, 5, 30), utc(2026, 11, 2, 6, 30))
    assert decide(utc(2026, 11, 1, 6, 31), at, NEW_YORK, day).action == "wait"


def test_kolkata_half_hour_offset() -> None:
    decision = decide(utc(2026, 11, 25, 3, 30), time(9, 0), KOLKATA, NOV24)
    assert decision == DigestDecision(
        "send", NOV25, utc(2026, 11, 25, 3, 30), utc(2026, 11, 26, 3, 30)
    )


def test_a_day_missing_from_the_calendar_is_not_sent() -> None:
    """Samoa skipped 30 Dec 2011: the 29th's digest is followed by the 31st's."""
    at = time(12, 0)
    sent = decide(datetime(2011, 12, 29, 12, tzinfo=APIA), at, APIA, date(2011, 12, 28))
    assert (sent.action, sent.day) == ("send", date(2011, 12, 29))
    after = decide(sent.next_check, at, APIA, sent.day)
    assert (after.action, after.day) == ("send", date(2011, 12, 31))
    assert after.scheduled == sent.next_check


@pytest.mark.parametrize("tz", [LONDON, NEW_YORK, KOLKATA, LORD_HOWE, APIA])
@pytest.mark.parametrize("at", [time(0, 0), time(1, 30), time(2, 15), time(8, 0), time(23, 59)])
def test_a_year_of_digests_one_per_day_on_time(tz: ZoneInfo, at: time) -> None:
    """A bot woken exactly at `next_check` sends every day once, at that day's time."""
    last_day = date(2025, 12, 31)
    first = decide(scheduled_at(date(2026, 1, 1), at, tz) - timedelta(minutes=1), at, tz, last_day)
    assert first.action == "wait"
    now = first.next_check
    sent: list[date] = []
    while last_day < date(2026, 12, 31):
        d = decide(now, at, tz, last_day)
        assert d.action == "send"
        assert d.scheduled == now == scheduled_at(d.day, at, tz)
        sent.append(d.day)
        last_day, now = d.day, d.next_check
    assert sent == [date(2026, 1, 1) + timedelta(n) for n in range(365)]


def test_restarts_never_send_a_day_twice() -> None:
    """Restarting every 20 minutes through a fall-back night sends the day exactly once."""
    at, last_day = time(1, 30), date(2026, 10, 24)
    sent: list[date] = []
    now = utc(2026, 10, 24, 20)
    while now < utc(2026, 10, 26, 12):
        d = decide(now, at, LONDON, last_day)
        if d.action == "send":
            sent.append(d.day)
        if d.action != "wait":
            last_day = d.day
        now += timedelta(minutes=20)
    assert sent == [date(2026, 10, 25), date(2026, 10, 26)]


# -- properties ---------------------------------------------------------------------------

ZONES = sorted(available_timezones() - {"Factory", "localtime"})


@settings(max_examples=300, deadline=None)
@given(
    now=st.datetimes(
        min_value=datetime(1990, 1, 1), max_value=datetime(2037, 12, 31), timezones=st.just(UTC)
    ),
    at=st.times(),
    zone=st.sampled_from(ZONES),
    last_offset=st.none() | st.integers(min_value=-5, max_value=3),
    max_late_minutes=st.integers(min_value=1, max_value=36 * 60),
)
def test_decide_properties(
    now: datetime, at: time, zone: str, last_offset: int | None, max_late_minutes: int
) -> None:
    tz = ZoneInfo(zone)
    today = now.astimezone(tz).date()
    last_day = None if last_offset is None else today + timedelta(days=last_offset)
    max_late = timedelta(minutes=max_late_minutes)
    d = decide(now, at, tz, last_day, max_late)

    assert d.next_check > now
    assert d.scheduled == scheduled_at(d.day, at, tz)
    if d.action == "wait":
        assert d.scheduled == d.next_check
    else:
        # Never a day before its time, never a day already handled.
        assert d.scheduled <= now
        assert last_day is None or d.day > last_day
        assert (now - d.scheduled < max_late) == (d.action == "send")
        # Handling it leaves nothing more to do until the next check.
        assert decide(now, at, tz, d.day, max_late).action == "wait"
