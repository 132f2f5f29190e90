"""`feeds import`, `feeds export` and `feeds list`: the operator's feed list in and out.

Import checks every entry the way the bot would poll it — URL validation as for
bot.toml, then a real fetch (bot/feeds/fetch.py) and a real parse in the parser
pool (bot/feeds/parse.py) — before storing the good ones as operator feeds,
which `run` polls like bot.toml's (loopback and private addresses allowed: the
operator, not a chat user, chose them). Nothing here prints: the command line
(bot/cli/ops.py) shows progress and the report.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.config import FeedSettings, http_url_problem, is_http_url
from bot.errors import FetchError
from bot.feeds.fetch import Fetcher
from bot.feeds.guard import MAX_URL_LENGTH
from bot.feeds.parse import ParserPool
from bot.models import FeedState
from bot.ops.opml import OpmlFeed
from bot.storage.base import AddedFeed

#: Feeds checked at once; the fetcher's own global and per-host limits apply too.
IMPORT_CONCURRENCY = 8
#: A feed name from an OPML file is shown in alerts and lists: one line, this long at most.
MAX_NAME = 200

ADDED = "added"
DUPLICATE = "duplicate"
INVALID = "invalid"
UNREACHABLE = "unreachable"
NOT_A_FEED = "not a feed"
#: Outcomes that make `feeds import` exit non-zero (a duplicate is not a failure:
#: importing the same file twice is harmless).
FAILURES = frozenset({INVALID, UNREACHABLE, NOT_A_FEED})


@dataclass(frozen=True, slots=True)
class ImportOutcome:
    """What became of one OPML entry."""

    entry: OpmlFeed
    status: str  # ADDED, DUPLICATE, INVALID, UNREACHABLE or NOT_A_FEED
    reason: str = ""
    name: str = ""  # the name it was stored under (added only)


def normal_url(url: str) -> str:
    """A feed URL as the bot compares them: scheme and host case, default port, empty path
    (the chat command's normalisation, so an import meets chat-added feeds too)."""
    from bot.feeds.guard import UnsafeURLError, check_url_syntax

    try:
        return check_url_syntax(url)
    except UnsafeURLError:
        return url


def known_feeds(configured: Sequence[FeedSettings], added: Sequence[AddedFeed]) -> dict[str, str]:
    """Normalised URL -> where the feed is already listed, for duplicate reports."""
    known: dict[str, str] = {}
    for feed in configured:
        if is_http_url(feed.url):
            known.setdefault(normal_url(feed.url), "already in bot.toml")
    for record in added:
        where = "imported before" if record.trusted else "added from chat"
        known.setdefault(normal_url(record.url), f"already in the database ({where})")
    return known


def entry_problem(url: str) -> str | None:
    """Why an OPML xmlUrl cannot be imported, or None (the same URL rules as bot.toml)."""
    if len(url) > MAX_URL_LENGTH:
        return f"the address is {len(url)} characters long; the limit is {MAX_URL_LENGTH}"
    if not is_http_url(url):
        return (
            "only http(s) feeds can be imported; list a local file in bot.toml "
            "([[feeds]] url = PATH)"
        )
    problem = http_url_problem(url)
    if problem:
        return f"{problem[0]} — {problem[1]}"
    return None


async def import_feeds(
    entries: Sequence[OpmlFeed],
    known: dict[str, str],
    fetcher: Fetcher,
    parsers: ParserPool,
    store: Callable[[AddedFeed], Awaitable[bool]],
    *,
    first_poll: str,
    added_by: str,
    on_outcome: Callable[[ImportOutcome], None] = lambda _: None,
) -> list[ImportOutcome]:
    """Check every entry and store the good ones; one outcome per entry, in file order.

    `store` is the storage's `import_feed` (returns False when the URL is stored
    already, e.g. by a chat command meanwhile). `on_outcome` is called as each
    entry is decided, for a progress display.
    """
    seen = dict(known)
    planned: list[tuple[OpmlFeed, str] | ImportOutcome] = []
    for entry in entries:
        problem = entry_problem(entry.url)
        if problem:
            planned.append(ImportOutcome(entry, INVALID, problem))
            continue
        url = normal_url(entry.url)
        if url in seen:
            planned.append(ImportOutcome(entry, DUPLICATE, seen[url]))
            continue
        seen[url] = f"listed twice in the file (first at line {entry.line})"
        planned.append((entry, url))

    for outcome in planned:
        if isinstance(outcome, ImportOutcome):
            on_outcome(outcome)
    slots = asyncio.Semaphore(IMPORT_CONCURRENCY)

    async def check(entry: OpmlFeed, url: str) -> ImportOutcome:
        async with slots:
            outcome = await _check_and_store(
                entry, url, fetcher, parsers, store, first_poll, added_by
            )
        on_outcome(outcome)
        return outcome

    tasks = {
        i: asyncio.ensure_future(check(*p))
        for i, p in enumerate(planned)
        if not isinstance(p, ImportOutcome)
    }
    if tasks:
        await asyncio.gather(*tasks.values())
    return [
        tasks[i].result() if i in tasks else p  # type: ignore[misc]
        for i, p in enumerate(planned)
    ]


async def _check_and_store(
    entry: OpmlFeed,
    url: str,
    fetcher: Fetcher,
    parsers: ParserPool,
    store: Callable[[AddedFeed], Awaitable[bool]],
    first_poll: str,
    added_by: str,
) -> ImportOutcome:
    try:
        result = await fetcher.fetch(url)  # trusted: the operator's own list
    except FetchError as e:
        return ImportOutcome(entry, UNREACHABLE, e.message)
    try:
        parsed = await parsers.parse(result.body, url, entry.title or url, result.final_url or url)
    except FetchError as e:  # ParseError is one
        return ImportOutcome(entry, NOT_A_FEED, e.message)
    name = " ".join((entry.title or parsed.title or url).split())[:MAX_NAME]
    html_url = entry.html_url if is_http_url(entry.html_url) else parsed.link
    feed = AddedFeed(url, name, added_by, "operator", first_poll, html_url or None)
    if not await store(feed):
        return ImportOutcome(entry, DUPLICATE, "already in the database (added meanwhile)")
    return ImportOutcome(entry, ADDED, name=name)


@dataclass(frozen=True, slots=True)
class FeedRow:
    """One line of `feeds list`."""

    name: str
    url: str
    source: str  # "bot.toml", "import" or "chat"
    last_success: datetime | None
    last_error: str | None
    last_error_at: datetime | None


def feed_rows(
    configured: Sequence[FeedSettings],
    added: Sequence[AddedFeed],
    states: dict[str, FeedState],
) -> list[FeedRow]:
    """bot.toml's feeds, then added ones, with what the database remembers of each."""
    rows: list[FeedRow] = []
    listed: set[str] = set()
    sources = [(f.url, f.name, "bot.toml") for f in configured] + [
        (a.url, a.name, "import" if a.trusted else "chat") for a in added
    ]
    for url, name, source in sources:
        if url in listed:
            continue
        listed.add(url)
        state = states.get(url)
        rows.append(
            FeedRow(
                name,
                url,
                source,
                state.last_success_at if state else None,
                state.last_error if state and state.error_count else None,
                state.last_error_at if state and state.error_count else None,
            )
        )
    return rows


def format_feed_table(rows: Sequence[FeedRow], timezone: str, width: int = 60) -> str:
    """A plain-text table: name, URL, last success and last error (times in `timezone`)."""
    zone = ZoneInfo(timezone)

    def when(at: datetime | None) -> str:
        return at.astimezone(zone).strftime("%Y-%m-%d %H:%M") if at else "never"

    def cut(text: str, limit: int) -> str:
        text = " ".join(text.split())
        return text if len(text) <= limit else text[: limit - 1] + "…"

    header = ("NAME", "URL", "SOURCE", "LAST SUCCESS", "LAST ERROR")
    table = [header] + [
        (
            cut(r.name, 30),
            cut(r.url, width),
            r.source,
            when(r.last_success),
            f"{when(r.last_error_at)} {cut(r.last_error, width)}" if r.last_error else "-",
        )
        for r in rows
    ]
    widths = [max(len(line[i]) for line in table) for i in range(4)]
    lines = [
        "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(line[:4])) + "  " + line[4]
        for line in table
    ]
    return "\n".join(line.rstrip() for line in lines)


def export_location(feed: FeedSettings) -> str:
    """What `feeds export` writes as xmlUrl: the URL, or a file:// URI for a local file."""
    return feed.url if is_http_url(feed.url) else Path(feed.location).as_uri()
