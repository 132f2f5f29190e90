"""bot.toml → frozen, validated settings.

Everything is checked once at start-up so a typo fails loudly with the file,
the key and the fix, instead of surfacing hours later inside a poll loop.
Secrets never live in the file: it only names environment variables.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from datetime import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# Durations, sizes and URLs are read by bot/config_values.py; the names other
# modules use are re-exported here ("X as X"), so they import from bot.config.
from bot.config_values import (
    DAY,
    MAX_DURATION,
    MISSING,
    Table,
    is_database_url,
    postgres_url_problem,
    read_toml,
)
from bot.config_values import DURATION_HINT as DURATION_HINT
from bot.config_values import database_label as database_label
from bot.config_values import format_duration as format_duration
from bot.config_values import http_url_problem as http_url_problem
from bot.config_values import is_http_url as is_http_url
from bot.config_values import is_postgres as is_postgres
from bot.config_values import parse_duration as parse_duration
from bot.config_values import parse_listen as parse_listen
from bot.config_values import parse_size as parse_size
from bot.errors import ConfigError, raise_collected
from bot.logs import LOG_FORMATS
from bot.models import SEVERITIES

log = logging.getLogger(__name__)

#: Chat platforms a [[channels]] entry may name. Adapters add themselves here.
KNOWN_PLATFORMS: tuple[str, ...] = ("console", "jsonl", "discord", "slack")

DEFAULT_USER_AGENT = "newswatch-bot/0.1 (+https://github.com/newswatch-bot/newswatch-bot)"


@dataclass(frozen=True, slots=True)
class FirstPoll:
    """What to do with the items a feed already holds the first time we read it.

    "skip" (the default) marks them seen without alerting, as peer bots do, so
    adding a feed never floods a channel; "all" alerts every item; an age
    alerts only items published within that age (undated items count as old).
    """

    mode: str = "skip"  # "skip" | "all" | "newer"
    max_age: float = 0.0  # seconds, for mode "newer"


@dataclass(frozen=True, slots=True)
class FeedSettings:
    url: str  # as written in the config: the feed's identity in the database
    location: str  # what to fetch: the URL, or an absolute path for a local file
    name: str
    interval: float
    first_poll: FirstPoll
    trusted: bool = True  # from bot.toml; feeds added from chat are fetched guarded

    @property
    def is_local(self) -> bool:
        return not is_http_url(self.location)


@dataclass(frozen=True, slots=True)
class ChannelSettings:
    platform: str
    id: str
    kinds: tuple[str, ...] = ()
    entities: tuple[str, ...] = ()
    feeds: tuple[str, ...] = ()  # feed names or URLs
    severity: str = "low"  # minimum severity
    # At most flood_cap top-level alerts per flood_window; more wait for one
    # summary at the window's end. 0 turns the cap off; "high" is never held.
    flood_cap: int = 10
    flood_window: float = 600.0

    @property
    def key(self) -> str:
        return f"{self.platform}:{self.id}"


@dataclass(frozen=True, slots=True)
class DigestChannel:
    """One channel that gets the daily digest, at its own local time of day."""

    key: str  # "platform:id" of a [[channels]] entry
    at: time
    timezone: str


@dataclass(frozen=True, slots=True)
class DigestSettings:
    channels: tuple[DigestChannel, ...] = ()
    top_stories: int = 5
    chart: bool = True


@dataclass(frozen=True, slots=True)
class BotSettings:
    # A SQLite file (Path), or a PostgreSQL URL (str) for several instances on one
    # database: is_postgres() tells, database_label() names it without a password.
    database: Path | str
    watchlists: Path
    interval: float = 300.0
    timezone: str = "UTC"
    user_agent: str = DEFAULT_USER_AGENT
    max_concurrency: int = 50
    per_host_concurrency: int = 2
    connect_timeout: float = 10.0
    timeout: float = 30.0
    max_response_bytes: int = 10 * 1024 * 1024
    max_backoff: float = 6 * 3600.0
    failing_after: float = 24 * 3600.0
    match_threshold: float = 90.0
    watchlist_check: float = 10.0  # how often `run` looks for edited watchlist files
    allow_private_feeds: bool = False  # let chat add feeds on private/loopback addresses
    dedup_window: float = 48 * 3600.0
    retention: float = 90 * 86400.0
    parser_workers: int = 2
    delivery_attempts: int = 0  # 0 = retry forever (with capped backoff)
    log_level: str = "INFO"
    log_format: str = "text"  # "json": one JSON object per line on stderr (bot/logs.py)
    story_window: float = 48 * 3600.0  # how far back a new item may continue a story
    flood_cap: int = 10  # defaults for [[channels]] flood_cap / flood_window
    flood_window: float = 600.0
    # `run` serves /healthz and /metrics here (host, port); None = no listener.
    listen: tuple[str, int] | None = None


@dataclass(frozen=True, slots=True)
class Settings:
    path: Path
    bot: BotSettings
    feeds: tuple[FeedSettings, ...]
    channels: tuple[ChannelSettings, ...]
    raw_sections: dict[str, dict[str, Any]]  # [discord], [slack]: read by their adapters
    digest: DigestSettings = DigestSettings()


@dataclass(frozen=True, slots=True)
class RequiredSecret:
    """An environment variable a chat adapter needs before it can start.

    Adapters declare these so `check` (and `run`, before opening anything)
    can name an unset variable without connecting anywhere. `prefix` is how
    the token begins ("xapp-"); a wrong one is an error when `prefix_required`
    (the platform accepts nothing else there), otherwise a warning.
    """

    key: str  # the config key naming the variable, e.g. "slack.app_token_env"
    env: str  # the variable's name
    placeholder: str  # for the fix: export NAME=<placeholder>
    prefix: str = ""
    prefix_required: bool = False


#: Upper limits (with MAX_DURATION, MAX_RESPONSE_BYTES): a value past these is a
#: typo, and a huge one would overflow date arithmetic hours later in a loop.
MAX_INTERVAL = 30 * DAY
#: Parser workers are processes, each with its own memory cap: past 16 they cost
#: memory without adding speed on any machine this bot is meant for. A fixed
#: bound (not one derived from this machine's CPUs) keeps a config valid on
#: every host it is checked on; more workers than CPUs is only a warning.
MAX_PARSER_WORKERS = 16


def _resolve(base: Path, value: str) -> Path:
    p = Path(value).expanduser()
    return p if p.is_absolute() else (base / p).resolve()


@dataclass(frozen=True, slots=True)
class ConfigReport:
    """Settings read as far as they go, with every problem found on the way.

    Keys with a problem hold their defaults and broken [[feeds]]/[[channels]]
    entries are left out, so `check` can go on to validate what depends on
    the config (watchlists, chat platforms) and report everything in one pass.
    """

    settings: Settings
    problems: tuple[ConfigError, ...]
    all_feeds_read: bool  # no [[feeds]] entry was left out
    all_channels_read: bool  # no [[channels]] entry was left out, so indexes match the file

    def has_problem(self, key: str) -> bool:
        return any(p.where == key for p in self.problems)


def read_config(path: str | Path) -> ConfigReport:
    """Read bot.toml and validate it, collecting problems; raise only when the
    file cannot be read as TOML at all."""
    path = Path(path)
    return config_report(read_toml(path), path)


def load_config(path: str | Path) -> Settings:
    """Read and validate bot.toml; raise ConfigError naming file, key and fix
    (ConfigErrors, one line each, when there is more than one problem)."""
    report = read_config(path)
    raise_collected(list(report.problems))
    return report.settings


def settings_from_dict(data: dict[str, Any], path: Path) -> Settings:
    report = config_report(data, path)
    raise_collected(list(report.problems))
    return report.settings


def config_report(data: dict[str, Any], path: Path) -> ConfigReport:
    problems: list[ConfigError] = []
    base = path.resolve().parent
    top = Table(path, "", data, problems)
    bot_table = top.get("bot", dict, {}, "a [bot] table", "a [bot] section")
    bot = _bot_settings(Table(path, "bot", bot_table, problems), base)
    feed_tables = top.get("feeds", list, [], "[[feeds]] tables", "[[feeds]]")
    feeds = _feeds(top, feed_tables, base, bot)
    channel_tables = top.get("channels", list, [], "[[channels]] tables", "[[channels]]")
    channels = _channels(top, channel_tables, base, bot)
    all_channels_read = len(channels) == len(channel_tables)
    raw_sections = {
        name: top.get(name, dict, {}, f"a [{name}] table", f"a [{name}] section")
        for name in ("discord", "slack")
    }
    digest_table = top.get("digest", dict, {}, "a [digest] table", "a [digest] section")
    digest = _digest(
        Table(path, "digest", digest_table, problems), bot, channels, all_channels_read, base
    )
    top.finish()
    settings = Settings(path, bot, feeds, channels, raw_sections, digest)
    return ConfigReport(
        settings, tuple(problems), len(feeds) == len(feed_tables), all_channels_read
    )


def _timezone(t: Table, key: str, default: str) -> str:
    tz = t.string(key, default)
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        t.report(
            t.error(key, f"unknown time zone {tz!r}", 'use an IANA name such as "Asia/Kolkata"')
        )
        return "UTC"
    return tz


def _time_of_day(t: Table, key: str, default: time) -> time:
    value = t.get(key, str, None, "a time of day", '"08:00"')
    if value is None:
        return default
    m = re.fullmatch(r"\s*(\d{1,2}):(\d{2})(?::(\d{2}))?\s*", value)
    if not m or int(m.group(1)) > 23 or int(m.group(2)) > 59 or int(m.group(3) or 0) > 59:
        t.report(
            t.error(key, f"{value!r} is not a time of day", 'write 24-hour time such as "08:00"')
        )
        return default
    return time(int(m.group(1)), int(m.group(2)), int(m.group(3) or 0))


def _digest(
    t: Table,
    bot: BotSettings,
    channels: tuple[ChannelSettings, ...],
    all_channels_read: bool,
    base: Path,
) -> DigestSettings:
    at = _time_of_day(t, "time", time(8, 0))
    tz = _timezone(t, "timezone", bot.timezone)
    top_stories = t.integer("top_stories", 5, minimum=1)
    chart = t.get("chart", bool, True, "true or false", "true")
    entries = t.get("channels", list, [], "a list of channel keys", '["discord:123..."]')
    known = {c.key: c for c in channels}
    digest_channels: list[DigestChannel] = []
    for i, entry in enumerate(entries):
        where = f"channels[{i}]"
        if isinstance(entry, str):
            entry = {"channel": entry}
        try:
            one = Table(Path(t.path), f"digest.{where}", entry, t.problems)
            key = one.string("channel").strip()
        except ConfigError as e:
            t.report(e)
            continue
        platform, _, channel_id = key.partition(":")
        if platform == "jsonl" and channel_id:
            key = f"jsonl:{_resolve(base, channel_id)}"
        if key not in known and all_channels_read:
            listed = ", ".join(f'"{k}"' for k in known) or "none"
            one.report(
                one.error(
                    "channel",
                    f"{key!r} is not one of the [[channels]]",
                    f'write "platform:id" of a configured channel (configured: {listed})',
                )
            )
        elif any(d.key == key for d in digest_channels):
            one.report(one.error("channel", f"{key!r} is listed twice", "list each channel once"))
        else:
            digest_channels.append(
                DigestChannel(key, _time_of_day(one, "time", at), _timezone(one, "timezone", tz))
            )
        one.finish()
    t.finish()
    return DigestSettings(tuple(digest_channels), top_stories, chart)


def _listen(t: Table) -> tuple[str, int] | None:
    """[bot] listen = "127.0.0.1:9100": where `run` serves /healthz and /metrics."""
    value = t.get("listen", str, None, "a host:port string", '"127.0.0.1:9100"')
    if value is None:
        return None
    try:
        return parse_listen(value)
    except ValueError as e:
        t.report(
            t.error(
                "listen",
                f"{value!r} is not a listen address ({e})",
                'write host:port, e.g. listen = "127.0.0.1:9100" or "[::1]:9100", '
                "or remove the key to serve nothing",
            )
        )
        return None


def _database(t: Table, base: Path) -> Path | str:
    """[bot] database: a SQLite file path (relative to the config), or a PostgreSQL URL."""
    value = t.string("database", "data/newswatch.sqlite3")
    if not is_database_url(value):
        return _resolve(base, value)
    problem = postgres_url_problem(value.strip())
    if problem:
        t.report(t.error("database", *problem))
        return _resolve(base, "data/newswatch.sqlite3")
    return value.strip()


def _bot_settings(t: Table, base: Path) -> BotSettings:
    tz = _timezone(t, "timezone", "UTC")
    settings = BotSettings(
        database=_database(t, base),
        watchlists=_resolve(base, t.string("watchlists", "watchlists")),
        interval=t.duration("interval", 300.0, MAX_INTERVAL),
        timezone=tz,
        user_agent=t.string("user_agent", DEFAULT_USER_AGENT),
        max_concurrency=t.integer("max_concurrency", 50, minimum=1),
        per_host_concurrency=t.integer("per_host_concurrency", 2, minimum=1),
        connect_timeout=t.duration("connect_timeout", 10.0, 600.0),
        timeout=t.duration("timeout", 30.0, 3600.0),
        max_response_bytes=t.size("max_response_bytes", 10 * 1024 * 1024),
        max_backoff=t.duration("max_backoff", 6 * 3600.0, 30 * DAY),
        failing_after=t.duration("failing_after", 24 * 3600.0, 365 * DAY),
        match_threshold=t.number("match_threshold", 90.0, 50.0, 100.0),
        watchlist_check=t.duration("watchlist_check", 10.0, DAY),
        allow_private_feeds=t.get("allow_private_feeds", bool, False, "true or false", "false"),
        dedup_window=t.duration("dedup_window", 48 * 3600.0, 365 * DAY),
        retention=t.duration("retention", 90 * 86400.0, 3650 * DAY),
        parser_workers=t.integer("parser_workers", 2, minimum=1, maximum=MAX_PARSER_WORKERS),
        delivery_attempts=t.integer("delivery_attempts", 0, minimum=0),
        log_level=t.string("log_level", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR")),
        log_format=t.string("log_format", "text", LOG_FORMATS),
        story_window=t.duration("story_window", 48 * 3600.0, 30 * DAY),
        flood_cap=t.integer("flood_cap", 10, minimum=0),
        flood_window=t.duration("flood_window", 600.0, DAY),
        listen=_listen(t),
    )
    t.finish()
    if settings.retention < settings.dedup_window:
        t.report(
            t.error("retention", "is shorter than bot.dedup_window", "make it at least as long")
        )
    cpus = os.cpu_count() or 1
    if "parser_workers" in t.data and settings.parser_workers > cpus:  # not for the default
        log.warning(
            "%s: bot.parser_workers = %d is more than this machine's %d CPUs; "
            "the extra workers only cost memory",
            t.path,
            settings.parser_workers,
            cpus,
        )
    return settings


FIRST_POLL_HINT = (
    'use "skip" (mark existing items seen), "all" (alert them all) '
    'or an age such as "24h" (alert items newer than that)'
)


def parse_first_poll(value: str) -> FirstPoll | None:
    """A `first_poll` value as bot.toml writes it ("skip", "all", "24h"); None if invalid."""
    if value in ("skip", "all"):
        return FirstPoll(value)
    try:
        age = parse_duration(value)
    except ValueError:
        age = 0.0
    if 0 < age <= MAX_DURATION:
        return FirstPoll("newer", age)
    return None


def _first_poll(t: Table) -> FirstPoll:
    value = t.string("first_poll", "skip")
    first_poll = parse_first_poll(value)
    if first_poll is not None:
        return first_poll
    t.report(t.error("first_poll", f"unknown value {value!r}", FIRST_POLL_HINT))
    return FirstPoll()


def _feed_location(t: Table, url: str, base: Path) -> str | None:
    """Where to fetch `url` from; None (with the problem reported) if it is unusable."""
    if is_http_url(url):  # a plain web URL is told from its characters (plain_http_url)
        problem = http_url_problem(url)
        if problem:
            t.report(t.error("url", *problem))
            return None
        return url
    try:
        scheme = urlsplit(url).scheme.lower()
    except ValueError:
        scheme = url.partition(":")[0].lower()
    if scheme and len(scheme) > 1 and scheme != "file":
        t.report(
            t.error("url", f"unsupported scheme {scheme!r}", "use http(s):// or a local file path")
        )
        return None
    local = _resolve(base, url.removeprefix("file://"))
    if not local.is_file():
        fix = "check the path"
        first = url.split("/", 1)[0]
        if "." in first and not first.startswith(".") and not (base / first).exists():
            fix += f"; for a web feed write https://{url}"
        t.report(t.error("url", f"local feed file {str(local)!r} does not exist", fix))
        return None
    return str(local)


def _feeds(top: Table, tables: list[Any], base: Path, bot: BotSettings) -> tuple[FeedSettings, ...]:
    path = Path(top.path)
    feeds: list[FeedSettings] = []
    seen: dict[str, str] = {}
    for i, data in enumerate(tables):
        try:
            t = Table(path, f"feeds[{i}]", data, top.problems)
            url = t.string("url").strip()
        except ConfigError as e:
            top.report(e)
            continue
        location = _feed_location(t, url, base)
        interval = t.duration("interval", bot.interval, MAX_INTERVAL)
        name = t.string("name", "") or url
        first_poll = _first_poll(t)
        t.finish()
        if location is None:
            continue
        feed = FeedSettings(url, location, name, interval, first_poll)
        key = location.lower() if not feed.is_local else location
        if key in seen:
            t.report(t.error("url", f"duplicate of {seen[key]}", "list each feed once"))
            continue
        seen[key] = f"feeds[{i}]"
        if interval < 60:
            log.warning(
                "%s: feeds[%d] (%s) polls every %gs; intervals under a minute are impolite "
                "to public servers, use them only for local feeds and tests",
                path,
                i,
                name,
                interval,
            )
        feeds.append(feed)
    return tuple(feeds)


def _channel_id(t: Table, platform: str, base: Path) -> str:
    """The channel's id, in the form its platform uses; raises when there is none."""
    channel_id: str = t.string("id", "stdout" if platform == "console" else MISSING).strip()
    if not channel_id:
        raise t.error("id", "is empty", "write the channel id (a file path for jsonl)")
    if platform == "jsonl":
        channel_id = str(_resolve(base, channel_id))
    if platform == "slack" and not re.fullmatch(r"[CGD][A-Z0-9]{6,}", channel_id):
        t.report(
            t.error(
                "id",
                f"{channel_id!r} is not a Slack channel id",
                'write the id like "C0123ABCD" (channel details → bottom of the About tab)',
            )
        )
    if platform == "discord" and not (channel_id.isdigit() and 15 <= len(channel_id) <= 21):
        t.report(
            t.error(
                "id",
                f"{channel_id!r} is not a Discord channel id",
                "copy it with Developer Mode on: right-click the channel → Copy Channel ID",
            )
        )
    return channel_id


def _channels(
    top: Table, tables: list[Any], base: Path, bot: BotSettings
) -> tuple[ChannelSettings, ...]:
    path = Path(top.path)
    channels: list[ChannelSettings] = []
    seen: dict[str, str] = {}
    for i, data in enumerate(tables):
        try:
            t = Table(path, f"channels[{i}]", data, top.problems)
            platform = t.string("platform", MISSING, KNOWN_PLATFORMS)
            channel_id = _channel_id(t, platform, base)
        except ConfigError as e:
            top.report(e)
            continue
        channel = ChannelSettings(
            platform=platform,
            id=channel_id,
            kinds=t.strings("kinds"),
            entities=t.strings("entities"),
            feeds=t.strings("feeds"),
            severity=t.string("severity", "low", SEVERITIES),
            flood_cap=t.integer("flood_cap", bot.flood_cap, minimum=0),
            flood_window=t.duration("flood_window", bot.flood_window, DAY),
        )
        t.finish()
        if channel.key in seen:
            t.report(t.error("id", f"duplicate of {seen[channel.key]}", "list each channel once"))
            continue
        seen[channel.key] = f"channels[{i}]"
        channels.append(channel)
    return tuple(channels)
