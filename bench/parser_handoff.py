"""What handing a document to a parser worker and taking its items back costs the bot.

Why: a changed feed's document goes to a worker process (bot/feeds/parse.py's pool) and
its items come back; that trip used to go through a one-process ProcessPoolExecutor
(two threads of the bot per document: the executor's manager and its queue's feeder).
This prints, for the same bench documents (bench/pipeline_feeds.py's, 57 KB, five new
entries each, the other entries known by their digests as in the issue's 10 % cycle),
the CPU per document of the bot process and of the worker for both ways, measured in
the same run, alternating, best of --rounds:

    python bench/parser_handoff.py            # 200 documents x 5 rounds
    python bench/parser_handoff.py --docs 500 --rounds 9

"bot" is this process's CPU (all its threads) while the documents are parsed one after
another, as the pool gives a worker one at a time; "worker" is the worker process's.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import resource
import sys
from collections.abc import Awaitable, Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from pipeline_feeds import grow_feed, make_feed  # noqa: E402

from bot.feeds.fastparse import read_fast  # noqa: E402
from bot.feeds.parse import parse_feed_bytes  # noqa: E402
from bot.feeds.worker import Worker  # noqa: E402


def _nothing() -> None:
    """No initializer work (the pool's memory cap and signals do not change the trip)."""


def _cpu() -> tuple[float, float]:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, children.ru_utime + children.ru_stime


def documents(count: int) -> list[tuple[bytes, str, str]]:
    """(body, url, known digests) of `count` grown bench feeds, as a 10 % cycle sees them."""
    docs = []
    for n in range(count):
        first = make_feed(1, n, 50, 0.05, False)
        read = read_fast(first.body, f"http://127.0.0.1/feed/{n}.xml")
        assert read is not None
        grown = grow_feed(first, 5, 1, 0.05, False)
        docs.append((grown.body, f"http://127.0.0.1/feed/{n}.xml", "".join(read.digests)))
    return docs


async def one_round(
    call: Callable[..., Awaitable[Any]], docs: list[tuple[bytes, str, str]]
) -> float:
    """Bot CPU seconds to parse `docs` one after another through `call`."""
    before, _ = _cpu()
    for body, url, known in docs:
        parsed = await call(parse_feed_bytes, body, url, "bench", url, known)
        assert len(parsed.items) == 5, len(parsed.items)
    after, _ = _cpu()
    return after - before


async def main_async(args: argparse.Namespace) -> None:
    docs = documents(args.docs)
    loop = asyncio.get_running_loop()
    executor = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context())
    worker = Worker(_nothing, ())
    worker.start()

    async def via_executor(fn: Callable[..., Any], *a: Any) -> Any:
        return await loop.run_in_executor(executor, fn, *a)

    ways: dict[str, Callable[..., Awaitable[Any]]] = {
        "ProcessPoolExecutor (before)": via_executor,
        "socket pair (bot/feeds/worker.py)": worker.call,
    }
    for call in ways.values():  # warm up: fork, the worker's imports
        await one_round(call, docs[:5])
    best = {name: float("inf") for name in ways}
    for _ in range(args.rounds):
        for name, call in ways.items():
            best[name] = min(best[name], await one_round(call, docs))
    # The workers' CPU: each ends, is reaped, and is counted in RUSAGE_CHILDREN.
    _, children0 = _cpu()
    worker.stop(10)
    _, children1 = _cpu()
    executor.shutdown(wait=True)
    _, children2 = _cpu()
    trips = args.rounds * len(docs) + 5
    print(f"{len(docs)} documents of {len(docs[0][0]) / 1024:.1f} KiB, 5 of 50 entries new")
    print(f"{'way':36s} {'bot ms/doc (best round)':>24s} {'worker ms/doc (mean)':>21s}")
    for name, children in zip(ways, (children2 - children1, children1 - children0), strict=True):
        print(f"{name:36s} {best[name] * 1000 / len(docs):24.3f} {children * 1000 / trips:21.3f}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--docs", type=int, default=200)
    p.add_argument("--rounds", type=int, default=5)
    asyncio.run(main_async(p.parse_args(argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
