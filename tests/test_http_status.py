"""[bot] listen: /healthz and /metrics served by real `run` processes, read over real HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import resource
import signal
import socket
import sys
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.botproc import BotProcess
from tests.fakeslack import FakeSlack
from tests.feedserver import item, rss
from tests.test_health_process import write_config
from tests.test_storage_failure import set_file_size_limit

ROOT = Path(__file__).resolve().parent.parent
ATTEMPTS = 300
NEWS = "C0123ABCD"
PACE = 0.05  # seconds between requests of a bounded poll: pacing, not synchronisation

METRIC_NAMES = {
    "newswatch_feed_polls": "counter",
    "newswatch_items_new": "counter",
    "newswatch_alerts_delivered": "counter",
    "newswatch_alerts_failed": "counter",
    "newswatch_outbox_pending": "gauge",
    "newswatch_outbox_oldest_age_seconds": "gauge",
    "newswatch_poll_duration_seconds": "histogram",
    "newswatch_last_cycle_timestamp_seconds": "gauge",
    "newswatch_matches": "counter",
    "newswatch_fetch_errors": "counter",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get(url: str) -> tuple[int, str, str]:
    """Status, Content-Type and body of a GET; error statuses are answers too."""
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, response.headers["Content-Type"], response.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers["Content-Type"], e.read().decode()


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a /metrics page by (name, labels)."""
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def until(read: Callable[[], Any], ok: Callable[[Any], bool]) -> Any:
    """Read until `ok(value)`; fails after ATTEMPTS reads."""
    value = None
    for _ in range(ATTEMPTS):
        value = read()
        if ok(value):
            return value
        time.sleep(PACE)
    raise AssertionError(f"never reached; last: {value!r}"[:2000])


def listening_config(tmp_path: Path, port: int) -> Path:
    return write_config(tmp_path, f'listen = "127.0.0.1:{port}"')


