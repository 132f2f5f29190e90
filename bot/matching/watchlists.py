"""Load and validate watchlists/*.toml into Entity objects.

Analysts edit these files by hand, so every problem is reported with the file,
the line of the offending [[entity]] and what to write instead.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

import tomli

from bot.errors import ConfigError, raise_collected
from bot.matching.alias_forms import forms
from bot.matching.normalize import phrase_words
from bot.models import SEVERITIES, Entity
from bot.models import ChatTerm as ChatTerm  # re-exported: it lives low, storage loads it

log = logging.getLogger(__name__)

ENTITY_ID = re.compile(r"^[a-z0-9_-]+$")
_ENTITY_HEADER = re.compile(r"^[ \t]*\[\[[ \t]*entity[ \t]*\]\]", re.MULTILINE)
_ENTITY_KEYS = ("id", "name", "kind", "aliases", "exclude", "severity", "context", "loose")


# An ASCII phrase has a word to match if and only if it has one of these: normalize.scan
# makes a word of every run of ASCII letters and digits, and of a lone "&" ("and").
_ASCII_WORD_CHAR = re.compile(r"[A-Za-z0-9&]")


def has_words(phrase: str) -> bool:
    """Whether matching would see any word in `phrase` (`phrase_words(phrase)` is not
    empty). ASCII phrases are answered by one regular expression: validating every alias
    this way at start-up leaves their full scan to the match index's deferred build."""
    if phrase.isascii():
        return _ASCII_WORD_CHAR.search(phrase) is not None
    return bool(phrase_words(phrase).folded)


def load_watchlists(
    directory: Path,
    extra_terms: Iterable[ChatTerm] = (),
    removed: Iterable[tuple[str, str]] = (),
) -> list[Entity]:
    """Every *.toml file in `directory`, in name order, plus terms added from chat,
    less the file aliases removed from chat ((entity id, alias) pairs).

    Problems are collected across files and entities (one per entity) and
    raised together, so an analyst fixes a batch of edits in one go. Shared and
    risky aliases are logged as warnings.
    """
    entities = read_watchlists(directory)
    log_term_warnings(directory, entities)
    return apply_chat_changes(entities, extra_terms, removed)


def read_watchlists(directory: Path) -> list[Entity]:
    """The entities of the watchlist files, validated (every error raised, as by
    `load_watchlists`) but without the advisory warnings: `run` and `once` log those
    when they build the match index, which they defer until it is needed (issue 13:
    at 10,000 aliases the warnings' checks cost about a tenth of a second of start-up)."""
    if not directory.is_dir():
        raise ConfigError(
            str(directory), "", "watchlist directory not found", "set bot.watchlists to a folder"
        )
    problems: list[ConfigError] = []
    files = watchlist_files(directory, problems)
    if not files and not problems:
        raise ConfigError(
            str(directory),
            "",
            "no watchlist files (*.toml) in this directory",
            "add at least one file with [[entity]] tables",
        )
    entities: list[Entity] = []
    where: dict[str, str] = {}
    for path in files:
        for entity, line in _load_file(path, problems):
            if entity.id in where:
                problems.append(
                    ConfigError(
                        str(path),
                        f"line {line}",
                        f"entity id {entity.id!r} is already used in {where[entity.id]}",
                        "give each entity a unique id",
                    )
                )
                continue
            where[entity.id] = f"{path.name} line {line}"
            entities.append(entity)
    raise_collected(problems)
    if not entities:
        raise ConfigError(
            str(directory), "", "the watchlist files define no entity", "add [[entity]] tables"
        )
    _check_exclusions(directory, entities)
    return entities


def apply_chat_changes(
    entities: list[Entity],
    extra_terms: Iterable[ChatTerm] = (),
    removed: Iterable[tuple[str, str]] = (),
) -> list[Entity]:
    """The files' entities less the aliases removed from chat, plus the terms added there."""
    gone = set(removed)
    if gone:
        entities = [
            replace(e, aliases=tuple(a for a in e.aliases if (e.id, a) not in gone))
            for e in entities
        ]
    return merge_chat_terms(entities, extra_terms)


def watchlist_files(directory: Path, problems: list[ConfigError]) -> list[Path]:
    """The *.toml files directly in `directory`, in name order.

    Hidden files are skipped; subfolders (an `archive/` kept beside the
    lists) are skipped with a log line; a `*.toml` that is a folder or a link
    to nothing is a problem, reported with the fix: the user meant it loaded.
    """
    files: list[Path] = []
    for path in sorted(directory.iterdir()):
        if path.name.startswith("."):
            continue  # hidden: editors' lock and backup files (Emacs' .#name.toml links)
        if path.is_dir():
            if path.suffix == ".toml":
                problems.append(
                    ConfigError(
                        str(path),
                        "",
                        "is a folder, not a watchlist file",
                        "rename it so its name does not end in .toml, or move it out",
                    )
                )
            else:
                log.info(
                    "%s: skipping the subfolder %s/ (only *.toml files directly in %s are loaded)",
                    directory,
                    path.name,
                    directory,
                )
            continue
        if path.suffix != ".toml":
            continue
        if path.is_symlink() and not path.exists():
            problems.append(
                ConfigError(
                    str(path),
                    "",
                    f"is a link to {str(path.readlink())!r}, which does not exist",
                    "point the link at an existing file or remove it",
                )
            )
            continue
        files.append(path)
    return files


