"""`python -m bot once` run as a user runs it, against feeds on the local feed server."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
WATCHLISTS = ROOT / "watchlists"


async def cli(*args: str) -> tuple[int, str, str]:
    """`python -m bot ARGS` as a user runs it; the feed server (in this event loop)
    keeps serving meanwhile. Returns the exit status, stdout and stderr."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), 120)
    except TimeoutError:  # a hung bot must not outlive the test
        proc.kill()
        await proc.wait()
        raise
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def run_once(config: Path) -> tuple[int, str, str]:
    """`python -m bot once --config CONFIG`."""
    return await cli("once", "--config", str(config))


def write_config(tmp_path: Path, feed_url: str, first_poll: str = "all") -> Path:
    config = tmp_path / "bot.toml"
    config.write_text(
        f'[bot]\ndatabase = "db.sqlite3"\nwatchlists = "{WATCHLISTS}"\n'
        "allow_private_feeds = true\nparser_workers = 1\n"
        f'[[feeds]]\nurl = "{feed_url}"\nname = "Wire"\nfirst_poll = "{first_poll}"\n'
        '[[channels]]\nplatform = "jsonl"\nid = "alerts.jsonl"\nflood_cap = 0\n'
        '[[channels]]\nplatform = "console"\nflood_cap = 0\n'
    )
    return config


def alert_records(tmp_path: Path) -> list[dict[str, Any]]:
    lines = (tmp_path / "alerts.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, lines) if "alert_id" in r]