def test_healthz_and_metrics_of_a_running_bot(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    config = listening_config(tmp_path, port)
    bot = BotProcess("run", "--config", str(config))
    try:
        bot.wait_for(rf"serving /healthz and /metrics on http://127.0.0.1:{port}")
        bot.wait_for("claims attack", "out")
        code, kind, body = until(lambda: get(f"{base}/healthz"), lambda r: r[0] == 200)
        assert kind.startswith("application/json")
        report = json.loads(body)
        assert report["status"] == "ok"
        assert set(report["checks"]) == {"database", "poll_loop"}  # console has no connection
        assert all(c["ok"] for c in report["checks"].values())

        delivered = ("newswatch_alerts_delivered_total", (("sink", "console"),))
        # The alert is printed before it is recorded as sent: wait for the count.
        code, kind, text = until(
            lambda: get(f"{base}/metrics"), lambda r: samples(r[2]).get(delivered) == 1
        )
        assert code == 200 and kind.startswith("text/plain; version=0.0.4")
        families = {f.name: f.type for f in text_string_to_metric_families(text)}
        assert families == METRIC_NAMES
        for name, kind in METRIC_NAMES.items():  # the exact names dashboards query
            exposed = f"{name}_total" if kind == "counter" else name
            assert f"# HELP {exposed} " in text and f"# TYPE {exposed} {kind}\n" in text
        before = samples(text)
        # Nothing failed, yet the series exists for each configured sink (rate() needs it).
        assert before[("newswatch_alerts_failed_total", (("sink", "console"),))] == 0
        assert before[("newswatch_feed_polls_total", (("outcome", "error"),))] == 0

        # Values move after a poll that finds a new item.
        (tmp_path / "feed.rss").write_bytes(
            rss([item(2, "Tajikistan border closed"), item(1, "ISKP claims attack")])
        )
        bot.wait_for("border closed", "out")
        after = until(
            lambda: samples(get(f"{base}/metrics")[2]),
            lambda s: (
                s[delivered] == before[delivered] + 1 and s[("newswatch_outbox_pending", ())] == 0
            ),
        )
        assert (
            after[("newswatch_items_new_total", ())]
            == before[("newswatch_items_new_total", ())] + 1
        )
        ok_polls = ("newswatch_feed_polls_total", (("outcome", "ok"),))
        assert after[ok_polls] > before[ok_polls]
        count = ("newswatch_poll_duration_seconds_count", ())
        assert after[count] == after[ok_polls]  # one observation per fetch + parse
        assert after[("newswatch_matches_total", (("kind", "region"),))] >= 1
        assert after[("newswatch_outbox_oldest_age_seconds", ())] == 0
        last = ("newswatch_last_cycle_timestamp_seconds", ())
        assert after[last] >= before[last] and after[last] > 0
        assert get(f"{base}/nothing")[0] == 404
    finally:
        assert bot.stop(signal.SIGTERM) == 0, bot.stderr
    assert "Traceback" not in bot.stderr


def test_healthz_fails_while_the_database_cannot_be_written_and_recovers(tmp_path: Path) -> None:
    port = free_port()
    config = listening_config(tmp_path, port)
    url = f"http://127.0.0.1:{port}/healthz"
    bot = BotProcess("run", "--config", str(config))
    try:
        bot.wait_for("serving /healthz")
        until(lambda: get(url), lambda r: r[0] == 200)
        set_file_size_limit(bot.pid, 0)  # every SQLite write fails, as on a full disk
        try:
            _, _, body = until(lambda: get(url), lambda r: r[0] == 503)
        finally:
            set_file_size_limit(bot.pid, resource.RLIM_INFINITY)
        report = json.loads(body)
        assert report["status"] == "failing"
        assert report["failing"] == ["database"]
        assert "disk I/O error" in report["checks"]["database"]["detail"]
        until(lambda: get(url), lambda r: r[0] == 200)  # carries on by itself
    finally:
        assert bot.stop(signal.SIGTERM) == 0, bot.stderr


def test_a_port_in_use_is_a_config_error_naming_the_key(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = listening_config(tmp_path, port)
        bot = BotProcess("run", "--config", str(config))
        assert bot.stop(0) == 2  # signal 0: just wait for it to exit
    [line] = [x for x in bot.err if x.startswith("error:")]
    assert f"{config}: bot.listen: cannot listen on 127.0.0.1:{port}" in line
    assert "pick a free port" in line
    assert "Traceback" not in bot.stderr


# -- a chat connection ------------------------------------------------------------------


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    async with FakeSlack(channels={NEWS: "news"}) as fake:
        yield fake


async def test_healthz_fails_while_slack_cannot_be_reached(tmp_path: Path, fake: FakeSlack):
    port = free_port()
    url = f"http://127.0.0.1:{port}/healthz"
    config = write_config(tmp_path, f'listen = "127.0.0.1:{port}"\ntimeout = "5s"')
    text = config.read_text().replace(
        '[[channels]]\nplatform = "console"\n',
        f'[[channels]]\nplatform = "slack"\nid = "{NEWS}"\n'
        '[slack]\nbot_token_env = "T_SLACK_BOT"\napp_token_env = "T_SLACK_APP"\n'
        f'api_base = "{fake.api_base}"\n',
    )
    config.write_text(text)
    env = {k: v for k, v in os.environ.items() if k.lower() not in ("http_proxy", "https_proxy")}
    env.update(T_SLACK_BOT=fake.bot_token, T_SLACK_APP=fake.app_token, PYTHONUNBUFFERED="1")
    log = (tmp_path / "run.log").open("wb")
    proc = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "bot", "run", "--config", str(config)),
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=log,
    )

    async def healthz(status: int) -> dict[str, Any]:
        for _ in range(ATTEMPTS):
            if proc.returncode is not None:
                break
            with contextlib.suppress(OSError):
                code, _, body = await asyncio.to_thread(get, url)
                if code == status:
                    return dict(json.loads(body))
            await asyncio.sleep(PACE)
        raise AssertionError((tmp_path / "run.log").read_text()[-3000:])

    try:
        await fake.wait_for(lambda: fake.posted(NEWS), timeout=60)
        report = await healthz(200)
        assert report["checks"]["chat:slack"] == {"ok": True, "detail": "connected"}
        await fake.stop()  # Slack is gone; the next post finds out
        (tmp_path / "feed.rss").write_bytes(
            rss([item(2, "Tajikistan border closed"), item(1, "ISKP claims attack")])
        )
        report = await healthz(503)
        assert report["status"] == "failing" and report["failing"] == ["chat:slack"]
        assert report["checks"]["chat:slack"] == {"ok": False, "detail": "not connected"}
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 60) == 0
        log.close()
    assert "Traceback" not in (tmp_path / "run.log").read_text()
