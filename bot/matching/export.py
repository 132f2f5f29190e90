"""Watchlists back to TOML, chat-added terms included, so a team can keep them in git."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

from bot.models import Entity


def _string(value: str) -> str:
    # A JSON string is a valid TOML basic string (same escapes).
    return json.dumps(value, ensure_ascii=False)


def entity_toml(e: Entity) -> str:
    lines = [
        "[[entity]]",
        f"id = {_string(e.id)}",
        f"name = {_string(e.name)}",
        f"kind = {_string(e.kind)}",
    ]
    if e.aliases:
        lines.append(f"aliases = [{', '.join(_string(a) for a in e.aliases)}]")
    if e.exclude:
        lines.append(f"exclude = [{', '.join(_string(x) for x in e.exclude)}]")
    if e.severity != "medium":
        lines.append(f"severity = {_string(e.severity)}")
    return "\n".join(lines) + "\n"


def export_files(entities: list[Entity]) -> dict[str, str]:
    """File name → TOML text: entities keep their source file; chat-made ones go to chat.toml."""
    by_file: dict[str, list[Entity]] = defaultdict(list)
    for e in entities:
        name = e.source.rpartition(":")[0] if e.source and e.source != "chat" else "chat.toml"
        by_file[name or "chat.toml"].append(e)
    header = "# Exported by `python -m bot watchlists export` (chat-added terms included).\n"
    return {
        name: header + "\n" + "\n".join(entity_toml(e) for e in group)
        for name, group in by_file.items()
    }


def write_export(entities: list[Entity], directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in export_files(entities).items():
        path = directory / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
