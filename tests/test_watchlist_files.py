"""bot.matching.watchlists: what is in the watchlist folder besides good files.

Issue 11, item 9: a subfolder, a dangling symlink, a folder named *.toml and
a byte-order mark used to end in a traceback or a confusing TOML error.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest

from bot.errors import ConfigError, ConfigErrors
from bot.matching.watchlists import load_watchlists

DATA = Path(__file__).resolve().parent / "data"
ENTITY = '[[entity]]\nid = "{id}"\nname = "{name}"\nkind = "group"\n'


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    d = tmp_path / "wl"
    d.mkdir()
    shutil.copy(DATA / "watchlists" / "test.toml", d / "test.toml")
    return d


def errors_of(directory: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_watchlists(directory)
    return str(info.value).splitlines()


def test_a_subfolder_is_skipped_with_a_log_line(folder, caplog):
    (folder / "archive").mkdir()
    (folder / "archive" / "old.toml").write_text("not toml at all [[[")
    with caplog.at_level(logging.INFO, logger="bot.matching.watchlists"):
        entities = load_watchlists(folder)
    assert "iskp" in {e.id for e in entities}
    assert any("skipping the subfolder archive/" in r.getMessage() for r in caplog.records)


def test_a_dangling_symlink_is_one_clear_error(folder):
    (folder / "gone.toml").symlink_to(folder / "moved-away.toml")
    (line,) = errors_of(folder)
    assert line == (
        f"{folder / 'gone.toml'}: is a link to {str(folder / 'moved-away.toml')!r}, "
        "which does not exist — point the link at an existing file or remove it"
    )


def test_a_folder_named_toml_is_one_clear_error(folder):
    (folder / "extra.toml").mkdir()
    (line,) = errors_of(folder)
    assert line.startswith(f"{folder / 'extra.toml'}: is a folder, not a watchlist file — ")
    assert "rename it" in line


def test_hidden_files_such_as_editor_lock_links_are_ignored(folder):
    (folder / ".#test.toml").symlink_to("someone@host.1234")  # what Emacs leaves while editing
    assert load_watchlists(folder)


def test_a_byte_order_mark_is_accepted_and_lines_still_count(folder):
    text = ENTITY.format(id="bom_one", name="Bom One") + "\n" + ENTITY.format(id="Bad", name="B")
    (folder / "windows.toml").write_text(text, encoding="utf-8-sig")
    (line,) = errors_of(folder)
    assert line.startswith(f"{folder / 'windows.toml'}: line 6 (entity #2), key 'id'")
    (folder / "windows.toml").write_text(ENTITY.format(id="bom_one", name="Bom One"), "utf-8-sig")
    assert "bom_one" in {e.id for e in load_watchlists(folder)}


def test_problems_in_several_files_and_entities_are_all_reported(folder):
    (folder / "a.toml").write_text(
        ENTITY.format(id="Bad Id", name="A") + ENTITY.format(id="ok_one", name="Ok One")
    )
    (folder / "b.toml").write_text("[[entity]\n")  # broken TOML
    (folder / "c.toml").write_text(ENTITY.format(id="ok_one", name="Again"))
    (folder / "d.toml").write_text(ENTITY.format(id="d_one", name="D") + 'colour = "red"\n')
    with pytest.raises(ConfigErrors) as info:
        load_watchlists(folder)
    where = [(Path(e.path).name, e.where.split(",")[0]) for e in info.value.errors]
    assert where == [
        ("a.toml", "line 1 (entity #1)"),
        ("b.toml", ""),
        ("c.toml", "line 1"),
        ("d.toml", "line 1 (entity #1)"),
    ]
    assert "already used in a.toml line 5" in info.value.errors[2].problem
