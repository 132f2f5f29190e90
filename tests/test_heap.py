"""bot/heap.py: pausing the cyclic collector during index builds.

Why: the pause is only harmless because an index holds no reference cycles
(reference counting frees it), and because overlapping pauses (a story rebuild on
the event loop, a match-index build in a thread) leave the collector as they found it.
"""

from __future__ import annotations

import gc
import subprocess
import sys
from pathlib import Path

from bot.heap import cycle_collection_paused
from bot.matching.matcher import Matcher
from bot.matching.watchlists import load_watchlists

WATCHLISTS = Path(__file__).resolve().parent.parent / "watchlists"
TEXTS = (
    ("ISKP claims attack in Kunar", "Islamic State Khorasan Province (IS-K) said ..."),
    ("Tehreek-e-Taliban Pakistan", "TTP's fighters near North Waziristan, Khyber Pakhtunkhwa"),
    ("Ajit Dovals visit", "Хизб ут-Тахрир в Бишкеке; Dushanbe, Душанбе; Hibatullah Akhundzada"),
)


def test_a_used_matcher_holds_no_reference_cycles() -> None:
    entities = load_watchlists(WATCHLISTS)
    gc.collect()
    matcher = Matcher(entities)
    found = [matcher.match_text(title, summary) for title, summary in TEXTS]
    assert any(found)  # the caches were filled, as in a running bot
    del matcher
    assert gc.collect() == 0  # reference counting freed it all: nothing left for the collector


def test_pauses_nest_and_overlap_and_end_with_the_collector_on() -> None:
    assert gc.isenabled()
    with cycle_collection_paused():
        assert not gc.isenabled()
        with cycle_collection_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
    outer = cycle_collection_paused()
    inner = cycle_collection_paused()
    outer.__enter__()
    inner.__enter__()
    outer.__exit__(None, None, None)  # the first to begin ends first
    inner.__exit__(None, None, None)
    assert gc.isenabled()
    gc.disable()
    try:
        with cycle_collection_paused():
            pass
        assert not gc.isenabled()  # left as it was found
    finally:
        gc.enable()


def test_exit_skips_the_collectors_walk_over_what_the_process_made() -> None:
    import gc

    from bot.heap import skip_exit_collection

    assert gc.get_freeze_count() == 0
    try:
        skip_exit_collection()
        assert gc.get_freeze_count() > 0  # shutdown's collections pass these over
    finally:
        gc.unfreeze()


def test_the_command_line_imports_aiohttp_with_the_collector_paused() -> None:
    """What start-up imports is kept for the whole process: no collection runs while
    aiohttp and its ~300 modules load, and the collector is on again for the command."""
    script = (
        "import gc, sys\n"
        "import bot.__main__ as m\n"
        "real, seen = m.import_aiohttp, []\n"
        "def watched():\n"
        "    seen.append(gc.isenabled()); real(); seen.append(gc.isenabled())\n"
        "m.import_aiohttp = watched\n"
        "try:\n"
        "    m.main(['check', '--config', sys.argv[1]])\n"
        "except SystemExit:\n"
        "    pass\n"
        "assert 'aiohttp' in sys.modules and seen == [False, False], seen\n"
        "assert gc.isenabled()\n"
        "print('ok')\n"
    )
    config = Path(__file__).resolve().parent.parent / "bot.toml"
    done = subprocess.run(
        [sys.executable, "-c", script, str(config)], capture_output=True, text=True, check=False
    )
    assert done.stdout.splitlines()[-1:] == ["ok"], done.stderr[-2000:]
