"""Feed parsing in worker processes.

feedparser is CPU-bound (tens of ms for a typical feed) and runs on hostile
input, so it never runs on the event loop: a small process pool keeps both
cores busy, a per-parse deadline stops a pathological document, and a
worker that overruns is killed and, when next needed, replaced.
"""

from __future__ import annotations

import asyncio
import calendar
import contextlib
import ctypes
import hashlib
import logging
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from bot.errors import ParseError
from bot.feeds.entry_digests import split_digests
from bot.feeds.fastparse import read_fast
from bot.feeds.html_text import field_text
from bot.feeds.worker import Worker, WorkerDied
from bot.heap import frozen_for_fork
from bot.models import Item

log = logging.getLogger(__name__)

MAX_TITLE = 500
MAX_SUMMARY = 4000
# Markup read per character of text kept: enough for tags, styles and scripts
# around the words, while a giant field still costs bounded work.
MARKUP_PER_CHAR = 50
WORKER_MEMORY_BYTES = 1536 * 1024 * 1024
CLOSE_GRACE = 2.0  # seconds a worker gets to finish when the bot stops


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    title: str
    items: list[Item]
    warning: str | None = None  # feedparser's bozo note for a feed it could still read
    link: str = ""  # the feed's web page (RSS channel <link>, Atom rel=alternate), if http(s)
    # Every entry's digest (bot/feeds/fastparse.py), concatenated: what the next poll may
    # skip. Empty when feedparser read the document (the next poll then reads everything).
    digests: str = ""
    skipped: int = 0  # entries left unread because their digest was known


def _time(entry: Any) -> tuple[datetime | None, str]:
    """The entry's date, and a note when it gave one no calendar can hold.

    feedparser turns "0000-01-01" or "9999-12-31T23:59-14:00" into a year 0 or
    10000 that `datetime` refuses; such an item is not undated (the feed said
    something impossible), so the note says so and the poller puts it at the
    fetch time (bot/feeds/dates.py), like every other impossible date.
    """
    note = ""
    for key in ("published", "updated", "created"):
        value = entry.get(f"{key}_parsed")
        if value:
            try:
                return datetime.fromtimestamp(calendar.timegm(value), UTC), ""
            except (OverflowError, ValueError, TypeError):  # try the next date the entry has
                raw = entry.get(key)
                text = raw.strip()[:80] if isinstance(raw, str) else str(tuple(value)[:6])
                note = note or f"date {text!r} is impossible (beyond the calendar)"
    return None, note


def _text(value: Any, limit: int, content_type: str | None) -> str:
    """A feed field as plain text of at most `limit` characters (see bot/feeds/html_text.py)."""
    if not isinstance(value, str):
        return ""
    return field_text(value[: limit * MARKUP_PER_CHAR], content_type)[:limit]


def _detail_type(entry: Any, key: str) -> str | None:
    """The content type feedparser read for a field ("text/plain", "text/html", …)."""
    detail = entry.get(f"{key}_detail")
    kind = detail.get("type") if isinstance(detail, dict) else None
    return kind if isinstance(kind, str) else None


def _summary(entry: Any) -> tuple[Any, str | None]:
    """The entry's summary, else its first content, with the content type of the one taken.

    feedparser copies an entry's content into `summary` when there is no
    summary, without a `summary_detail`: the content's own type then applies.
    """
    summary = entry.get("summary")
    kind = _detail_type(entry, "summary")
    if summary and kind:
        return summary, kind
    contents = entry.get("content") or []
    if contents and isinstance(contents[0], dict):
        first = contents[0]
        return first.get("value", ""), first.get("type")
    return summary, kind


def parse_feed_bytes(
    body: bytes,
    feed_url: str,
    feed_name: str,
    base_url: str = "",
    known: str = "",
    *,
    fast: bool = True,
) -> ParsedFeed:
    """Parse a feed document into Items. Runs inside a worker process.

    A well-formed feed is read on the fast lxml path (bot/feeds/fastparse.py);
    anything that path declines goes to feedparser, and both yield the same
    Items. `fast=False` forces feedparser (the equivalence test and the bench).
    `known` holds the digests of the last poll (`ParsedFeed.digests`): entries
    read exactly as then are left out of the items (the fast path only).
    Raises ParseError when the body is not a feed at all; a feed with minor
    errors that feedparser recovered from is returned with a warning.
    """
    if fast:
        read = read_fast(body, base_url, split_digests(known))
        if read is not None:
            log.debug("parsed %s on the fast path", feed_url)
            parsed = _parsed_feed(read.header, read.entries, feed_url, feed_name, None)
            return replace(parsed, digests="".join(read.digests), skipped=read.skipped)
        log.debug("parsed %s with feedparser (the fast path declined it)", feed_url)
    import feedparser  # imported here: only worker processes need it

    headers = {"content-location": base_url} if base_url else {}
    try:
        # feedparser's sanitiser stays off: html_text drops scripts, styles and
        # comments itself (the sanitiser keeps comments), in one pass.
        parsed = feedparser.parse(body, response_headers=headers, sanitize_html=False)
    except Exception as e:  # feedparser should not raise, but this is hostile input
        raise ParseError(feed_url, f"parser failed: {type(e).__name__}: {e}") from None
    entries = parsed.get("entries", [])
    warning = None
    if parsed.get("bozo"):
        reason = parsed.get("bozo_exception")
        warning = f"{type(reason).__name__}: {reason}"[:300]
        if not entries and not parsed.get("version"):
            raise ParseError(feed_url, f"not a readable RSS/Atom feed ({warning})")
    if not parsed.get("version") and not entries:
        raise ParseError(feed_url, "not an RSS/Atom feed (no channel or feed element)")
    return _parsed_feed(parsed.get("feed", {}), entries, feed_url, feed_name, warning)


