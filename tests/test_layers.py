"""The import rules of bot/: layers, no circles, chat libraries only in their adapters.

Every module under bot/ is parsed (not imported) with `ast`, and every import
counts: at the top, inside functions, and under `if TYPE_CHECKING:` — a type
import is still a dependency a reader and a second storage engine must follow.

The rules (docs/architecture.md, "## Layers"):
1. No import circle between modules.
2. A module imports only from its own layer or lower ones (LAYERS, lowest first).
3. Only bot/chat/discord imports discord, only bot/chat/slack imports slack_bolt
   and slack_sdk: the core never sees a chat platform's library.

Violations known when this test was written are listed in KNOWN_CIRCLES and
KNOWN_LAYER_BREACHES, each with the part of issue 14 that removes it. Each is an
`xfail(strict=True)` case of its own: when the work that removes it lands, the
case passes, strict xfail turns that into a failure, and its entry is deleted
here. The main tests check everything else, so no new violation gets in meanwhile.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from itertools import pairwise
from pathlib import Path

import pytest

BOT = Path(__file__).resolve().parent.parent / "bot"

# Lowest first. A module's layer is that of the longest entry equal to its name
# or a package containing it ("bot.storage" covers bot/storage/sqlite.py). Some
# names are mapped ahead of the parallel parts of issue 14 that add them
# (bot.stories.rules, bot.control, bot.command_catalogue, bot.app_control).
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "foundation",  # plain data, errors and helpers everything may use
        (
            "bot",
            "bot.errors",
            "bot.models",
            "bot.redact",
            "bot.logs",
            "bot.metrics",
            "bot.config_values",
            "bot.storage_health",
            "bot.ops.opml",
            "bot.safe_xml",
            "bot.heap",
            "bot.tls",
            "bot.toml_handover",
        ),
    ),
    ("config", ("bot.config",)),
    (
        # Pure decisions over plain data that the storage engines apply inside their
        # write lock (which keys make an item a repeat, a feed's usual gap): the
        # rule lives here once, so a second engine calls it instead of copying it.
        "rules",
        ("bot.dedup", "bot.feeds.schedule", "bot.matching.normalize", "bot.matching.unicode_marks"),
    ),
    ("storage", ("bot.storage",)),  # stores, loads and locks; knows no domain rule
    (
        "domain",  # the pipeline's pure decisions and their data
        (
            "bot.feeds",
            "bot.dedup",
            "bot.matching",
            "bot.stories",
            "bot.stories.rules",
            "bot.delivery.routing",
            "bot.delivery.flood",
            "bot.digest",
            "bot.backtest",
        ),
    ),
    ("ports", ("bot.chat", "bot.chat.base", "bot.chat.format")),  # the Sink port, neutral text
    (
        "services",  # loops and jobs over storage, domain and ports
        (
            "bot.delivery",  # the packages themselves: docstrings only
            "bot.ops",
            "bot.poller",
            "bot.delivery.outbox",
            "bot.delivery.flood_windows",
            "bot.digest.service",
            "bot.ops.feed_transfer",
            "bot.ops.backup",
            "bot.ops.health",
            "bot.ops.http_status",
        ),
    ),
    ("control port", ("bot.control",)),  # what commands may ask of the running application
    ("commands", ("bot.commands", "bot.command_catalogue")),  # what chat users may do
    (
        "chat adapters",
        ("bot.chat.console", "bot.chat.jsonl", "bot.chat.discord", "bot.chat.slack"),
    ),
    # The composition root, its start-up checks and its side of the control port.
    (
        "app",
        (
            "bot.app",
            "bot.app_control",
            "bot.app_shared",
            "bot.app_sinks",
            "bot.app_warmup",
            "bot.app_watchlists",
            "bot.preflight",
        ),
    ),
    ("command line", ("bot.__main__", "bot.cli", "bot.ops.import_progress")),
)

# Third-party libraries only one adapter may import: library → the package allowed to.
PLATFORM_LIBRARIES = {
    "discord": "bot.chat.discord",
    "slack_bolt": "bot.chat.slack",
    "slack_sdk": "bot.chat.slack",
}


@dataclass(frozen=True)
class Known:
    """A violation that existed when this test was written, and who removes it."""

    importer: str
    imported: str
    part: str  # the part of issue 14 whose work removes it

    @property
    def id(self) -> str:
        return f"{self.importer}->{self.imported}"


# Import circles, each named by the edge whose removal breaks it.
KNOWN_CIRCLES: tuple[Known, ...] = ()
# Imports from a higher layer.
KNOWN_LAYER_BREACHES: tuple[Known, ...] = ()


@dataclass(frozen=True)
class Import:
    importer: str
    imported: str  # a module of bot/, or a top-level third-party name
    line: int

    @property
    def where(self) -> str:
        return f"{module_path(self.importer)}:{self.line}"


def module_path(module: str) -> str:
    return str(modules()[module].relative_to(BOT.parent))


@cache
def modules() -> dict[str, Path]:
    """Every module under bot/ by dotted name (a package by its __init__.py)."""
    out = {}
    for path in sorted(BOT.rglob("*.py")):
        parts = list(path.relative_to(BOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _own_module(name: str) -> str:
    """The module of bot/ a dotted name refers to: itself, or the module defining it."""
    known = modules()
    while name not in known:
        name = name.rpartition(".")[0]
    return name


def _imports_of(module: str, path: Path) -> Iterator[Import]:
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names = [(a.name, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from .x import y
                anchor = package
                for _ in range(node.level - 1):
                    anchor = anchor.rpartition(".")[0]
                base = f"{anchor}.{base}" if base else anchor
            # "from bot.stories import tracker" imports the module bot.stories.tracker.
            names = [(base, f"{base}.{a.name}") for a in node.names]
        else:
            continue
        for name, submodule in names:
            top = name.partition(".")[0]
            if top != "bot":
                yield Import(module, top, node.lineno)
                continue
            target = submodule if submodule in modules() else _own_module(name)
            if target != module:
                yield Import(module, target, node.lineno)


@cache
def imports() -> tuple[Import, ...]:
    return tuple(i for m, p in modules().items() for i in _imports_of(m, p))


def graph(without: tuple[Known, ...] = ()) -> dict[str, dict[str, Import]]:
    """importer → imported module of bot/ → one import that does it (the first)."""
    skip = {(k.importer, k.imported) for k in without}
    out: dict[str, dict[str, Import]] = {m: {} for m in modules()}
    for i in imports():
        if i.imported in modules() and (i.importer, i.imported) not in skip:
            out[i.importer].setdefault(i.imported, i)
    return out


def layer_of(module: str) -> tuple[int, str]:
    """(rank, name) of the module's layer; an unmapped module fails, naming the fix."""
    best: tuple[int, int, str] | None = None  # (prefix length, rank, layer)
    for rank, (layer, prefixes) in enumerate(LAYERS):
        for p in prefixes:
            covers = module == p or (p != "bot" and module.startswith(p + "."))
            if covers and (best is None or len(p) > best[0]):
                best = (len(p), rank, layer)
    if best is None:
        pytest.fail(
            f"{module_path(module)} ({module}) is in no layer: add it to LAYERS in "
            "tests/test_layers.py, and to the module map in docs/architecture.md"
        )
    return best[1], best[2]


