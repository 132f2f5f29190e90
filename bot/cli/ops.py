"""Operations (issue 12): `watchlists export`, `feeds import/export/list`, `backup`."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from bot.cli.common import config_only, settings_with_sinks
from bot.config import database_label, is_postgres
from bot.errors import BackupError, ConfigError

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.models import FeedState
    from bot.storage.base import AddedFeed

log = logging.getLogger("bot")


async def watchlists_export(args: argparse.Namespace) -> int:
    from bot.matching.export import export_files, write_export
    from bot.matching.watchlists import load_watchlists
    from bot.storage.open import open_storage

    settings = settings_with_sinks(args)
    async with open_storage(settings.bot.database) as storage:
        terms = await storage.chat_terms()
        removed = await storage.removed_terms()
    entities = load_watchlists(settings.bot.watchlists, terms, removed)
    if args.out:
        for path in write_export(entities, Path(args.out)):
            print(f"wrote {path}")
    else:
        for name, text in export_files(entities).items():
            print(f"# ---- {name}\n{text}")
    return 0


async def feeds(args: argparse.Namespace) -> int:
    from bot.storage.open import open_storage

    settings = config_only(args)
    if args.action == "import":
        return await _feeds_import(args, settings)
    if args.file is not None:
        raise ConfigError(
            f"feeds {args.action}",
            "",
            f"takes no file (found {args.file!r})",
            "python -m bot feeds export > FILE.opml",
        )
    added: list[AddedFeed] = []
    states: dict[str, FeedState] = {}
    database = settings.bot.database
    # No SQLite file yet: bot.toml's feeds, never polled (PostgreSQL is always opened).
    if is_postgres(database) or Path(database).exists():
        async with open_storage(database) as storage:
            added = await storage.added_feed_records()
            states = await storage.feed_states()
    if args.action == "export":
        _feeds_export(settings, added, states)
    else:
        from bot.ops.feed_transfer import feed_rows, format_feed_table

        rows = feed_rows(settings.feeds, added, states)
        print(format_feed_table(rows, settings.bot.timezone))
        print(f"{len(rows)} feeds")
    return 0


def _feeds_export(settings: Settings, added: list[AddedFeed], states: dict[str, FeedState]) -> None:
    from datetime import UTC, datetime

    from bot.ops.feed_transfer import export_location
    from bot.ops.opml import export_feeds, opml_document

    feeds = export_feeds(
        [(export_location(f), f.name) for f in settings.feeds],
        [(a.url, a.name, a.html_url) for a in added],
        {url: state.html_url for url, state in states.items()},
    )
    document = opml_document(feeds, "newswatch-bot feeds", datetime.now(UTC))
    sys.stdout.buffer.write(document)  # the document alone on stdout: logs go to stderr
    sys.stdout.flush()
    log.info("exported %d feeds", len(feeds))


async def _feeds_import(args: argparse.Namespace, settings: Settings) -> int:
    import getpass
    from datetime import UTC, datetime

    from bot.config import FIRST_POLL_HINT, parse_first_poll
    from bot.feeds.fetch import Fetcher
    from bot.feeds.parse import ParserPool
    from bot.ops.feed_transfer import FAILURES, import_feeds, known_feeds
    from bot.ops.import_progress import ImportProgress
    from bot.ops.opml import read_opml
    from bot.storage.open import open_storage

    if args.file is None:
        raise ConfigError(
            "feeds import", "", "no OPML file given", "python -m bot feeds import FILE.opml"
        )
    if parse_first_poll(args.first_poll) is None:
        raise ConfigError("--first-poll", "", f"unknown value {args.first_poll!r}", FIRST_POLL_HINT)
    entries = read_opml(Path(args.file))
    progress = ImportProgress(len(entries), sys.stderr.isatty())
    async with open_storage(settings.bot.database) as storage:
        known = known_feeds(settings.feeds, await storage.added_feed_records())
        async with (
            Fetcher(settings.bot) as fetcher,
            ParserPool(settings.bot.parser_workers, settings.bot.timeout) as parsers,
        ):
            with progress:
                outcomes = await import_feeds(
                    entries,
                    known,
                    fetcher,
                    parsers,
                    lambda feed: storage.import_feed(feed, datetime.now(UTC)),
                    first_poll=args.first_poll,
                    added_by=f"operator:{getpass.getuser()}",
                    on_outcome=progress.show,
                )
    counts = {s: sum(o.status == s for o in outcomes) for s in {o.status for o in outcomes}}
    summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "no feeds in the file"
    print(f"{args.file}: {len(outcomes)} entries: {summary}")
    if counts.get("added"):
        print(
            "a running bot starts polling the added feeds within [bot] watchlist_check; "
            "`python -m bot once` polls them now"
        )
    return 1 if any(o.status in FAILURES for o in outcomes) else 0


def backup(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from bot.ops.backup import backup_database

    settings = config_only(args)
    database = settings.bot.database
    if is_postgres(database):
        # A consistent copy of a live PostgreSQL database is pg_dump's job, and it
        # restores with the server's own tools; copying it here would only be slower.
        raise BackupError(
            f"{database_label(database)}: `backup` copies SQLite files; for PostgreSQL run "
            "`pg_dump --format=custom --file=FILE DBNAME` (restore with pg_restore)"
        )
    result = backup_database(
        Path(database), Path(args.path), force=args.force, now=datetime.now(UTC)
    )
    print(f"backup: {result.path} ({result.size:,} bytes)")
    print(f"integrity_check: {result.integrity}")
    return 0