def _parsed_feed(
    feed: Any, entries: list[Any], feed_url: str, feed_name: str, warning: str | None
) -> ParsedFeed:
    """Items from entries in feedparser's shape, whichever path read them."""
    items: list[Item] = []
    for entry in entries:
        title = _text(entry.get("title"), MAX_TITLE, _detail_type(entry, "title"))
        summary, summary_type = _summary(entry)
        summary_text = _text(summary, MAX_SUMMARY, summary_type)
        link = entry.get("link") or ""
        link = link.strip() if isinstance(link, str) else ""
        guid = entry.get("id") or link
        if not isinstance(guid, str) or not guid.strip():
            guid = "sha1:" + hashlib.sha1(f"{title}\n{summary_text}".encode()).hexdigest()
        if not title and not summary_text:
            continue
        published, date_note = _time(entry)
        items.append(
            Item(
                feed_url=feed_url,
                guid=guid.strip()[:1000],
                url=link[:2000],
                title=title,
                summary=summary_text,
                published=published,
                feed_name=feed_name,
                date_note=date_note,
            )
        )
    feed_title = _text(feed.get("title"), MAX_TITLE, _detail_type(feed, "title"))
    return ParsedFeed(feed_title, items, warning, _page_link(feed.get("link")))


def _page_link(value: Any) -> str:
    """The feed's own web page, kept only when it is a plausible http(s) address.

    It ends up in exported OPML (`htmlUrl`), so a `javascript:` link or a page of
    junk from a hostile feed is dropped rather than passed on.
    """
    if not isinstance(value, str):
        return ""
    link = value.strip()
    if len(link) > 2000 or any(c.isspace() for c in link):
        return ""
    return link if link.lower().startswith(("http://", "https://")) else ""


PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
PARENT_CHECK = 1.0  # seconds between a worker's looks at whether its parent is alive
MAX_PARSER_WORKERS = 16  # ~40 MB each; more never helps on the machines this runs on


def _exit_with_parent(parent_pid: int) -> None:
    """Make this worker die with the bot, even when the bot is killed with SIGKILL.

    A SIGKILLed parent cannot shut its pool down, and a worker blocked reading
    the task queue would wait forever (~40 MB each; 18 were seen after
    repeated restarts). On Linux the kernel sends the worker SIGKILL when the
    thread that forked it exits (prctl(2) PR_SET_PDEATHSIG); the pool forks
    its workers from the event loop's thread, the main one, which lives as long
    as the bot. Elsewhere, and as a fallback, a daemon thread exits the worker
    once it has been re-parented.
    """
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent_pid:  # the parent died before the line above
        os._exit(1)
    threading.Thread(
        target=_watch_parent, args=(parent_pid,), name="parent-watch", daemon=True
    ).start()


def _watch_parent(parent_pid: int) -> None:
    while os.getppid() == parent_pid:
        time.sleep(PARENT_CHECK)
    os._exit(1)


def _limit_worker(parent_pid: int | None = None) -> None:
    """Cap a worker's memory so a hostile document kills the worker, not the machine.

    Ctrl-C reaches the whole process group: workers ignore it and let the
    bot shut them down in order. The worker exits with its parent.
    """
    if parent_pid is not None:
        _exit_with_parent(parent_pid)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # A forked worker inherits the event loop's SIGTERM handler, which would
    # only write to the parent's wake-up pipe: restore the default.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    with contextlib.suppress(ValueError):
        signal.set_wakeup_fd(-1)
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (WORKER_MEMORY_BYTES, WORKER_MEMORY_BYTES))
    except (ImportError, ValueError, OSError):  # not on this platform: the deadline still holds
        pass
    with contextlib.suppress(OSError):
        os.nice(5)  # parsing yields to the event loop process


#: How long a document may have waited for a worker before another worker is started.
#: Starting one costs about 40 ms of CPU (a fork, copy-on-write faults in both
#: processes, its imports), some 25 changed feeds' parsing (~1.5 ms each). In a `once`
#: where a tenth of 1,000 feeds changed, documents waited up to 0.2-0.4 s at times on
#: a busy machine, which one worker clears soon after; a second one cost 0.03-0.05 s
#: of CPU (bench/pipeline.py --subprocess). A first poll keeps a backlog, and gets
#: every worker within a second. A running bot keeps the workers it started.
GROW_AFTER = 0.5