def tangles(g: dict[str, dict[str, Import]]) -> list[list[str]]:
    """Groups of modules that all reach each other through imports (Tarjan's strongly
    connected components of more than one module): each holds at least one circle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(g[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for v in sorted(g):
        if v not in index:
            visit(v)
    return groups


def circle_through(
    g: dict[str, dict[str, Import]], group: list[str], start: str | None = None
) -> list[str]:
    """A shortest path from `start` (the group's first module) back to itself, in the group."""
    start, members = start or group[0], set(group)
    paths = {start: [start]}
    queue = [start]
    while queue:
        v = queue.pop(0)
        for w in sorted(g[v]):
            if w == start:
                return [*paths[v], start]
            if w in members and w not in paths:
                paths[w] = [*paths[v], w]
                queue.append(w)
    raise AssertionError(f"no circle in {group}")  # pragma: no cover - Tarjan found one


def describe_circle(g: dict[str, dict[str, Import]], circle: list[str]) -> str:
    steps = [f"  {a} imports {b} ({g[a][b].where})" for a, b in pairwise(circle)]
    return "import circle " + " → ".join(circle) + ":\n" + "\n".join(steps)


def describe_breach(i: Import) -> str:
    (rank, layer), (their_rank, their_layer) = layer_of(i.importer), layer_of(i.imported)
    return (
        f"{i.where}: {i.importer} ({layer}, layer {rank}) imports {i.imported} "
        f"({their_layer}, layer {their_rank}), a higher layer"
    )


def breaches(g: dict[str, dict[str, Import]]) -> list[Import]:
    return [
        i
        for importer, targets in g.items()
        for i in targets.values()
        if layer_of(i.imported)[0] > layer_of(importer)[0]
    ]


# --- the rules ---------------------------------------------------------------------------


def test_every_module_is_in_a_layer() -> None:
    for module in modules():
        layer_of(module)  # fails naming the file and the fix


def test_no_import_circle() -> None:
    g = graph(without=KNOWN_CIRCLES)
    found = tangles(g)
    assert not found, "\n".join(
        f"{describe_circle(g, circle_through(g, group))}\n  (all of these import each other, "
        f"directly or not: {', '.join(group)})"
        for group in found
    )


def test_no_module_imports_from_a_higher_layer() -> None:
    found = breaches(graph(without=KNOWN_LAYER_BREACHES))
    assert not found, "\n".join(map(describe_breach, found))


def test_only_the_adapters_import_chat_platform_libraries() -> None:
    found = [
        f"{i.where}: {i.importer} imports {i.imported}; only {PLATFORM_LIBRARIES[i.imported]} "
        "may (the core talks to chat platforms through bot/chat/base.py's Sink)"
        for i in imports()
        if i.imported in PLATFORM_LIBRARIES
        and not (
            i.importer == PLATFORM_LIBRARIES[i.imported]
            or i.importer.startswith(PLATFORM_LIBRARIES[i.imported] + ".")
        )
    ]
    assert not found, "\n".join(found)


def _known(cases: tuple[Known, ...], rule: str) -> list[object]:
    return [
        pytest.param(
            k,
            id=k.id,
            marks=pytest.mark.xfail(
                strict=True, reason=f"known {rule}; removed by issue 14's {k.part!r} part"
            ),
        )
        for k in cases
    ]


@pytest.mark.parametrize("known", _known(KNOWN_CIRCLES, "import circle"))
def test_known_circle_is_gone(known: Known) -> None:
    """Passes (and so fails as strict xfail) once the import is no longer on a circle."""
    g = graph()
    on_circle = [
        group
        for group in tangles(g)
        if known.importer in group
        and known.imported in group
        and known.imported in g[known.importer]
    ]
    # The import and a way back from the imported module to the importer.
    circles = [circle_through(g, group, known.importer) for group in on_circle]
    assert not circles, "\n".join(describe_circle(g, c) for c in circles)


@pytest.mark.parametrize("known", _known(KNOWN_LAYER_BREACHES, "import from a higher layer"))
def test_known_layer_breach_is_gone(known: Known) -> None:
    """Passes (and so fails as strict xfail) once the import is gone."""
    found = [
        i for i in breaches(graph()) if (i.importer, i.imported) == (known.importer, known.imported)
    ]
    assert not found, "\n".join(map(describe_breach, found))


MAX_MODULE_LINES = 600  # issue 14: a newcomer reads a module in one sitting


def test_every_module_stays_under_the_line_limit() -> None:
    too_long = {
        str(path.relative_to(BOT.parent)): lines
        for path in sorted(BOT.rglob("*.py"))
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    }
    assert not too_long, f"split these modules (lines > {MAX_MODULE_LINES}): {too_long}"
