"""bench/story_memory.py runs and prints its figures (a smoke test at a tiny size)."""

from __future__ import annotations

from tests.benchrun import bench_output


def test_the_story_memory_bench_prints_bytes_and_cpu_per_member() -> None:
    out = bench_output("story_memory.py", "--members", "40", "--runs", "1")
    assert "40 members, index" in out and "bytes a member" in out and "µs a member" in out, out
