"""Feed leases' numbers and decisions (bot/feeds/leases.py): pure, no database, no clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.feeds.leases import (
    CLAIM_EVERY,
    LEASE,
    MAX_BATCH,
    RENEW_EVERY,
    TAKEOVER_WITHIN,
    claim_limit,
    claim_wait,
    owner_name,
    parked_until,
)

NOW = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


def test_a_dead_instances_feeds_are_claimed_within_the_promised_time() -> None:
    # Its leases run out at most LEASE after its last renewal; a survivor claims at
    # least every CLAIM_EVERY, and a lease survives a missed renewal.
    assert LEASE + CLAIM_EVERY < TAKEOVER_WITHIN == timedelta(seconds=30)
    assert RENEW_EVERY * 2 < LEASE


def test_an_instance_claims_only_what_it_can_start() -> None:
    assert claim_limit(50, 0) == MAX_BATCH
    assert claim_limit(50, 40) == 10
    assert claim_limit(4, 1) == 3
    assert claim_limit(4, 4) == 0
    assert claim_limit(4, 6) == 0  # never negative
    assert claim_limit(100, 0, max_batch=30) == 30


def test_a_full_batch_claims_again_at_once() -> None:
    assert claim_wait(NOW, [], batch_full=True) == 0.0


def test_an_idle_instance_claims_at_the_next_due_time_or_every_claim_period() -> None:
    idle = CLAIM_EVERY.total_seconds()
    assert claim_wait(NOW, [], batch_full=False) == idle
    assert claim_wait(NOW, [NOW + timedelta(seconds=2), None], batch_full=False) == 2.0
    assert claim_wait(NOW, [NOW + timedelta(hours=1)], batch_full=False) == idle
    # Feeds falling due a few milliseconds apart are claimed together, a second apart.
    assert claim_wait(NOW, [NOW + timedelta(milliseconds=10)], batch_full=False) == 1.0
    # Due times in the past are feeds polled elsewhere since: waiting for them would spin.
    assert claim_wait(NOW, [NOW - timedelta(minutes=3)], batch_full=False) == idle


def test_a_feed_nobody_here_knows_stays_parked_for_an_interval() -> None:
    assert parked_until(NOW, 300) == NOW + timedelta(seconds=300)
    assert parked_until(NOW, 1) == NOW + LEASE  # never shorter than a lease


def test_owner_names_tell_processes_apart() -> None:
    assert owner_name("box", 42, "abc") == "box:42:abc"
    assert owner_name("box", 42) != owner_name("box", 42)  # a reused pid is another owner
