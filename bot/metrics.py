"""Prometheus metrics: what the pipeline reports, in the names dashboards depend on.

The pipeline stages report through `Recorder`, a small protocol whose default
(`NO_RECORDING`) does nothing, so the poller and the outbox run and test the
same with or without metrics. `Metrics` is the Prometheus implementation; each
one has its own CollectorRegistry (never the process-global one), so several
Apps in one process (tests, `once` beside `run`) do not collide.

Label sets are bounded: outcomes, sinks (one per platform), entity kinds
(from the watchlists) and error kinds — never a feed URL or an item.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Protocol

from bot.errors import FetchError, ParseError

#: Content-Type of `Metrics.render()`: the Prometheus text format 0.0.4, which
#: generate_latest writes and every Prometheus version reads (newer clients
#: label their default 1.0.0, which Prometheus 2 does not know).
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

#: Poll outcomes as counted: PollOutcome.status -> the `outcome` label.
POLL_OUTCOMES = {
    "new": "ok",
    "unchanged": "ok",
    "not-modified": "not_modified",
    "error": "error",
}

#: Seconds; feeds take from milliseconds (a 304) to the 30 s fetch timeout.
POLL_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


def fetch_error_kind(error: FetchError) -> str:
    """A bounded label for a fetch failure: parse, http_4xx, http_5xx or network."""
    if isinstance(error, ParseError):
        return "parse"
    if error.status is not None and 400 <= error.status < 500:
        return "http_4xx"
    if error.status is not None and error.status >= 500:
        return "http_5xx"
    return "network"


class Recorder(Protocol):
    """What the pipeline tells the outside world about its work."""

    def feed_polled(self, status: str, seconds: float | None, error_kind: str = "") -> None:
        """One poll of one feed ended; `seconds` covers its fetch + parse."""

    def items_new(self, count: int, match_kinds: Iterable[str]) -> None:
        """Items stored as new after dedup, and the entity kind of each match among them."""

    def alert_delivered(self, sink: str) -> None: ...

    def alert_failed(self, sink: str) -> None:
        """An alert was given up (dead): rejected, or out of attempts."""

    def outbox_backlog(self, pending: int, oldest: datetime | None, now: datetime) -> None: ...

    def cycle_completed(self, at: datetime) -> None: ...


class NoRecording:
    """The Recorder of a pipeline nobody watches."""

    def feed_polled(self, status: str, seconds: float | None, error_kind: str = "") -> None:
        pass

    def items_new(self, count: int, match_kinds: Iterable[str]) -> None:
        pass

    def alert_delivered(self, sink: str) -> None:
        pass

    def alert_failed(self, sink: str) -> None:
        pass

    def outbox_backlog(self, pending: int, oldest: datetime | None, now: datetime) -> None:
        pass

    def cycle_completed(self, at: datetime) -> None:
        pass


NO_RECORDING = NoRecording()


class Metrics:
    """The Prometheus Recorder; `render()` is the body of GET /metrics."""

    def __init__(self, sinks: Iterable[str] = ()) -> None:
        # Imported here: a process that keeps no metrics (`once`) never loads the client.
        from prometheus_client import (
            CollectorRegistry,
            Counter,
            Gauge,
            Histogram,
            disable_created_metrics,
        )

        # No `*_created` series: in the 0.0.4 text format they read as extra gauges
        # beside every counter. (A process-wide switch; this bot has no other metrics.)
        disable_created_metrics()
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.polls = Counter(
            "newswatch_feed_polls", "Feed fetches, by outcome", ["outcome"], registry=r
        )
        self.items = Counter("newswatch_items_new", "Items new after dedup", registry=r)
        self.delivered = Counter(
            "newswatch_alerts_delivered", "Alerts delivered", ["sink"], registry=r
        )
        self.failed = Counter(
            "newswatch_alerts_failed", "Alerts given up (dead)", ["sink"], registry=r
        )
        self.pending = Gauge("newswatch_outbox_pending", "Undelivered outbox rows", registry=r)
        self.oldest_age = Gauge(
            "newswatch_outbox_oldest_age_seconds",
            "Age of the oldest undelivered outbox row (0 when none)",
            registry=r,
        )
        self.poll_seconds = Histogram(
            "newswatch_poll_duration_seconds",
            "One observation per feed fetch + parse",
            buckets=POLL_BUCKETS,
            registry=r,
        )
        self.last_cycle = Gauge(
            "newswatch_last_cycle_timestamp_seconds",
            "Unix time the last poll cycle ended",
            registry=r,
        )
        self.matches = Counter(
            "newswatch_matches", "Matches on new items, by entity kind", ["kind"], registry=r
        )
        self.fetch_errors = Counter(
            "newswatch_fetch_errors",
            "Failed feed polls, by kind (parse, http_4xx, http_5xx, network, storage, bug)",
            ["kind"],
            registry=r,
        )
        # Every series a dashboard alerts on exists from the start, at 0: a rate()
        # over a series that appears with its first failure misses that failure.
        for outcome in sorted(set(POLL_OUTCOMES.values())):
            self.polls.labels(outcome)
        for sink in sinks:
            self.delivered.labels(sink)
            self.failed.labels(sink)

    def feed_polled(self, status: str, seconds: float | None, error_kind: str = "") -> None:
        outcome = POLL_OUTCOMES.get(status)
        if outcome is None:  # "disabled": not a fetch
            return
        self.polls.labels(outcome).inc()
        if seconds is not None:
            self.poll_seconds.observe(seconds)
        if outcome == "error":
            self.fetch_errors.labels(error_kind or "network").inc()

    def items_new(self, count: int, match_kinds: Iterable[str]) -> None:
        self.items.inc(count)
        for kind in match_kinds:
            self.matches.labels(kind).inc()

    def alert_delivered(self, sink: str) -> None:
        self.delivered.labels(sink).inc()

    def alert_failed(self, sink: str) -> None:
        self.failed.labels(sink).inc()

    def outbox_backlog(self, pending: int, oldest: datetime | None, now: datetime) -> None:
        self.pending.set(pending)
        self.oldest_age.set(max(0.0, (now - oldest).total_seconds()) if oldest else 0.0)

    def cycle_completed(self, at: datetime) -> None:
        self.last_cycle.set(at.timestamp())

    def render(self) -> bytes:
        from prometheus_client import generate_latest

        return generate_latest(self.registry)
