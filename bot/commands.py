"""What analysts can change from chat, independent of any chat platform.

Discord and Slack adapters parse their own command syntax, call these
handlers with a `Caller` (who, and whether they may manage), and render the
`Reply`. Every argument is validated here, with messages written for the
person who typed it; every change is stored in the database and takes effect
without a restart.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.backtest import format_result
from bot.command_catalogue import (
    KINDS,
    MAX_BACKTEST_DAYS,
    MAX_ENTITY_ID,
    MAX_TERM,
    PAGE_SIZE,
    manager_only,
)
from bot.config import DURATION_HINT, format_duration, parse_duration
from bot.control import Control
from bot.errors import BotError, DeliveryError, FetchError
from bot.feeds.schedule import is_failing
from bot.matching.lint import alias_keys, alias_warnings
from bot.matching.normalize import scan
from bot.matching.watchlists import ENTITY_ID, ChatTerm

__all__ = ["KINDS", "MAX_BACKTEST_DAYS", "MAX_ENTITY_ID", "MAX_TERM", "PAGE_SIZE"]

# A timed mute longer than this is a typo (and "99999999999d" overflows a date).
MAX_MUTE = 365 * 86400


class CommandError(BotError):
    """A command the bot refuses, with the reason for the person who typed it."""


@dataclass(frozen=True, slots=True)
class Caller:
    user_id: str
    can_manage: bool
    name: str = ""
    channel: str = ""  # "platform:id" of the channel the command was typed in
    # The platform's id of this request (Slack's trigger_id): the same when the
    # platform delivers the request again, so a repeat can be told from a new one.
    request_id: str = ""


@dataclass(frozen=True, slots=True)
class Reply:
    """Plain text (adapters may format it); `title` heads it, `lines` are items."""

    title: str
    lines: list[str] = field(default_factory=list)
    page: int = 1
    pages: int = 1

    @property
    def text(self) -> str:
        return "\n".join([self.title, *self.lines])


def _require_manager(caller: Caller, handler: str) -> None:
    """Refuse `handler` to a non-manager if the command catalogue says it is managers' only."""
    if manager_only(handler) and not caller.can_manage:
        raise CommandError("You don't have permission to change what the bot watches.")


def clean_term(term: str) -> str:
    """A watch term as typed, trimmed and checked: length, printable, has letters."""
    term = " ".join(term.split())
    if not term:
        raise CommandError("Give a term to watch, for example `ISKP` or `Wilayat Khurasan`.")
    if len(term) > MAX_TERM:
        raise CommandError(f"A term can be at most {MAX_TERM} characters.")
    if not term.isprintable() or any(c in term for c in "<>@#`*_~|"):
        raise CommandError("A term may not contain markup characters (< > @ # ` * _ ~ |).")
    if not scan(term).folded:
        raise CommandError("A term needs letters or digits.")
    return term


def clean_entity_id(entity_id: str) -> str:
    entity_id = entity_id.strip().lower()
    if not ENTITY_ID.match(entity_id) or len(entity_id) > MAX_ENTITY_ID:
        raise CommandError(
            "An entity id uses only lower-case letters, digits, - and _ (for example `iskp`)."
        )
    return entity_id


def slug(term: str) -> str:
    """An entity id made from a term: "Wilayat Khurasan" → "wilayat-khurasan".

    Cut to 56 characters so a "-N" suffix for uniqueness still fits in 64.
    """
    return "-".join(scan(term).folded)[:56].strip("-") or "term"


