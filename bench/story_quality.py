"""Story grouping quality on the labelled sets, and the speed of StoryIndex.find.

Items in tests/data/stories/*.jsonl carry their true story id. Every pair of
items published within 48 h of each other is a labelled pair (same story or
not). Two figures per set: the pair decision itself (`same_story`, word
rarity counted over the whole set), and the grouping the bot actually makes
(`StoryIndex`: items taken in time order, each joins the story `find` returns
or starts its own; rarity counted over the items seen so far), judged on the
same pairs. Targets (issue 6, on the main set): precision >= 0.97, recall >=
0.90. The held-out set was written before the rules were tuned and never
tuned on: its figures say how well the rules carry over. The blind set was written
later, before the rules were changed for the held-out failures, and is never tuned on
(`both` runs all three sets).

Then two speed lines: `find` against an index of 20,000 synthetic members (and `add`),
and reading an item (`StoryItem.of`) on the labelled and the synthetic items.

    python bench/story_quality.py [--set main|heldout|blind|both] [--threshold 0.75]
                                  [--sweep] [--explain] [--members 20000] [--no-speed]
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import combinations
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.stories import (  # noqa: E402
    DEFAULT_THRESHOLD,
    DEFAULT_WINDOW,
    Rarity,
    StoryIndex,
    StoryItem,
    compare,
    same_story,
)

DATA = ROOT / "tests" / "data" / "stories"
SETS = {
    "main": DATA / "items.jsonl",
    "heldout": DATA / "heldout.jsonl",
    "blind": DATA / "blind.jsonl",
}
TARGET_PRECISION = 0.97
TARGET_RECALL = 0.90

Pair = tuple[StoryItem, StoryItem]


@dataclass(frozen=True, slots=True)
class Scores:
    precision: float
    recall: float
    pairs: int
    same: int
    false_merges: list[Pair]
    missed: list[Pair]

    @property
    def met(self) -> bool:
        return self.precision >= TARGET_PRECISION and self.recall >= TARGET_RECALL


def load(path: Path) -> tuple[list[StoryItem], dict[str, str]]:
    """The items of a labelled set in time order, and each item's true story."""
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


def labelled_pairs(items: list[StoryItem]) -> list[Pair]:
    return [
        (a, b)
        for a, b in combinations(items, 2)
        if a.published and b.published and abs(a.published - b.published) <= DEFAULT_WINDOW
    ]


def score(pairs: list[Pair], truth: dict[str, str], predict: Callable[..., bool]) -> Scores:
    tp = fp = fn = 0
    false_merges: list[Pair] = []
    missed: list[Pair] = []
    for a, b in pairs:
        actual = truth[a.key] == truth[b.key]
        guess = predict(a, b)
        if guess and actual:
            tp += 1
        elif guess:
            fp += 1
            false_merges.append((a, b))
        elif actual:
            fn += 1
            missed.append((a, b))
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    return Scores(precision, recall, len(pairs), tp + fn, false_merges, missed)


def group(items: list[StoryItem], threshold: float) -> dict[str, str]:
    """Each item's story as the bot would assign it, taking items in time order."""
    index = StoryIndex(threshold=threshold)
    story_of: dict[str, str] = {}
    for item in items:
        story_of[item.key] = index.find(item) or item.key
        index.add(item, story_of[item.key])
    return story_of


def evaluate(path: Path, threshold: float) -> tuple[Scores, Scores, Rarity]:
    items, truth = load(path)
    rarity = Rarity(items)
    pairs = labelled_pairs(items)
    decided = score(pairs, truth, lambda a, b: same_story(a, b, rarity, threshold=threshold))
    story_of = group(items, threshold)
    grouped = score(pairs, truth, lambda a, b: story_of[a.key] == story_of[b.key])
    return decided, grouped, rarity


def report(name: str, threshold: float, explain: bool) -> bool:
    decided, grouped, rarity = evaluate(SETS[name], threshold)
    print(
        f"{name:8} threshold {threshold:.2f}: pairs {decided.pairs} ({decided.same} same story) | "
        f"pair decision P {decided.precision:.3f} R {decided.recall:.3f} | "
        f"grouping P {grouped.precision:.3f} R {grouped.recall:.3f}"
    )
    for label, pairs in (("false merges", grouped.false_merges), ("missed", grouped.missed)):
        keys = [f"{a.key}/{b.key}" for a, b in pairs]
        print(f"  grouping {label} ({len(pairs)}): {' '.join(keys[:30])}")
        if explain:
            for a, b in pairs[:30]:
                print(f"    {a.key} {a.title!r}\n    {b.key} {b.title!r}")
                print(f"      {compare(a, b, rarity).explain()}")
    if name == "main":
        verdict = "met" if grouped.met else "MISSED"
        print(f"  targets P >= {TARGET_PRECISION} and R >= {TARGET_RECALL} (grouping): {verdict}")
    return grouped.met


