"""bench/latency.py --quick runs end to end: every alert reaches the fake Slack.

No timing is asserted (figures are the bench's to print); this keeps the bench working.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_latency_bench_quick_delivers_every_alert() -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "latency.py"), "--quick", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["received"] == result["alerts"] == 5
    assert result["missing"] == 0
    assert 0 <= result["p50_s"] <= result["p99_s"] <= result["max_s"]
