"""The first-run experience: the bundled sample feeds against the shipped watchlists."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_samples(tmp_path: Path) -> list[dict]:
    """`python -m bot once` on the shipped sample feeds (never the real, remote ones)."""
    shipped = tomllib.loads((ROOT / "bot.toml").read_text())
    samples = [f for f in shipped["feeds"] if not f["url"].startswith("http")]
    assert len(samples) == 3
    lines = ['[bot]\ndatabase = "db.sqlite3"', f'watchlists = "{ROOT / "watchlists"}"']
    for f in samples:
        lines += [
            "[[feeds]]",
            f'url = "{ROOT / f["url"]}"',
            f'name = "{f["name"]}"',
            f'first_poll = "{f["first_poll"]}"',
        ]
    # No flood cap: this checks what matches, not how a burst is paced.
    lines += ["[[channels]]", 'platform = "jsonl"', 'id = "alerts.jsonl"', "flood_cap = 0"]
    (tmp_path / "bot.toml").write_text("\n".join(lines) + "\n")
    cmd = [sys.executable, "-m", "bot", "once", "--config", str(tmp_path / "bot.toml")]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    out = tmp_path / "alerts.jsonl"
    return [r for r in map(json.loads, out.read_text().splitlines()) if "alert_id" in r]


def test_sample_feeds_alert_what_an_analyst_expects(tmp_path: Path) -> None:
    alerts = run_samples(tmp_path)
    by_title = {a["title"]: set(a["entities"]) for a in alerts}
    by_alert = {a["title"]: a for a in alerts}
    expected = {
        "Islamic State Khurasan claims deadly bombing at Kabul market": {"iskp", "kabul"},
        "Tehreek-e-Taliban fighters storm police post in Khyber Pakhtunkhwa": {
            "ttp",
            "khyber_pakhtunkhwa",
        },
        "Ajit Doval to attend regional security dialogue in Tashkent": {"ajit_doval", "tashkent"},
        "Tajikistan reinforces border posts along the Panj after night-time clash": {
            "tajikistan",
            "emomali_rahmon",
        },
    }
    for title, entities in expected.items():
        assert entities <= by_title[title], title
    for title in by_title:
        for noise in ("ISKCON", "Tips for travel", "HTTPS", "Ajit Agarkar", "Central America"):
            assert noise not in title
    # The syndicated copy in the South Asia feed is the same story: one alert.
    munir = [a for a in alerts if a["title"].startswith("Army chief Asim Munir")]
    assert len(munir) == 1
    assert any("Таджикистан" in a["title"] for a in alerts)
    # A follow-up under a new headline in another feed joins the story: whichever of the
    # two feeds is read first opens the thread, the other item replies in it.
    claim = by_alert["Islamic State Khurasan claims deadly bombing at Kabul market"]
    toll = by_alert["Death toll from Kabul market bombing rises to 12"]
    first, later = sorted((claim, toll), key=lambda a: a["alert_id"])
    assert first["reply_to"] is None and later["reply_to"] == f"jsonl-{first['alert_id']}"
    assert claim["story"] == toll["story"]


def test_second_run_repeats_nothing(tmp_path: Path) -> None:
    first = run_samples(tmp_path)
    assert len(run_samples(tmp_path)) == len(first)
