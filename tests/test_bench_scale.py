"""bench/scale.py in its smallest mode: every round runs and every instance polls.

The scaling figures in the README come from this script, so a change that breaks
it (a config key it writes, the `items` table it counts, the way instances start)
must fail here, not on the night someone measures. No timing is asserted: only
that each round measured polls from every instance and stored new items.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.postgres import PostgresServer

ROOT = Path(__file__).resolve().parent.parent


def test_the_quick_bench_measures_one_and_two_instances(postgres_server: PostgresServer) -> None:
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "scale.py"),
            "--quick",
            "--json",
            "--database",
            postgres_server.admin_url,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    rounds = json.loads(done.stdout)
    assert [r["instances"] for r in rounds] == [1, 2]
    for r in rounds:
        assert r["problem"] is None, r
        assert len(r["per_instance"]) == r["instances"]
        assert all(polls > 0 for polls in r["per_instance"].values()), r
        assert r["items"] > 0 and r["new_items"] > 0, r
        assert r["bot_cpu"] > 0, r
