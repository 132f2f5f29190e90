"""bench/startup.py --run in a small size: it seeds, starts `python -m bot run`, sees its
first feed request and prints every figure.

The benchmark is how start-up work is judged (issue 13), so a change that breaks it (a
schema column its seeding writes, the run command's arguments) must fail here. No
timing is asserted: only that the seeded history is what was asked for, and that the
bot polled every feed (the server saw as many requests) and left its RSS measured.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_startup_run_prints_every_figure(tmp_path: Path) -> None:
    out = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "startup.py"),
            "--run",
            "--items",
            "3000",
            "--feeds",
            "20",
            "--aliases",
            "200",
            "--runs",
            "1",
            "--cycles",
            "1",
            "--json",
            "--tmp",
            str(tmp_path),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    ).stdout
    lines = out.splitlines()
    assert lines[0].startswith("3,000 remembered items over 30 days (20% matched)")
    assert "20 feeds, 200 aliases" in lines[0]
    assert lines[1].startswith("database: ") and "bytes per remembered item" in lines[1]
    assert any(line.startswith("reference: python -c pass") for line in lines)
    # The bot processes start from a warmed bytecode cache, as an installed bot does.
    assert "bot processes: bytecode cache on (PYTHONPYCACHEPREFIX=" in out
    assert any("start to first feed request" in line for line in lines)
    (runs,) = json.loads(lines[-1]).values()
    (result,) = runs
    assert result["first_request_s"] > 0 and result["cpu_at_first_s"] > 0
    assert result["steady_rss_mib"] > 0
