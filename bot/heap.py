"""Keeping Python's cyclic garbage collector out of the way of index builds.

Why a module of its own: the story index and the match index are large (hundreds of
thousands of small objects at 10,000 aliases) and hold no reference cycles, so
reference counting alone frees them; yet while one is built, each collection the
allocations trigger walks every object made so far: ~45 % of a story-index rebuild,
10-15 % of a 10,000-alias match-index build. Both builds pause the collector.

Freezing the heap once an index is built (gc.freeze) was measured too: a fresh
matcher's first 5,000 items ran ~18 % faster. It was left out: the collector never
reclaims a frozen object, and a poll in flight at that moment (its frames can hold a
feed body) that later ends up in a reference cycle would stay in memory for good,
once per watchlist reload.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def cycle_collection_paused() -> Iterator[None]:
    """The cyclic collector off for the block, then back as it was.

    Pauses may nest or overlap (a story rebuild on the event loop, a match-index
    build in a thread): the collector ends switched on if it was on when the first
    of them began, and reference counting frees memory meanwhile as always.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
