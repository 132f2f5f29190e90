"""The control port: everything chat commands may ask of the running bot.

Commands (bot/commands.py) decide and validate; they reach the application
only through this one narrow interface, in domain terms and plain data. The
application implements it (bot/app_control.py); tests can drive commands
against it without any chat platform. Keeping commands off `App` breaks the
import circle app → chat → commands → app: this module imports nothing above
the domain.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from bot.backtest import BacktestResult
from bot.config import FeedSettings
from bot.digest.model import Digest
from bot.matching.watchlists import ChatTerm
from bot.models import DeliveryProblem, Entity, FeedState


@dataclass(frozen=True, slots=True)
class FeedPreview:
    """What one fetch and parse of a candidate feed found, before it is added."""

    title: str
    item_count: int


@dataclass(frozen=True, slots=True)
class FeedStatus:
    """A polled feed and its current state, for `/feeds status`."""

    feed: FeedSettings
    state: FeedState


class Control(Protocol):
    """What the running bot offers to commands. Every change is stored and applied
    at once (watchlists rebuilt, feed loops started or stopped, mutes refreshed)."""

    # -- time and settings the commands' rules depend on -----------------------------

    def now(self) -> datetime: ...

    @property
    def allow_private_feeds(self) -> bool: ...

    @property
    def failing_after(self) -> float: ...

    # -- watch terms -------------------------------------------------------------------

    def entities(self) -> Sequence[Entity]:
        """The entities in force: watchlist files plus chat terms, less removed aliases."""
        ...

    async def chat_terms(self) -> list[ChatTerm]: ...

    async def add_chat_term(self, term: ChatTerm, added_by: str) -> None: ...

    async def remove_chat_term(self, entity_id: str, term: str) -> None: ...

    async def suppress_file_alias(self, entity_id: str, alias: str, removed_by: str) -> None:
        """Stop a watchlist-file alias from matching (the file is not edited)."""
        ...

    async def backtest(self, term: str, days: float) -> BacktestResult: ...

    # -- mutes -------------------------------------------------------------------------

    def active_mutes(self, now: datetime) -> frozenset[str]: ...

    async def mute(self, entity_id: str, until: datetime | None, muted_by: str) -> None: ...

    async def unmute(self, entity_id: str) -> None: ...

    # -- feeds -------------------------------------------------------------------------

    def feeds(self) -> list[FeedSettings]:
        """Every polled feed: bot.toml's first, then those added at run time."""
        ...

    async def chat_feed_urls(self) -> set[str]: ...

    async def preview_feed(self, url: str, name: str) -> FeedPreview:
        """Fetch (as untrusted) and parse the feed once; raises FetchError."""
        ...

    async def add_chat_feed(self, url: str, name: str, added_by: str) -> None: ...

    async def remove_chat_feed(self, url: str) -> bool:
        """False when no chat-added feed has this URL."""
        ...

    def feed_statuses(self) -> list[FeedStatus]: ...

    async def delivery_problems(self, since: datetime) -> list[DeliveryProblem]: ...

    # -- digest ------------------------------------------------------------------------

    def channel_keys(self) -> list[str]:
        """ "platform:id" of every configured [[channels]] entry, in config order."""
        ...

    async def digest_now(self, channel_key: str, request_id: str) -> Digest: ...
