"""Is a `run` alive and polling? The answer of `python -m bot health` and of /healthz.

`run` keeps a heartbeat row in its database (bot/storage/sqlite.py, migration
7): written at start, advanced each time a poll cycle completes, marked at a
clean stop. `health` reads it from another process and asks the kernel
whether the run still holds the database's lock (bot/storage/runlock.py): a
dead run's lock is gone at once, even after SIGKILL, while a stalled one
(SIGSTOP, a hung loop) keeps its lock but stops beating. Docker reads exit
status 0 as healthy and 1 as unhealthy (2 is reserved), so every failure is 1.

On PostgreSQL several instances, on several hosts, share one database and
there is no lock file to ask: `health` answers for the deployment from the
heartbeat's age (`assess_shared`), and says "stopped" once the last running
instance stopped cleanly (only the last marks the row). Each instance's own liveness is its
/healthz (bot/ops/http_status.py).

The decisions are pure functions of what was read and `now`; only
`check_health` does I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from bot.config_values import is_postgres
from bot.errors import BotError
from bot.models import FeedState, Heartbeat

#: A poll cycle may be this many heartbeat intervals old before the run counts as stalled.
STALE_AFTER_INTERVALS = 3


@dataclass(frozen=True, slots=True)
class Verdict:
    healthy: bool
    reason: str  # one line, for a person and for `docker inspect`


def tick_seconds(interval: float) -> float:
    """How often `run` checks its poll cycle: well inside the 3 intervals health allows."""
    return max(0.2, min(interval / 2, 60.0))


def cycle_complete(states: Iterable[FeedState], now: datetime, grace: float) -> bool:
    """True when every due feed has been polled: a poll cycle is complete.

    A feed waiting out a failure backoff is not due, so it never holds the
    cycle back; a disabled feed is not polled at all. A feed still unpolled
    `grace` seconds (the longest one fetch may take) after it fell due is
    stuck: the cycle is not complete and the heartbeat stops advancing.
    """
    limit = now - timedelta(seconds=grace)
    return not any(
        s.next_poll_at is not None and s.next_poll_at < limit and not s.disabled_reason
        for s in states
    )


def assess(heartbeat: Heartbeat | None, holder: int | None, now: datetime) -> Verdict:
    """Healthy iff a run holds the database and completed a cycle within 3 intervals.

    `holder` is the pid holding the database's lock (None: nobody). Before its
    first cycle a run counts from its start, so a fresh start is healthy for
    its first 3 intervals.
    """
    if holder is None:
        if heartbeat is None:
            return Verdict(False, "no run alive: no `python -m bot run` has used this database")
        if heartbeat.clean_stop:
            at = _when(heartbeat.stopped_at or heartbeat.started_at)
            return Verdict(False, f"no run alive: the last run (pid {heartbeat.pid}) stopped {at}")
        seen = _when(heartbeat.last_cycle_at or heartbeat.started_at)
        return Verdict(
            False,
            f"no run alive: the last run (pid {heartbeat.pid} on {heartbeat.host}) ended "
            f"without a clean stop (killed or crashed); its last sign of life was {seen}",
        )
    if heartbeat is None or heartbeat.pid != holder:
        return Verdict(
            False,
            f"no run alive: pid {holder} holds the database but wrote no heartbeat "
            "(a `python -m bot once`, or a run older than this version)",
        )
    last = heartbeat.last_cycle_at or heartbeat.started_at
    age = (now - last).total_seconds()
    allowed = STALE_AFTER_INTERVALS * heartbeat.interval
    if age > allowed:
        what = "poll cycle completed" if heartbeat.last_cycle_at else "poll cycle since start"
        return Verdict(
            False,
            f"stale: run pid {heartbeat.pid} is alive but no {what} for {age:.0f}s "
            f"(allowed {allowed:g}s = {STALE_AFTER_INTERVALS} × {heartbeat.interval:g}s): it is "
            "stalled, stopped (SIGSTOP) or cannot write its database — see its log",
        )
    if heartbeat.last_cycle_at is None:
        return Verdict(True, f"run pid {heartbeat.pid} started {age:.0f}s ago, first cycle due")
    return Verdict(True, f"run pid {heartbeat.pid}, last poll cycle {age:.0f}s ago")


def assess_shared(heartbeat: Heartbeat | None, now: datetime) -> Verdict:
    """Healthy iff some instance on the shared database completed a poll cycle within
    3 intervals (PostgreSQL: no lock tells whether a process on another host lives)."""
    if heartbeat is None:
        return Verdict(False, "no run alive: no `python -m bot run` has used this database")
    last = heartbeat.last_cycle_at or heartbeat.started_at
    if heartbeat.clean_stop and (heartbeat.stopped_at or last) >= last:
        # Marked by the last instance to stop (bot/app_shared.py: last_to_stop); the row's
        # pid is the instance that started last, not necessarily that one.
        at = _when(heartbeat.stopped_at or heartbeat.started_at)
        return Verdict(False, f"no run alive: every instance stopped cleanly, the last {at}")
    age = (now - last).total_seconds()
    allowed = STALE_AFTER_INTERVALS * heartbeat.interval
    who = f"pid {heartbeat.pid} on {heartbeat.host}"
    if age > allowed:
        return Verdict(
            False,
            f"stale: no poll cycle completed for {age:.0f}s (allowed {allowed:g}s = "
            f"{STALE_AFTER_INTERVALS} × {heartbeat.interval:g}s; the last by {who}): every "
            "instance is stopped, stalled or cannot write the database — see their logs",
        )
    if heartbeat.last_cycle_at is None:
        return Verdict(True, f"run {who} started {age:.0f}s ago, first cycle due")
    return Verdict(True, f"run {who}, last poll cycle {age:.0f}s ago")


def _when(moment: datetime | None) -> str:
    return moment.strftime("at %Y-%m-%d %H:%M:%S UTC") if moment else "at an unknown time"


def check_health(database: Path | str, now: datetime) -> Verdict:
    """Read the heartbeat and the lock of `database`; never creates or changes it."""
    from bot.storage.readonly import read_heartbeat
    from bot.storage.runlock import holder_pid

    if is_postgres(database):
        try:
            return assess_shared(read_heartbeat(database), now)
        except BotError as e:
            return Verdict(False, f"database: {e}")
    database = Path(database)
    if str(database) == ":memory:":
        return Verdict(False, "bot.database is :memory:, which no other process can see")
    if not database.exists():
        return Verdict(
            False, f"no run alive: {database} does not exist (start `python -m bot run`)"
        )
    try:
        heartbeat = read_heartbeat(database)
    except BotError as e:
        return Verdict(False, f"database: {e}")
    try:
        holder = holder_pid(database)
    except OSError as e:
        return Verdict(False, f"{database}.lock: cannot read the lock file ({e.strerror})")
    return assess(heartbeat, holder, now)
