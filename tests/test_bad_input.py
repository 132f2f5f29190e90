"""Bad input ends in one readable line, never a traceback: hostile JSON, damaged databases."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
WATCHLISTS = ROOT / "tests" / "data" / "watchlists"


def bot(*args: str, stdin: bytes = b"", cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        timeout=60,
    )
    return subprocess.CompletedProcess(
        done.args, done.returncode, done.stdout.decode(), done.stderr.decode()
    )


def item_line(n: int, title: str) -> bytes:
    return json.dumps({"id": n, "title": title}).encode() + b"\n"


def test_match_skips_a_deeply_nested_line_and_goes_on() -> None:
    stdin = item_line(1, "ISKP claims") + b"[" * 100_000 + b"\n" + item_line(3, "ISKP again")
    done = bot("match", "--watchlists", str(WATCHLISTS), stdin=stdin)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert done.stderr.splitlines() == [
        "line 2: skipped, nested too deeply to read — give one flat JSON object per line"
    ]
    assert [json.loads(x)["id"] for x in done.stdout.splitlines()] == [1, 3]


def test_match_skips_a_line_that_is_not_utf8_and_goes_on() -> None:
    stdin = item_line(1, "ISKP claims") + b'{"id": 2, "title": "\xff\xfe"}\n' + item_line(3, "x")
    done = bot("match", "--watchlists", str(WATCHLISTS), stdin=stdin)
    assert done.returncode == 1
    assert done.stderr.splitlines() == ["line 2: skipped, not UTF-8 text — save the input as UTF-8"]
    assert [json.loads(x)["id"] for x in done.stdout.splitlines()] == [1, 3]


@pytest.fixture(scope="module")
def good_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real database with items in it, made by `once` on a bundled sample feed."""
    folder = tmp_path_factory.mktemp("good")
    config = write_config(folder)
    done = bot("once", "--config", str(config))
    assert done.returncode == 0, done.stderr
    return folder / "db.sqlite3"


def write_config(folder: Path) -> Path:
    sample = ROOT / "examples" / "feeds" / "regional-security.rss"
    (folder / "bot.toml").write_text(
        f'[bot]\ndatabase = "db.sqlite3"\nwatchlists = "{ROOT / "watchlists"}"\n'
        f'[[feeds]]\nurl = "{sample}"\nfirst_poll = "all"\n'
        '[[channels]]\nplatform = "jsonl"\nid = "alerts.jsonl"\n'
    )
    return folder / "bot.toml"


def damage(kind: str, good: Path, target: Path) -> None:
    """Write a damaged database of the given kind at `target`."""
    noise = random.Random(kind)
    if kind == "random bytes":
        target.write_bytes(noise.randbytes(8192))
    elif kind == "a text file":
        target.write_text("these are my notes, not a database\n")
    elif kind == "truncated":
        target.write_bytes(good.read_bytes()[:100])
    elif kind == "damaged pages":
        data = bytearray(good.read_bytes())
        page = 4096
        data[page : page * 8] = noise.randbytes(page * 7)  # the schema page is kept
        target.write_bytes(bytes(data))


DAMAGE = ["random bytes", "a text file", "truncated", "damaged pages"]
COMMANDS = [["once"], ["run"], ["backtest", "--term", "ISKP"], ["digest", "--dry-run"]]


@pytest.mark.parametrize(
    ("kind", "command"),
    [(kind, ["once"]) for kind in DAMAGE]
    + [("damaged pages", c) for c in COMMANDS[1:]]
    + [("random bytes", ["watchlists", "export"])],
)
def test_a_damaged_database_is_one_line_naming_the_file_and_the_fix(
    tmp_path: Path, good_database: Path, kind: str, command: list[str]
) -> None:
    config = write_config(tmp_path)
    database = tmp_path / "db.sqlite3"
    shutil.copy(good_database, database)
    damage(kind, good_database, database)
    done = bot(*command, "--config", str(config))
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, done.stderr
    assert errors[0].startswith(f"error: {database}: ")
    assert "restore it from a backup, or move it aside to start with a fresh database" in errors[0]
