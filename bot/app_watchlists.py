"""The running bot's watchlists: checked at start-up, their match index built when needed.

Building the match index of a 10,000-alias watchlist costs about 0.4 s of CPU, a
third of start-up (bench/startup.py --run), and nothing needs it until a poll has new
items to match: most polls are 304s, and a `once` whose feeds are all unchanged
never needs it at all (bench/pipeline.py --subprocess). So start-up reads and
validates the watchlists as before (a broken one still stops it, with the same
message) and the index is built in a thread either once the feed loops have started
(`begin`, from `run`) or when a poll first needs it (`ready`, which the poller awaits
before matching), whichever comes first; the advisory warnings (shared and risky
aliases) are logged with that build. Items are matched by exactly the matcher an
eager build would have made.

A reload (a watchlist file edited, a term added or removed from chat) builds its
matcher before it replaces the one in force, as before: the old one serves meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from bot.matching.matcher import Matcher
from bot.matching.watchlists import apply_chat_changes, log_term_warnings, read_watchlists
from bot.models import Entity
from bot.preflight import LoadedWatchlists, Snapshot, watchlist_snapshot
from bot.storage.base import Storage

log = logging.getLogger("bot.app")


class _Index:
    """Entities whose matcher is still to be built, with their warnings still to log."""

    def __init__(
        self, entities: list[Entity], threshold: float, warn: Callable[[], None] | None
    ) -> None:
        self.entities = entities
        self.threshold = threshold
        self._warn = warn
        self._lock = threading.Lock()  # the warnings once, should two builds overlap

    def build(self) -> Matcher:
        with self._lock:
            warn, self._warn = self._warn, None
        if warn is not None:
            warn()
        return Matcher(self.entities, self.threshold)


class Watchlists:
    def __init__(
        self,
        directory: Path,
        threshold: float,
        storage: Storage,
        preloaded: LoadedWatchlists | None = None,
    ) -> None:
        self.directory = directory
        self.threshold = threshold
        self.storage = storage
        self._preloaded = preloaded  # preflight's, for the first load if still current
        self.snapshot: Snapshot = ()
        self.entities: Sequence[Entity] = []
        self._matcher = Matcher([], threshold)
        self._pending: _Index | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def matcher(self) -> Matcher:
        """The matcher in force. If its build is still deferred it is built here and now
        (tools and tests); the poller awaits `ready` first, so it never builds here."""
        pending = self._pending
        if pending is not None:
            self._install(pending, pending.build())
        return self._matcher

    @property
    def built(self) -> bool:
        return self._pending is None

    async def load(self, defer: bool = False) -> None:
        """Read the watchlist files and chat terms (a ConfigError if they cannot be used)
        and make their matcher: now (in a thread), or with `defer` when first needed."""
        terms = await self.storage.chat_terms()
        removed = await self.storage.removed_terms()
        self.snapshot = watchlist_snapshot(self.directory)  # before reading them
        preloaded, self._preloaded = self._preloaded, None
        if preloaded is not None and preloaded.usable(terms, removed, self.snapshot):
            files, entities = list(preloaded.unwarned), list(preloaded.entities)
        else:
            files = await asyncio.to_thread(read_watchlists, self.directory)
            entities = apply_chat_changes(files, terms, removed)
        directory = self.directory
        index = _Index(
            entities,
            self.threshold,
            (lambda: log_term_warnings(directory, files)) if files else None,
        )
        if defer:
            self._pending, self._task = index, None
            self.entities = entities
            log.info(
                "watching %d entities from %s (their match index is built when first needed)",
                len(entities),
                self.directory,
            )
            return
        self._install(index, await asyncio.to_thread(index.build))

    def begin(self) -> None:
        """Start-up is done: build a deferred index in the background now."""
        if self._pending is not None and self._task is None:
            self._task = asyncio.create_task(self._build(self._pending), name="match-index")

    async def ready(self) -> None:
        """Return once the matcher in force is built (at once, after that)."""
        while self._pending is not None:
            self.begin()
            assert self._task is not None
            await asyncio.shield(self._task)

    async def _build(self, index: _Index) -> None:
        try:
            matcher = await asyncio.to_thread(index.build)
        except BaseException:
            if self._pending is index:
                self._task = None  # the next `ready` tries again
            raise
        if self._pending is index:  # else a reload has put a newer matcher in force
            self._install(index, matcher)

    def _install(self, index: _Index, matcher: Matcher) -> None:
        self._matcher, self.entities = matcher, index.entities
        self._pending, self._task = None, None
        log.info(
            "watching %d entities (%d aliases) from %s",
            len(matcher.entities),
            matcher.alias_count,
            self.directory,
        )

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
