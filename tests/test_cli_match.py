"""`python -m bot match`: JSON lines in, one JSON line of matches out per item."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import bot.__main__ as bot_main
from bot.__main__ import main
from bot.cli.match import match_stream

ROOT = Path(__file__).parent.parent

WATCHLIST = """\
    [[entity]]
    id = "ttp"
    name = "Tehrik-i-Taliban Pakistan"
    kind = "group"
    aliases = ["TTP"]
    severity = "high"
    [[entity]]
    id = "dushanbe"
    name = "Dushanbe"
    kind = "region"
    severity = "low"
    [[entity]]
    id = "hibatullah"
    name = "Hibatullah Akhundzada"
    kind = "person"
"""


@pytest.fixture
def watchlists(tmp_path) -> Path:
    directory = tmp_path / "watchlists"
    directory.mkdir()
    (directory / "test.toml").write_text(textwrap.dedent(WATCHLIST), encoding="utf-8")
    return directory


def lines(*records: object) -> str:
    return "".join(
        (r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n" for r in records
    )


def run_stream(directory: Path, text: str, threshold: float = 90.0) -> tuple[int, list[dict], str]:
    out, err = io.StringIO(), io.StringIO()
    status = match_stream(directory, threshold, io.StringIO(text), out, err)
    return status, [json.loads(x) for x in out.getvalue().splitlines()], err.getvalue()


def run_cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONIOENCODING": "utf-8", "PYTHONUTF8": "1"}
    return subprocess.run(
        [sys.executable, "-m", "bot", "match", *args],
        input=stdin,
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=ROOT,
        env=env,
        timeout=60,
        check=False,
    )


ITEMS = (
    {"id": "a", "title": "TTP-linked militants attack", "summary": "near the border"},
    {"id": 2, "title": "Markets", "summary": "Flights to Dushanbé resume"},
    {"id": "c", "title": "Nothing to see"},
    {"title": "Haibatullah Akhundzada decree"},
)


def check_outputs(records: list[dict]) -> None:
    assert [r["id"] for r in records] == ["a", 2, "c", None]
    for r in records:
        assert set(r) == {"id", "matches"}
        for m in r["matches"]:
            # The contract's keys, plus where the text was found (field and offsets).
            assert {"entity", "kind", "alias", "text", "score"} <= set(m)
            assert set(m) <= {
                "entity",
                "kind",
                "alias",
                "text",
                "score",
                "field",
                "start",
                "end",
                "how",
            }
    contract = ("entity", "kind", "alias", "text", "score")
    for r in records:
        r["matches"] = [{k: m[k] for k in contract} for m in r["matches"]]
    assert records[0]["matches"] == [
        {"entity": "ttp", "kind": "group", "alias": "TTP", "text": "TTP", "score": 100.0}
    ]
    assert records[1]["matches"] == [
        {
            "entity": "dushanbe",
            "kind": "region",
            "alias": "Dushanbe",
            "text": "Dushanbé",
            "score": 100.0,
        }
    ]
    assert records[2]["matches"] == []
    (fuzzy,) = records[3]["matches"]
    assert fuzzy["entity"] == "hibatullah"
    assert fuzzy["text"] == "Haibatullah Akhundzada"
    assert 90 <= fuzzy["score"] < 100


# -- in process ------------------------------------------------------------------------------


def test_match_stream_one_line_per_item(watchlists):
    status, records, err = run_stream(watchlists, lines(*ITEMS))
    assert status == 0
    assert err == ""
    check_outputs(records)


def test_match_stream_skips_blank_lines(watchlists):
    text = "\n" + lines(ITEMS[0]) + "   \n\t\n" + lines(ITEMS[1]) + "\n"
    status, records, err = run_stream(watchlists, text)
    assert status == 0
    assert err == ""
    assert [r["id"] for r in records] == ["a", 2]


def test_match_stream_reports_malformed_lines_and_continues(watchlists):
    text = lines(
        ITEMS[0],
        "{not json",
        "[1, 2, 3]",
        {"id": "x", "title": 5},
        "",
        {"id": "y", "title": "ok", "summary": ["a"]},
        ITEMS[1],
    )
    status, records, err = run_stream(watchlists, text)
    assert status == 1
    assert [r["id"] for r in records] == ["a", 2]
    errors = err.splitlines()
    assert len(errors) == 4
    for number, message in zip((2, 3, 4, 6), errors, strict=True):
        assert message.startswith(f"line {number}: skipped, not a JSON item")
    assert "expected a JSON object" in errors[1]
    assert "must be strings" in errors[2]


def test_match_stream_null_fields_are_empty(watchlists):
    status, records, _ = run_stream(watchlists, lines({"id": 1, "title": None, "summary": None}))
    assert status == 0
    assert records == [{"id": 1, "matches": []}]


def test_match_stream_threshold(watchlists):
    item = lines({"id": 1, "title": "Haibatullah Akhundzada decree"})
    assert run_stream(watchlists, item, threshold=90)[1][0]["matches"]
    assert run_stream(watchlists, item, threshold=100)[1][0]["matches"] == []


def test_main_rejects_out_of_range_threshold(watchlists, capsys, monkeypatch):
    # main() reconfigures the root logger; keep pytest's logging setup intact
    monkeypatch.setattr(bot_main, "setup_logging", lambda level: None)
    assert main(["match", "--watchlists", str(watchlists), "--threshold", "101"]) == 2
    err = capsys.readouterr().err
    assert "--threshold" in err
    assert "101 is out of range" in err
    assert "use 50 to 100" in err


# -- subprocess -------------------------------------------------------------------------------


def test_cli_match(watchlists):
    stdin = lines(ITEMS[0], "not json", "", ITEMS[1], ITEMS[2], ITEMS[3])
    done = run_cli("--watchlists", str(watchlists), stdin=stdin)
    assert done.returncode == 1
    records = [json.loads(x) for x in done.stdout.splitlines()]
    check_outputs(records)
    assert done.stderr.splitlines() == [
        f"line 2: skipped, not a JSON item ({_json_error('not json')})"
    ]


def _json_error(text: str) -> str:
    try:
        json.loads(text)
    except ValueError as e:
        return str(e)
    raise AssertionError("expected invalid JSON")


def test_cli_match_clean_input_exits_zero(watchlists):
    done = run_cli("--watchlists", str(watchlists), "--threshold", "95", stdin=lines(*ITEMS))
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert len(done.stdout.splitlines()) == len(ITEMS)


def test_cli_match_with_shipped_watchlists():
    done = run_cli("--watchlists", "watchlists", stdin=lines({"id": 1, "title": "TTP claims"}))
    assert done.returncode == 0, done.stderr
    (record,) = [json.loads(x) for x in done.stdout.splitlines()]
    assert record["id"] == 1
    assert "ttp" in [m["entity"] for m in record["matches"]]


@pytest.mark.parametrize(
    ("threshold", "message"),
    [
        ("200", "error: --threshold: 200 is out of range — use 50 to 100"),
        ("10", "error: --threshold: 10 is out of range — use 50 to 100"),
        ("abc", "argument --threshold: invalid float value: 'abc'"),
    ],
)
def test_cli_bad_threshold(watchlists, threshold, message):
    done = run_cli("--watchlists", str(watchlists), "--threshold", threshold, stdin=lines(ITEMS[0]))
    assert done.returncode == 2
    assert message in done.stderr
    assert done.stdout == ""


def test_cli_missing_watchlists_directory(tmp_path):
    missing = tmp_path / "nope"
    done = run_cli("--watchlists", str(missing), stdin=lines(ITEMS[0]))
    assert done.returncode == 2
    assert done.stderr.startswith(f"error: {missing}: watchlist directory not found")
