"""Story grouping quality on the labelled set: pairwise precision and recall.

Items in tests/data/stories/items.jsonl carry their true story id. Every pair
of items published within 48 h of each other is a labelled pair (same story
or not). Two figures are printed: the pair decision itself (`same_story`), and
the grouping the bot would actually make (`assign`, items taken in time order),
judged on the same pairs. Targets: precision >= 0.97, recall >= 0.90.

    python bench/story_quality.py [--threshold 0.1] [--sweep]
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from datetime import datetime
from itertools import combinations
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.stories import (  # noqa: E402
    DEFAULT_THRESHOLD,
    DEFAULT_WINDOW,
    Rarity,
    StoryItem,
    assign,
    same_story,
)

DATA = ROOT / "tests" / "data" / "stories" / "items.jsonl"


@dataclass(frozen=True, slots=True)
class Scores:
    precision: float
    recall: float
    pairs: int
    same: int
    false_merges: list[tuple[str, str]]
    missed: list[tuple[str, str]]


def load(path: Path = DATA) -> tuple[list[StoryItem], dict[str, str]]:
    items, truth = [], {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        d = json.loads(line)
        when = datetime.fromisoformat(d["published"].replace("Z", "+00:00"))
        items.append(StoryItem.of(d["id"], d["title"], d.get("summary", ""), when, d["entities"]))
        truth[d["id"]] = d["story"]
    items.sort(key=lambda i: (i.published, i.key))
    return items, truth


def labelled_pairs(items: list[StoryItem]) -> list[tuple[StoryItem, StoryItem]]:
    return [
        (a, b)
        for a, b in combinations(items, 2)
        if a.published and b.published and abs(a.published - b.published) <= DEFAULT_WINDOW
    ]


def score(pairs, truth, predict) -> Scores:
    tp = fp = fn = 0
    false_merges, missed = [], []
    for a, b in pairs:
        actual = truth[a.key] == truth[b.key]
        guess = predict(a, b)
        if guess and actual:
            tp += 1
        elif guess:
            fp += 1
            false_merges.append((a.key, b.key))
        elif actual:
            fn += 1
            missed.append((a.key, b.key))
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    return Scores(precision, recall, len(pairs), tp + fn, false_merges, missed)


def evaluate(threshold: float, path: Path = DATA) -> tuple[Scores, Scores]:
    items, truth = load(path)
    rarity = Rarity(items)
    pairs = labelled_pairs(items)
    decided = score(pairs, truth, lambda a, b: same_story(a, b, rarity, threshold=threshold))
    stories: dict[str, list[StoryItem]] = {}
    story_of: dict[str, str] = {}
    for item in items:  # in time order, as the bot sees them
        key = assign(item, stories, rarity, threshold=threshold) or item.key
        stories.setdefault(key, []).append(item)
        story_of[item.key] = key
    grouped = score(pairs, truth, lambda a, b: story_of[a.key] == story_of[b.key])
    return decided, grouped


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD)
    parser.add_argument("--sweep", action="store_true", help="try thresholds 0.05-0.50")
    args = parser.parse_args()
    thresholds = [t / 100 for t in range(5, 51, 5)] if args.sweep else [args.threshold]
    for t in thresholds:
        decided, grouped = evaluate(t)
        print(
            f"threshold {t:.2f}: pairs {decided.pairs} ({decided.same} same story) | "
            f"pair decision P {decided.precision:.3f} R {decided.recall:.3f} | "
            f"grouping P {grouped.precision:.3f} R {grouped.recall:.3f}"
        )
    if not args.sweep:
        print(f"\nfalse merges ({len(grouped.false_merges)}): {grouped.false_merges[:20]}")
        print(f"missed ({len(grouped.missed)}): {grouped.missed[:20]}")
        met = grouped.precision >= 0.97 and grouped.recall >= 0.90
        print(f"targets P >= 0.97 and R >= 0.90: {'met' if met else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
