"""Time spans the fake platforms record, and which of them overlapped.

The multi-instance tests (issue 15) ask the fakes questions such as "were two
gateway sessions ever open at once?" or "were two message creates for one
channel ever in flight together?". The fakes record a `Span` per session or
request, with `time.monotonic()` times taken in the fake's own process (one
clock for every bot process talking to it), and `overlapping()` answers.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Span:
    """From `start` to `end` (None: still open / in flight), with what it was about."""

    start: float = field(default_factory=time.monotonic)
    end: float | None = None
    info: dict[str, Any] = field(default_factory=dict)

    def close(self) -> None:
        if self.end is None:
            self.end = time.monotonic()

    @property
    def open(self) -> bool:
        return self.end is None

    def overlaps(self, other: Span) -> bool:
        """Both open at one instant; one closing as the other opens does not count."""
        return self.start < _until(other) and other.start < _until(self)


def _until(span: Span) -> float:
    return span.end if span.end is not None else float("inf")


def overlapping(spans: list[Span]) -> list[tuple[Span, Span]]:
    """Every pair of `spans` that were open at the same time (empty: never).

    Sorted by start, a span can only overlap those starting before it ends, so
    thousands of requests are checked without comparing every pair.
    """
    ordered = sorted(spans, key=lambda s: s.start)
    pairs = []
    for i, a in enumerate(ordered):
        for j in range(i + 1, len(ordered)):
            b = ordered[j]
            if a.end is not None and b.start >= a.end:
                break
            if a.overlaps(b):
                pairs.append((a, b))
    return pairs
