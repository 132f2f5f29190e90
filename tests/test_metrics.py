"""Metrics from the pipeline in one process: real SQLite, a real feed server, the JSONL sink."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from bot.app import App
from bot.errors import DeliveryError
from bot.metrics import Metrics
from tests.clock import Clock
from tests.feedserver import FeedServer, item
from tests.test_outbox import ScriptedSink


def value(metrics: Metrics, name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(metrics.render().decode()):
        for s in family.samples:
            if s.name == name and s.labels == labels:
                return float(s.value)
    raise AssertionError(f"no sample {name}{labels}")


async def test_outbox_gauges_follow_each_delivery_not_the_next_cycle(
    feed_server: FeedServer, make_settings, tmp_path: Path
) -> None:
    clock = Clock()
    url = feed_server.feed("/a.xml", [item(2, "ISKP second report"), item(1, "ISKP first")])
    settings = make_settings([{"url": url}], delivery_attempts=1)
    rejected = DeliveryError("message too long", retryable=False, rejected=True)
    sink = ScriptedSink([rejected])
    async with App.open(settings, clock=clock, sinks={"jsonl": sink}, metrics=True) as app:
        m = app.metrics
        assert value(m, "newswatch_alerts_failed_total", sink="jsonl") == 0  # before any failure
        await app.run_once(deliver=False)
        assert value(m, "newswatch_outbox_pending") == 2
        clock.advance(90)
        await app.outbox.report_backlog()
        assert value(m, "newswatch_outbox_oldest_age_seconds") == 90
        await app.outbox.drain()  # the first is rejected (dead), the second delivered
        assert value(m, "newswatch_outbox_pending") == 0
        assert value(m, "newswatch_outbox_oldest_age_seconds") == 0
        assert value(m, "newswatch_alerts_failed_total", sink="jsonl") == 1
        assert value(m, "newswatch_alerts_delivered_total", sink="jsonl") == 1
        assert value(m, "newswatch_items_new_total") == 2
        assert value(m, "newswatch_matches_total", kind="group") == 2
        assert value(m, "newswatch_feed_polls_total", outcome="ok") == 1


async def test_poll_outcomes_and_fetch_error_kinds_are_counted(
    feed_server: FeedServer, make_settings
) -> None:
    ok = feed_server.feed("/ok.xml", [item(1, "ISKP report")])
    gone = feed_server.set("/gone.xml", status=404)
    broken = feed_server.set("/broken.xml", body=b"<html>not a feed</html>")
    settings = make_settings([{"url": ok}, {"url": gone}, {"url": broken}])
    clock = Clock()
    async with App.open(
        settings, clock=clock, sinks={"jsonl": ScriptedSink([])}, metrics=True
    ) as app:
        await app.run_once()
        clock.advance(600)  # all due again: the good feed answers 304
        await app.run_once()
        m = app.metrics
        assert value(m, "newswatch_feed_polls_total", outcome="ok") == 1
        assert value(m, "newswatch_feed_polls_total", outcome="not_modified") == 1
        assert value(m, "newswatch_feed_polls_total", outcome="error") >= 2
        assert value(m, "newswatch_fetch_errors_total", kind="http_4xx") >= 1
        assert value(m, "newswatch_fetch_errors_total", kind="parse") >= 1
        polls = sum(
            value(m, "newswatch_feed_polls_total", outcome=o)
            for o in ("ok", "not_modified", "error")
        )
        assert value(m, "newswatch_poll_duration_seconds_count") == polls


async def test_two_apps_in_one_process_keep_their_own_metrics(
    feed_server: FeedServer, make_settings
) -> None:
    settings = make_settings([{"url": feed_server.feed("/a.xml", [item(1, "ISKP report")])}])
    async with App.open(settings, sinks={"jsonl": ScriptedSink([])}, metrics=True) as first:
        await first.run_once()
    async with App.open(settings, sinks={"jsonl": ScriptedSink([])}, metrics=True) as second:
        assert value(second.metrics, "newswatch_feed_polls_total", outcome="ok") == 0
    assert value(first.metrics, "newswatch_feed_polls_total", outcome="ok") == 1


async def test_metrics_are_kept_only_where_they_can_be_read(
    feed_server: FeedServer, make_settings
) -> None:
    """Without [bot] listen nothing serves /metrics: nothing is recorded (a `once`), and
    with it the Prometheus recorder counts; the pipeline runs the same either way."""
    from bot.metrics import NO_RECORDING

    settings = make_settings([{"url": feed_server.feed("/a.xml", [item(1, "ISKP report")])}])
    assert settings.bot.listen is None
    async with App.open(settings, sinks={"jsonl": ScriptedSink([])}) as app:
        assert app.metrics is NO_RECORDING
        report = await app.run_once()
        assert report.alerts == 1
    listening = replace(settings, bot=replace(settings.bot, listen=("127.0.0.1", 0)))
    async with App.open(listening, sinks={"jsonl": ScriptedSink([])}) as app:
        assert isinstance(app.metrics, Metrics)


def test_importing_the_bot_does_not_import_the_prometheus_client() -> None:
    code = "import sys, bot.app, bot.poller; print('prometheus_client' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=Path(__file__).resolve().parent.parent,
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "False"
