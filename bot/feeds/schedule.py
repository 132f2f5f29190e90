"""When is a feed due, and what does an outcome do to its state? Pure functions.

Given the old state, the outcome and `now`, each returns the new state; the
poller only stores it. That keeps backoff, Retry-After and "failing for a day"
testable with fixed datetimes.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import datetime, timedelta

from bot.errors import FetchError
from bot.models import FeedState

MAX_RETRY_AFTER = 24 * 3600.0


def _jitter(url: str, attempt: int) -> float:
    """A fixed factor in [0.9, 1.1] per feed and attempt, so failing feeds don't retry in step."""
    digest = hashlib.sha1(f"{url}#{attempt}".encode()).digest()
    return 0.9 + (digest[0] / 255) * 0.2


def is_due(state: FeedState, now: datetime) -> bool:
    if state.disabled_reason:
        return False
    return state.next_poll_at is None or state.next_poll_at <= now


def backoff_delay(url: str, error_count: int, interval: float, max_backoff: float) -> float:
    """Seconds before the next try after `error_count` failures in a row."""
    exponent = min(max(error_count - 1, 0), 20)
    return min(max_backoff, interval * (2**exponent)) * _jitter(url, error_count)


def after_success(
    state: FeedState,
    now: datetime,
    interval: float,
    *,
    etag: str | None,
    last_modified: str | None,
    body_hash: str | None,
    fetch_url: str | None = None,
) -> FeedState:
    """A 200 (or 304) arrived: clear errors, remember validators, poll again after `interval`."""
    return replace(
        state,
        fetch_url=fetch_url or state.fetch_url,
        etag=etag,
        last_modified=last_modified,
        body_hash=body_hash,
        first_polled=True,
        next_poll_at=now + timedelta(seconds=interval),
        last_success_at=now,
        error_count=0,
        failing_since=None,
    )


def after_failure(
    state: FeedState,
    now: datetime,
    interval: float,
    error: FetchError,
    *,
    max_backoff: float,
    failing_after: float,
) -> tuple[FeedState, bool]:
    """Record a failure; return the new state and whether the feed just became "failing".

    A permanent error (410 Gone) disables the feed. Otherwise the next try is
    after an exponential backoff capped at `max_backoff`, or after the
    server's Retry-After if that is later.
    """
    errors = state.error_count + 1
    failing_since = state.failing_since or now
    if error.permanent:
        return (
            replace(
                state,
                last_error=error.message,
                last_error_at=now,
                error_count=errors,
                failing_since=failing_since,
                disabled_reason=error.message,
            ),
            False,
        )
    delay = backoff_delay(state.feed_url, errors, interval, max_backoff)
    if error.retry_after is not None:
        delay = max(delay, min(error.retry_after, MAX_RETRY_AFTER))
    was_failing = is_failing(state, state.last_error_at or now, failing_after)
    new = replace(
        state,
        last_error=error.message,
        last_error_at=now,
        error_count=errors,
        failing_since=failing_since,
        next_poll_at=now + timedelta(seconds=delay),
    )
    return new, is_failing(new, now, failing_after) and not was_failing


def is_failing(state: FeedState, now: datetime, failing_after: float) -> bool:
    """Has the feed failed without a single success for `failing_after` seconds?"""
    if state.failing_since is None or state.error_count == 0:
        return False
    return (now - state.failing_since).total_seconds() >= failing_after


#: Weight of the newest gap in a feed's usual gap between polls that brought news.
NEWS_GAP_WEIGHT = 0.3


def next_mean_gap(
    last_new_at: datetime | None, mean_gap: float | None, now: datetime
) -> float | None:
    """A feed's usual gap in seconds between polls that brought new items, after one more.

    A moving average (weight NEWS_GAP_WEIGHT on the newest gap), so the digest can
    tell a feed gone silent from a quiet day; the first poll with news only sets the
    starting point (no gap yet). Every storage engine stores what this returns.
    """
    if last_new_at is None:
        return mean_gap
    gap = (now - last_new_at).total_seconds()
    if mean_gap is None:
        return gap
    return (1 - NEWS_GAP_WEIGHT) * mean_gap + NEWS_GAP_WEIGHT * gap
