"""Parse speed: what a feed document and its HTML-to-text conversion cost in a worker.

Why
---
Parsing runs under a per-document deadline (`bot.timeout`) in the parser pool,
so its cost matters, but a test asserting a wall-clock figure fails whenever
the machine is busy (issue 11, item 15). The figures live here instead:

    python bench/parse_speed.py [--items 50] [--repeat 50]

prints the time `parse_feed_bytes` takes for one RSS document of `--items`
items with HTML summaries, on the fast lxml path (bot/feeds/fastparse.py) and
forced through feedparser in the same run (the ratio holds on a busy machine),
what the conversion alone costs per summary, and, over every document of
tests/data/corpus*/, how many take the fast path and the CPU per document of
each path. Single process, no pool, no network.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.errors import ParseError
from bot.feeds.fastparse import parse_fast
from bot.feeds.html_text import html_to_text
from bot.feeds.parse import parse_feed_bytes
from tests.feedserver import item, rss


def summary_html(sentences: int = 12) -> str:
    """A news summary as feeds write it: paragraphs, bold names, links, entities."""
    return (
        "<p>"
        + " ".join(
            f"Sentence {i} about <b>Kabul</b> &amp; the region, "
            f"with a <a href='https://example.org/{i}'>link</a>."
            for i in range(sentences)
        )
        + "</p><script>var hidden = 'ISKP';</script>"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=50)
    args = parser.parse_args()
    summary = summary_html()
    body = rss([item(i, f"Story {i} in Kabul", summary) for i in range(args.items)])
    per_path = {}
    for fast in (True, False):
        start = time.process_time()
        for _ in range(args.repeat):
            parse_feed_bytes(body, "https://example.org/feed", "bench", fast=fast)
        per_path[fast] = (time.process_time() - start) / args.repeat
    runs = args.repeat * args.items
    start = time.perf_counter()
    for _ in range(runs):
        html_to_text(summary)
    per_field = (time.perf_counter() - start) / runs
    print(f"parse_feed_bytes, {args.items} items, {len(body):,} bytes: "
          f"fast path {per_path[True] * 1e3:.2f} ms CPU per document, "
          f"feedparser {per_path[False] * 1e3:.2f} ms "
          f"({per_path[False] / per_path[True]:.1f}x)")  # fmt: skip
    corpus_report()
    print(f"html_to_text: {per_field * 1e6:.1f} µs per {len(summary):,}-character summary")


def corpus_report() -> None:
    """Fast-path share and CPU per document of each path over the test corpora."""
    data = Path(__file__).resolve().parent.parent / "tests" / "data"
    skip = (".md", ".tsv", "")
    bodies = [p.read_bytes() for corpus in ("corpus", "corpus_shared")
              for p in sorted((data / corpus).rglob("*"))
              if p.is_file() and p.suffix not in skip and p.name != "LICENSE"]  # fmt: skip
    fast_bodies = [b for b in bodies if parse_fast(b, "https://example.org/") is not None]
    print(f"corpus: {len(fast_bodies)} of {len(bodies)} documents take the fast path, "
          f"{len(bodies) - len(fast_bodies)} fall back to feedparser")  # fmt: skip
    for label, group in (("fast-path documents", fast_bodies), ("all documents", bodies)):
        cost = {}
        for fast in (True, False):
            start = time.process_time()
            for body in group:
                with contextlib.suppress(ParseError):
                    parse_feed_bytes(body, "https://example.org/", "bench", fast=fast)
            cost[fast] = (time.process_time() - start) / max(len(group), 1)
        print(f"corpus, {label} ({len(group)}): with the fast path {cost[True] * 1e3:.2f} ms "
              f"CPU per document, feedparser only {cost[False] * 1e3:.2f} ms")  # fmt: skip


if __name__ == "__main__":
    main()
