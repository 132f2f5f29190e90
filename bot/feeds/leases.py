"""Feed leases on a shared database: how long, how many, how often (pure).

Several instances on one PostgreSQL database divide the feeds by leasing them
(bot/storage/feeds.py): an instance claims a bounded batch of due feeds, polls
them, and saving each feed's state gives its lease up. A lease is short and
renewed while its poll runs, so a dead instance's feeds are polled again soon
after its death: its leases run out within LEASE, and the survivors claim at
least every CLAIM_EVERY, so LEASE + CLAIM_EVERY (25 s) stays under the 30 s
the deployment promises.

The numbers and decisions live here, apart from the loop (bot/app_shared.py),
so they can be checked without a database or a clock.
"""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Iterable
from datetime import datetime, timedelta

LEASE = timedelta(seconds=20)
RENEW_EVERY = LEASE / 3  # a lease survives two missed renewals
CLAIM_EVERY = timedelta(seconds=5)  # the longest an idle instance waits between claims
MAX_BATCH = 25  # feeds per claim: the work spreads over every live instance
# The shortest wait between claims that were not full: with thousands of feeds falling
# due at scattered moments, claiming at each one would be a query per feed; a second's
# delay lets each claim take every feed due by then.
MIN_CLAIM_GAP = timedelta(seconds=1)
TAKEOVER_WITHIN = timedelta(seconds=30)  # a dead instance's feeds are polled again within this
assert LEASE + CLAIM_EVERY < TAKEOVER_WITHIN


def owner_name(host: str | None = None, pid: int | None = None, token: str | None = None) -> str:
    """This process's name on the leases it holds: host and pid say who, for an
    operator reading the feeds table; the random part tells a restarted process
    with a reused pid from its predecessor."""
    host = host if host is not None else socket.gethostname()
    pid = pid if pid is not None else os.getpid()
    token = token if token is not None else secrets.token_hex(3)
    return f"{host}:{pid}:{token}"


def claim_limit(concurrency: int, in_flight: int, max_batch: int = MAX_BATCH) -> int:
    """How many feeds to claim now: no more than there are free poll slots.

    A feed claimed but not started would hold its lease idle while another
    instance has room for it, so an instance claims only what it can start.
    """
    return max(0, min(max_batch, concurrency - in_flight))


def claim_wait(
    now: datetime,
    next_due: Iterable[datetime | None],
    *,
    batch_full: bool,
    idle: timedelta = CLAIM_EVERY,
    min_gap: timedelta = MIN_CLAIM_GAP,
) -> float:
    """Seconds until the next claim.

    A full batch means more feeds may be due: claim again as soon as a slot is
    free (0). Otherwise wait for the earliest feed this instance knows to become
    due, but at most `idle` (feeds another instance polled, and dead instances'
    leases, are only found by claiming) and at least `min_gap`. Past due times are ignored: they are
    feeds other instances polled since (their stored state has moved on), and
    waiting for them would make a busy loop.
    """
    if batch_full:
        return 0.0
    wait = idle.total_seconds()
    for due in next_due:
        if due is not None and due > now:
            wait = min(wait, (due - now).total_seconds())
    return max(wait, min_gap.total_seconds())


def parked_until(now: datetime, interval: float) -> datetime:
    """Until when a claimed feed this instance cannot poll stays leased to it.

    A feed removed from the config (or from chat) keeps its stored row, so it
    stays due; released at once it would be claimed again at every claim, by
    every instance, ahead of the feeds that are really due. Kept for one poll
    interval, it costs one claim per interval; the lease still runs out if
    this instance dies, and another instance that knows the feed polls it then.
    """
    return now + max(timedelta(seconds=interval), LEASE)
