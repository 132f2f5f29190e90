"""The command catalogue is the single source: everything that shows a command follows it.

Discord's application commands, Slack's parser and usage text, the Slack
manifest and the README are generated from bot.command_catalogue; these tests
fail when one of them differs (fix: `python -m bot.command_catalogue --write`
for the files, or the catalogue itself).
"""

from __future__ import annotations

import inspect
import json
import shutil
import subprocess
import sys
from pathlib import Path

import discord
from discord import app_commands

from bot.app import App
from bot.chat.discord.settings import DiscordSettings
from bot.chat.discord.slash import register
from bot.chat.slack.parse import READERS, USAGE
from bot.command_catalogue import (
    GROUPS,
    MANIFEST,
    README,
    all_commands,
    manifest_block,
    manifest_commands,
    readme_block,
    readme_discord_table,
    readme_slack_line,
    regenerate,
    slack_usage,
)
from bot.commands import Commands
from tests.clock import Clock
from tests.test_commands import MANAGING

ROOT = Path(__file__).resolve().parent.parent
# What Discord receives when the commands are synced. Recorded from the hand-written
# slash.py this catalogue replaced, so the generated commands are the same ones; a
# catalogue change shows up here as a reviewable diff of the payload.
DISCORD_PAYLOAD = ROOT / "tests" / "data" / "commands" / "discord_commands.json"


def _tree(commands: Commands) -> tuple[app_commands.CommandTree, list[dict]]:
    tree = app_commands.CommandTree(discord.Client(intents=discord.Intents.none()))
    register(tree, commands, DiscordSettings())
    return tree, [c.to_dict(tree) for c in tree.get_commands()]


async def test_discord_commands_are_generated_from_the_catalogue(make_settings) -> None:
    async with App.open(make_settings([]), clock=Clock()) as app:
        _, payload = _tree(Commands(app.control))
    assert payload == json.loads(DISCORD_PAYLOAD.read_text(encoding="utf-8"))
    by_group = {g["name"]: g for g in payload}
    for group in GROUPS:
        sent = by_group[group.name]
        assert sent["description"] == group.description
        assert (sent["default_member_permissions"] is not None) == group.managed
        subs = {s["name"]: s for s in sent["options"]}
        assert list(subs) == [c.name for c in group.commands]
        for command in group.commands:
            options = subs[command.name]["options"]
            assert subs[command.name]["description"] == command.description
            assert sorted(o["name"] for o in options) == sorted(a.name for a in command.arguments)
            for a in command.arguments:
                (option,) = [o for o in options if o["name"] == a.name]
                assert option["required"] == a.required
                assert [c["value"] for c in option.get("choices", [])] == list(a.choices)
                assert option.get("autocomplete", False) == a.autocomplete_entities
                if not a.choices:
                    low = "min_length" if a.kind == "text" else "min_value"
                    high = "max_length" if a.kind == "text" else "max_value"
                    assert (option[low], option[high]) == (a.minimum, a.maximum)


def test_every_catalogue_command_has_a_handler_and_a_slack_reader() -> None:
    handlers = {c.handler for c in all_commands()}
    assert set(READERS) == handlers
    for command in all_commands():
        method = getattr(Commands, command.handler)
        params = list(inspect.signature(method).parameters)[2:]  # self, caller
        assert len(params) == len(command.arguments), command.handler


def test_permission_flags_are_the_handlers() -> None:
    """The catalogue's `manager` is what the handlers enforce (tests/test_commands.py)."""
    assert {c.handler for c in all_commands() if c.manager} == set(MANAGING)


def test_slack_usage_is_generated() -> None:
    assert {g.name: slack_usage(g) for g in GROUPS} == USAGE
    assert "• `/watch add <term> [to <entity-id>] [as group|region|person|topic]`" in USAGE["watch"]


def test_the_manifest_lists_the_catalogues_commands() -> None:
    text = MANIFEST.read_text(encoding="utf-8")
    assert manifest_block(text) == manifest_commands(), (
        "deploy/slack-manifest.yml differs from the command catalogue: "
        "run `python -m bot.command_catalogue --write`"
    )
    assert "python -m bot.command_catalogue --write" in text.split("display_information")[0]


def test_the_readme_lists_the_catalogues_commands() -> None:
    text = README.read_text(encoding="utf-8")
    fix = "README.md differs from the catalogue: run `python -m bot.command_catalogue --write`"
    assert readme_block(text, "discord") == readme_discord_table(), fix
    assert readme_block(text, "slack") == readme_slack_line(), fix


def test_regenerate_rewrites_stale_copies_once(tmp_path: Path) -> None:
    manifest = tmp_path / "slack-manifest.yml"
    readme = tmp_path / "README.md"
    shutil.copy(MANIFEST, manifest)
    shutil.copy(README, readme)
    manifest.write_text(manifest.read_text().replace("/feeds", "/old"), encoding="utf-8")
    readme.write_text(readme.read_text().replace("| `/digest now` |", "| `/x` |"), encoding="utf-8")
    assert regenerate(manifest, readme) == [manifest, readme]
    assert manifest.read_text() == MANIFEST.read_text()
    assert readme.read_text() == README.read_text()
    assert regenerate(manifest, readme) == []


def test_the_module_prints_the_manifest_block() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "bot.command_catalogue", "--manifest"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    ).stdout
    assert out == manifest_commands()