class ParserPool:
    """A small pool of parser processes with a per-document deadline.

    Each worker is a process of its own (a lane, bot/feeds/worker.py), so a document that
    overruns its deadline, or whose worker dies, costs only its own worker, which is
    killed and later replaced; documents parsed beside it are not disturbed. Documents
    are handed over only when a worker is free, so the deadline measures parsing, not
    waiting in a queue behind a big first cycle. Workers are started when needed: the
    first with the first document, each further one (up to `workers`) once a document
    has waited GROW_AFTER for a free one (`_lane`).
    """

    def __init__(self, workers: int = 2, timeout: float = 30.0) -> None:
        if not 1 <= workers <= MAX_PARSER_WORKERS:
            log.warning(
                "parser_workers = %d: using %d (1 to %d)",
                workers,
                min(max(workers, 1), MAX_PARSER_WORKERS),
                MAX_PARSER_WORKERS,
            )
        workers = min(max(workers, 1), MAX_PARSER_WORKERS)
        self.workers = workers
        self.timeout = timeout
        self._lanes: set[Worker] = set()  # every live worker, busy or idle
        # Idle workers; None when one was killed (a waiter may start another instead).
        self._idle: asyncio.Queue[Worker | None] = asyncio.Queue()
        self._fresh: set[Worker] = set()  # started, no document parsed yet
        self._ready_at = 0.0  # loop time the newest worker had parsed its first document
        self._slots = asyncio.Semaphore(workers)

    def _start_lane(self) -> Worker:
        lane = Worker(_limit_worker, (os.getpid(),))
        self._lanes.add(lane)
        self._fresh.add(lane)
        return lane

    async def _lane(self, asked: float) -> Worker:
        """A free worker for a caller holding a slot (so fewer than `workers` are busy).

        An idle one; the first one if none is running; another one (room permitting) once
        the document, asked for at `asked` (loop time), has waited GROW_AFTER, counted from
        when the newest worker had parsed its first document: the wait while a worker
        starts (fork, imports) is one it causes itself, and a second worker started for it
        would mostly start for nothing (bench/pipeline.py --subprocess). Else it waits
        for a worker to come free (or be killed: None).
        """
        loop = asyncio.get_running_loop()
        while True:
            lane: Worker | None = None
            if not self._idle.empty():
                lane = self._idle.get_nowait()
            elif not self._lanes:
                return self._start_lane()
            else:
                wait: float | None = None
                if len(self._lanes) < self.workers and not self._fresh:
                    wait = max(asked, self._ready_at) + GROW_AFTER - loop.time()
                    if wait <= 0:
                        return self._start_lane()
                with contextlib.suppress(TimeoutError):
                    lane = await asyncio.wait_for(self._idle.get(), wait)
            if lane is not None and lane in self._lanes:
                return lane

    def _release(self, lane: Worker, healthy: bool) -> None:
        if healthy and lane in self._lanes:
            if lane in self._fresh:
                self._fresh.discard(lane)
                self._ready_at = asyncio.get_running_loop().time()
            self._idle.put_nowait(lane)
        else:
            self._kill(lane)
            self._idle.put_nowait(None)

    async def __aenter__(self) -> ParserPool:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.to_thread(self.close)

    def close(self) -> None:
        """Stop the workers; one still busy after a grace period is killed, never orphaned."""
        lanes, self._lanes, self._idle = list(self._lanes), set(), asyncio.Queue()
        self._fresh = set()
        for lane in lanes:
            lane.stop(CLOSE_GRACE)

    def _kill(self, lane: Worker) -> None:
        self._lanes.discard(lane)
        self._fresh.discard(lane)
        lane.kill()

    async def parse(
        self, body: bytes, feed_url: str, feed_name: str, base_url: str = "", known: str = ""
    ) -> ParsedFeed:
        """Parse in a worker; `known` digests leave entries unread (see `parse_feed_bytes`)."""
        loop = asyncio.get_running_loop()
        asked = loop.time()
        async with self._slots:
            lane = await self._lane(asked)
            healthy = True
            try:
                if not lane.started:
                    try:
                        with frozen_for_fork(True):
                            lane.start()
                    except OSError as e:  # no fork: out of processes or memory
                        healthy = False
                        raise ParseError(feed_url, f"cannot start a parser process: {e}") from None
                call = lane.call(parse_feed_bytes, body, feed_url, feed_name, base_url, known)
                return await asyncio.wait_for(call, self.timeout)
            except TimeoutError:
                healthy = False
                log.warning(
                    "parsing %s took over %gs: restarting its parser process",
                    feed_url,
                    self.timeout,
                )
                raise ParseError(feed_url, f"parsing took longer than {self.timeout:g}s") from None
            except WorkerDied:
                healthy = False
                raise ParseError(feed_url, "the parser process died (memory limit?)") from None
            except MemoryError:
                raise ParseError(feed_url, "the document needs too much memory to parse") from None
            except asyncio.CancelledError:
                # The worker may still be busy with the document: not handed to another one.
                healthy = False
                raise
            finally:
                self._release(lane, healthy)
