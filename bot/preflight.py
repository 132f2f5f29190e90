"""Everything `run` would refuse before its first poll, found without connecting.

`check` and `run` both start here, so `check` passing means `run` gets past
start-up: the config, each used chat platform's section and the environment
variables it names, the database (read-only, never created), the watchlists
with the terms added from chat, and channel filters cross-checked against
what exists (a filter naming nothing never matches, silently). Every problem
is collected and raised at once (ConfigErrors), so one `check` lists them all.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from rapidfuzz import fuzz, process

from bot.config import RequiredSecret, Settings, is_postgres, read_config
from bot.errors import ConfigError, StorageError, StorageUnavailable, raise_collected
from bot.matching.watchlists import (
    ChatTerm,
    apply_chat_changes,
    load_watchlists,
    read_watchlists,
)
from bot.models import Entity
from bot.storage.readonly import ChatState, DatabaseBusy, read_chat_state

log = logging.getLogger(__name__)

#: Kinds an entity added from chat may have (`/watch add … kind:`), so a
#: channel may filter on them before any such entity exists.
CHAT_KINDS = ("group", "region", "person", "topic")
#: How alike a misspelt name must be to be offered as "did you mean" (0-100).
SUGGEST_CUTOFF = 70.0

T = TypeVar("T")


Snapshot = tuple[tuple[str, int, int], ...]


def watchlist_snapshot(directory: Path) -> Snapshot:
    """Names, sizes and modification times of the watchlist files: changes show here."""
    try:
        files = sorted(directory.glob("*.toml"))
        return tuple((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in files)
    except OSError:
        return ()


@dataclass(frozen=True, slots=True)
class LoadedWatchlists:
    """The watchlists preflight loaded, with what they were loaded from.

    `run` builds its first matcher from these instead of reading, checking and
    linting every file a second time (0.3 s and its warnings again, with 10,000
    aliases) — but only if nothing they came from has changed since (`usable`).
    """

    entities: tuple[Entity, ...]
    terms: tuple[ChatTerm, ...]
    removed: frozenset[tuple[str, str]]
    snapshot: Snapshot
    # The files' entities whose advisory warnings (shared, risky aliases) are still to
    # be logged, by whoever builds the match index (bot/app_watchlists.py); () if logged.
    unwarned: tuple[Entity, ...] = ()

    def usable(
        self, terms: Sequence[ChatTerm], removed: Iterable[tuple[str, str]], snapshot: Snapshot
    ) -> bool:
        """True if loading again from these would give the same entities."""
        return (
            tuple(terms) == self.terms
            and frozenset(removed) == self.removed
            and snapshot == self.snapshot
        )


@dataclass(frozen=True, slots=True)
class Preflight:
    """What start-up validated: the settings and the watchlists in force."""

    settings: Settings
    entities: tuple[Entity, ...]
    # With the chat state they were loaded with, when it could be read.
    watchlists: LoadedWatchlists | None = None


def preflight(
    config: str | Path,
    *,
    platforms: bool = True,
    database: bool = True,
    environ: Mapping[str, str] | None = None,
    defer_warnings: bool = False,
) -> Preflight:
    """Validate everything that can fail before the first poll; raise every problem.

    `platforms=False` skips the chat platforms' sections and secrets, for
    commands that post nothing (`digest --dry-run`). `database=False` leaves
    an unusable database for the storage layer to report when it opens it
    (`run` does, with its own advice); `check` reports it here. `defer_warnings`
    leaves the watchlists' advisory warnings to the match index's build
    (`LoadedWatchlists.unwarned`): errors still stop start-up here.
    """
    report = read_config(config)
    settings = report.settings
    env = os.environ if environ is None else environ
    problems = list(report.problems)
    if not settings.channels and report.all_channels_read:
        problems.append(
            ConfigError(
                str(settings.path),
                "channels",
                "no [[channels]] configured: alerts would go nowhere",
                'add [[channels]] with platform = "console"',
            )
        )
    if platforms:
        for secret in platform_secrets(settings, problems):
            problems.extend(secret_problems(settings.path, secret, env))
    chat = None
    if not report.has_problem("bot.database"):
        chat = _chat_state(settings, problems if database else None)
    entities = None
    loaded = None
    if not report.has_problem("bot.watchlists"):
        terms, removed = (chat.terms, chat.removed) if chat else ((), ())
        snapshot = watchlist_snapshot(settings.bot.watchlists)  # before reading them
        directory = settings.bot.watchlists
        files: list[Entity] = []
        if defer_warnings:
            files = _collect(problems, lambda: read_watchlists(directory)) or []
            entities = apply_chat_changes(files, terms, removed) if files else None
        else:
            entities = _collect(problems, lambda: load_watchlists(directory, terms, removed))
        if entities is not None and chat is not None:
            loaded = LoadedWatchlists(
                tuple(entities), tuple(chat.terms), frozenset(chat.removed), snapshot, tuple(files)
            )
    # A filter's key names its entry's index in the file: only when none was left
    # out. Without the chat additions a chat-made name would look unknown.
    if report.all_channels_read and chat is not None:
        if report.all_feeds_read:
            problems.extend(feed_filter_problems(settings, chat.feeds))
        if entities is not None:
            problems.extend(entity_filter_problems(settings, entities))
    raise_collected(problems)
    return Preflight(settings, tuple(entities or ()), loaded)


def _collect(problems: list[ConfigError], step: Callable[[], T]) -> T | None:
    """Run one step; its problems join the others instead of stopping the check."""
    try:
        return step()
    except ConfigError as e:
        problems.append(e)
        return None


def _chat_state(settings: Settings, problems: list[ConfigError] | None) -> ChatState | None:
    """What chat added, or None (with the reason reported) if it cannot be read."""
    try:
        return read_chat_state(settings.bot.database)
    except (DatabaseBusy, StorageUnavailable) as e:
        # Busy (a running bot writes) or a PostgreSQL server not reachable from here:
        # the config itself may still be fine, so this is one warning, not a failure.
        log.warning("%s; terms and feeds added from chat are not checked", e)
    except StorageError as e:
        if problems is not None:
            problems.append(
                ConfigError(
                    str(settings.path),
                    "bot.database",
                    f"cannot be used: {e}",
                    "point bot.database at this bot's database, or at a new file"
                    if not is_postgres(settings.bot.database)
                    else "point bot.database at this bot's database, or at a new, empty one",
                )
            )
    return None


def platform_secrets(settings: Settings, problems: list[ConfigError]) -> list[RequiredSecret]:
    """Validate the section of each chat platform a channel uses, as `run` does
    (its problems go to `problems`), and list the environment variables the
    valid ones need.

    A section no channel uses is not read by `run`: it gets a warning, since
    a [discord] without a discord channel is usually a forgotten [[channels]].
    """
    secrets: list[RequiredSecret] = []
    used = list(dict.fromkeys(c.platform for c in settings.channels))
    for name, raw in settings.raw_sections.items():
        if raw and name not in used:
            log.warning(
                '%s: [%s] is configured but no [[channels]] has platform = "%s"; it is not used',
                settings.path,
                name,
                name,
            )
    for platform in used:
        raw = settings.raw_sections.get(platform, {})
        try:
            if platform == "discord":
                from bot.chat.discord.settings import discord_secrets, discord_settings

                secrets.extend(discord_secrets(discord_settings(raw, settings.path)))
            elif platform == "slack":
                from bot.chat.slack.sink import slack_secrets, slack_settings

                secrets.extend(slack_secrets(slack_settings(raw, settings.path)))
        except ConfigError as e:
            problems.append(e)
    return secrets


def secret_problems(
    config: Path, secret: RequiredSecret, environ: Mapping[str, str]
) -> list[ConfigError]:
    """Is the variable set, and does its value look like the right kind of token?

    The value itself is never shown: only the variable's name and, for a
    wrong kind of token, the few characters that say which kind it is.
    """
    value = environ.get(secret.env, "").strip()
    if not value:
        return [
            ConfigError(
                str(config),
                secret.key,
                f"the environment variable {secret.env} is not set",
                f"export {secret.env}=<{secret.placeholder}>",
            )
        ]
    if secret.prefix and not value.startswith(secret.prefix):
        kind = value.split("-", 1)[0] + "-" if "-" in value[:6] else "something else"
        problem = f"{secret.env} holds {kind}…, not a {secret.prefix}… token"
        fix = f"export {secret.env}=<{secret.placeholder}>"
        if secret.prefix_required:
            return [ConfigError(str(config), secret.key, problem, fix)]
        log.warning("%s: %s: %s — check it is the right token", config, secret.key, problem)
    return []


def _suggest(value: str, choices: Sequence[str], otherwise: str) -> str:
    """A fix for an unknown name: the closest known one, else `otherwise`."""
    folded = {c.casefold(): c for c in choices}
    if value.casefold() in folded:
        return f'write it as "{folded[value.casefold()]}" (names are case-sensitive)'
    best = process.extractOne(
        value, choices, scorer=fuzz.WRatio, processor=str.casefold, score_cutoff=SUGGEST_CUTOFF
    )
    if best is not None:
        return f'did you mean "{best[0]}"?'
    return otherwise


def feed_filter_problems(
    settings: Settings, chat_feeds: Sequence[tuple[str, str]]
) -> list[ConfigError]:
    """Channel `feeds` filters must name a configured or chat-added feed (name or URL)."""
    known = list(dict.fromkeys([n for f in settings.feeds for n in (f.name, f.url)]))
    known += [n for url, name in chat_feeds for n in (name, url) if n not in known]
    problems = []
    for i, channel in enumerate(settings.channels):
        for j, feed in enumerate(channel.feeds):
            if feed not in known:
                fix = _suggest(feed, known, "use the name or URL of one of the [[feeds]]")
                problems.append(
                    ConfigError(
                        str(settings.path),
                        f"channels[{i}].feeds[{j}]",
                        f"{feed!r} is not the name or URL of a feed, so this channel gets nothing",
                        fix,
                    )
                )
    return problems


def entity_filter_problems(settings: Settings, entities: Sequence[Entity]) -> list[ConfigError]:
    """Channel `entities` and `kinds` filters must name what the watchlists hold."""
    ids = [e.id for e in entities]
    kinds = list(dict.fromkeys([*CHAT_KINDS, *(e.kind for e in entities)]))
    problems = []
    path = str(settings.path)
    for i, channel in enumerate(settings.channels):
        for j, entity in enumerate(channel.entities):
            if entity not in ids:
                fix = _suggest(entity, ids, "use the id of an [[entity]] in the watchlist files")
                problems.append(
                    ConfigError(
                        path,
                        f"channels[{i}].entities[{j}]",
                        f"no entity {entity!r} in {settings.bot.watchlists}, "
                        "so this filter never matches",
                        fix,
                    )
                )
        for j, kind in enumerate(channel.kinds):
            if kind not in kinds:
                fix = _suggest(kind, kinds, f"use one of: {', '.join(kinds)}")
                problems.append(
                    ConfigError(
                        path,
                        f"channels[{i}].kinds[{j}]",
                        f"no entity has kind {kind!r}, so this filter never matches",
                        fix,
                    )
                )
    return problems
