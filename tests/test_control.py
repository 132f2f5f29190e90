"""The control port: commands drive the real application through `Control` alone.

The commands are built here from the application's Control implementation,
with no chat adapter in sight; and the import graph is read from the source
to show that commands and chat adapters never reach the application itself.
"""

from __future__ import annotations

import ast
from datetime import timedelta
from pathlib import Path

from bot.app import App
from bot.app_control import AppControl
from bot.commands import Caller, Commands
from bot.control import Control
from tests.clock import Clock
from tests.feedserver import FeedServer, item

BOT = Path(__file__).resolve().parent.parent / "bot"
MANAGER = Caller("u-manager", can_manage=True, name="Ana", channel="jsonl:alerts")


def _imports(path: Path) -> set[str]:
    """Every bot module `path` imports, TYPE_CHECKING and function-local imports too."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return {m for m in found if m == "bot" or m.startswith("bot.")}


def _module_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in BOT.rglob("*.py"):
        parts = path.relative_to(BOT.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        graph[name] = _imports(path)
    return {m: {d for d in deps if d in graph} for m, deps in graph.items()}


def _reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        for dep in graph.get(todo.pop(), set()):
            if dep not in seen:
                seen.add(dep)
                todo.append(dep)
    return seen


def test_commands_and_chat_adapters_never_import_the_application() -> None:
    graph = _module_graph()
    users = ["bot.commands", "bot.control"] + [m for m in graph if m.startswith("bot.chat")]
    for module in users:
        assert "bot.app" not in graph[module], f"{module} imports bot.app"
    for module in ("bot.commands", "bot.control", "bot.app_control"):
        reached = _reachable(graph, module)
        assert not {"bot.app", "bot.chat"} & reached, f"{module} reaches {reached}"
        assert not any(m.startswith("bot.chat.") for m in reached), module


def test_no_import_circle_through_the_application() -> None:
    graph = _module_graph()
    assert "bot.app" not in _reachable(graph, "bot.app")


async def test_commands_over_the_apps_control(make_settings) -> None:
    """Commands built from AppControl change what the application runs with."""
    clock = Clock()
    async with App.open(make_settings([]), clock=clock) as app:
        control: Control = AppControl(app)
        commands = Commands(control)
        await commands.watch_add(MANAGER, "Jamaat Ansarullah")
        assert "jamaat-ansarullah" in {e.id for e in app.matcher.entities}
        await commands.watch_mute(MANAGER, "iskp", "2h")
        assert app.active_mutes(clock()) == {"iskp"}
        assert control.active_mutes(clock() + timedelta(hours=3)) == frozenset()
        await commands.watch_unmute(MANAGER, "iskp")
        assert app.mutes == {}
        await commands.watch_remove(MANAGER, "Jamaat Ansarullah")
        assert await app.storage.chat_terms() == []


async def test_feeds_over_the_apps_control(feed_server: FeedServer, make_settings) -> None:
    """A feed added through the port is polled by the application, and removed again."""
    url = feed_server.feed("/f.xml", [item(1, "ISKP claims attack")])
    settings = make_settings([], allow_private_feeds=True)
    async with App.open(settings, clock=Clock()) as app:
        commands = Commands(AppControl(app))
        reply = await commands.feeds_add(MANAGER, url)
        assert reply.title == "Added Test feed (1 items now; only new ones will alert)."
        assert url in app.feeds and url in app.states
        status = await commands.feeds_status(MANAGER)
        assert status.title == "Status of 1 feeds"
        assert (await commands.feeds_remove(MANAGER, url)).title == f"Stopped polling {url}."
        assert url not in app.feeds
