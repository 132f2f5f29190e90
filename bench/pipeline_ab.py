"""The same 10 % cycle, repeated, for two checkouts alternately: an A/B of `once`'s CPU.

Why: `pipeline.py --subprocess` runs the 10 % cycle once per run (35-60 s with its
first poll), so a before/after of a few percent drowns in the noise of a shared machine.
Here each checkout (--a, and --b: by default this one) polls the feeds once (cycle 1)
and once more with nothing changed (cycle 2) on a database of its own, which is then
copied aside; every 10th feed then gains 5 items on the server, once. Each repetition
restores both databases and runs `python -m bot once` of A then of B against the same
server state, so every run is exactly the issue's cycle 3. A checkout uses its own
`.venv/bin/python` if it has one (its own compiled matcher) and a warmed bytecode cache, as in
pipeline.py. CPU is the getrusage(RUSAGE_CHILDREN) delta: the bot and its parser
workers, start-up included.

    python bench/pipeline_ab.py --a ../before        # ../before (A) vs this checkout, 5 rounds
    python bench/pipeline_ab.py --reps 9 --a ../before --b .
    python bench/pipeline_ab.py --a ../before --profile /tmp/ab     # + a cProfile run each
    python bench/pipeline_ab.py --a ../before --importtime /tmp/ab  # + an -X importtime run each
"""

from __future__ import annotations

import argparse
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bytecode import bytecode_cache  # noqa: E402
from pipeline import CYCLE_DONE, NEW_ITEMS, config_data, toml_text  # noqa: E402
from pipeline_feeds import FeedServer  # noqa: E402


def python_of(root: Path) -> str:
    """The checkout's own interpreter (`.venv`, with its compiled matcher), else this one."""
    own = root / ".venv" / "bin" / "python"
    return str(own) if own.exists() else sys.executable


def once(
    root: Path, config: Path, env: dict[str, str], extra: list[str] | None = None
) -> tuple[float, float, str, str]:
    """One `python -m bot once` of the checkout at `root`: (CPU s, wall s, its summary)."""
    command = [python_of(root), *(extra or []), "-m", "bot", "once"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.run(
        [*command, "--config", str(config)],
        cwd=root,
        env={**env, "PYTHONPATH": str(root)},
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = CYCLE_DONE.search(proc.stdout + proc.stderr)
    if proc.returncode != 0 or done is None:
        raise RuntimeError(f"{root}: `bot once` failed: {proc.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    # What a --wrap script prints about itself (lines starting "RU").
    notes = " ".join(line for line in proc.stderr.splitlines() if line.startswith(("RU", "RS")))
    return cpu, wall, done.group(0), notes


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--a", type=Path, required=True, help="checkout A (before), e.g. a git worktree")
    p.add_argument("--b", type=Path, default=ROOT, help="checkout B (after)")
    p.add_argument("--reps", type=int, default=5, help="rounds of A then B")
    p.add_argument("--feeds", type=int, default=1000)
    p.add_argument(
        "--grow-every",
        type=int,
        default=10,
        help="every Nth feed gains 5 items before the timed runs (10: the issue's 10 %%; "
        "0: none, the 304 cycle)",
    )
    p.add_argument("--profile", metavar="PREFIX", help="one cProfile run each: PREFIX-{a,b}.prof")
    p.add_argument("--importtime", metavar="PREFIX", help="one -X importtime run each")
    p.add_argument(
        "--wrap",
        metavar="SCRIPT",
        help="run the timed `once`s as `python SCRIPT -m bot once ...` (e.g. a script that runs "
        "bot as __main__ and prints its own and its children's CPU on a line starting RU)",
    )
    args = p.parse_args(argv)
    bench = argparse.Namespace(
        seed=1,
        feeds=args.feeds,
        items=50,
        watched_share=0.05,
        gzip=False,
        concurrency=50,
        workers=2,
        subprocess=True,
        first_poll="all",
    )
    roots = {"A": args.a.resolve(), "B": args.b.resolve()}
    server = FeedServer(bench)
    try:
        with (
            tempfile.TemporaryDirectory(prefix="newswatch-ab-") as tmp_name,
            bytecode_cache(True, list(roots.values())) as env,
        ):
            tmp = Path(tmp_name)
            configs: dict[str, Path] = {}
            for key, root in roots.items():
                work = tmp / key
                work.mkdir()
                config = work / "bot.toml"
                data = config_data(work, server, bench)
                data["bot"]["watchlists"] = str(root / "watchlists")
                config.write_text(toml_text(data), encoding="utf-8")
                configs[key] = config
                for _ in range(2):  # first poll, then all 304: the state before cycle 3
                    once(root, config, env)
                shutil.copytree(work, tmp / f"{key}.saved")
            if args.grow_every:
                server.grow(list(range(0, args.feeds, args.grow_every)), NEW_ITEMS)

            def restore(key: str) -> None:
                shutil.rmtree(tmp / key)
                shutil.copytree(tmp / f"{key}.saved", tmp / key)

            cpu: dict[str, list[float]] = {"A": [], "B": []}
            summaries: dict[str, set[str]] = {"A": set(), "B": set()}
            for rep in range(args.reps):
                for key, root in roots.items():
                    restore(key)
                    wrap = [args.wrap] if args.wrap else None
                    seconds, wall, summary, notes = once(root, configs[key], env, wrap)
                    cpu[key].append(seconds)
                    summaries[key].add(summary)
                    print(f"round {rep + 1} {key}: {seconds:.3f} CPU-s, {wall:.2f} s wall {notes}")
            for key, prefix, flags in (
                (
                    "profile",
                    args.profile,
                    lambda k: ["-m", "cProfile", "-o", f"{args.profile}-{k}.prof"],
                ),
                ("importtime", args.importtime, lambda k: ["-X", "importtime"]),
            ):
                if not prefix:
                    continue
                for k, root in roots.items():
                    restore(k)
                    command = [
                        python_of(root),
                        *flags(k.lower()),
                        "-m",
                        "bot",
                        "once",
                    ]
                    proc = subprocess.run(
                        [*command, "--config", str(configs[k])],
                        cwd=root,
                        env={**env, "PYTHONPATH": str(root)},
                        capture_output=True,
                        text=True,
                        check=False,
                    )
                    if key == "importtime":
                        Path(f"{prefix}-{k.lower()}.importtime").write_text(proc.stderr)
    finally:
        server.stop()
    for key, root in roots.items():
        values = sorted(cpu[key])
        best, median = values[0], statistics.median(values)
        print(
            f"{key} {root}: best {best:.3f}  median {median:.3f} CPU-s"
            f" ({best * 1000 / args.feeds:.2f}-{median * 1000 / args.feeds:.2f} ms/feed);"
            f" {' | '.join(sorted(summaries[key]))}"
        )
    # Each round ran A then B within seconds: their difference cancels most of the load
    # a shared machine puts on both, so its mean is steadier than either best.
    diffs = [b - a for a, b in zip(cpu["A"], cpu["B"], strict=True)]
    if len(diffs) > 1:
        mean = statistics.fmean(diffs)
        error = statistics.stdev(diffs) / len(diffs) ** 0.5
        print(
            f"B - A per round: mean {mean:+.3f} CPU-s"
            f" (standard error {error:.3f}, {len(diffs)} rounds)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