def _check_exclusions(directory: Path, entities: list[Entity]) -> None:
    """Refuse an exclusion that equals an alias: the entity could never match.

    Only entities with exclusions are looked at (the keys of every alias of every
    entity were a third of loading a 10,000-alias watchlist)."""
    for e in entities:
        if not e.exclude:
            continue
        keys: dict[str, str] = {}
        for alias in e.all_aliases:
            for key in forms(alias).keys:
                keys[key] = alias
        for phrase in e.exclude:
            same = [keys[k] for k in sorted(forms(phrase).keys) if k in keys]
            if same:
                path, _, line = e.source.rpartition(":")
                raise ConfigError(
                    str(directory / path),
                    f"line {line} (entity {e.id!r})",
                    f"exclude phrase {phrase!r} equals its alias {same[0]!r}, "
                    "so the entity could never match",
                    "remove one of them",
                )


def log_term_warnings(directory: Path, entities: list[Entity]) -> None:
    """Warn about shared and risky aliases of the files' entities (`read_watchlists`).

    A shared alias is not an error: big person lists hold namesakes and
    spellings that normalise alike, and refusing the whole watchlist over one
    pair helps nobody. The matcher alerts for every owner, marked ambiguous.
    """
    collisions, risky = term_findings(entities)
    if collisions:
        log.warning(
            "%s: %d alias%s shared by several entities (items naming them alert for each, "
            "marked ambiguous; add context = [...] to tell namesakes apart): %s",
            directory,
            len(collisions),
            "es" * (len(collisions) != 1),
            "; ".join(collisions),
        )
    for e, alias, reason in risky:
        path, _, line = e.source.rpartition(":")
        where = f"line {line} (entity {e.id!r})"
        log.warning("%s: %s: alias %r is risky: %s", directory / path, where, alias, reason)


def alias_collisions(entities: Iterable[Entity]) -> list[str]:
    """Every alias two entities share after normalisation, one line per pair, in file order.

    "'Said Karimi' (a.toml:3, entity 'said_karimi_tj') = 'Saeed Karimi' (b.toml:9,
    entity 'said_karimi_af')".
    """
    return term_findings(entities)[0]


def term_findings(
    entities: Iterable[Entity],
) -> tuple[list[str], list[tuple[Entity, str, str]]]:
    """alias_collisions, and every risky_aliases finding as (entity, alias, reason) in
    entity order: one pass over the aliases and their records for both warnings."""
    owners: dict[str, list[tuple[Entity, str]]] = {}
    risky: list[tuple[Entity, str, str]] = []
    for e in entities:
        loose = e.loose
        for alias in e.all_aliases:
            record = forms(alias)
            for key in record.keys:
                listed = owners.get(key)
                if listed is None:
                    owners[key] = [(e, alias)]
                else:
                    listed.append((e, alias))
            if record.risks and alias not in loose:
                risky.extend((e, alias, reason) for reason in record.risks)
    out: dict[tuple[str, str, str, str], str] = {}
    for listed in owners.values():
        if len(listed) == 1:
            continue  # nearly every key: one alias, no pair
        for k, (first, first_alias) in enumerate(listed):
            for second, second_alias in listed[k + 1 :]:
                if first.id == second.id:
                    continue
                pair = (first.id, first_alias, second.id, second_alias)
                out.setdefault(
                    pair,
                    f"{first_alias!r} ({first.source}, entity {first.id!r}) = "
                    f"{second_alias!r} ({second.source}, entity {second.id!r})",
                )
    return list(out.values()), risky


def risky_aliases(entity: Entity) -> list[tuple[str, str]]:
    """(alias, reason) for each alias of the entity that would match far too much,
    unless the entity lists it under `loose` (the analyst accepted it)."""
    return [
        (alias, reason)
        for alias in entity.all_aliases
        if alias not in entity.loose
        for reason in forms(alias).risks
    ]


def term_warnings(directory: Path, entities: Iterable[Entity]) -> list[str]:
    """Every warning about the watchlist terms, for `check` to print in full."""
    collisions, risky = term_findings(entities)
    out = [f"alias shared by several entities: {c}" for c in collisions]
    for e, alias, reason in risky:
        out.append(f"{directory / e.source}: entity {e.id!r}: alias {alias!r} is risky: {reason}")
    return out


def merge_chat_terms(entities: list[Entity], terms: Iterable[ChatTerm]) -> list[Entity]:
    """Add chat terms as aliases of existing entities, or as new entities."""
    by_id = {e.id: e for e in entities}
    order = [e.id for e in entities]
    for t in terms:
        existing = by_id.get(t.entity_id)
        if existing is None:
            by_id[t.entity_id] = Entity(t.entity_id, t.term, t.kind, source="chat")
            order.append(t.entity_id)
        elif t.term not in existing.all_aliases:
            by_id[t.entity_id] = replace(existing, aliases=(*existing.aliases, t.term))
    return [by_id[i] for i in order]


