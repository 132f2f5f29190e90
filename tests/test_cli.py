"""`python -m bot check` and friends, as a user runs them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def bot(*args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "bot", *args]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=60)


def test_check_accepts_the_shipped_config() -> None:
    done = bot("check")
    assert done.returncode == 0, done.stderr
    assert "OK" in done.stdout and "entities" in done.stdout


def test_check_reports_a_broken_watchlist_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "wl").mkdir()
    (tmp_path / "wl" / "a.toml").write_text(
        '[[entity]]\nid = "x"\nname = "X"\nkind = "group"\n\n'
        '[[entity]]\nid = "Bad Id"\nname = "Y"\nkind = "group"\n'
    )
    (tmp_path / "bot.toml").write_text(
        '[bot]\nwatchlists = "wl"\n[[channels]]\nplatform = "console"\n'
    )
    done = bot("check", "--config", str(tmp_path / "bot.toml"))
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"error: {tmp_path / 'wl' / 'a.toml'}: line 6")
    assert "'Bad Id' is not a valid id" in lines[0] and "use lower-case" in lines[0]


def test_run_refuses_a_broken_config_before_doing_anything(tmp_path: Path) -> None:
    (tmp_path / "bot.toml").write_text('[bot]\ninterval = "5 minutes"\n')
    done = bot("run", "--config", str(tmp_path / "bot.toml"))
    assert done.returncode == 2
    assert done.stderr.strip() == (
        f"error: {tmp_path / 'bot.toml'}: bot.interval: '5 minutes' is not a duration"
        ' — write a duration such as "30s", "5m", "1h" or "2d"'
    )
    assert not (tmp_path / "data").exists()


def test_missing_config_names_the_option(tmp_path: Path) -> None:
    done = bot("once", "--config", str(tmp_path / "nope.toml"))
    assert done.returncode == 2
    assert "file not found" in done.stderr and "--config" in done.stderr


def test_config_without_channels_is_refused(tmp_path: Path) -> None:
    (tmp_path / "bot.toml").write_text("[bot]\n")
    done = bot("check", "--config", str(tmp_path / "bot.toml"))
    assert done.returncode == 2
    assert "channels" in done.stderr and 'platform = "console"' in done.stderr
