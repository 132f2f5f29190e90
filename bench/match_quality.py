"""Matching quality on the labelled evaluation set: precision, recall, F1.

Runs the bot's matcher and two baselines over tests/data/match_eval (items
written for this project, with the entities an analyst expects and those
that are acceptable), then lists every miss and false alarm of the matcher.

    python bench/match_quality.py [--threshold 90] [--items PATH] [--watchlists DIR]

Baselines, for scale: exact (every alias as a whole word, case-insensitive, on
normalised text) and naive fuzzy (rapidfuzz partial_ratio >= 90 of each alias
against the normalised text). Targets for the matcher: P >= 0.98, R >= 0.97.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rapidfuzz import fuzz  # noqa: E402

from bot.matching.matcher import Matcher  # noqa: E402
from bot.matching.normalize import fold  # noqa: E402
from bot.matching.quality import Finder, QualityReport, evaluate, load_items  # noqa: E402
from bot.matching.watchlists import load_watchlists  # noqa: E402
from bot.models import Entity  # noqa: E402

DATA = ROOT / "tests" / "data" / "match_eval"


def matcher_finder(entities: list[Entity], threshold: float) -> Finder:
    matcher = Matcher(entities, threshold)

    def find(title: str, summary: str) -> dict[str, str]:
        return {m.entity_id: m.explain() for m in matcher.match_text(title, summary)}

    return find


def exact_finder(entities: list[Entity]) -> Finder:
    patterns = [
        (e.id, re.compile(r"\b" + re.escape(fold(a)) + r"\b"))
        for e in entities
        for a in e.all_aliases
        if fold(a)
    ]

    def find(title: str, summary: str) -> dict[str, str]:
        text = fold(f"{title} {summary}")
        return {eid: "exact" for eid, p in patterns if p.search(text)}

    return find


def fuzzy_finder(entities: list[Entity], cutoff: float = 90) -> Finder:
    aliases = [(e.id, fold(a)) for e in entities for a in e.all_aliases if fold(a)]

    def find(title: str, summary: str) -> dict[str, str]:
        text = fold(f"{title} {summary}")
        found = {}
        for eid, alias in aliases:
            if eid not in found and fuzz.partial_ratio(alias, text, score_cutoff=cutoff):
                found[eid] = "partial_ratio"
        return found

    return find


def line(name: str, r: QualityReport, seconds: float) -> str:
    return (
        f"{name:<22} P {r.precision:.3f}  R {r.recall:.3f}  F1 {r.f1:.3f}   "
        f"tp {r.true_positives:>4}  misses {len(r.misses):>3}  false alarms "
        f"{len(r.false_alarms):>3}   {seconds:6.2f}s"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=Path, default=DATA / "items.jsonl")
    parser.add_argument("--watchlists", type=Path, default=DATA / "watchlists")
    parser.add_argument("--threshold", type=float, default=90.0)
    parser.add_argument("--no-baselines", action="store_true")
    args = parser.parse_args()

    items = load_items(args.items)
    entities = load_watchlists(args.watchlists)
    labels = sum(len(i.expected) for i in items)
    print(
        f"{len(items)} items, {labels} expected mentions, {len(entities)} entities "
        f"({sum(len(e.all_aliases) for e in entities)} aliases), threshold {args.threshold:g}\n"
    )
    finders = [("matcher", matcher_finder(entities, args.threshold))]
    if not args.no_baselines:
        finders += [
            ("baseline: exact", exact_finder(entities)),
            ("baseline: fuzzy >= 90", fuzzy_finder(entities)),
        ]
    reports = {}
    for name, find in finders:
        t = time.perf_counter()
        reports[name] = evaluate(items, find)
        print(line(name, reports[name], time.perf_counter() - t))

    ours = reports["matcher"]
    print(f"\nmisses of the matcher ({len(ours.misses)}):")
    for item, entity_id in ours.misses:
        print(f"  {item.id} {entity_id:<22} {item.title[:70]}  [{item.note[:60]}]")
    print(f"\nfalse alarms of the matcher ({len(ours.false_alarms)}):")
    for item, entity_id, why in ours.false_alarms:
        print(f"  {item.id} {entity_id:<22} {why}  [{item.note[:60]}]")
    met = ours.precision >= 0.98 and ours.recall >= 0.97
    print(f"\ntargets P >= 0.98 and R >= 0.97: {'met' if met else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
