"""Storage is the bottom layer: its interface knows only models, its engines only pure rules.

Issue 14: `bot/storage/base.py` imported from `bot.digest` and `bot.matching`, so
the lowest layer knew the highest. This keeps it from coming back.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STORAGE = ROOT / "bot" / "storage"
PROTOCOLS = (
    "base",
    "models",
    "feeds",
    "items",
    "stories",
    "outbox",
    "terms",
    "digests",
    "coordination",
)
# Pure modules (no I/O, importing only models) whose rules every engine calls.
RULES = ("bot.dedup", "bot.feeds.schedule", "bot.matching.normalize")


def bot_imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("bot"):
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("bot"))
    return found


def test_the_storage_protocols_import_only_models_and_each_other() -> None:
    for name in PROTOCOLS:
        imports = bot_imports(STORAGE / f"{name}.py")
        assert imports <= {"bot.models"} | {f"bot.storage.{p}" for p in PROTOCOLS}, name


def test_the_sqlite_engine_imports_no_stage_above_it() -> None:
    allowed = {"bot.models", "bot.errors", "bot.storage_health", *RULES}
    for path in sorted((STORAGE / "sqlite").glob("*.py")):
        above = {m for m in bot_imports(path) if not m.startswith("bot.storage")} - allowed
        assert not above, f"{path.name} imports {sorted(above)}"


def test_every_storage_file_stays_small() -> None:
    for path in sorted(STORAGE.rglob("*.py")):
        assert len(path.read_text().splitlines()) < 600, path


def test_the_postgres_engine_imports_no_stage_above_it() -> None:
    # bot.redact (lowest layer, pure): the engine names its server as every message does.
    allowed = {"bot.models", "bot.errors", "bot.storage_health", "bot.redact", *RULES}
    for path in sorted((STORAGE / "postgres").glob("*.py")):
        above = {m for m in bot_imports(path) if not m.startswith("bot.storage")} - allowed
        assert not above, f"{path.name} imports {sorted(above)}"


def test_no_module_imports_a_private_name_from_another_package() -> None:
    """A leading underscore means "this package's own": a module elsewhere that needs
    it gets a public name instead (readonly.py once imported the PostgreSQL engine's
    `_version` and `_connect_problem`)."""
    found = []
    for path in sorted((ROOT / "bot").rglob("*.py")):
        package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not (isinstance(node, ast.ImportFrom) and node.module and node.level == 0):
                continue
            if not node.module.startswith("bot.") or node.module.rpartition(".")[0] == package:
                continue
            private = [a.name for a in node.names if a.name.startswith("_")]
            if private:
                found.append(f"{path.relative_to(ROOT)}: from {node.module} import {private}")
    assert found == []
