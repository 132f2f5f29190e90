"""Command line: python -m bot COMMAND (run, once, check, health, match, backtest, digest,
watchlists, feeds, backup, migrate).

This module parses the arguments, dispatches to the commands (bot/cli/, one
module per group) and alone decides exit codes and prints errors for people:
library code raises BotError subclasses with readable messages.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import sqlite3
import sys
from collections.abc import Iterator, Sequence
from typing import TextIO, cast

from bot.cli import check, digest, match, migrate, ops, run
from bot.cli.common import setup_logging
from bot.errors import BotError, ConfigError, ConfigErrors
from bot.heap import cycle_collection_paused, skip_exit_collection
from bot.logs import LOG_FORMATS
from bot.tls import import_aiohttp

log = logging.getLogger("bot")

DEFAULT_CONFIG = "bot.toml"


@contextlib.contextmanager
def _output(args: argparse.Namespace) -> Iterator[None]:
    """Logging and stdout/stderr for any command, set up before the config is read.

    The format comes from --log-format, else from a quick read of the config
    (bot/redact.py's prescan), so warnings met while the config is validated
    are already JSON under log_format = "json". Both streams are redacted, and
    under json whatever is printed to stderr outside logging becomes JSON too.
    Restored on the way out, for callers of main() in-process.
    """
    from bot.logs import JsonLinesStream, configure_logging
    from bot.redact import RedactingStream, Redactor, prescan_config, url_password

    prescan = prescan_config(args.config)
    log_format = args.log_format or prescan.log_format or "text"
    # A URL given on the command line (migrate --to) may carry a password too.
    passwords = [url_password(getattr(args, "target", None) or "")]
    secrets = [*prescan.secret_values, *(p for p in passwords if p)]
    redact = Redactor.from_environment(os.environ, prescan.secret_envs, secrets)
    stdout, stderr = sys.stdout, sys.stderr
    configure_logging(log_format, redact, stderr)
    wrapped = JsonLinesStream if log_format == "json" else RedactingStream
    sys.stdout = cast(TextIO, RedactingStream(stdout, redact))
    sys.stderr = cast(TextIO, wrapped(stderr, redact))
    try:
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        sys.stdout, sys.stderr = stdout, stderr


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bot", description="News-watch alert bot: feeds in, matched alerts out."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("--config", "-c", default=DEFAULT_CONFIG, help="path to bot.toml")
        p.add_argument("--verbose", "-v", action="store_true", help="debug logging")
        p.add_argument(
            "--log-format",
            choices=LOG_FORMATS,
            help='"text" (readable) or "json" (one object per line); default: bot.log_format',
        )
        return p

    command("run", "poll feeds and deliver alerts until stopped (Ctrl-C or SIGTERM)")
    command("once", "poll every feed once, deliver, and exit")
    command("check", "validate the config and watchlists, then exit")
    command("health", "exit 0 if a `run` on this config is alive and polling, else 1 (one line)")
    m = command("match", "match JSON-lines items from stdin against watchlists")
    m.add_argument("--watchlists", help="watchlist directory (default: the config's)")
    m.add_argument("--threshold", type=float, help="fuzzy threshold 50-100 (default 90)")
    m.add_argument("--explain", action="store_true", help="a readable table instead of JSON")
    m.add_argument(
        "--html", action="store_true", help="title and summary are HTML: convert them to text first"
    )
    b = command("backtest", "test a candidate watch term on the items stored in the database")
    b.add_argument("--term", required=True, help="the alias to try")
    b.add_argument("--entity", help="test it as an alias of this entity (uses its exclusions)")
    b.add_argument("--days", type=float, default=7.0, help="how far back to look (default 7)")
    d = command("digest", "post the digest of the last 24 hours now (not counted as the daily one)")
    d.add_argument("--channel", help="only this channel (platform:id or the id)")
    d.add_argument("--dry-run", action="store_true", help="print it and write the chart instead")
    d.add_argument("--chart", help="where --dry-run writes the chart (default digest-DATE.png)")
    w = command("watchlists", "watchlist tools")
    w.add_argument(
        "action", choices=["export"], help="export: write watchlists + chat terms as TOML"
    )
    w.add_argument("--out", help="folder to write the files to (default: print them)")
    f = command("feeds", "the feed list: import OPML, export OPML, list with status")
    f.add_argument(
        "action",
        choices=["import", "export", "list"],
        help="import FILE.opml: check and add its feeds; export: OPML on stdout; list: a table",
    )
    f.add_argument("file", nargs="?", help="the OPML file to import")
    f.add_argument(
        "--first-poll",
        default="skip",
        help='imported feeds\' first poll: "skip" (default), "all" or an age such as "24h"',
    )
    bk = command("backup", "copy the database safely while the bot runs, then verify the copy")
    bk.add_argument("path", help="the backup file, or a folder for a time-stamped file")
    bk.add_argument("--force", action="store_true", help="overwrite an existing file")
    mg = command("migrate", "copy a SQLite database into an empty PostgreSQL database")
    migrate.add_arguments(mg)
    return parser


def _database_named_in(args: argparse.Namespace) -> str:
    """The database the config names, for an error message (the config loaded before)."""
    from bot.config import database_label, load_config

    try:
        return database_label(load_config(args.config).bot.database)
    except BotError:
        return "the database"


def main(argv: Sequence[str] | None = None) -> int:
    # Importing makes objects to keep: the collections their allocations set off found
    # nothing to free (bot/heap.py), and were 60 of a `once`'s 90 (7 ms).
    with cycle_collection_paused():
        args = build_parser().parse_args(argv)
        # Before anything imports aiohttp: its TLS contexts load certificates when first used.
        import_aiohttp()
    with _output(args):
        setup_logging("INFO")
        return _command(args)


def _command(args: argparse.Namespace) -> int:
    try:
        if args.command == "run":
            return asyncio.run(run.run(args))
        if args.command == "once":
            return asyncio.run(run.once(args))
        if args.command == "check":
            return check.check(args)
        if args.command == "health":
            return check.health(args)
        if args.command == "backtest":
            return asyncio.run(match.backtest_term(args))
        if args.command == "digest":
            return asyncio.run(digest.digest_now(args))
        if args.command == "watchlists":
            return asyncio.run(ops.watchlists_export(args))
        if args.command == "feeds":
            return asyncio.run(ops.feeds(args))
        if args.command == "backup":
            return ops.backup(args)
        if args.command == "migrate":
            return asyncio.run(migrate.migrate(args))
        return match.match(args)
    except ConfigErrors as e:
        for line in str(e).splitlines():
            print(f"error: {line}", file=sys.stderr)
        print(
            f"{len(e.errors)} problems: fix them all, then run the command again", file=sys.stderr
        )
        return 2
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except BotError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except sqlite3.Error as e:  # met after the database was opened (damaged pages, locked)
        from bot.storage_health import describe_storage_error, storage_advice

        print(
            f"error: {_database_named_in(args)}: cannot use the database "
            f"({describe_storage_error(e)}) — {storage_advice(e)}",
            file=sys.stderr,
        )
        return 1
    except KeyboardInterrupt:  # Ctrl-C before the signal handlers were installed
        return 130
    except Exception:  # a bug: its traceback goes through logging, so it is redacted
        log.critical("unexpected error, please report it with this traceback", exc_info=True)
        return 1


if __name__ == "__main__":
    code = main()
    skip_exit_collection()
    sys.exit(code)
