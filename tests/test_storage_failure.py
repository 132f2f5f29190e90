"""Storage errors in `run`: back off with a few log lines, keep everything, recover by itself.

The failure is real and binds root too: the running bot's file-size limit
(RLIMIT_FSIZE) is set to 0 from outside with prlimit, so every SQLite write
fails as on a full disk, and set back to unlimited to end the "outage".
"""

from __future__ import annotations

import resource
import signal
import time
from pathlib import Path

import psutil

from tests.botproc import BotProcess
from tests.test_process_lock import wait_until_sent, write_config, write_feed

OUTAGE = 2.0  # seconds the disk stays "full": the window in which log lines are counted


def set_file_size_limit(pid: int, limit: int) -> None:
    process = psutil.Process(pid)
    _soft, hard = process.rlimit(resource.RLIMIT_FSIZE)
    process.rlimit(resource.RLIMIT_FSIZE, (limit, hard))


def test_a_full_disk_costs_a_few_log_lines_and_nothing_is_lost(tmp_path: Path) -> None:
    config = write_config(tmp_path, "ISKP claims attack")
    config.write_text(config.read_text().replace('interval = "1h"', 'interval = "1s"'))
    bot = BotProcess("run", "--config", str(config))
    try:
        bot.wait_for("claims attack", "out")
        wait_until_sent(tmp_path / "db.sqlite3", 1)
        set_file_size_limit(bot.pid, 0)  # every write now fails: "database or disk is full"
        write_feed(tmp_path, "ISKP claims attack", "Tajikistan border closed")
        bot.wait_for("ERROR")  # the first report of the failure, whatever its form
        time.sleep(OUTAGE)  # not synchronisation: the outage lasts this long
        lines_during_outage = len(bot.err)
        set_file_size_limit(bot.pid, resource.RLIM_INFINITY)
        bot.wait_for("border closed", "out")  # the item fetched during the outage arrives
    finally:
        assert bot.stop(signal.SIGTERM) == 0, bot.stderr[-3000:]
    assert lines_during_outage < 15, f"{lines_during_outage} lines in {OUTAGE}s"
    storage_lines = [line for line in bot.err if "storage" in line]
    assert "Traceback" not in bot.stderr
    assert len(storage_lines) == 2, storage_lines  # failing once, working again once
    assert "storage failing: " in storage_lines[0]
    assert "disk I/O error [SQLITE_IOERR_WRITE]" in storage_lines[0]  # EFBIG, as on a full disk
    assert "check that the disk has room" in storage_lines[0]
    assert bot.stdout.count("claims attack") == 1
    assert bot.stdout.count("border closed") == 1
