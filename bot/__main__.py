"""Command line: python -m bot COMMAND (run, once, check, health, match, backtest, digest,
watchlists, feeds, backup).

Only this module decides exit codes and prints errors for people: library
code raises BotError subclasses with readable messages.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import logging
import os
import signal
import sqlite3
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO, cast

from bot.errors import AlreadyRunning, BotError, ConfigError, ConfigErrors, StorageError
from bot.logs import LOG_FORMATS, channel_context

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.models import FeedState
    from bot.storage.base import AddedFeed
    from bot.storage.runlock import LockHolder, RunLock

log = logging.getLogger("bot")

DEFAULT_CONFIG = "bot.toml"


def _setup_logging(level: str) -> None:
    """Set the level; the handler (format, redaction) is installed once by main()."""
    logging.getLogger().setLevel(getattr(logging, level))


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
    from bot.redact import RedactingStream, Redactor, prescan_config

    prescan = prescan_config(args.config)
    log_format = args.log_format or prescan.log_format or "text"
    redact = Redactor.from_environment(os.environ, prescan.secret_envs)
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


def _settings(args: argparse.Namespace):
    """The config alone, for commands that read the database but post nothing."""
    from bot.app import check_sinks_configured
    from bot.config import load_config

    settings = load_config(args.config)
    check_sinks_configured(settings)
    _setup_logging("DEBUG" if args.verbose else settings.bot.log_level)
    return settings


def _preflight(args: argparse.Namespace, platforms: bool = True):
    """Everything `check` validates, for the commands that start the bot: what
    `check` passes, they start with (bot/preflight.py)."""
    from bot.preflight import preflight

    if args.verbose:
        _setup_logging("DEBUG")
    # Only `check` reports an unusable database: the others meet it in storage,
    # which says what to do about it.
    checked = preflight(args.config, platforms=platforms, database=args.command == "check")
    _setup_logging("DEBUG" if args.verbose else checked.settings.bot.log_level)
    return checked


async def _run(args: argparse.Namespace) -> int:
    from bot.app import App
    from bot.storage.runlock import RunLock

    settings = _preflight(args).settings
    lock = _lock_database(settings.bot.database, "run")
    if not isinstance(lock, RunLock):
        raise AlreadyRunning(
            f"{settings.bot.database} is in use by {lock.describe()}; stop that one first "
            "(or give this one another bot.database): two bots on one database post every "
            "alert twice"
        )
    with lock:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):  # not on this platform
                loop.add_signal_handler(sig, stop.set)
        async with App.open(settings) as app:
            await app.run_forever(stop)
    return 0


def _lock_database(database: Path, command: str) -> RunLock | LockHolder:
    """Take the database's deliverer lock (bot/storage/runlock.py), or learn who has it."""
    from bot.storage.runlock import try_lock

    try:
        return try_lock(database, command)
    except OSError as e:
        raise StorageError(
            f"{database}.lock: cannot create the lock file beside the database ({e.strerror}) — "
            "make its folder writable for the bot's user"
        ) from e


async def _once(args: argparse.Namespace) -> int:
    from bot.app import App
    from bot.storage.runlock import RunLock

    settings = _preflight(args).settings
    lock = _lock_database(settings.bot.database, "once")
    if not isinstance(lock, RunLock):
        # A running bot delivers from the same outbox: a second deliverer would
        # post every alert twice, so this one only polls and queues.
        async with App.open(settings, sinks={}) as app:
            report = await app.run_once(deliver=False)
        log.info(
            "cycle done: %d feeds polled, %d with errors, %d alerts queued; not delivering "
            "them here: %s is in use by %s, which delivers them",
            len(report.outcomes),
            report.errors,
            report.alerts,
            settings.bot.database,
            lock.describe(),
        )
        return 0
    with lock:
        async with App.open(settings) as app:
            report = await app.run_once()
            pending = await app.storage.pending_count()
    log.info(
        "cycle done: %d feeds polled, %d with errors, %d alerts queued, %d delivered, %d waiting",
        len(report.outcomes),
        report.errors,
        report.alerts,
        app.outbox.stats.sent,
        pending,
    )
    return 0


def _check(args: argparse.Namespace) -> int:
    from bot.matching.watchlists import term_warnings

    checked = _preflight(args)
    settings, entities = checked.settings, checked.entities
    for warning in term_warnings(settings.bot.watchlists, entities):
        print(f"warning: {warning}")
    aliases = sum(len(e.all_aliases) for e in entities)
    print(
        f"{args.config}: OK — {len(settings.feeds)} feeds, {len(settings.channels)} channels, "
        f"{len(entities)} entities with {aliases} aliases in {settings.bot.watchlists}"
    )
    return 0


