"""Keeping Python's cyclic garbage collector out of the way of index builds and forks.

Why a module of its own: the story index and the match index are large (hundreds of
thousands of small objects at 10,000 aliases) and hold no reference cycles, so
reference counting alone frees them (tests/test_heap.py); yet while one is built,
each collection the allocations trigger walks every young object, and the fuller
ones the rest of the process too: ~45 % of a story-index rebuild, a sixth of a
10,000-alias match-index build (issue 13). Both builds pause the collector here.
A parser worker forked from the bot would likewise walk, and so copy page by page,
the whole heap it inherited: the bot freezes its objects for the fork (below). And a
short-lived `once` collects its young objects less often (fewer_young_collections).
Start-up's imports are the same case: ~600 modules' functions, classes and constants,
all kept, set off 60 of the 90 collections of a `once` at 1,000 feeds (7 ms): the
command line imports with the collector paused (bot/__main__.py, bot/cli/run.py).

Freezing the heap for good once an index is built (gc.freeze) was measured too: a
fresh matcher's first 5,000 items ran ~18 % faster. It was left out: the collector
never reclaims a frozen object, and a poll in flight at that moment (its frames can
hold a feed body) that later ends up in a reference cycle would stay in memory for
good, once per watchlist reload.
"""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Iterator

_lock = threading.RLock()  # also held across a fork's freeze: see frozen_for_fork
_paused = 0  # pauses under way: the bot builds the match index in a thread while a
_was_enabled = False  # story rebuild may run on the event loop; tests build several


@contextlib.contextmanager
def cycle_collection_paused() -> Iterator[None]:
    """The cyclic collector paused for the block; back as the first pause found it.

    Pauses may nest, overlap and fail: the state is counted under a lock, so the
    last one to end restores what the first one found. At that end every tracked
    object moves to the oldest generation (gc.freeze, then gc.unfreeze, which puts
    them back there; skipped if something else has frozen objects): the new index
    is not walked again as young objects, and any cyclic garbage made meanwhile, in
    any thread, is freed by the next full collection. Nothing stays frozen.
    """
    global _paused, _was_enabled
    with _lock:
        if _paused == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _paused += 1
    try:
        yield
    finally:
        with _lock:
            _paused -= 1
            if _paused == 0 and _was_enabled:
                if gc.get_freeze_count() == 0:
                    gc.freeze()
                    gc.unfreeze()
                gc.enable()


@contextlib.contextmanager
def frozen_for_fork(forking: bool) -> Iterator[None]:
    """Around the first document given to a parser worker, which forks it (the `fork`
    start method): the bot's objects are frozen for the cyclic collector meanwhile
    (gc.freeze), so the worker's collections never walk the objects it inherited,
    which would copy (copy-on-write) every page of the bot's heap into the worker; the
    bot unfreezes its own at once. What the Python documentation advises for forking
    servers. Under the pauses' lock, so a build ending in another thread meanwhile
    neither sees the fork's frozen objects nor thaws them before the fork."""
    if not forking:
        yield
        return
    with _lock:
        gc.freeze()
        try:
            yield
        finally:
            gc.unfreeze()


#: The collector's youngest-generation threshold while `once` runs (Python's is 700).
#: A `once` process makes most of its objects to keep them (imports, the match index,
#: config, the story index), so most young collections find nothing to free: at 1,000
#: feeds with 10 % changed, 190 young and 15 middle collections took 0.033 s of CPU, a
#: threshold ten times larger halves that (bench/pipeline_ab.py). Garbage in reference
#: cycles waits a little longer, a few thousand objects at most; everything else is
#: freed by reference counting as before. `run` keeps Python's default.
ONCE_YOUNG_THRESHOLD = 7000


@contextlib.contextmanager
def fewer_young_collections(threshold: int = ONCE_YOUNG_THRESHOLD) -> Iterator[None]:
    """Raise the youngest generation's threshold for the block; restored after it (tests
    call `main()` in one process)."""
    before = gc.get_threshold()
    gc.set_threshold(threshold, *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)


def skip_exit_collection() -> None:
    """Called as the command line exits: the interpreter's shutdown then does not walk
    every object the process made with the cyclic collector.

    At exit Python clears its modules and runs full collections over what is left:
    every function, class and constant of ~600 imported modules, the match and story
    indexes. It frees nothing the end of the process would not, and cost 0.04 CPU-s of
    a 1.2 CPU-s `once` (a tenth of the feeds changed; bench/pipeline_ab.py), paid again
    by every `once` a scheduler starts. Frozen objects (gc.freeze) are skipped by those
    collections; reference counting still frees the rest on the way out, and every
    resource (database, sockets, files, log handlers) is closed before this, by the
    commands and by `atexit`/`logging.shutdown`, which still run.
    """
    gc.freeze()
