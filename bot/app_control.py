"""The running application seen through the control port (bot.control.Control).

`AppControl` translates each control request into the application's parts:
storage, the matcher, the feed loops, the digest service. It names the parts
it needs in `RunningApp` instead of importing `App`, so the dependency runs
one way: bot.app builds an AppControl, nothing here imports bot.app.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Protocol

from bot.backtest import BacktestResult, backtest
from bot.config import FeedSettings, Settings
from bot.control import FeedPreview, FeedStatus
from bot.digest.model import Digest
from bot.matching.watchlists import ChatTerm
from bot.models import DeliveryProblem, Entity, FeedState
from bot.poller import Poller
from bot.storage.base import Storage


class RunningApp(Protocol):
    """The parts of bot.app.App that AppControl uses (App satisfies this)."""

    mutes: dict[str, datetime | None]
    clock: Callable[[], datetime]

    @property
    def settings(self) -> Settings: ...

    @property
    def storage(self) -> Storage: ...

    @property
    def entities(self) -> Sequence[Entity]: ...

    @property
    def feeds(self) -> dict[str, FeedSettings]: ...

    @property
    def states(self) -> dict[str, FeedState]: ...

    @property
    def poller(self) -> Poller: ...

    def active_mutes(self, now: datetime) -> frozenset[str]: ...

    async def reload_watchlists(self) -> None: ...

    def chat_feed(self, url: str, name: str) -> FeedSettings: ...

    async def add_feed(self, feed: FeedSettings) -> None: ...

    async def remove_feed(self, url: str) -> None: ...

    async def digest_now(self, channel_key: str, request_id: str = "") -> Digest: ...


class AppControl:
    """bot.control.Control, implemented by the running application."""

    def __init__(self, app: RunningApp) -> None:
        self._app = app

    def now(self) -> datetime:
        return self._app.clock()

    @property
    def allow_private_feeds(self) -> bool:
        return self._app.settings.bot.allow_private_feeds

    @property
    def failing_after(self) -> float:
        return self._app.settings.bot.failing_after

    def entities(self) -> Sequence[Entity]:
        return self._app.entities

    async def chat_terms(self) -> list[ChatTerm]:
        return await self._app.storage.chat_terms()

    async def add_chat_term(self, term: ChatTerm, added_by: str) -> None:
        await self._app.storage.add_chat_term(term, added_by, self.now())
        await self._app.reload_watchlists()

    async def remove_chat_term(self, entity_id: str, term: str) -> None:
        await self._app.storage.remove_chat_term(entity_id, term)
        await self._app.reload_watchlists()

    async def suppress_file_alias(self, entity_id: str, alias: str, removed_by: str) -> None:
        await self._app.storage.remove_file_term(entity_id, alias, removed_by, self.now())
        await self._app.reload_watchlists()

    async def backtest(self, term: str, days: float) -> BacktestResult:
        return await backtest(
            self._app.storage,
            term,
            self.now(),
            days=days,
            threshold=self._app.settings.bot.match_threshold,
        )

    def active_mutes(self, now: datetime) -> frozenset[str]:
        return self._app.active_mutes(now)

    async def mute(self, entity_id: str, until: datetime | None, muted_by: str) -> None:
        await self._app.storage.set_mute(entity_id, until, muted_by, self.now())
        self._app.mutes = await self._app.storage.mutes()

    async def unmute(self, entity_id: str) -> None:
        await self._app.storage.clear_mute(entity_id)
        self._app.mutes = await self._app.storage.mutes()

    def feeds(self) -> list[FeedSettings]:
        return list(self._app.feeds.values())

    async def chat_feed_urls(self) -> set[str]:
        return {url for url, _ in await self._app.storage.added_feeds()}

    async def preview_feed(self, url: str, name: str) -> FeedPreview:
        poller = self._app.poller
        result = await poller.fetcher.fetch(url, untrusted=True)
        parsed = await poller.parsers.parse(result.body, url, name or url, url)
        return FeedPreview(parsed.title, len(parsed.items))

    async def add_chat_feed(self, url: str, name: str, added_by: str) -> None:
        await self._app.storage.add_feed(url, name, added_by, self.now())
        await self._app.add_feed(self._app.chat_feed(url, name))

    async def remove_chat_feed(self, url: str) -> bool:
        if not await self._app.storage.remove_feed(url):
            return False
        await self._app.remove_feed(url)
        return True

    def feed_statuses(self) -> list[FeedStatus]:
        states = self._app.states
        return [FeedStatus(f, states[f.url]) for f in self._app.feeds.values() if f.url in states]

    async def delivery_problems(self, since: datetime) -> list[DeliveryProblem]:
        return await self._app.storage.delivery_problems(since)

    def channel_keys(self) -> list[str]:
        return [c.key for c in self._app.settings.channels]

    async def digest_now(self, channel_key: str, request_id: str) -> Digest:
        return await self._app.digest_now(channel_key, request_id)