def _health(args: argparse.Namespace) -> int:
    """Exit 0 if a `run` on this config is alive and polling, else 1 with one line.

    Made for a container's HEALTHCHECK and for monitoring scripts: whatever
    goes wrong (config, database, a bug) is that one line, never a traceback,
    and the exit status is 1 (Docker reserves 2). It never creates or changes
    the database.
    """
    from datetime import UTC, datetime

    from bot.config import load_config
    from bot.ops.health import check_health

    logging.disable(logging.CRITICAL)  # config warnings would break the one-line answer
    try:
        settings = load_config(args.config)
        verdict = check_health(settings.bot.database, datetime.now(UTC))
    except BotError as e:
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        print(f"unhealthy: config: {first}")
        return 1
    except Exception as e:  # a bug must still answer in one line
        print(f"unhealthy: health check failed: {type(e).__name__}: {e}".splitlines()[0])
        return 1
    print(("healthy: " if verdict.healthy else "unhealthy: ") + verdict.reason)
    return 0 if verdict.healthy else 1


def explain_table(record_id: object, title: str, matches: list) -> str:  # list[Match]
    """A human-readable account of one item's matches (match --explain)."""
    lines = [f"[{record_id}] {title}"]
    if not matches:
        lines.append("    (no match)")
    for m in matches:
        lines.append(
            f"    {m.entity_id:<24} {m.kind:<8} {m.how:<14} {m.score:>5g}  "
            f'"{m.alias}" ~ "{m.text}" in {m.field}[{m.start}:{m.end}]{m.ambiguity_note()}'
        )
    return "\n".join(lines)


def match_stream(
    entities_dir: Path,
    threshold: float,
    stdin: TextIO,
    stdout: TextIO,
    stderr: TextIO,
    explain: bool = False,
    html: bool = False,
) -> int:
    """The matcher as a filter: JSON lines in, one JSON line of matches out per input.

    Fields are plain text, as the bot stores an item, so offsets index into
    exactly what was sent and "<5" is text. With `html` they are HTML (a feed's
    description) and converted as at parse time; the converted text is then
    echoed in the output, since the offsets index into it.
    """
    from bot.feeds.html_text import html_to_text
    from bot.matching.matcher import Matcher
    from bot.matching.watchlists import load_watchlists

    matcher = Matcher(load_watchlists(entities_dir), threshold)
    status = 0
    for number, line in enumerate(stdin, start=1):
        if not line.strip():
            continue
        try:
            line.encode("utf-8")  # stdin is read with surrogateescape: bad bytes show here
        except UnicodeEncodeError:
            print(f"line {number}: skipped, not UTF-8 text — save the input as UTF-8", file=stderr)
            status = 1
            continue
        try:
            record = json.loads(line)
            if not isinstance(record, dict):
                raise ValueError("expected a JSON object")
            title, summary = record.get("title") or "", record.get("summary") or ""
            if not isinstance(title, str) or not isinstance(summary, str):
                raise ValueError('"title" and "summary" must be strings')
            if html:
                title, summary = html_to_text(title), html_to_text(summary)
        except ValueError as e:
            print(f"line {number}: skipped, not a JSON item ({e})", file=stderr)
            status = 1
            continue
        except RecursionError:  # json's decoder recurses once per nesting level
            print(
                f"line {number}: skipped, nested too deeply to read — "
                "give one flat JSON object per line",
                file=stderr,
            )
            status = 1
            continue
        matches = matcher.match_text(title, summary)
        if explain:
            stdout.write(explain_table(record.get("id"), title, matches) + "\n")
            continue
        out: dict[str, object] = {"id": record.get("id")}
        if html:
            out |= {"title": title, "summary": summary}
        out["matches"] = [m.to_json() for m in matches]
        stdout.write(json.dumps(out, ensure_ascii=False) + "\n")
        stdout.flush()
    return status


def _match(args: argparse.Namespace) -> int:
    if args.watchlists:
        directory = Path(args.watchlists)
        threshold = args.threshold if args.threshold is not None else 90.0
    else:
        from bot.config import load_config

        bot = load_config(args.config).bot
        directory = bot.watchlists
        threshold = args.threshold if args.threshold is not None else bot.match_threshold
    if not 50 <= threshold <= 100:
        raise ConfigError("--threshold", "", f"{threshold:g} is out of range", "use 50 to 100")
    # A stray non-UTF-8 byte must cost its line, not end the stream with a traceback.
    stdin = io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="surrogateescape")
    return match_stream(
        directory, threshold, stdin, sys.stdout, sys.stderr, args.explain, args.html
    )


