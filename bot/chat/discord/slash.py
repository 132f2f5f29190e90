"""Slash commands /watch, /feeds and /digest on Discord, backed by bot.commands.

Discord parses and types the arguments; bot.commands validates them and
decides. Every reply is ephemeral and mentions nobody. Each command is
deferred first, so it is acknowledged within Discord's 3 seconds however
long the work takes (a backtest, fetching a feed).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import discord
from discord import app_commands

from bot.chat.discord.render import cut
from bot.commands import KINDS, Caller, CommandError, Commands, Reply

if TYPE_CHECKING:
    from bot.chat.discord.sink import DiscordSettings

MESSAGE_MAX = 2000
NO_MENTIONS = discord.AllowedMentions.none()
MANAGE = discord.Permissions(manage_guild=True)
KIND_CHOICES = [app_commands.Choice(name=k, value=k) for k in KINDS]


def caller_of(interaction: discord.Interaction, settings: DiscordSettings) -> Caller:
    """Who is asking, and may they manage? Checked on every interaction: the
    command's default permission is only a hint a server admin can override."""
    can_manage = bool(interaction.permissions.manage_guild)
    role = settings.manager_role_id
    if not can_manage and role and isinstance(interaction.user, discord.Member):
        can_manage = any(r.id == role for r in interaction.user.roles)
    return Caller(
        str(interaction.user.id),
        can_manage,
        interaction.user.name,
        f"discord:{interaction.channel_id}",
    )


def render(reply: Reply) -> str:
    # Replies quote feed titles (`/watch test`): `<#…>`, `<t:…>` and `<@…>` stay text.
    text = discord.utils.escape_mentions(reply.text).replace("<", "\\<")
    return cut(text, MESSAGE_MAX)


async def respond(
    interaction: discord.Interaction,
    settings: DiscordSettings,
    action: Callable[[Caller], Awaitable[Reply]],
) -> None:
    await interaction.response.defer(ephemeral=True, thinking=True)
    try:
        reply = await action(caller_of(interaction, settings))
        text = render(reply)
    except CommandError as e:
        text = cut(discord.utils.escape_mentions(str(e)), MESSAGE_MAX)
    # Replaces the "thinking…" placeholder of the deferred (ephemeral) response.
    await interaction.edit_original_response(content=text, allowed_mentions=NO_MENTIONS)


def register(tree: app_commands.CommandTree, commands: Commands, settings: DiscordSettings) -> None:
    watch = app_commands.Group(
        name="watch", description="What the bot watches for", default_permissions=MANAGE
    )
    feeds = app_commands.Group(
        name="feeds", description="The feeds the bot polls", default_permissions=MANAGE
    )
    digest = app_commands.Group(name="digest", description="The daily digest")

    async def entity_autocomplete(
        interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return [app_commands.Choice(name=i, value=i) for i in commands.entity_ids(current)]

    @watch.command(name="add", description="Watch a term (as a new entity or an alias)")
    @app_commands.describe(term="The name or spelling to watch", entity="Add it to this entity")
    @app_commands.autocomplete(entity=entity_autocomplete)
    @app_commands.choices(kind=KIND_CHOICES)
    async def watch_add(
        interaction: discord.Interaction,
        term: app_commands.Range[str, 1, 100],
        entity: app_commands.Range[str, 1, 64] | None = None,
        kind: app_commands.Choice[str] | None = None,
    ) -> None:
        await respond(
            interaction,
            settings,
            lambda c: commands.watch_add(c, term, entity, kind.value if kind else None),
        )

    @watch.command(name="remove", description="Stop watching a term")
    async def watch_remove(
        interaction: discord.Interaction, term: app_commands.Range[str, 1, 100]
    ) -> None:
        await respond(interaction, settings, lambda c: commands.watch_remove(c, term))

    @watch.command(name="list", description="What is watched")
    @app_commands.choices(kind=KIND_CHOICES)
    async def watch_list(
        interaction: discord.Interaction,
        kind: app_commands.Choice[str] | None = None,
        page: app_commands.Range[int, 1, 1000] = 1,
    ) -> None:
        await respond(
            interaction,
            settings,
            lambda c: commands.watch_list(c, kind.value if kind else None, page),
        )

    @watch.command(name="test", description="How often a term would have matched lately")
    async def watch_test(
        interaction: discord.Interaction,
        term: app_commands.Range[str, 1, 100],
        days: app_commands.Range[int, 1, 90] = 7,
    ) -> None:
        await respond(interaction, settings, lambda c: commands.watch_test(c, term, days))

    @watch.command(name="mute", description="Stop alerts for an entity for a while")
    @app_commands.autocomplete(entity=entity_autocomplete)
    @app_commands.describe(duration='For example "2h" or "3d"; empty: until unmuted')
    async def watch_mute(
        interaction: discord.Interaction,
        entity: app_commands.Range[str, 1, 64],
        duration: app_commands.Range[str, 1, 20] | None = None,
    ) -> None:
        await respond(interaction, settings, lambda c: commands.watch_mute(c, entity, duration))

    @watch.command(name="unmute", description="Alert for an entity again")
    @app_commands.autocomplete(entity=entity_autocomplete)
    async def watch_unmute(
        interaction: discord.Interaction, entity: app_commands.Range[str, 1, 64]
    ) -> None:
        await respond(interaction, settings, lambda c: commands.watch_unmute(c, entity))

    @feeds.command(name="add", description="Poll a new RSS/Atom feed")
    async def feeds_add(
        interaction: discord.Interaction,
        url: app_commands.Range[str, 1, 2048],
        name: app_commands.Range[str, 1, 100] | None = None,
    ) -> None:
        await respond(interaction, settings, lambda c: commands.feeds_add(c, url, name))

    @feeds.command(name="remove", description="Stop polling a feed added from chat")
    async def feeds_remove(
        interaction: discord.Interaction, url: app_commands.Range[str, 1, 2048]
    ) -> None:
        await respond(interaction, settings, lambda c: commands.feeds_remove(c, url))

    @feeds.command(name="list", description="The feeds polled")
    async def feeds_list(interaction: discord.Interaction) -> None:
        await respond(interaction, settings, commands.feeds_list)

    @feeds.command(name="status", description="Last success, errors and backoff per feed")
    async def feeds_status(interaction: discord.Interaction) -> None:
        await respond(interaction, settings, commands.feeds_status)

    @digest.command(name="now", description="Post the digest of the last 24 hours here")
    async def digest_now(interaction: discord.Interaction) -> None:
        await respond(interaction, settings, commands.digest_now)

    for group in (watch, feeds, digest):
        tree.add_command(group)
