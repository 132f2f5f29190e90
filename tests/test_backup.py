"""`python -m bot backup` while a real `python -m bot run` keeps writing, and on a
damaged database: real SQLite files, real subprocesses."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.botproc import BotProcess
from tests.feedserver import item, rss
from tests.run_bot import ROOT

WATCHLISTS = ROOT / "tests" / "data" / "watchlists"
ITEMS = 40


def backup(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", "backup", *args, "--config", str(config)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def write_config(tmp_path: Path, interval: str = "1s") -> Path:
    """A bot polling a local feed file every second: it writes all the time."""
    when = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
    items = [item(n, f"Report number {n}", when=when + timedelta(minutes=n)) for n in range(ITEMS)]
    (tmp_path / "feed.rss").write_bytes(rss(items))
    config = tmp_path / "bot.toml"
    config.write_text(
        f'[bot]\ndatabase = "db.sqlite3"\nwatchlists = "{WATCHLISTS}"\nparser_workers = 1\n'
        f'[[feeds]]\nurl = "feed.rss"\nname = "Local"\ninterval = "{interval}"\n'
        '[[channels]]\nplatform = "jsonl"\nid = "alerts.jsonl"\n'
    )
    return config


def guids(db: Path) -> set[str]:
    with sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True) as con:
        return {r[0] for r in con.execute("SELECT guid FROM items")}


def test_backup_while_run_writes_holds_every_committed_row_including_the_wal(
    tmp_path: Path,
) -> None:
    config = write_config(tmp_path)
    db = tmp_path / "db.sqlite3"
    bot = BotProcess("run", "--config", str(config))
    try:
        bot.wait_for(r"first poll, 40 existing items marked seen")
        committed = guids(db)  # committed before the backup starts
        assert len(committed) == ITEMS
        # They are still in the WAL: a plain copy of the database file misses them.
        assert (tmp_path / "db.sqlite3-wal").stat().st_size > 0
        shutil.copy(db, tmp_path / "plain-copy.sqlite3")
        with sqlite3.connect(tmp_path / "plain-copy.sqlite3") as con:
            tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master")}
            plain = con.execute("SELECT count(*) FROM items").fetchone()[0] if tables else 0
        assert plain < ITEMS

        done = backup(config, str(tmp_path / "copy.sqlite3"))

        assert done.returncode == 0, done.stderr
        assert f"backup: {tmp_path / 'copy.sqlite3'}" in done.stdout
        assert "integrity_check: ok" in done.stdout
        assert bot.proc.poll() is None  # the bot ran on: backup takes no run lock
        copy = tmp_path / "copy.sqlite3"
        assert committed <= guids(copy)
        with sqlite3.connect(copy) as con:
            assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            assert con.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        assert not (tmp_path / "copy.sqlite3-wal").exists()  # one self-contained file

        # An existing file is not overwritten without --force.
        again = backup(config, str(copy))
        assert again.returncode == 1
        assert "exists; pass --force" in again.stderr and "Traceback" not in again.stderr
        assert backup(config, str(copy), "--force").returncode == 0

        # A folder gets a time-stamped file.
        folder = tmp_path / "backups"
        folder.mkdir()
        stamped = backup(config, str(folder))
        assert stamped.returncode == 0, stamped.stderr
        [made] = folder.iterdir()
        assert made.name.startswith("db-") and made.suffix == ".sqlite3"
        assert committed <= guids(made)
    finally:
        assert bot.stop() == 0


def test_backup_of_a_damaged_database_fails_cleanly(tmp_path: Path) -> None:
    config = write_config(tmp_path, interval="1h")
    once = subprocess.run(
        [sys.executable, "-m", "bot", "once", "--config", str(config)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert once.returncode == 0, once.stderr
    db = tmp_path / "db.sqlite3"
    with sqlite3.connect(db) as con:
        page = con.execute("PRAGMA page_size").fetchone()[0]
        pages = con.execute("PRAGMA page_count").fetchone()[0]
    # Garbage over every page after the first (the header and schema stay readable).
    with db.open("r+b") as f:
        f.seek(page)
        f.write(bytes(range(256)) * ((pages - 1) * page // 256))

    done = backup(config, str(tmp_path / "copy.sqlite3"))

    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert "damaged" in done.stderr, done.stderr
    assert not (tmp_path / "copy.sqlite3").exists()
    assert not list(tmp_path.glob(".copy.sqlite3*"))  # no half-written file left behind


def test_backup_refuses_a_missing_database(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    done = backup(config, str(tmp_path / "copy.sqlite3"))
    assert done.returncode == 1
    assert "no database there" in done.stderr and "Traceback" not in done.stderr