async def _backtest(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from bot.backtest import backtest, format_result
    from bot.matching.watchlists import load_watchlists
    from bot.storage.sqlite import open_storage

    settings = _settings(args)
    entity = None
    if args.entity:
        entities = {e.id: e for e in load_watchlists(settings.bot.watchlists)}
        entity = entities.get(args.entity)
        if entity is None:
            raise ConfigError(
                "--entity",
                "",
                f"no entity {args.entity!r} in {settings.bot.watchlists}",
                "use an entity id from the watchlist files",
            )
    if not args.term.strip():
        raise ConfigError("--term", "", "is empty", 'give the term to test, e.g. --term "ISKP"')
    if args.days <= 0:
        raise ConfigError("--days", "", f"must be positive, found {args.days:g}")
    async with open_storage(settings.bot.database) as storage:
        result = await backtest(
            storage,
            args.term.strip(),
            datetime.now(UTC),
            days=args.days,
            entity=entity,
            threshold=settings.bot.match_threshold,
        )
    print(format_result(result))
    if not result.items_checked:
        print("  (no stored items in that period: run the bot first)")
    return 0


async def _watchlists_export(args: argparse.Namespace) -> int:
    from bot.matching.export import export_files, write_export
    from bot.matching.watchlists import load_watchlists
    from bot.storage.sqlite import open_storage

    settings = _settings(args)
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


def _digest_targets(settings, wanted: str | None) -> list[str]:
    """Channel keys the digest goes to: --channel (a key or a bare id), else [digest].channels."""
    if wanted:
        for c in settings.channels:
            if wanted in (c.key, c.id):
                return [c.key]
        listed = ", ".join(c.key for c in settings.channels)
        raise ConfigError(
            "--channel", "", f"{wanted!r} is not one of the [[channels]]", f"use one of: {listed}"
        )
    return [d.key for d in settings.digest.channels]


async def _digest(args: argparse.Namespace) -> int:
    from zoneinfo import ZoneInfo

    from bot.app import App
    from bot.digest.text import render_text

    settings = _preflight(args, platforms=not args.dry_run).settings
    targets = _digest_targets(settings, args.channel)
    if not targets and not args.dry_run:
        raise ConfigError(
            str(settings.path),
            "digest.channels",
            "no channel gets the digest",
            'add [digest] channels = ["console:stdout"], or pass --channel or --dry-run',
        )
    if args.dry_run:
        async with App.open(settings, sinks={}) as app:
            zone = app.digest.timezone_for(targets[0]) if targets else settings.bot.timezone
            digest = await app.digest.build(app.clock(), zone)
        print(render_text(digest))
        if digest.chart_png:
            day = digest.end.astimezone(ZoneInfo(digest.timezone)).date().isoformat()
            path = Path(args.chart or f"digest-{day}.png")
            path.write_bytes(digest.chart_png)
            print(f"\nchart: {path} ({len(digest.chart_png):,} bytes)")
        return 0
    async with App.open(settings) as app:
        for key in targets:
            with channel_context(key):
                await app.digest_now(key)
                log.info("posted the digest to %s", key)
    return 0


# -- feeds import/export/list and backup (issue 12: operations) ---------------------


def _config_only(args: argparse.Namespace) -> Settings:
    """The config, for tools that neither post nor take the run lock."""
    from bot.config import load_config

    settings = load_config(args.config)
    _setup_logging("DEBUG" if args.verbose else settings.bot.log_level)
    return settings


async def _feeds(args: argparse.Namespace) -> int:
    from bot.storage.sqlite import open_storage

    settings = _config_only(args)
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
    if settings.bot.database.exists():  # no database yet: bot.toml's feeds, never polled
        async with open_storage(settings.bot.database) as storage:
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
    from bot.storage.sqlite import open_storage

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


def _backup(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from bot.ops.backup import backup_database

    settings = _config_only(args)
    result = backup_database(
        settings.bot.database, Path(args.path), force=args.force, now=datetime.now(UTC)
    )
    print(f"backup: {result.path} ({result.size:,} bytes)")
    print(f"integrity_check: {result.integrity}")
    return 0


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
    return parser


def _database_named_in(args: argparse.Namespace) -> str:
    """The database file the config names, for an error message (the config loaded before)."""
    from bot.config import load_config

    try:
        return str(load_config(args.config).bot.database)
    except BotError:
        return "the database"


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    with _output(args):
        _setup_logging("INFO")
        return _command(args)


def _command(args: argparse.Namespace) -> int:
    try:
        if args.command == "run":
            return asyncio.run(_run(args))
        if args.command == "once":
            return asyncio.run(_once(args))
        if args.command == "check":
            return _check(args)
        if args.command == "health":
            return _health(args)
        if args.command == "backtest":
            return asyncio.run(_backtest(args))
        if args.command == "digest":
            return asyncio.run(_digest(args))
        if args.command == "watchlists":
            return asyncio.run(_watchlists_export(args))
        if args.command == "feeds":
            return asyncio.run(_feeds(args))
        if args.command == "backup":
            return _backup(args)
        return _match(args)
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
    sys.exit(main())
