"""README's configuration reference against the settings code, so the two cannot drift.

The keys each section accepts are read from the code itself: a config with one
unknown key is refused with "use one of: …", the list of every key the reader
took. A key in the code but not in README's table (or the reverse) fails with
its name. A default in the table that is a TOML value must give the same
settings as leaving the key out, so "10MB" where the code means 10 MiB fails.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bot.chat.discord.settings import discord_settings
from bot.chat.slack.sink import slack_settings
from bot.commands import PAGE_SIZE
from bot.config import config_report
from bot.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
PROBE = "not_a_real_key"
SAMPLE_FEED = ROOT / "examples" / "feeds" / "regional-security.rss"


def _keys_from_fix(error: ConfigError) -> set[str]:
    assert error.problem == "unknown key", error
    listed = error.fix.split("use one of:", 1)[1]
    return {k.strip() for k in listed.split(",") if k.strip()}


def _config_keys(data: dict[str, Any], where: str) -> set[str]:
    """The keys config_report reads at `where`, from its refusal of PROBE there."""
    report = config_report(data, ROOT / "bot.toml")
    (problem,) = [p for p in report.problems if p.where == f"{where}.{PROBE}"]
    return _keys_from_fix(problem)


def _platform_keys(read: Callable[[dict[str, Any], Path], object]) -> set[str]:
    with pytest.raises(ConfigError) as refused:
        read({PROBE: 1}, ROOT / "bot.toml")
    return _keys_from_fix(refused.value)


def code_keys(section: str) -> set[str]:
    if section == "bot":
        return _config_keys({"bot": {PROBE: 1}}, "bot")
    if section == "feeds":
        return _config_keys({"feeds": [{"url": str(SAMPLE_FEED), PROBE: 1}]}, "feeds[0]")
    if section == "channels":
        return _config_keys({"channels": [{"platform": "console", PROBE: 1}]}, "channels[0]")
    if section == "digest":
        return _config_keys({"digest": {PROBE: 1}}, "digest")
    if section == "discord":
        return _platform_keys(discord_settings)
    assert section == "slack"
    return _platform_keys(slack_settings)


HEADINGS = {
    "bot": "### `[bot]`",
    "feeds": "### `[[feeds]]`",
    "channels": "### `[[channels]]`",
    "digest": "### `[digest]`",
    "discord": "### `[discord]`",
    "slack": "### `[slack]`",
}


def readme_table(section: str) -> list[dict[str, str]]:
    """The first Markdown table under the section's heading, one dict per row."""
    lines = README.splitlines()
    heading = HEADINGS[section]
    assert heading in lines, f"README has no heading {heading!r}"
    start = lines.index(heading) + 1
    rows: list[list[str]] = []
    for line in lines[start:]:
        if line.startswith("#"):
            break
        if line.startswith("|"):
            cells = re.split(r"(?<!\\)\|", line.strip())[1:-1]
            rows.append([c.strip() for c in cells])
        elif rows:
            break
    assert len(rows) > 2, f"README has no key table under {heading!r}"
    header = [h.lower() for h in rows[0]]
    return [dict(zip(header, row, strict=True)) for row in rows[2:]]


def readme_keys(section: str) -> set[str]:
    keys: set[str] = set()
    for row in readme_table(section):
        keys |= set(re.findall(r"`([a-z_]+)`", row["key"]))
    return keys


@pytest.mark.parametrize("section", list(HEADINGS))
def test_readme_table_lists_exactly_the_keys_the_code_reads(section: str) -> None:
    in_code, in_readme = code_keys(section), readme_keys(section)
    heading = HEADINGS[section]
    missing = sorted(in_code - in_readme)
    assert not missing, f"README {heading}: keys the code reads but README omits: {missing}"
    extra = sorted(in_readme - in_code)
    assert not extra, f"README {heading}: keys README lists but the code refuses: {extra}"


def _literal(cell: str) -> Any:
    """The default cell as a TOML value, or None where it is prose (`[bot].timezone`)."""
    text = cell.strip()
    if not (text.startswith("`") and text.endswith("`")) or text.count("`") != 2:
        return None
    try:
        return tomllib.loads(f"v = {text.strip('`')}")["v"]
    except tomllib.TOMLDecodeError:
        return None


def _defaults(section: str) -> list[tuple[str, Any]]:
    found = []
    for row in readme_table(section):
        value = _literal(row.get("default", ""))
        if value is not None:
            found.append((re.findall(r"`([a-z_]+)`", row["key"])[0], value))
    return found


#: Tables that settings are compared in: enough around the key that it matters
#: (a digest time needs a digest channel).
BASES: dict[str, dict[str, Any]] = {
    "bot": {},
    "digest": {"channels": ["console:stdout"]},
}


def _settings_with(section: str, table: dict[str, Any]) -> object:
    if section in ("discord", "slack"):
        read = discord_settings if section == "discord" else slack_settings
        return read(table, ROOT / "bot.toml")
    data: dict[str, Any] = {section: table, "channels": [{"platform": "console"}]}
    report = config_report(data, ROOT / "bot.toml")
    assert not report.problems, [str(p) for p in report.problems]
    settings = report.settings
    return settings.bot if section == "bot" else settings.digest


@pytest.mark.parametrize("section", ["bot", "digest", "discord", "slack"])
def test_readme_defaults_are_the_codes_defaults(section: str) -> None:
    defaults = _defaults(section)
    assert defaults, f"README {HEADINGS[section]} gives no default to check"
    base = BASES.get(section, {})
    for key, value in defaults:
        without = {k: v for k, v in base.items() if k != key}
        left_out = _settings_with(section, without)
        written = _settings_with(section, {**without, key: value})
        code_default = getattr(left_out, key, left_out)
        assert written == left_out, (
            f"README {HEADINGS[section]}: default of {key} is {value!r}, "
            f"but the code's default differs ({code_default!r})"
        )


def test_readme_page_size_is_the_codes() -> None:
    sizes = re.findall(r"(\d+) (?:per page|to a page|entities a page)", README)
    assert sizes, "README no longer says how many entities /watch list shows per page"
    for size in sizes:
        assert int(size) == PAGE_SIZE, f"README says {size} per page; bot/commands.py: {PAGE_SIZE}"
