"""Precision and recall of the matcher on a labelled set (bench/match_quality.py, tests).

Each item lists the entities a careful analyst requires (`expected`) and those
it is fine to flag but not required (`acceptable`, e.g. demonyms). A hit on an
expected entity is a true positive, a missing one a miss, a hit on neither
list a false alarm; acceptable hits count for nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True, slots=True)
class LabelledItem:
    id: str
    title: str
    summary: str
    expected: frozenset[str]
    acceptable: frozenset[str]
    note: str = ""


@dataclass(slots=True)
class QualityReport:
    true_positives: int = 0
    misses: list[tuple[LabelledItem, str]] = field(default_factory=list)
    false_alarms: list[tuple[LabelledItem, str, str]] = field(default_factory=list)

    @property
    def precision(self) -> float:
        found = self.true_positives + len(self.false_alarms)
        return self.true_positives / found if found else 1.0

    @property
    def recall(self) -> float:
        wanted = self.true_positives + len(self.misses)
        return self.true_positives / wanted if wanted else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def load_items(path: Path) -> list[LabelledItem]:
    items = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            d = json.loads(line)
            items.append(
                LabelledItem(
                    d["id"],
                    d["title"],
                    d.get("summary", ""),
                    frozenset(d.get("expected", ())),
                    frozenset(d.get("acceptable", ())),
                    d.get("note", ""),
                )
            )
    return items


#: Given title and summary, the entity ids found, each with a short explanation.
Finder = Callable[[str, str], dict[str, str]]


def evaluate(items: Iterable[LabelledItem], find: Finder) -> QualityReport:
    report = QualityReport()
    for item in items:
        found = find(item.title, item.summary)
        for entity_id in sorted(item.expected):
            if entity_id in found:
                report.true_positives += 1
            else:
                report.misses.append((item, entity_id))
        for entity_id in sorted(found):
            if entity_id not in item.expected and entity_id not in item.acceptable:
                report.false_alarms.append((item, entity_id, found[entity_id]))
    return report
