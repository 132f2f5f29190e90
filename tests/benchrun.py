"""Run a bench/ script as a user would and return what it printed (bench smoke tests)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def bench_output(script: str, *args: str, timeout: float = 300) -> str:
    """stdout of `python bench/<script> <args>`; fails the test on a non-zero exit."""
    return subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), *args],
        capture_output=True,
        text=True,
        check=True,
        timeout=timeout,
    ).stdout
