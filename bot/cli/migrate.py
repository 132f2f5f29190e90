"""`migrate --from FILE --to URL`: move a SQLite deployment onto PostgreSQL.

The copy itself is bot/storage/transfer.py; this command checks what it was
given (a SQLite file in, a PostgreSQL URL out), holds the file's run lock so no
`run` writes to it meanwhile, shows progress on stderr, and prints the counts.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from bot.cli.common import setup_logging
from bot.config import database_label, is_postgres
from bot.config_values import is_database_url, postgres_url_problem
from bot.errors import AlreadyRunning, ConfigError

log = logging.getLogger("bot")

#: Seconds between progress lines for a big table.
PROGRESS_EVERY = 2.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--from",
        dest="source",
        required=True,
        metavar="FILE",
        help="the SQLite database to copy (bot.database of the SQLite deployment)",
    )
    parser.add_argument(
        "--to",
        dest="target",
        required=True,
        metavar="URL",
        help="an empty PostgreSQL database: postgresql://USER@HOST:PORT/DBNAME",
    )


def source_path(value: str) -> Path:
    """--from: an existing SQLite file, never a URL."""
    if is_database_url(value):
        raise ConfigError(
            "--from",
            "",
            f"{database_label(value)} is a URL; migrate copies from a SQLite file",
            "give the path of the SQLite database, e.g. --from data/newswatch.sqlite3",
        )
    path = Path(value).expanduser()
    if not path.is_file():
        raise ConfigError(
            "--from", "", f"{path}: no such file", "give the path of the SQLite database"
        )
    return path


def target_url(value: str) -> str:
    """--to: a well-formed PostgreSQL URL, never a path."""
    value = value.strip()
    if not is_postgres(value):
        raise ConfigError(
            "--to",
            "",
            f"{database_label(value)!r} is not a PostgreSQL URL; migrate copies into PostgreSQL",
            "give postgresql://USER@HOST:PORT/DBNAME (to copy a SQLite file, use `backup`)",
        )
    problem = postgres_url_problem(value)
    if problem:
        raise ConfigError("--to", "", *problem)
    return value


async def migrate(args: argparse.Namespace) -> int:
    from bot.cli.run import lock_database
    from bot.storage.runlock import RunLock
    from bot.storage.transfer import copy_sqlite_to_postgres, summary_lines

    setup_logging("DEBUG" if args.verbose else "INFO")  # no config: migrate needs none
    source, target = source_path(args.source), target_url(args.target)
    lock = lock_database(source, "migrate")
    if not isinstance(lock, RunLock):
        raise AlreadyRunning(
            f"{source} is in use by {lock.describe()}; stop it first: migrate copies a "
            "database no bot is writing to"
        )
    with lock:
        log.info("copying %s into %s", source, database_label(target))
        report = await copy_sqlite_to_postgres(source, target, _Progress())
    for line in summary_lines(report):
        print(line)
    rate = report.rows / report.seconds if report.seconds > 0 else 0.0
    print(
        f"copied {report.rows:,} rows in {report.seconds:.1f}s ({rate:,.0f} rows/s), "
        f"every count verified, into {database_label(target)}"
    )
    if report.nul_removed:
        print(
            f"note: {report.nul_removed} text values held NUL characters, which PostgreSQL "
            "cannot store; they were removed"
        )
    print(
        "next: point [bot] database at that URL and start the instances; keep the SQLite "
        "file as the backup of the state before the move"
    )
    return 0


class _Progress:
    """A line on stderr every few seconds while a big table copies, with its rate."""

    def __init__(self) -> None:
        self._table = ""
        self._started = self._shown = time.monotonic()

    def __call__(self, table: str, done: int, total: int) -> None:
        now = time.monotonic()
        if table != self._table:
            self._table, self._started, self._shown = table, now, now
        if now - self._shown >= PROGRESS_EVERY or (done == total and now - self._started > 1):
            self._shown = now
            rate = done / max(now - self._started, 1e-9)
            print(f"{table}: {done:,}/{total:,} rows ({rate:,.0f} rows/s)", file=sys.stderr)
