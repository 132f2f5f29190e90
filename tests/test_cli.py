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
    (tmp_path / "bot.toml").write_text(
        f'[bot]\ninterval = "5 minutes"\nwatchlists = "{ROOT / "watchlists"}"\n'
        '[[channels]]\nplatform = "console"\n'
    )
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


def _sample_config(tmp_path: Path, digest: str = "") -> Path:
    """One bundled sample feed, a JSON-lines channel, and a [digest] section."""
    sample = ROOT / "examples" / "feeds" / "regional-security.rss"
    (tmp_path / "bot.toml").write_text(
        f'[bot]\ndatabase = "db.sqlite3"\nwatchlists = "{ROOT / "watchlists"}"\n'
        f'[[feeds]]\nurl = "{sample}"\nfirst_poll = "all"\n'
        '[[channels]]\nplatform = "jsonl"\nid = "alerts.jsonl"\nflood_cap = 0\n' + digest
    )
    return tmp_path / "bot.toml"


def test_digest_dry_run_prints_it_and_writes_the_chart(tmp_path: Path) -> None:
    config = _sample_config(tmp_path)
    assert bot("once", "--config", str(config)).returncode == 0
    chart = tmp_path / "chart.png"
    done = bot("digest", "--dry-run", "--config", str(config), "--chart", str(chart))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Daily digest · ")
    assert "Islamic State Khorasan Province" in done.stdout and "Top stories" in done.stdout
    assert f"chart: {chart}" in done.stdout
    assert chart.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert "digest_key" not in (tmp_path / "alerts.jsonl").read_text()  # nothing posted


def test_digest_posts_to_the_digest_channels(tmp_path: Path) -> None:
    config = _sample_config(tmp_path, '[digest]\nchannels = ["jsonl:alerts.jsonl"]\n')
    assert bot("once", "--config", str(config)).returncode == 0
    done = bot("digest", "--config", str(config))
    assert done.returncode == 0, done.stderr
    records = (tmp_path / "alerts.jsonl").read_text().splitlines()
    assert sum('"digest_key"' in r for r in records) == 1


def test_digest_without_a_channel_says_what_to_do(tmp_path: Path) -> None:
    config = _sample_config(tmp_path)
    done = bot("digest", "--config", str(config))
    assert done.returncode == 2
    assert "digest.channels: no channel gets the digest" in done.stderr
    assert "--dry-run" in done.stderr
    done = bot("digest", "--config", str(config), "--channel", "C0NOPE")
    assert done.returncode == 2
    assert "--channel" in done.stderr and "'C0NOPE' is not one of the [[channels]]" in done.stderr
