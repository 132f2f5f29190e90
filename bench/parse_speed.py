"""Parse speed: what a feed document and its HTML-to-text conversion cost in a worker.

Why
---
Parsing runs under a per-document deadline (`bot.timeout`) in the parser pool,
so its cost matters, but a test asserting a wall-clock figure fails whenever
the machine is busy (issue 11, item 15). The figures live here instead:

    python bench/parse_speed.py [--items 50] [--repeat 50]

prints the time `parse_feed_bytes` takes for one RSS document of `--items`
items with HTML summaries (feedparser plus bot/feeds/html_text.py), and what
the conversion alone costs per summary. Single process, no pool, no network.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

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
    start = time.perf_counter()
    for _ in range(args.repeat):
        parse_feed_bytes(body, "https://example.org/feed", "bench")
    per_doc = (time.perf_counter() - start) / args.repeat
    runs = args.repeat * args.items
    start = time.perf_counter()
    for _ in range(runs):
        html_to_text(summary)
    per_field = (time.perf_counter() - start) / runs
    print(f"parse_feed_bytes: {per_doc * 1e3:.1f} ms per document "
          f"({args.items} items, {len(body):,} bytes)")  # fmt: skip
    print(f"html_to_text: {per_field * 1e6:.1f} µs per {len(summary):,}-character summary")


if __name__ == "__main__":
    main()