# --- speed --------------------------------------------------------------

_KINDS = ["blast", "gunmen attack", "clash", "arrest", "talks", "floods", "raid", "drone strike"]
_TARGETS = ["convoy", "police post", "market", "checkpoint", "rally", "bus", "camp", "office"]


def _word(k: int) -> str:
    """A made-up lower-case word for vocabulary entry k ("zabu", "kelomi" ...)."""
    syllables = "ba ke lo mi nu ra se ti vo za du fe gi ho ju".split()
    out = ""
    k += 20  # at least two syllables
    while k:
        k, r = divmod(k, len(syllables))
        out += syllables[r]
    return out


def synthetic(n: int, start: datetime, rng: random.Random, prefix: str) -> list[StoryItem]:
    """News-like items over 48 h: 400 watched entities and 5,000 other words, both with a
    few very common and many rare (Zipf), and 3,000 places."""
    entities = [f"entity_{k}" for k in range(400)]
    entity_weights = [1 / (k + 1) for k in range(400)]
    vocabulary = [_word(k) for k in range(5000)]
    word_weights = [1 / (k + 1) for k in range(5000)]
    items = []
    for k in range(n):
        place = f"Place{rng.randrange(3000)}"
        kind, target = rng.choice(_KINDS), rng.choice(_TARGETS)
        count = rng.randrange(2, 30)
        words = " ".join(rng.choices(vocabulary, word_weights, k=12))
        title = f"{count} killed as {kind} hits {target} near {place}"
        summary = (
            f"Officials said {count} people died when a {kind} struck a {target} in {place} "
            f"district on Tuesday, police spokesman Name{rng.randrange(5000)} said. {words}."
        )
        when = start + timedelta(seconds=rng.randrange(48 * 3600))
        chosen = set(rng.choices(entities, entity_weights, k=rng.randrange(1, 4)))
        items.append(StoryItem.of(f"{prefix}{k}", title, summary, when, chosen))
    return items


def speed(members: int, queries: int = 1000, seed: int = 1) -> None:
    rng = random.Random(seed)
    start = datetime(2026, 11, 1, tzinfo=UTC)
    index = StoryIndex()
    began = time.perf_counter()
    for item in synthetic(members, start, rng, "m"):
        index.add(item, item.key)
    built = time.perf_counter() - began
    probes = synthetic(queries, start, rng, "q")
    candidates = sum(len(index.candidates(item)) for item in probes) / queries
    began = time.perf_counter()
    found = sum(index.find(item) is not None for item in probes)
    took = time.perf_counter() - began
    print(
        f"speed: StoryIndex.find with {len(index):,} members: {queries / took:,.0f} items/s "
        f"({took / queries * 1000:.2f} ms each, {candidates:.0f} candidates on average; "
        f"{found} of {queries} joined a story); adding: {members / built:,.0f} items/s"
    )
    labelled = [item for path in SETS.values() for item in load(path)[0]]
    print(
        f"speed: reading an item (StoryItem.of): {reading_ms(labelled):.3f} ms per labelled "
        f"item, {reading_ms(probes):.3f} ms per synthetic one"
    )


def reading_ms(items: list[StoryItem], rounds: int = 5) -> float:
    """Milliseconds per StoryItem.of on the items' text, the best of a few rounds."""
    best = math.inf
    for _ in range(rounds):
        began = time.perf_counter()
        for i in items:
            StoryItem.of(i.key, i.title, i.summary, i.published, i.entities, i.seen_at)
        best = min(best, time.perf_counter() - began)
    return best / len(items) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", choices=["main", "heldout", "blind", "both"], default="both")
    parser.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD)
    parser.add_argument("--sweep", action="store_true", help="try thresholds -1 to 2")
    parser.add_argument("--explain", action="store_true", help="why each pair went wrong")
    parser.add_argument("--members", type=int, default=20_000, help="index size for speed")
    parser.add_argument("--no-speed", action="store_true")
    args = parser.parse_args()
    names = list(SETS) if args.set == "both" else [args.set]
    thresholds = [t / 4 for t in range(-4, 9)] if args.sweep else [args.threshold]
    for name in names:
        for t in thresholds:
            report(name, t, args.explain and not args.sweep)
    if not args.no_speed:
        speed(args.members)
    return 0


if __name__ == "__main__":
    sys.exit(main())
