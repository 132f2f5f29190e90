"""One deliverer per database: a second `run` refuses, starters never race on the schema."""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from bot.storage.sqlite import MIGRATIONS, SQLiteStorage
from tests.botproc import BotProcess
from tests.feedserver import item, rss

ROOT = Path(__file__).resolve().parent.parent
STARTERS = 6
ROUNDS = 4


def _open_at_barrier(path: str, barrier: object, results: object) -> None:
    """Child process: wait for the others, then open (and migrate) the same fresh file."""

    async def open_it() -> int:
        storage = await SQLiteStorage.open(path)
        try:
            return int(await storage._scalar("PRAGMA user_version"))
        finally:
            await storage.close()

    barrier.wait()  # type: ignore[attr-defined]
    try:
        results.put(("ok", asyncio.run(open_it())))  # type: ignore[attr-defined]
    except Exception as e:
        results.put(("error", f"{type(e).__name__}: {e}"))  # type: ignore[attr-defined]


def test_processes_opening_a_fresh_database_at_once_all_succeed(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("fork")
    outcomes = []
    for n in range(ROUNDS):
        path = str(tmp_path / f"fresh{n}.sqlite3")
        barrier = ctx.Barrier(STARTERS)
        results = ctx.Queue()
        procs = [
            ctx.Process(target=_open_at_barrier, args=(path, barrier, results))
            for _ in range(STARTERS)
        ]
        for p in procs:
            p.start()
        outcomes += [results.get(timeout=60) for _ in procs]
        for p in procs:
            p.join(60)
    assert outcomes == [("ok", len(MIGRATIONS))] * (STARTERS * ROUNDS)


def write_config(tmp_path: Path, *titles: str) -> Path:
    """A bot on a local feed file (one matching item per title) printing alerts to stdout."""
    watchlists = tmp_path / "wl"
    watchlists.mkdir(exist_ok=True)
    (watchlists / "w.toml").write_text((ROOT / "tests/data/watchlists/test.toml").read_text())
    write_feed(tmp_path, *titles)
    (tmp_path / "bot.toml").write_text(
        '[bot]\ndatabase = "db.sqlite3"\nwatchlists = "wl"\nparser_workers = 1\n'
        '[[feeds]]\nurl = "feed.rss"\nfirst_poll = "all"\ninterval = "1h"\n'
        '[[channels]]\nplatform = "console"\n'
    )
    return tmp_path / "bot.toml"


def write_feed(tmp_path: Path, *titles: str) -> None:
    (tmp_path / "feed.rss").write_bytes(rss([item(n, t) for n, t in enumerate(titles)]))


def test_a_second_run_refuses_and_the_first_delivers_once(tmp_path: Path) -> None:
    config = write_config(tmp_path, "ISKP claims attack")
    first = BotProcess("run", "--config", str(config))
    try:
        first.wait_for("claims attack", "out")
        second = subprocess.run(
            [sys.executable, "-m", "bot", "run", "--config", str(config)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert second.returncode == 1
        assert "Traceback" not in second.stderr
        assert second.stdout == ""
        [line] = [x for x in second.stderr.splitlines() if x.startswith("error:")]
        assert str(tmp_path / "db.sqlite3") in line
        assert f"in use by `python -m bot run`, pid {first.pid} on " in line
        assert "started 20" in line and "stop that one first" in line
        assert first.proc.poll() is None  # the first one keeps running
    finally:
        assert first.stop(signal.SIGTERM) == 0
    assert first.stdout.count("claims attack") == 1


def test_once_beside_a_running_bot_queues_and_leaves_delivery_to_it(tmp_path: Path) -> None:
    config = write_config(tmp_path, "ISKP claims attack")
    first = BotProcess("run", "--config", str(config))
    try:
        first.wait_for("claims attack", "out")
        write_feed(tmp_path, "ISKP claims attack", "Tajikistan border closed")
        once = subprocess.run(
            [sys.executable, "-m", "bot", "once", "--config", str(config)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert once.returncode == 0, once.stderr
        assert once.stdout == ""  # it delivered nothing itself
        assert "1 alerts queued; not delivering them here" in once.stderr
        assert f"pid {first.pid}" in once.stderr
        first.wait_for("border closed", "out")  # the running bot delivers it
    finally:
        assert first.stop(signal.SIGTERM) == 0
    assert first.stdout.count("claims attack") == 1
    assert first.stdout.count("border closed") == 1


def test_after_sigkill_a_new_run_starts_at_once(tmp_path: Path) -> None:
    config = write_config(tmp_path, "ISKP claims attack")
    first = BotProcess("run", "--config", str(config))
    try:
        first.wait_for("claims attack", "out")
        wait_until_sent(tmp_path / "db.sqlite3", 1)
    finally:
        assert first.stop(signal.SIGKILL) == -signal.SIGKILL
    again = BotProcess("run", "--config", str(config))
    try:
        again.wait_for(r"running: 1 feeds")
    finally:
        assert again.stop(signal.SIGTERM) == 0, again.stderr
    assert "in use by" not in again.stderr
    assert again.stdout == ""  # the alert was delivered before the kill: not again


def wait_until_sent(database: Path, count: int) -> None:
    """Poll the outbox (bounded attempts) until `count` alerts are recorded as sent."""
    for _ in range(2000):
        with contextlib.closing(sqlite3.connect(database)) as db:
            sent = db.execute("SELECT count(*) FROM outbox WHERE status = 'sent'").fetchone()[0]
        if sent >= count:
            return
        time.sleep(0.01)
    raise AssertionError(f"{database}: {count} alerts never recorded as sent")


def test_the_lock_file_names_its_holder_and_junk_in_it_is_harmless(tmp_path: Path) -> None:
    from bot.storage.runlock import LockHolder, RunLock, read_holder, try_lock

    database = tmp_path / "sub" / "db.sqlite3"
    lock = try_lock(database, "run")
    assert isinstance(lock, RunLock)
    holder = read_holder(tmp_path / "sub" / "db.sqlite3.lock")
    assert holder.pid == os.getpid() and holder.command == "run"
    assert holder.describe().startswith(f"`python -m bot run`, pid {os.getpid()} on ")
    lock.release()
    assert read_holder(tmp_path / "sub" / "db.sqlite3.lock") == LockHolder()  # emptied
    (tmp_path / "junk.lock").write_text("[1, 2")
    assert read_holder(tmp_path / "junk.lock").describe() == "another process"
    assert isinstance(try_lock(":memory:", "run"), RunLock)  # nothing to share
