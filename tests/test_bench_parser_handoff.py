"""bench/parser_handoff.py in its smallest mode: both ways parse every document and print
a row. No timing is asserted (bench/ prints figures; tests check they are produced)."""

from __future__ import annotations

from tests.benchrun import bench_output


def test_the_handoff_bench_runs_both_ways() -> None:
    out = bench_output("parser_handoff.py", "--docs", "3", "--rounds", "1")
    rows = [line for line in out.splitlines() if line.startswith(("ProcessPoolExecutor", "socket"))]
    assert len(rows) == 2, out
    for row in rows:
        bot_ms, worker_ms = (float(v) for v in row.split()[-2:])
        assert bot_ms > 0 and worker_ms > 0, row