class Commands:
    """The command handlers, over the control port only (never the application itself)."""

    def __init__(self, control: Control) -> None:
        self.control = control

    @property
    def now(self) -> datetime:
        return self.control.now()

    def entity_ids(self, prefix: str = "", limit: int = 25) -> list[str]:
        """For autocomplete: entity ids starting with (then containing) `prefix`."""
        prefix = prefix.strip().lower()
        ids = [e.id for e in self.control.entities()]
        starts = [i for i in ids if i.startswith(prefix)]
        contains = [i for i in ids if prefix in i and i not in starts]
        return (starts + contains)[:limit]

    # -- /watch ---------------------------------------------------------------------

    async def watch_add(
        self, caller: Caller, term: str, entity_id: str | None = None, kind: str | None = None
    ) -> Reply:
        _require_manager(caller, "watch_add")
        term = clean_term(term)
        if kind is not None and kind not in KINDS:
            raise CommandError(f"Kind must be one of: {', '.join(KINDS)}.")
        entities = {e.id: e for e in self.control.entities()}
        # The same term under another entity would fire both: refuse it.
        keys = alias_keys(term)
        for e in entities.values():
            for alias in e.all_aliases:
                if keys & alias_keys(alias):
                    if entity_id is None or clean_entity_id(entity_id) == e.id:
                        return Reply(f"`{term}` is already watched as `{alias}` ({e.id}).")
                    raise CommandError(
                        f"`{term}` is already an alias of `{e.id}` (as `{alias}`); "
                        "remove it there first."
                    )
        if entity_id is None:
            entity_id = slug(term)
            base, n = entity_id, 2
            while entity_id in entities:
                entity_id, n = f"{base}-{n}", n + 1
        entity_id = clean_entity_id(entity_id)
        existing = entities.get(entity_id)
        if existing is not None and kind is not None and kind != existing.kind:
            raise CommandError(f"`{entity_id}` is a {existing.kind}, not a {kind}.")
        if existing is not None:
            for phrase in existing.exclude:
                if keys & alias_keys(phrase):
                    raise CommandError(
                        f"`{term}` is an exclude phrase of `{entity_id}`: as an alias it could "
                        "never match."
                    )
        chat_term = ChatTerm(entity_id, term, kind or (existing.kind if existing else "topic"))
        await self.control.add_chat_term(chat_term, caller.user_id)
        what = f"alias of `{entity_id}`" if existing else f"new {chat_term.kind} `{entity_id}`"
        lines = [f"Warning: {w}" for w in alias_warnings(term)]
        return Reply(f"Now watching `{term}` as {what}. It applies from the next poll.", lines)

    async def watch_remove(self, caller: Caller, term: str) -> Reply:
        _require_manager(caller, "watch_remove")
        term = clean_term(term)
        keys = alias_keys(term)
        chat_terms = await self.control.chat_terms()
        for t in chat_terms:
            if keys & alias_keys(t.term):
                await self.control.remove_chat_term(t.entity_id, t.term)
                return Reply(f"Stopped watching `{t.term}` ({t.entity_id}).")
        for e in self.control.entities():
            if keys & alias_keys(e.name):
                raise CommandError(
                    f"`{e.name}` is the name of `{e.id}`: mute the entity, or remove it from the "
                    "watchlist file."
                )
        for e in self.control.entities():
            for alias in e.aliases:
                if keys & alias_keys(alias):
                    await self.control.suppress_file_alias(e.id, alias, caller.user_id)
                    return Reply(
                        f"Stopped watching `{alias}` ({e.id}). It stays in the watchlist file "
                        "until someone edits it; `python -m bot watchlists export` writes the "
                        "current state."
                    )
        raise CommandError(f"`{term}` is not watched. `/watch list` shows what is.")

    async def watch_list(self, caller: Caller, kind: str | None = None, page: int = 1) -> Reply:
        known = self.control.entities()
        if kind is not None and kind not in KINDS and kind not in {e.kind for e in known}:
            raise CommandError(f"No entities of kind `{kind}`.")
        entities = [e for e in known if kind is None or e.kind == kind]
        muted = self.control.active_mutes(self.now)
        pages = max(1, -(-len(entities) // PAGE_SIZE))
        if not 1 <= page <= pages:
            raise CommandError(f"Page {page} does not exist; there are {pages}.")
        shown = entities[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
        lines = []
        for e in shown:
            aliases = ", ".join(e.aliases[:4]) + (" …" if len(e.aliases) > 4 else "")
            flag = " (muted)" if e.id in muted else ""
            lines.append(
                f"{e.id} · {e.kind} · {e.name}{flag}" + (f" — {aliases}" if aliases else "")
            )
        title = f"Watching {len(entities)} {kind or 'entities'}" + (
            f" (page {page}/{pages})" if pages > 1 else ""
        )
        return Reply(title, lines, page, pages)

    async def watch_test(self, caller: Caller, term: str, days: float = 7.0) -> Reply:
        term = clean_term(term)
        if not 1 <= days <= MAX_BACKTEST_DAYS:
            raise CommandError(f"Days must be between 1 and {MAX_BACKTEST_DAYS}.")
        result = await self.control.backtest(term, days)
        title, *lines = format_result(result).splitlines()
        return Reply(title, [line.strip() for line in lines])

    async def watch_mute(
        self, caller: Caller, entity_id: str, duration: str | None = None
    ) -> Reply:
        _require_manager(caller, "watch_mute")
        entity_id = self._known_entity(entity_id)
        until = None
        if duration:
            try:
                seconds = parse_duration(duration)
            except ValueError:
                raise CommandError(f"`{duration}` is not a duration: {DURATION_HINT}.") from None
            if seconds <= 0:
                raise CommandError(f"The duration must be positive: {DURATION_HINT}.")
            if seconds > MAX_MUTE:
                raise CommandError(
                    f"`{duration}` is longer than a year: give no duration to mute until unmuted."
                )
            until = self.now + timedelta(seconds=seconds)
        await self.control.mute(entity_id, until, caller.user_id)
        how_long = f"for {format_duration(seconds)}" if until else "until unmuted"
        return Reply(f"Muted `{entity_id}` {how_long}: its matches no longer alert.")

    async def watch_unmute(self, caller: Caller, entity_id: str) -> Reply:
        _require_manager(caller, "watch_unmute")
        entity_id = self._known_entity(entity_id)
        was_muted = entity_id in self.control.active_mutes(self.now)
        await self.control.unmute(entity_id)
        if not was_muted:
            return Reply(f"`{entity_id}` was not muted.")
        return Reply(f"Unmuted `{entity_id}`.")

    def _known_entity(self, entity_id: str) -> str:
        entity_id = clean_entity_id(entity_id)
        if entity_id not in {e.id for e in self.control.entities()}:
            raise CommandError(f"No entity `{entity_id}`. `/watch list` shows the ids.")
        return entity_id

    # -- /feeds ---------------------------------------------------------------------

    async def feeds_add(self, caller: Caller, url: str, name: str | None = None) -> Reply:
        """Check the URL (syntax, public address), fetch and parse it once, then add it."""
        from bot.feeds.guard import UnsafeURLError, check_url_syntax, resolve_public

        _require_manager(caller, "feeds_add")
        try:
            url = check_url_syntax(url.strip())
            await resolve_public(url, allow_private=self.control.allow_private_feeds)
        except UnsafeURLError as e:
            raise CommandError(str(e)) from None
        polled = {f.url for f in self.control.feeds()}
        if url in polled or url in {_normal(u) for u in polled}:
            return Reply(f"Already polling {url}.")
        name = " ".join((name or "").split())[:100]
        try:
            preview = await self.control.preview_feed(url, name)
        except FetchError as e:
            raise CommandError(f"Could not read that feed: {e.message}.") from None
        name = name or " ".join(preview.title.split())[:100] or url
        await self.control.add_chat_feed(url, name, caller.user_id)
        return Reply(
            f"Added {name} ({preview.item_count} items now; only new ones will alert).",
        )

    async def feeds_remove(self, caller: Caller, url: str) -> Reply:
        _require_manager(caller, "feeds_remove")
        url = _normal(url.strip())
        if await self.control.remove_chat_feed(url):
            return Reply(f"Stopped polling {url}.")
        if url in {_normal(f.url) for f in self.control.feeds()}:
            raise CommandError(
                "That feed is listed in bot.toml; remove it there (chat can only remove feeds "
                "added from chat)."
            )
        raise CommandError("No such feed. `/feeds list` shows them.")

    async def feeds_list(self, caller: Caller) -> Reply:
        added = await self.control.chat_feed_urls()
        lines = [
            f"{f.name} — {f.url}" + (" (added from chat)" if f.url in added else "")
            for f in self.control.feeds()
        ]
        return Reply(f"Polling {len(lines)} feeds", lines)

    async def feeds_status(self, caller: Caller) -> Reply:
        now = self.now
        lines = []
        failing_after = self.control.failing_after
        for status in self.control.feed_statuses():
            f, s = status.feed, status.state
            ok = _ago(now, s.last_success_at)
            if s.disabled_reason:
                state = f"disabled: {s.disabled_reason}"
            elif s.error_count:
                nxt = _until(now, s.next_poll_at)
                flag = "FAILING · " if is_failing(s, now, failing_after) else ""
                state = f"{flag}{s.error_count} errors, retry {nxt}: {s.last_error}"
            else:
                state = "ok"
            lines.append(f"{f.name}: {state} · last success {ok} · {s.items_seen} items seen")
        title = f"Status of {len(lines)} feeds"
        # Deliveries given up on in the last day, and channels that refuse the bot:
        # shown here so a permanent failure is seen, not only logged.
        problems = await self.control.delivery_problems(now - timedelta(days=1))
        if problems:
            lines.append("Delivery problems:")
            lines.extend(f"{p.channel}: {p.line()} ({_ago(now, p.at)})" for p in problems)
        return Reply(title, lines)

    async def digest_now(self, caller: Caller) -> Reply:
        """Post the last 24 hours' digest in the channel the command was typed in."""
        key = caller.channel
        platform = key.partition(":")[0]
        channels = self.control.channel_keys()
        configured = [c for c in channels if c.partition(":")[0] == platform]
        if key not in channels:
            where = ", ".join(configured) or "none yet"
            raise CommandError(
                "This channel does not get the bot's messages, so the digest can't be posted "
                f"here. Use it in one of the bot's channels ({where}), or add this one to "
                "[[channels]] in bot.toml."
            )
        try:
            digest = await self.control.digest_now(key, caller.request_id)
        except DeliveryError as e:
            raise CommandError(f"Posting the digest failed: {e}. Try again in a minute.") from e
        n = sum(1 for c in digest.counts if c.mentions)
        what = (
            "nothing was mentioned" if digest.empty else f"{n} {'entity' if n == 1 else 'entities'}"
        )
        return Reply(f"Posted the digest of the last 24 hours ({what}).")


def _normal(url: str) -> str:
    """A feed URL as feeds_add stores it (scheme/host case, default port, empty path)."""
    from bot.feeds.guard import UnsafeURLError, check_url_syntax

    try:
        return check_url_syntax(url)
    except UnsafeURLError:
        return url


def _ago(now: datetime, when: datetime | None) -> str:
    if when is None:
        return "never"
    return f"{format_duration(max(0.0, (now - when).total_seconds()) // 60 * 60 or 60)} ago"


def _until(now: datetime, when: datetime | None) -> str:
    if when is None:
        return "now"
    seconds = (when - now).total_seconds()
    return "now" if seconds <= 0 else f"in {format_duration(seconds // 60 * 60 or 60)}"
