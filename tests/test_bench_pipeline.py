"""bench/pipeline.py in its smallest mode: every row of the issue-13 table is printed.

The benchmark is how performance work is judged, so a change that breaks it (a renamed
App attribute its --stages wrappers use, a `once` summary line it reads) must fail here,
not on the night someone measures. No timing is asserted: only that each cycle ran,
polled every feed, and got the 200s and 304s its feed changes call for.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench" / "pipeline.py"

CYCLE_NAMES = (
    "first poll (all new)",
    "nothing changed (304)",
    "10 % of feeds +5 items",
    "every feed +5 items",
)
# --quick serves 4 feeds; the 10 % cycle grows every 10th feed, i.e. feed 0 only.
EXPECTED_200 = (4, 0, 1, 4)
ROW_LABELS = (
    "CPU seconds (process tree)",
    "CPU ms per feed",
    "x feedparser (CPU per feed)",
    "wall time (s)",
    "server 200 responses",
    "server 304 responses",
)


def load_bench() -> Any:
    spec = importlib.util.spec_from_file_location("bench_pipeline", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


STAGES = ("fetch", "parse", "ingest", "match", "stories", "drain", "sink")


def run_bench(*options: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, str(BENCH), "--quick", *options],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def check_cycles(result: dict[str, Any]) -> None:
    cycles = result["cycles"]
    assert [c["name"] for c in cycles] == list(CYCLE_NAMES)
    for cycle, expected_200 in zip(cycles, EXPECTED_200, strict=True):
        assert cycle["feeds"] == 4
        assert cycle["errors"] == 0
        assert (cycle["server_200"], cycle["server_304"]) == (expected_200, 4 - expected_200)
        assert cycle["cpu_seconds"] >= 0
    assert result["reference"]["feedparser_ms_per_feed"] > 0
    assert result["reference"]["lxml_ms_per_feed"] >= 0


def test_in_process_quick_run_prints_every_row_and_stage() -> None:
    result = json.loads(run_bench("--stages", "--json").stdout)
    check_cycles(result)
    first, _, some, every = result["cycles"]
    assert set(STAGES) <= set(first["stages"])
    # Only the feeds that changed are parsed and matched again, 5 new items each.
    assert some["new_items"] == 5
    assert every["new_items"] == 4 * 5

    table = load_bench().render(result)  # what the run prints without --json
    for name in CYCLE_NAMES:
        assert f"| {name} |" in table  # the markdown table of the issue
    for label in ROW_LABELS:
        assert label in table
    assert "feedparser.parse" in table and "lxml.etree.fromstring" in table
    assert "stage timings (--stages):" in table


def test_subprocess_quick_run_measures_each_bot_once() -> None:
    result = json.loads(run_bench("--subprocess", "--json").stdout)
    check_cycles(result)
    assert result["config"]["subprocess"] is True
    # A whole `python -m bot once` (interpreter start-up included) costs CPU.
    assert all(c["cpu_seconds"] > 0 for c in result["cycles"])


def test_subprocess_bot_processes_get_a_bytecode_cache_unless_told_not_to() -> None:
    """bench/bytecode.py: as a deployed install, the `once` processes start from bytecode
    (a warmed cache of their own); --no-bytecode-cache compiles as this environment does."""
    cached = json.loads(run_bench("--subprocess", "--cycles", "2", "--json").stdout)
    assert cached["config"]["bytecode"].startswith("bytecode cache on (PYTHONPYCACHEPREFIX=")
    plain = run_bench("--subprocess", "--cycles", "2", "--no-bytecode-cache").stdout
    assert "bytecode cache on" not in plain
    assert "bytecode cache" in plain.splitlines()[2]  # the header says which


def test_the_ab_bench_runs_the_same_cycle_for_both_checkouts() -> None:
    """bench/pipeline_ab.py, smallest: this checkout against itself, 4 feeds, 2 rounds.
    Each `once` polls every feed (the grown one and three 304s) and the per-round
    difference is printed; no timing is asserted."""
    out = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "pipeline_ab.py"),
            *("--a", str(ROOT), "--b", str(ROOT), "--feeds", "4", "--reps", "2"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    ).stdout
    lines = out.splitlines()
    assert sum(line.startswith("round ") for line in lines) == 4
    for key in ("A", "B"):
        (summary,) = [line for line in lines if line.startswith(f"{key} {ROOT}: ")]
        assert "cycle done: 4 feeds polled, 0 with errors" in summary
    assert any(line.startswith("B - A per round: mean ") for line in lines)