def _read(path: Path) -> str:
    """The file's text; a UTF-8 byte-order mark (Windows editors add one) is dropped."""
    try:
        return path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ConfigError(str(path), "", "is not UTF-8 text", "save it as UTF-8") from None
    except PermissionError:
        raise ConfigError(
            str(path),
            "",
            "cannot read the file (permission denied)",
            "let the bot's user read it, e.g. chmod a+r on the file",
        ) from None
    except OSError as e:
        raise ConfigError(str(path), "", f"cannot read the file ({e.strerror})") from None


def _load_file(path: Path, problems: list[ConfigError]) -> list[tuple[Entity, int]]:
    """The file's valid entities with their lines; every problem goes to `problems`."""
    try:
        text = _read(path)
        try:
            data = tomli.loads(text)
        except tomli.TOMLDecodeError as e:
            raise ConfigError(str(path), "", f"invalid TOML: {e}", "fix the syntax there") from None
        extra = sorted(set(data) - {"entity"})
        if extra:
            raise ConfigError(
                str(path),
                f"key {extra[0]!r}",
                "unknown top-level key",
                "a watchlist holds only [[entity]] tables",
            )
        tables = data.get("entity", [])
        if not isinstance(tables, list):
            raise ConfigError(str(path), "entity", "must be [[entity]] tables, not [entity]")
    except ConfigError as e:
        problems.append(e)
        return []
    lines = _header_lines(text)
    out = []
    name = path.name
    for i, table in enumerate(tables):
        line = lines[i] if i < len(lines) else 0
        try:
            out.append((_entity(path, line, i, table, f"{name}:{line}"), line))
        except ConfigError as e:
            problems.append(e)
    return out


def _header_lines(text: str) -> list[int]:
    """The line number of each [[entity]] header, counted in one pass over the text.

    Counting from the file's start for every header was quadratic: 0.7 s for
    a 4,000-entity file, more than parsing it.
    """
    lines = []
    line, counted = 1, 0
    for m in _ENTITY_HEADER.finditer(text):
        line += text.count("\n", counted, m.start())
        counted = m.start()
        lines.append(line)
    return lines


def _entity(path: Path, line: int, index: int, t: dict[str, Any], source: str) -> Entity:
    """One [[entity]] table as an Entity ("file.toml:line" its source), or the
    ConfigError of its first problem."""

    def fail(key: str, problem: str, fix: str = "") -> ConfigError:
        where = f"line {line} (entity #{index + 1})" if line else f"entity #{index + 1}"
        return ConfigError(str(path), f"{where}, key {key!r}", problem, fix)

    for key in t:
        if key not in _ENTITY_KEYS:
            raise fail(key, "unknown key", f"use only {', '.join(_ENTITY_KEYS)}")

    def text(key: str, required: bool = True, default: str = "") -> str:
        value = t.get(key)
        if value is None:
            if required:
                raise fail(key, "is missing", f'add {key} = "..."')
            return default
        if not isinstance(value, str) or not value.strip():
            raise fail(key, f"expected a non-empty string, found {value!r}")
        return value.strip()

    def phrases(key: str) -> tuple[str, ...]:
        value = t.get(key)
        if value is None:
            return ()  # most entities leave out loose, exclude and context
        if not isinstance(value, list):
            raise fail(
                key, f"expected a list of strings, found {value!r}", f'write {key} = ["..."]'
            )
        for j, v in enumerate(value):
            if not isinstance(v, str) or not v.strip():
                raise fail(f"{key}[{j}]", f"expected a non-empty string, found {v!r}")
            if not has_words(v):
                raise fail(f"{key}[{j}]", f"{v!r} has no letters or digits to match")
        return tuple(dict.fromkeys(map(str.strip, value)))

    entity_id = text("id")
    if not ENTITY_ID.match(entity_id):
        raise fail(
            "id", f"{entity_id!r} is not a valid id", "use lower-case letters, digits, - and _"
        )
    name = text("name")
    if not has_words(name):
        raise fail("name", f"{name!r} has no letters or digits to match")
    severity = text("severity", required=False, default="medium")
    if severity not in SEVERITIES:
        raise fail("severity", f"unknown severity {severity!r}", "use low, medium or high")
    aliases = phrases("aliases")
    loose = phrases("loose")
    listed = (name, *aliases)
    for j, alias in enumerate(loose):
        if alias not in listed:
            raise fail(
                f"loose[{j}]",
                f"{alias!r} is not one of this entity's aliases",
                "list it in aliases (or as the name) too, written the same way",
            )
    return Entity(
        id=entity_id,
        name=name,
        kind=text("kind"),
        aliases=aliases,
        exclude=phrases("exclude"),
        severity=severity,
        source=source,
        context=phrases("context"),
        loose=loose,
    )
