"""The long-running mode: continuous delivery, clean stop on SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import gc
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from bot.app import App
from bot.chat.jsonl import JsonlSink
from bot.heap import ONCE_YOUNG_THRESHOLD, fewer_young_collections
from bot.models import Alert
from tests.feedserver import FeedServer, item, rss

ROOT = Path(__file__).resolve().parent.parent


class CountingSink(JsonlSink):
    def __init__(self, expected: int) -> None:
        super().__init__()
        self.expected = expected
        self.count = 0
        self.done = asyncio.Event()

    async def deliver(self, alert: Alert) -> str:
        message_id = await super().deliver(alert)
        self.count += 1
        if self.count >= self.expected:
            self.done.set()
        return message_id


async def test_run_forever_delivers_and_stops_cleanly(
    feed_server: FeedServer, make_settings
) -> None:
    url = feed_server.feed("/a.xml", [item(1, "ISKP report"), item(2, "Tajikistan report")])
    sink = CountingSink(expected=2)
    async with App.open(make_settings([{"url": url}]), sinks={"jsonl": sink}) as app:
        stop = asyncio.Event()
        runner = asyncio.create_task(app.run_forever(stop))
        await asyncio.wait_for(sink.done.wait(), 30)
        stop.set()
        await asyncio.wait_for(runner, 30)
        assert await app.storage.pending_count() == 0
    assert sink.count == 2


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_the_bot_cleanly(tmp_path: Path, sig: signal.Signals) -> None:
    (tmp_path / "wl").mkdir()
    (tmp_path / "wl" / "w.toml").write_text((ROOT / "tests/data/watchlists/test.toml").read_text())
    (tmp_path / "feed.rss").write_bytes(rss([item(1, "ISKP claims attack")]))
    (tmp_path / "bot.toml").write_text(
        '[bot]\ndatabase = "db.sqlite3"\nwatchlists = "wl"\n'
        '[[feeds]]\nurl = "feed.rss"\nfirst_poll = "all"\ninterval = "1h"\n'
        '[[channels]]\nplatform = "console"\n'
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "run", "--config", str(tmp_path / "bot.toml")],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()  # blocks until the alert is printed
        assert "«ISKP» claims attack" in first  # the matched word is marked
        proc.send_signal(sig)
        _out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert "stopping" in err
    assert "Traceback" not in err
    # No parser worker outlives the bot.
    import psutil

    orphans = [
        p.pid
        for p in psutil.process_iter(["cmdline"])
        if str(tmp_path / "bot.toml") in " ".join(p.info["cmdline"] or [])
    ]
    assert orphans == []


def test_once_raises_the_young_generation_threshold_only_while_it_runs() -> None:
    """`once` runs with fewer young collections (bot/cli/run.py); whatever it does, the
    collector's thresholds are as before once it returns or raises."""
    before = gc.get_threshold()
    with fewer_young_collections():
        assert gc.get_threshold() == (ONCE_YOUNG_THRESHOLD, *before[1:])
    assert gc.get_threshold() == before
    with pytest.raises(RuntimeError), fewer_young_collections():
        raise RuntimeError("a failed once")
    assert gc.get_threshold() == before
