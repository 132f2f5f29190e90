"""A JSON-lines record is written whole or not at all, even when the write fails part-way.

The failure is real: `python -m bot once` runs with RLIMIT_FSIZE set just
above the file's size (SIGXFSZ ignored), so write() stores what fits and then
fails with EFBIG, as on a full disk. The limit is lifted for the next run.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import sqlite3
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

from bot.chat.jsonl import JsonlSink
from tests.fakecontent import alert
from tests.feedserver import item, rss

ROOT = Path(__file__).resolve().parent.parent
LIMIT = 2 * 1024 * 1024  # far above the database's size, just above the alert file's


def setup(tmp_path: Path) -> tuple[Path, Path]:
    (tmp_path / "wl").mkdir()
    (tmp_path / "wl" / "w.toml").write_text((ROOT / "tests/data/watchlists/test.toml").read_text())
    (tmp_path / "feed.rss").write_bytes(
        rss([item(1, "ISKP claims attack"), item(2, "Tajikistan closes border")])
    )
    config = tmp_path / "bot.toml"
    config.write_text(
        '[bot]\ndatabase = "db.sqlite3"\nwatchlists = "wl"\nparser_workers = 1\n'
        '[[feeds]]\nurl = "feed.rss"\nfirst_poll = "all"\ninterval = "1h"\n'
        '[[channels]]\nplatform = "jsonl"\nid = "alerts.jsonl"\n'
    )
    # Earlier records fill the file to 300 bytes below the limit: the next record
    # (about 1 KB) fits only in part.
    filler = json.dumps({"note": "x" * 1000}) + "\n"
    head = filler * ((LIMIT - 300) // len(filler))
    head += json.dumps({"note": "y" * (LIMIT - 300 - len(head) - len('{"note": ""}\n'))}) + "\n"
    assert len(head) == LIMIT - 300
    alerts = tmp_path / "alerts.jsonl"
    alerts.write_text(head)
    return config, alerts


def limit_file_size() -> None:
    """In the child: a file cannot grow past LIMIT, and crossing it is an error, not a kill."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (LIMIT, LIMIT))


def run_once(config: Path, *, limited: bool) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "bot", "once", "--config", str(config)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=limit_file_size if limited else None,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert done.returncode == 0, done.stderr
    return done.stderr


def test_a_write_that_fails_part_way_leaves_no_fragment_and_the_retry_writes_one_line(
    tmp_path: Path,
) -> None:
    config, alerts = setup(tmp_path)
    before = alerts.read_bytes()

    err = run_once(config, limited=True)
    assert "cannot write" in err and "File too large" in err
    assert alerts.read_bytes() == before  # cut back: still ends in a complete line
    db = sqlite3.connect(tmp_path / "db.sqlite3")
    with db:
        rows = db.execute("SELECT status, attempts FROM outbox ORDER BY id").fetchall()
        assert rows[0] == ("pending", 1)  # not marked sent
        db.execute("UPDATE outbox SET next_attempt_at = 0")  # as if its backoff had passed
    db.close()

    run_once(config, limited=False)
    lines = alerts.read_text().splitlines()[len(before.splitlines()) :]
    records = [json.loads(line) for line in lines]  # every new line is whole JSON
    assert sorted(r["alert_id"] for r in records) == [1, 2]
    with sqlite3.connect(tmp_path / "db.sqlite3") as db:
        assert {s for (s,) in db.execute("SELECT status FROM outbox")} == {"sent"}


async def test_a_fragment_at_the_end_of_the_file_is_skipped_and_not_continued(
    tmp_path: Path,
) -> None:
    """A file left ending in a fragment (truncation failed, or an older version) stays readable."""
    path = tmp_path / "alerts.jsonl"
    path.write_text('{"alert_id": 1, "title": "complete"}\n{"alert_id": 2, "tit')
    await JsonlSink().deliver(replace(alert(2, "jsonl", str(path)), claimed=True))
    # A retry of an alert the file holds (claimed by the try that wrote it): not again.
    await JsonlSink().deliver(replace(alert(1, "jsonl", str(path)), claimed=True))
    lines = path.read_text().splitlines()
    assert lines[1] == '{"alert_id": 2, "tit'
    assert [json.loads(line)["alert_id"] for line in (lines[0], *lines[2:])] == [1, 2]
