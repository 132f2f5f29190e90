"""Contract: start-up reads every feed's state as plain values (FEED_STATE_COLUMNS, issue 13)
and gets exactly what was saved, every field set; the positional conversion is checked
against the by-name one it replaced."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st

from bot.models import FeedState
from bot.storage.feeds import FeedStore
from bot.storage.rows import (
    FEED_STATE_COLUMN_COUNT,
    FEED_STATE_COLUMNS,
    feed_row,
    feed_state_from_row,
    feed_state_from_values,
)
from tests.contract.conftest import FEED, NOW


async def test_every_field_of_a_feed_state_round_trips(store: FeedStore) -> None:
    state = FeedState(
        FEED,
        "https://moved.example/feed.xml",
        etag='"abc"',
        last_modified="Tue, 24 Nov 2026 10:00:00 GMT",
        body_hash="f" * 64,
        first_polled=True,
        next_poll_at=NOW + timedelta(minutes=5),
        last_success_at=NOW - timedelta(hours=2),
        last_error="HTTP 503",
        last_error_at=NOW,
        error_count=4,
        failing_since=NOW - timedelta(hours=1),
        disabled_reason="gone (HTTP 410)",
        items_seen=0,
        html_url="https://moved.example/",
        entry_digests="AAAAAAAAAAAAAAAA BBBBBBBBBBBBBBBB",
    )
    plain = FeedState("https://b.example/rss", "https://b.example/rss")
    await store.save_feed_state(state)
    await store.save_feed_state(plain)
    assert await store.feed_states() == {FEED: state, plain.feed_url: plain}


_times = st.none() | st.floats(min_value=0, max_value=4e9, allow_nan=False)
_text = st.none() | st.text(max_size=20)


@given(
    st.tuples(
        st.text(min_size=1, max_size=20),
        st.text(min_size=1, max_size=20),
        _text,
        _text,
        _text,
        st.sampled_from([0, 1]),
        _times,
        _times,
        _text,
        _times,
        st.integers(0, 100),
        _times,
        _text,
        st.integers(0, 10**6),
        _text,
        _text,
    )
)
def test_values_in_column_order_read_as_the_row_by_name(values: tuple[object, ...]) -> None:
    names = [c.strip() for c in FEED_STATE_COLUMNS.split(",")]
    assert len(names) == len(values)
    row = dict(zip(names, values, strict=True))
    assert feed_state_from_values(values) == feed_state_from_row(row)


def test_feed_row_writes_exactly_the_columns_start_up_reads() -> None:
    """Both engines' feed upserts name FEED_STATE_COLUMNS and bind `feed_row`'s values."""
    names = [c.strip() for c in FEED_STATE_COLUMNS.split(",")]
    assert len(feed_row(FeedState(FEED, FEED))) == len(names) == FEED_STATE_COLUMN_COUNT
