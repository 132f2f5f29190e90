"""Slash commands /watch, /feeds and /digest on Discord, backed by bot.commands.

The commands, their options, limits, choices and autocomplete are generated
from bot.command_catalogue, the one description of every command. Discord
parses and types the arguments; bot.commands validates them and decides.
Every reply is ephemeral and mentions nobody. Each command is deferred first,
so it is acknowledged within Discord's 3 seconds however long the work takes
(a backtest, fetching a feed).
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands

from bot.chat.discord.render import cut
from bot.command_catalogue import GROUPS, Argument, Command
from bot.commands import Caller, CommandError, Commands, Reply

if TYPE_CHECKING:
    from bot.chat.discord.settings import DiscordSettings

MESSAGE_MAX = 2000
NO_MENTIONS = discord.AllowedMentions.none()
MANAGE = discord.Permissions(manage_guild=True)


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


def _annotation(argument: Argument) -> Any:
    """The parameter type discord.py turns into the option's type and limits."""
    kind: Any
    if argument.choices:
        kind = app_commands.Choice[str]
    elif argument.kind == "integer":
        kind = app_commands.Range[int, argument.minimum, argument.maximum]
    else:
        kind = app_commands.Range[str, argument.minimum, argument.maximum]
    return kind if argument.required else kind | None


def _signature(command: Command) -> inspect.Signature:
    """The callback's signature, built from the catalogue: discord.py reads options from it."""
    kw = inspect.Parameter.POSITIONAL_OR_KEYWORD
    parameters = [inspect.Parameter("interaction", kw, annotation=discord.Interaction)]
    for a in command.arguments:
        default = inspect.Parameter.empty if a.required else a.default
        parameters.append(inspect.Parameter(a.name, kw, default=default, annotation=_annotation(a)))
    return inspect.Signature(parameters)


def _callback(command: Command, commands: Commands, settings: DiscordSettings) -> Any:
    """Calls the command's handler with its arguments in catalogue order."""
    names = [a.name for a in command.arguments]

    async def callback(interaction: discord.Interaction, **options: Any) -> None:
        handler = getattr(commands, command.handler)
        values = [options.get(n) for n in names]
        args = [v.value if isinstance(v, app_commands.Choice) else v for v in values]
        await respond(interaction, settings, lambda c: handler(c, *args))

    callback.__signature__ = _signature(command)  # type: ignore[attr-defined]
    callback.__name__ = callback.__qualname__ = command.handler
    described = {a.name: a.description for a in command.arguments if a.description}
    if described:
        app_commands.describe(**described)(callback)
    choices = {
        a.name: [app_commands.Choice(name=c, value=c) for c in a.choices]
        for a in command.arguments
        if a.choices
    }
    if choices:
        app_commands.choices(**choices)(callback)

    async def entity_autocomplete(
        interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return [app_commands.Choice(name=i, value=i) for i in commands.entity_ids(current)]

    completed = {a.name: entity_autocomplete for a in command.arguments if a.autocomplete_entities}
    if completed:
        app_commands.autocomplete(**completed)(callback)
    return callback


def register(tree: app_commands.CommandTree, commands: Commands, settings: DiscordSettings) -> None:
    """Add every catalogue group and command to the tree (synced by the sink at start)."""
    for group in GROUPS:
        discord_group = app_commands.Group(
            name=group.name,
            description=group.description,
            default_permissions=MANAGE if group.managed else None,
        )
        for command in group.commands:
            decorate = discord_group.command(name=command.name, description=command.description)
            decorate(_callback(command, commands, settings))
        tree.add_command(discord_group)
