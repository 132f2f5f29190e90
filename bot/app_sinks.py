"""The chat sinks the config names, built for the App (bot/app.py).

Kept apart from the App so the composition root stays one screenful per
concern; the chat adapters are imported only when a channel uses them.
"""

from __future__ import annotations

from bot.chat.base import Sink
from bot.chat.console import ConsoleSink
from bot.chat.jsonl import JsonlSink
from bot.config import Settings
from bot.errors import ConfigError


def make_sinks(settings: Settings) -> dict[str, Sink]:
    """One sink per platform named in [[channels]]; chat adapters load only when used."""
    sinks: dict[str, Sink] = {}
    for channel in settings.channels:
        if channel.platform in sinks:
            continue
        if channel.platform == "console":
            sinks["console"] = ConsoleSink()
        elif channel.platform == "jsonl":
            sinks["jsonl"] = JsonlSink()
        elif channel.platform == "discord":
            from bot.chat.discord.settings import discord_settings
            from bot.chat.discord.sink import DiscordSink

            raw = settings.raw_sections.get("discord", {})
            sinks["discord"] = DiscordSink(discord_settings(raw, settings.path), settings.path)
        elif channel.platform == "slack":
            from bot.chat.slack.sink import SlackSink, slack_settings

            raw = settings.raw_sections.get("slack", {})
            ids = tuple(c.id for c in settings.channels if c.platform == "slack")
            sinks["slack"] = SlackSink(slack_settings(raw, settings.path), settings.path, ids)
    return sinks


def check_sinks_configured(settings: Settings) -> None:
    """Refuse a config without channels before anything starts: alerts would go nowhere."""
    if not settings.channels:
        raise ConfigError(
            str(settings.path),
            "channels",
            "no [[channels]] configured: alerts would go nowhere",
            'add [[channels]] with platform = "console"',
        )
