"""The config parsed for the log set-up is handed to the loader, not parsed twice; and the
cheaper white-space test of feed URLs says what the character test said."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from bot import toml_handover
from bot.config import load_config
from bot.config_values import http_url_problem, read_toml
from bot.redact import prescan_config

CONFIG = """
[bot]
database = "{db}"
log_format = "json"

[[feeds]]
url = "https://example.org/feed.xml"
"""


def test_the_prescans_parse_is_what_the_loader_reads(tmp_path: Path) -> None:
    path = tmp_path / "bot.toml"
    path.write_text(CONFIG.format(db=tmp_path / "x.sqlite3"))
    assert prescan_config(path).log_format == "json"
    handed = toml_handover._handed_over
    assert handed is not None
    assert read_toml(path) is handed[1]  # taken, not parsed again
    assert toml_handover._handed_over is None
    assert read_toml(path) == handed[1]  # a later read parses the file itself


def test_a_file_changed_after_the_prescan_is_read_as_it_is_now(tmp_path: Path) -> None:
    path = tmp_path / "bot.toml"
    path.write_text(CONFIG.format(db=tmp_path / "x.sqlite3"))
    prescan_config(path)
    path.write_text(CONFIG.format(db=tmp_path / "x.sqlite3").replace("example.org", "a.example"))
    assert load_config(path).feeds[0].url == "https://a.example/feed.xml"


def test_a_byte_order_mark_is_read_by_the_prescan_too(tmp_path: Path) -> None:
    path = tmp_path / "bot.toml"
    path.write_bytes(b"\xef\xbb\xbf" + CONFIG.format(db=tmp_path / "x.sqlite3").encode())
    assert prescan_config(path).log_format == "json"
    assert load_config(path).feeds[0].url == "https://example.org/feed.xml"


@given(st.text(max_size=30))
def test_white_space_anywhere_in_a_url_is_found(text: str) -> None:
    url = "https://example.org/" + text
    problem = http_url_problem(url)
    has_space = any(c.isspace() for c in url)
    assert (problem is not None and "contains a space" in problem[0]) == has_space
