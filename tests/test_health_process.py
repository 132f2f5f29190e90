"""`python -m bot health` against real `run` processes: alive, stalled, stopped, killed, broken.

Every answer is one line on stdout, nothing on stderr, exit 0 or 1 (Docker
reserves 2). Waiting for a state that needs time to pass (a SIGSTOPped run
going stale after 3 intervals) polls the command a bounded number of times.
"""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from bot.storage.runlock import holder_pid
from tests.botproc import BotProcess
from tests.feedserver import item, rss

ROOT = Path(__file__).resolve().parent.parent
ATTEMPTS = 150  # health calls before a wait fails (each takes a few tenths of a second)
PACE = 0.1  # seconds between calls: pacing a bounded poll, not synchronisation


def write_config(tmp_path: Path, extra_bot: str = "") -> Path:
    """A bot on a local feed file with a 2 s heartbeat interval, printing alerts to stdout."""
    (tmp_path / "wl").mkdir(exist_ok=True)
    (tmp_path / "wl" / "w.toml").write_text((ROOT / "tests/data/watchlists/test.toml").read_text())
    (tmp_path / "feed.rss").write_bytes(rss([item(1, "ISKP claims attack")]))
    config = tmp_path / "bot.toml"
    config.write_text(
        '[bot]\ndatabase = "db.sqlite3"\nwatchlists = "wl"\nparser_workers = 1\n'
        f'interval = "2s"\n{extra_bot}\n'
        '[[feeds]]\nurl = "feed.rss"\nfirst_poll = "all"\ninterval = "1s"\n'
        '[[channels]]\nplatform = "console"\n'
    )
    return config


def health(config: Path) -> tuple[int, str]:
    """Run the command; assert the answer is one line on stdout and no traceback."""
    done = subprocess.run(
        [sys.executable, "-m", "bot", "health", "--config", str(config)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.stderr == "", done.stderr
    assert done.stdout.count("\n") == 1, done.stdout
    assert done.returncode in (0, 1)
    return done.returncode, done.stdout.strip()


def health_until(config: Path, healthy: bool) -> str:
    """Ask until the answer is (un)healthy; its line. Fails after ATTEMPTS answers."""
    lines = []
    for _ in range(ATTEMPTS):
        code, line = health(config)
        if (code == 0) is healthy:
            return line
        lines.append(line)
        time.sleep(PACE)
    raise AssertionError(f"never {'healthy' if healthy else 'unhealthy'}: {lines[-3:]}")


def test_health_follows_a_run_through_stall_resume_and_clean_stop(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    bot = BotProcess("run", "--config", str(config))
    try:
        bot.wait_for(r"running: 1 feeds")
        code, line = health(config)
        assert code == 0, line
        assert line.startswith(f"healthy: run pid {bot.pid}")
        bot.wait_for("claims attack", "out")
        health_until(config, healthy=True)  # past its first cycle
        bot.proc.send_signal(signal.SIGSTOP)  # alive, lock held, but not polling
        try:
            line = health_until(config, healthy=False)
            assert line.startswith(f"unhealthy: stale: run pid {bot.pid} is alive but no poll")
            assert "(allowed 6s = 3 × 2s)" in line
        finally:
            bot.proc.send_signal(signal.SIGCONT)
        line = health_until(config, healthy=True)
        assert "last poll cycle" in line
    finally:
        assert bot.stop(signal.SIGTERM) == 0, bot.stderr
    code, line = health(config)  # at once: no waiting for the heartbeat to age
    assert code == 1
    assert line.startswith(f"unhealthy: no run alive: the last run (pid {bot.pid}) stopped at ")
    assert "Traceback" not in bot.stderr


def test_health_knows_at_once_that_a_killed_run_is_gone(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    bot = BotProcess("run", "--config", str(config))
    try:
        bot.wait_for(r"running: 1 feeds")
        assert holder_pid(tmp_path / "db.sqlite3") == bot.pid  # asked from this process
        assert health(config)[0] == 0
        assert bot.proc.poll() is None  # asking (twice) did not take the run's lock away
    finally:
        assert bot.stop(signal.SIGKILL) == -signal.SIGKILL
    code, line = health(config)
    assert code == 1
    assert f"the last run (pid {bot.pid} on " in line
    assert "ended without a clean stop (killed or crashed)" in line


def test_health_reports_a_missing_or_broken_database_in_one_line(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    database = tmp_path / "db.sqlite3"

    code, line = health(config)
    assert code == 1
    assert line == f"unhealthy: no run alive: {database} does not exist (start `python -m bot run`)"
    assert not database.exists()  # health never creates it
    assert not Path(f"{database}.lock").exists()

    database.write_bytes(b"this is not a database" * 100)
    code, line = health(config)
    assert code == 1
    assert line.startswith(f"unhealthy: database: {database}: database unusable (file is not")

    database.unlink()
    with sqlite3.connect(database) as other:  # another program's SQLite file
        other.execute("CREATE TABLE t (x)")
    code, line = health(config)
    assert code == 1
    assert line == f"unhealthy: database: {database}: not this bot's database (no run has used it)"


def test_health_with_a_broken_config_is_one_line(tmp_path: Path) -> None:
    config = write_config(tmp_path, extra_bot='listen = "9100"\ninterval_typo = 3')
    code, line = health(config)
    assert code == 1
    assert line.startswith(f"unhealthy: config: {config}: bot.")
    code, line = health(tmp_path / "missing.toml")
    assert code == 1 and line.startswith("unhealthy: config: ")
