"""The [discord] table of bot.toml: read and validated without connecting.

Apart from the sink so that the slash-command module, `check` and the sink can all
name the settings without importing one another (no import circle).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yarl

from bot.config import DURATION_HINT, RequiredSecret, parse_duration
from bot.errors import ConfigError


@dataclass(frozen=True, slots=True)
class DiscordSettings:
    token_env: str = "DISCORD_TOKEN"
    guild_ids: tuple[int, ...] = ()
    manager_role_id: int | None = None  # besides members with Manage Server
    alert_role_id: int | None = None  # pinged on high-severity alerts only
    api_base: str | None = None
    gateway_url: str | None = None
    ready_timeout: float = 60.0
    guild_ready_timeout: float = 2.0  # discord.py waits this long for guilds before "ready"


def discord_settings(raw: dict[str, Any], path: Path) -> DiscordSettings:
    """Validate the [discord] table of bot.toml."""
    known = {
        "token_env",
        "guild_ids",
        "manager_role_id",
        "alert_role_id",
        "api_base",
        "gateway_url",
        "ready_timeout",
        "guild_ready_timeout",
    }
    for key in raw:
        if key not in known:
            raise ConfigError(
                str(path),
                f"discord.{key}",
                "unknown key",
                f"use one of: {', '.join(sorted(known))}",
            )

    def snowflake(key: str, value: Any) -> int:
        text = str(value)
        if not text.isdigit() or not 15 <= len(text) <= 21:
            raise ConfigError(
                str(path),
                key,
                f"{value!r} is not a Discord id",
                'write the id as "123456789012345678"',
            )
        return int(text)

    token_env = raw.get("token_env", "DISCORD_TOKEN")
    if not isinstance(token_env, str) or not token_env.isidentifier():
        raise ConfigError(
            str(path),
            "discord.token_env",
            f"{token_env!r} is not an environment variable name",
            'write token_env = "DISCORD_TOKEN"',
        )
    guilds = raw.get("guild_ids", [])
    if not isinstance(guilds, list):
        raise ConfigError(str(path), "discord.guild_ids", "must be a list", 'write ["1234…"]')
    urls = {}
    for key in ("api_base", "gateway_url"):
        value = raw.get(key)
        if value is not None and not _is_web_url(value):
            raise ConfigError(str(path), f"discord.{key}", f"{value!r} is not a URL")
        urls[key] = value.rstrip("/") if isinstance(value, str) else None

    def duration(key: str, default: str) -> float:
        value = raw.get(key, default)
        try:
            seconds = parse_duration(value) if isinstance(value, str) else float("nan")
        except ValueError:
            seconds = float("nan")
        if not seconds > 0:
            raise ConfigError(
                str(path), f"discord.{key}", f"{value!r} is not a duration", DURATION_HINT
            )
        return seconds

    return DiscordSettings(
        token_env=token_env,
        guild_ids=tuple(snowflake(f"discord.guild_ids[{i}]", g) for i, g in enumerate(guilds)),
        manager_role_id=snowflake("discord.manager_role_id", raw["manager_role_id"])
        if "manager_role_id" in raw
        else None,
        alert_role_id=snowflake("discord.alert_role_id", raw["alert_role_id"])
        if "alert_role_id" in raw
        else None,
        api_base=urls["api_base"],
        gateway_url=urls["gateway_url"],
        ready_timeout=duration("ready_timeout", "60s"),
        guild_ready_timeout=duration("guild_ready_timeout", "2s"),
    )


def _is_web_url(value: object) -> bool:
    """An http(s)/ws(s) URL with a host; yarl raises on some malformed ones."""
    if not isinstance(value, str):
        return False
    try:
        url = yarl.URL(value)
        return url.scheme in ("http", "https", "ws", "wss") and bool(url.host) and url.port != 0
    except ValueError:
        return False


def discord_secrets(settings: DiscordSettings) -> tuple[RequiredSecret, ...]:
    """What must be in the environment before the sink starts (checked by `check`)."""
    return (RequiredSecret("discord.token_env", settings.token_env, "your bot token"),)
