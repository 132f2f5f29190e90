"""bench/story_memory.py runs and prints its figures (a smoke test at a tiny size)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_story_memory_bench_prints_bytes_and_cpu_per_member() -> None:
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "story_memory.py"), "--members", "40", "--runs", "1"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "40 members, index" in out and "bytes a member" in out and "µs a member" in out, out
