"""bot.feeds.schedule: due times, backoff, Retry-After, 410 and "failing" state."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from bot.errors import FetchError
from bot.feeds.schedule import (
    MAX_RETRY_AFTER,
    after_failure,
    after_success,
    backoff_delay,
    is_due,
    is_failing,
)
from bot.models import FeedState

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
URL = "https://feeds.example/a.rss"
INTERVAL = 600.0
MAX_BACKOFF = 6 * 3600.0
FAILING_AFTER = 24 * 3600.0


def state(**kw) -> FeedState:
    return FeedState(feed_url=URL, fetch_url=URL, **kw)


def fail(
    s: FeedState,
    now: datetime,
    error: FetchError | None = None,
    *,
    interval: float = INTERVAL,
    max_backoff: float = MAX_BACKOFF,
    failing_after: float = FAILING_AFTER,
) -> tuple[FeedState, bool]:
    return after_failure(
        s,
        now,
        interval,
        error or FetchError(URL, "HTTP 500", status=500),
        max_backoff=max_backoff,
        failing_after=failing_after,
    )


def delay_of(s: FeedState, now: datetime) -> float:
    assert s.next_poll_at is not None
    return (s.next_poll_at - now).total_seconds()


# -- is_due ----------------------------------------------------------------------------


def test_never_polled_is_due():
    assert is_due(state(), NOW)


@pytest.mark.parametrize(
    ("offset", "due"),
    [(-3600, True), (-1, True), (0, True), (1, False), (3600, False)],
)
def test_due_when_next_poll_reached(offset, due):
    assert is_due(state(next_poll_at=NOW + timedelta(seconds=offset)), NOW) is due


def test_disabled_feed_is_never_due():
    assert not is_due(state(disabled_reason="410 Gone"), NOW)
    assert not is_due(state(disabled_reason="410 Gone", next_poll_at=NOW - timedelta(days=1)), NOW)


# -- backoff ------------------------------------------------------------------------------


@pytest.mark.parametrize("errors", range(1, 9))
def test_backoff_grows_exponentially_within_jitter(errors):
    base = INTERVAL * 2 ** (errors - 1)
    delay = backoff_delay(URL, errors, INTERVAL, max_backoff=1e9)
    assert 0.9 * base <= delay <= 1.1 * base


@pytest.mark.parametrize("errors", [7, 8, 10, 20, 50, 10_000])
def test_backoff_is_capped_by_max_backoff(errors):
    delay = backoff_delay(URL, errors, INTERVAL, MAX_BACKOFF)
    assert 0.9 * MAX_BACKOFF <= delay <= 1.1 * MAX_BACKOFF


def test_backoff_is_deterministic_and_jitter_differs_between_feeds():
    assert backoff_delay(URL, 3, INTERVAL, MAX_BACKOFF) == backoff_delay(
        URL, 3, INTERVAL, MAX_BACKOFF
    )
    delays = {
        backoff_delay(f"https://feeds.example/{i}", 3, INTERVAL, MAX_BACKOFF) for i in range(20)
    }
    assert len(delays) > 1  # feeds do not retry in step


def test_backoff_of_zero_errors_is_about_one_interval():
    assert 0.9 * INTERVAL <= backoff_delay(URL, 0, INTERVAL, MAX_BACKOFF) <= 1.1 * INTERVAL


def test_consecutive_failures_back_off_further():
    s = state()
    delays = []
    now = NOW
    for _ in range(12):
        s, _became = fail(s, now)
        delays.append(delay_of(s, now))
        now = s.next_poll_at
    assert s.error_count == 12
    # doubling dominates the ±10% jitter until the cap
    assert all(b > a for a, b in itertools.pairwise(delays[:6]))
    assert all(d <= 1.1 * MAX_BACKOFF for d in delays)
    assert delays[-1] >= 0.9 * MAX_BACKOFF


def test_failure_records_the_error():
    s, became = fail(state(), NOW, FetchError(URL, "HTTP 503", status=503))
    assert s.error_count == 1
    assert s.last_error == "HTTP 503"
    assert s.last_error_at == NOW
    assert s.failing_since == NOW
    assert s.disabled_reason is None
    assert 0.9 * INTERVAL <= delay_of(s, NOW) <= 1.1 * INTERVAL
    assert not became


# -- Retry-After ---------------------------------------------------------------------------


@pytest.mark.parametrize("retry_after", [1.0, 600.0, 7200.0, 43200.0, MAX_RETRY_AFTER])
def test_retry_after_is_honoured(retry_after):
    error = FetchError(URL, "HTTP 429", retry_after=retry_after, status=429)
    s, _ = fail(state(), NOW, error)
    assert delay_of(s, NOW) >= retry_after
    assert not is_due(s, NOW + timedelta(seconds=retry_after) - timedelta(microseconds=1))


def test_short_retry_after_does_not_shorten_backoff():
    s = state(error_count=4, failing_since=NOW - timedelta(hours=1))
    error = FetchError(URL, "HTTP 429", retry_after=5.0, status=429)
    s2, _ = fail(s, NOW, error)
    assert delay_of(s2, NOW) >= 0.9 * INTERVAL * 2**4


def test_huge_retry_after_is_capped_at_a_day():
    error = FetchError(URL, "HTTP 503", retry_after=30 * 86400.0, status=503)
    s, _ = fail(state(), NOW, error)
    assert delay_of(s, NOW) == MAX_RETRY_AFTER


# -- 410 Gone -------------------------------------------------------------------------------


def test_permanent_error_disables_the_feed():
    before = state(next_poll_at=NOW)
    error = FetchError(URL, "HTTP 410 Gone", permanent=True, status=410)
    s, became = fail(before, NOW, error)
    assert s.disabled_reason == "HTTP 410 Gone"
    assert s.last_error == "HTTP 410 Gone"
    assert s.error_count == 1
    assert not became
    assert not is_due(s, NOW + timedelta(days=365))


# -- success --------------------------------------------------------------------------------


def test_success_clears_errors_and_schedules_next_poll():
    failing = state(
        error_count=5,
        failing_since=NOW - timedelta(days=2),
        last_error="HTTP 500",
        last_error_at=NOW - timedelta(hours=1),
        etag='"old"',
    )
    s = after_success(
        failing, NOW, INTERVAL, etag='"new"', last_modified="Wed, 01 May 2024", body_hash="abc"
    )
    assert s.error_count == 0
    assert s.failing_since is None
    assert not is_failing(s, NOW, FAILING_AFTER)
    assert s.first_polled
    assert s.last_success_at == NOW
    assert s.next_poll_at == NOW + timedelta(seconds=INTERVAL)
    assert (s.etag, s.last_modified, s.body_hash) == ('"new"', "Wed, 01 May 2024", "abc")
    assert s.fetch_url == URL
    assert not is_due(s, NOW)
    assert is_due(s, NOW + timedelta(seconds=INTERVAL))


def test_success_after_permanent_redirect_moves_fetch_url():
    s = after_success(
        state(),
        NOW,
        INTERVAL,
        etag=None,
        last_modified=None,
        body_hash=None,
        fetch_url="https://new.example/a.rss",
    )
    assert s.fetch_url == "https://new.example/a.rss"
    assert s.feed_url == URL  # identity unchanged


def test_next_failure_after_success_starts_backoff_over():
    s = state(error_count=7, failing_since=NOW - timedelta(hours=30))
    s = after_success(s, NOW, INTERVAL, etag=None, last_modified=None, body_hash=None)
    later = NOW + timedelta(hours=1)
    s, became = fail(s, later)
    assert s.error_count == 1
    assert s.failing_since == later
    assert delay_of(s, later) <= 1.1 * INTERVAL
    assert not became


# -- failing -------------------------------------------------------------------------------


def test_is_failing():
    assert not is_failing(state(), NOW, FAILING_AFTER)
    s = state(error_count=3, failing_since=NOW - timedelta(hours=23))
    assert not is_failing(s, NOW, FAILING_AFTER)
    assert is_failing(s, NOW + timedelta(hours=1), FAILING_AFTER)
    assert not is_failing(replace(s, error_count=0), NOW + timedelta(days=9), FAILING_AFTER)


def test_became_failing_is_reported_exactly_once():
    s = state()
    flags = []
    for hour in range(40):
        s, became = fail(s, NOW + timedelta(hours=hour))
        flags.append(became)
    assert flags.count(True) == 1
    assert flags.index(True) == 24  # the first failure 24 h after the first one


def test_became_failing_with_sparse_failures():
    s, became = fail(state(), NOW)
    assert not became
    s, became = fail(s, NOW + timedelta(hours=30))
    assert became
    s, became = fail(s, NOW + timedelta(hours=60))
    assert not became


def test_became_failing_again_after_recovery():
    s = state()
    flags = []
    for hour in range(26):
        s, became = fail(s, NOW + timedelta(hours=hour))
        flags.append(became)
    recovered = NOW + timedelta(hours=27)
    s = after_success(s, recovered, INTERVAL, etag=None, last_modified=None, body_hash=None)
    for hour in range(26):
        s, became = fail(s, recovered + timedelta(hours=1 + hour))
        flags.append(became)
    assert flags.count(True) == 2
