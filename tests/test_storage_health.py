"""StorageHealth and Backoff: which lines a storage outage logs, and how long loops wait."""

from __future__ import annotations

import logging
import sqlite3

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.storage_health import LINES_PER_MINUTE, Backoff, StorageHealth


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


FULL = sqlite3.OperationalError("database or disk is full")


def lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "bot.storage"]


def test_backoff_doubles_up_to_its_cap_and_resets() -> None:
    backoff = Backoff(base=1.0, cap=60.0)
    assert [backoff.next_delay() for _ in range(9)] == [1, 2, 4, 8, 16, 32, 60, 60, 60]
    backoff.reset()
    assert backoff.next_delay() == 1


@given(st.integers(min_value=1, max_value=10_000))
def test_backoff_never_exceeds_its_cap(failures: int) -> None:
    backoff = Backoff(base=1.0, cap=60.0)
    delays = [backoff.next_delay() for _ in range(failures)]
    assert all(1.0 <= d <= 60.0 for d in delays) and delays == sorted(delays)


def test_an_outage_is_one_line_then_a_reminder_a_minute_then_one_line_when_over(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, "bot.storage")
    clock = Clock()
    health = StorageHealth("data/bot.sqlite3", clock=clock)
    for _ in range(1000):  # a thousand failures in the same second: one line
        health.failed("polling Reuters", FULL)
    assert len(lines(caplog)) == 1
    assert lines(caplog)[0].startswith(
        "storage failing: data/bot.sqlite3: database or disk is full (while polling Reuters)"
    )
    assert lines(caplog)[0].endswith("free disk space")
    clock.now += 59
    health.failed("delivering to console:stdout", FULL)
    assert len(lines(caplog)) == 1
    clock.now += 1
    health.failed("polling Reuters", FULL)
    assert lines(caplog)[1].startswith(
        "storage still failing after 60s (1002 failed attempts, 2 loops waiting)"
    )
    health.ok("polling Reuters")  # the delivery loop still fails: not over yet
    assert len(lines(caplog)) == 2
    health.ok("pruning old records")  # never failed: changes nothing
    health.ok("delivering to console:stdout")
    assert lines(caplog)[2] == (
        "storage works again: data/bot.sqlite3 after 60s and 1002 failed attempts; carrying on"
    )


def test_flapping_storage_logs_at_most_a_few_lines_a_minute(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, "bot.storage")
    clock = Clock()
    health = StorageHealth("db", clock=clock)
    for _ in range(100):  # fails and recovers a hundred times within a second
        health.failed("polling A", FULL)
        health.ok("polling A")
    assert len(lines(caplog)) == LINES_PER_MINUTE
    clock.now += 60
    health.failed("polling A", FULL)
    assert len(lines(caplog)) == LINES_PER_MINUTE + 1
    assert lines(caplog)[-1].endswith("(196 storage lines held back)")
