"""The quality targets on the labelled evaluation set, as assertions.

Matching is deterministic, so precision and recall on our own set are fair
to assert; bench/match_quality.py prints the same figures with every miss.
"""

from __future__ import annotations

from pathlib import Path

from bot.matching.matcher import Matcher
from bot.matching.quality import evaluate, load_items
from bot.matching.watchlists import load_watchlists

DATA = Path(__file__).parent / "data" / "match_eval"


def test_evaluation_set_is_large_enough() -> None:
    items = load_items(DATA / "items.jsonl")
    assert len(items) >= 300
    assert len({i.id for i in items}) == len(items)
    entity_ids = {e.id for e in load_watchlists(DATA / "watchlists")}
    for i in items:
        assert i.expected | i.acceptable <= entity_ids, i.id


def test_precision_and_recall_meet_the_targets() -> None:
    matcher = Matcher(load_watchlists(DATA / "watchlists"), threshold=90)
    report = evaluate(
        load_items(DATA / "items.jsonl"),
        lambda title, summary: {
            m.entity_id: m.explain() for m in matcher.match_text(title, summary)
        },
    )
    misses = [f"{i.id}:{e}" for i, e in report.misses]
    alarms = [f"{i.id}:{e} {why}" for i, e, why in report.false_alarms]
    assert report.precision >= 0.98, alarms
    assert report.recall >= 0.97, misses
