"""`python -m bot check` validates what `run` would refuse, all of it at once.

Issue 11, item 14: configs that passed `check` and then failed at start or
never matched. Every test runs the real command in a subprocess on real
files, with the environment it is given (tokens are dummies: `check` never
connects anywhere).
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from bot.matching.watchlists import ChatTerm
from bot.storage.sqlite import open_storage

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
TOKEN_VARS = ("DISCORD_TOKEN", "SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET")


def bot(*args: str, cwd: Path = ROOT, **env: str) -> subprocess.CompletedProcess[str]:
    """Run the bot with no chat tokens in its environment except those given."""
    clean = {k: v for k, v in os.environ.items() if k not in TOKEN_VARS}
    cmd = [sys.executable, "-m", "bot", *args]
    return subprocess.run(
        cmd, cwd=cwd, capture_output=True, text=True, timeout=60, env={**clean, **env}
    )


def config(tmp_path: Path, text: str) -> Path:
    """bot.toml in tmp_path with the small test watchlist and a database path."""
    (tmp_path / "wl").mkdir(exist_ok=True)
    shutil.copy(DATA / "watchlists" / "test.toml", tmp_path / "wl" / "test.toml")
    path = tmp_path / "bot.toml"
    path.write_text(f'[bot]\nwatchlists = "wl"\ndatabase = "db/bot.sqlite3"\n{text}')
    return path


def error_lines(done: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in done.stderr.splitlines() if line.startswith("error: ")]


DISCORD_AND_SLACK = """
[[channels]]
platform = "discord"
id = "456789012345678901"
[[channels]]
platform = "slack"
id = "C0123ABCD"
"""


def test_check_names_every_problem_at_once(tmp_path: Path) -> None:
    path = config(
        tmp_path,
        'interval = "999999999d"\nparser_workers = 64\n'
        '[[feeds]]\nurl = "https://[::1/feed"\n' + DISCORD_AND_SLACK + "[slack]\nport = 70000\n",
    )
    done = bot("check", "--config", str(path))
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert error_lines(done) == [
        f"error: {path}: bot.interval: '999999999d' is longer than the limit of 30d"
        ' — write at most "30d"',
        f"error: {path}: bot.parser_workers: must be at most 16, found 64",
        f"error: {path}: feeds[0].url: 'https://[::1/feed' is not a valid URL (Invalid IPv6 URL)"
        " — write https://host/path; an IPv6 address goes in brackets: https://[::1]/feed",
        f"error: {path}: slack.port: 70000 is not a port number — use a port from 1 to 65535",
        f"error: {path}: discord.token_env: the environment variable DISCORD_TOKEN is not set"
        " — export DISCORD_TOKEN=<your bot token>",
    ]
    assert done.stderr.rstrip().endswith("5 problems: fix them all, then run the command again")


def test_check_wants_each_platforms_tokens_without_showing_them(tmp_path: Path) -> None:
    path = config(tmp_path, DISCORD_AND_SLACK)
    done = bot("check", "--config", str(path))
    assert done.returncode == 2
    assert [line.split(": ")[2] for line in error_lines(done)] == [
        "discord.token_env",
        "slack.bot_token_env",
        "slack.app_token_env",
    ]
    assert "export SLACK_APP_TOKEN=<xapp-… app-level token>" in done.stderr

    secret = "xoxb-1234-5678-SECRETVALUE"
    swapped = bot(
        "check",
        "--config",
        str(path),
        DISCORD_TOKEN="d.u.m",
        SLACK_BOT_TOKEN="xoxb-1",
        **{"SLACK_APP_TOKEN": secret},
    )
    assert swapped.returncode == 2
    (line,) = error_lines(swapped)
    assert line.endswith(
        "slack.app_token_env: SLACK_APP_TOKEN holds xoxb-…, not a xapp-… token"
        " — export SLACK_APP_TOKEN=<xapp-… app-level token>"
    )
    assert "SECRETVALUE" not in swapped.stderr + swapped.stdout

    ok = bot(
        "check",
        "--config",
        str(path),
        DISCORD_TOKEN="d.u.m",
        SLACK_BOT_TOKEN="xoxb-1",
        SLACK_APP_TOKEN="xapp-1",
    )
    assert ok.returncode == 0, ok.stderr
    assert "OK — 0 feeds, 2 channels" in ok.stdout


def test_http_mode_needs_the_signing_secret_not_the_app_token(tmp_path: Path) -> None:
    path = config(tmp_path, DISCORD_AND_SLACK + '[slack]\nmode = "http"\n')
    done = bot("check", "--config", str(path), DISCORD_TOKEN="x", SLACK_BOT_TOKEN="xoxb-1")
    assert done.returncode == 2
    (line,) = error_lines(done)
    assert "slack.signing_secret_env: the environment variable SLACK_SIGNING_SECRET" in line


def test_run_refuses_what_check_refuses_before_opening_anything(tmp_path: Path) -> None:
    path = config(tmp_path, DISCORD_AND_SLACK)
    checked = bot("check", "--config", str(path))
    ran = bot("run", "--config", str(path))
    assert ran.returncode == checked.returncode == 2
    assert error_lines(ran) == error_lines(checked)
    assert not (tmp_path / "db").exists()  # no database created, nothing connected


FILTERS = """
[[feeds]]
url = "https://example.org/dawn.xml"
name = "Dawn"
[[channels]]
platform = "console"
[[channels]]
platform = "jsonl"
id = "out.jsonl"
entities = ["iskp", "isk", "nobody_at_all", "chat_made"]
kinds = ["group", "Region", "topic", "groups"]
feeds = ["Dawn", "dawn", "https://example.org/dawn.xml", "Daily Nonsense", "Chat Feed"]
"""


def test_channel_filters_must_name_what_exists(tmp_path: Path) -> None:
    path = config(tmp_path, FILTERS)
    done = bot("check", "--config", str(path))
    assert done.returncode == 2
    problems = [line.split(f"{path}: ", 1)[1] for line in error_lines(done)]
    assert problems == [
        "channels[1].feeds[1]: 'dawn' is not the name or URL of a feed, so this channel gets"
        ' nothing — write it as "Dawn" (names are case-sensitive)',
        "channels[1].feeds[3]: 'Daily Nonsense' is not the name or URL of a feed, so this"
        " channel gets nothing — use the name or URL of one of the [[feeds]]",
        "channels[1].feeds[4]: 'Chat Feed' is not the name or URL of a feed, so this channel"
        " gets nothing — use the name or URL of one of the [[feeds]]",
        f"channels[1].entities[1]: no entity 'isk' in {tmp_path.resolve() / 'wl'}, so this"
        ' filter never matches — did you mean "iskp"?',
        f"channels[1].entities[2]: no entity 'nobody_at_all' in {tmp_path.resolve() / 'wl'}, so"
        " this filter never matches — use the id of an [[entity]] in the watchlist files",
        f"channels[1].entities[3]: no entity 'chat_made' in {tmp_path.resolve() / 'wl'}, so"
        " this filter never matches — use the id of an [[entity]] in the watchlist files",
        "channels[1].kinds[1]: no entity has kind 'Region', so this filter never matches"
        ' — write it as "region" (names are case-sensitive)',
        "channels[1].kinds[3]: no entity has kind 'groups', so this filter never matches"
        ' — did you mean "group"?',
    ]
    assert not (tmp_path / "db").exists()  # check looked for chat additions, created nothing


def test_entities_and_feeds_added_from_chat_count(tmp_path: Path) -> None:
    path = config(tmp_path, FILTERS)

    async def add_from_chat() -> None:
        now = datetime.now(UTC)
        async with open_storage(tmp_path / "db" / "bot.sqlite3") as storage:
            await storage.add_chat_term(ChatTerm("chat_made", "Chat Made", "topic"), "U1", now)
            await storage.add_feed("https://example.net/chat.xml", "Chat Feed", "U1", now)

    asyncio.run(add_from_chat())
    before = (tmp_path / "db" / "bot.sqlite3").read_bytes()
    done = bot("check", "--config", str(path))
    remaining = [
        re.sub(r".*?: (channels\[\d\]\.\w+\[\d\]):.*", r"\1", x) for x in error_lines(done)
    ]
    assert remaining == [
        "channels[1].feeds[1]",
        "channels[1].feeds[3]",
        "channels[1].entities[1]",
        "channels[1].entities[2]",
        "channels[1].kinds[1]",
        "channels[1].kinds[3]",
    ]
    assert (tmp_path / "db" / "bot.sqlite3").read_bytes() == before  # read-only


def test_a_database_that_is_not_the_bots_is_reported_by_check(tmp_path: Path) -> None:
    path = config(tmp_path, "[[channels]]\nplatform = 'console'\n")
    (tmp_path / "db").mkdir()
    with sqlite3.connect(tmp_path / "db" / "bot.sqlite3") as other:
        other.execute("CREATE TABLE photos (id INTEGER)")
    done = bot("check", "--config", str(path))
    assert done.returncode == 2
    (line,) = error_lines(done)
    assert line.startswith(f"error: {path}: bot.database: cannot be used: ")
    assert "belongs to another program" in line


def test_byte_order_marks_in_config_and_watchlists_are_accepted(tmp_path: Path) -> None:
    path = config(tmp_path, "[[channels]]\nplatform = 'console'\n")
    for file in (path, tmp_path / "wl" / "test.toml"):
        file.write_text(file.read_text(), encoding="utf-8-sig")
    done = bot("check", "--config", str(path))
    assert done.returncode == 0, done.stderr


def test_watchlist_folder_oddities_are_one_line_each(tmp_path: Path) -> None:
    path = config(tmp_path, "[[channels]]\nplatform = 'console'\n")
    (tmp_path / "wl" / "archive").mkdir()
    (tmp_path / "wl" / "dangling.toml").symlink_to(tmp_path / "wl" / "nowhere.toml")
    (tmp_path / "wl" / "folder.toml").mkdir()
    done = bot("check", "--config", str(path))
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert [line.split(": ")[1] for line in error_lines(done)] == [
        str(tmp_path / "wl" / "dangling.toml"),
        str(tmp_path / "wl" / "folder.toml"),
    ]
    assert "skipping the subfolder archive/" in done.stderr


# -- every shipped example passes check --------------------------------------------------


def _uncommented_chat_sections(text: str) -> str:
    """bot.toml with its commented-out Discord and Slack example switched on."""
    start = text.index("# [discord]")
    end = text.index('# severity = "high"') + len('# severity = "high"')
    block = [
        line[2:] if re.match(r"# (\[|[a-z_]+ = )", line) else line
        for line in text[start:end].splitlines()
    ]
    return text[:start] + "\n".join(block) + text[end:]


def _readme_toml_blocks() -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    return [b for b in re.findall(r"```toml\n(.*?)```", readme, re.S) if "[[channels]]" in b]


DUMMY_TOKENS = {
    "DISCORD_TOKEN": "dummy.discord.token",
    "SLACK_BOT_TOKEN": "xoxb-dummy",
    "SLACK_APP_TOKEN": "xapp-dummy",
    "SLACK_SIGNING_SECRET": "dummy",
}


def test_the_shipped_config_passes_check_with_no_tokens() -> None:
    done = bot("check")
    assert done.returncode == 0, done.stderr
    assert "OK" in done.stdout


def test_the_shipped_config_with_its_chat_example_switched_on_passes(tmp_path: Path) -> None:
    text = _uncommented_chat_sections((ROOT / "bot.toml").read_text(encoding="utf-8"))
    assert "\n[discord]\n" in text and "\n[slack]\n" in text
    shutil.copytree(ROOT / "watchlists", tmp_path / "watchlists")  # its relative paths
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    (tmp_path / "bot.toml").write_text(text, encoding="utf-8")
    done = bot("check", "--config", str(tmp_path / "bot.toml"), **DUMMY_TOKENS)
    assert done.returncode == 0, done.stderr
    assert "3 channels" in done.stdout


def test_the_readme_config_examples_pass_check(tmp_path: Path) -> None:
    blocks = _readme_toml_blocks()
    assert len(blocks) == 2  # Discord and Slack
    for block in blocks:
        path = config(tmp_path, block)
        done = bot("check", "--config", str(path), **DUMMY_TOKENS)
        assert done.returncode == 0, f"{block}\n{done.stderr}"


def test_doubtful_but_workable_setups_are_warnings_not_errors(tmp_path: Path) -> None:
    path = config(
        tmp_path,
        '[[channels]]\nplatform = "slack"\nid = "C0123ABCD"\n[discord]\ntoken_env = "DT"\n',
    )
    user_token = "xoxp-user-SECRETVALUE"
    done = bot("check", "--config", str(path), SLACK_BOT_TOKEN=user_token, SLACK_APP_TOKEN="xapp-1")
    assert done.returncode == 0, done.stderr
    assert '[discord] is configured but no [[channels]] has platform = "discord"' in done.stderr
    assert "SLACK_BOT_TOKEN holds xoxp-…, not a xoxb-… token" in done.stderr
    assert "SECRETVALUE" not in done.stderr + done.stdout


def test_a_garbage_database_is_reported_by_check_and_left_to_storage_by_run(
    tmp_path: Path,
) -> None:
    path = config(tmp_path, "[[channels]]\nplatform = 'console'\n")
    (tmp_path / "db").mkdir()
    (tmp_path / "db" / "bot.sqlite3").write_bytes(b"this is not a database at all" * 100)
    checked = bot("check", "--config", str(path))
    assert checked.returncode == 2
    (line,) = error_lines(checked)
    assert "bot.database: cannot be used: " in line and "not a usable SQLite database" in line
    ran = bot("once", "--config", str(path))
    assert ran.returncode != 0
    assert "bot.database: cannot be used" not in ran.stderr  # storage says it its own way
    assert "Traceback" not in ran.stderr


def test_a_database_locked_by_a_running_bot_is_only_a_warning(tmp_path: Path) -> None:
    path = config(tmp_path, "[[channels]]\nplatform = 'console'\n")
    (tmp_path / "db").mkdir()
    holder = sqlite3.connect(tmp_path / "db" / "bot.sqlite3", isolation_level=None)
    try:
        holder.execute("PRAGMA locking_mode = EXCLUSIVE")
        holder.execute("BEGIN EXCLUSIVE")
        holder.execute("CREATE TABLE held (x)")
        done = bot("check", "--config", str(path))
    finally:
        holder.close()
    assert done.returncode == 0, done.stderr
    assert "the database is busy (is the bot running?)" in done.stderr
