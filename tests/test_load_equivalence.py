"""Loading a watchlist gives the very warnings and match index it gave before each
alias's forms were computed once and shared (bot/matching/alias_forms.py, issue 13).

The reference is the previous code, kept in tests/load_reference.py. Compared: every
warning `check` prints and start-up logs (shared and risky aliases, in order), the
exclusion check's refusal, and every table of the built index, on the bundled
watchlists, the test data's, bench/match_speed.py's generated 10,000-alias list and
random entities (hypothesis); with the records' cache cold and warm.
"""

from __future__ import annotations

import gc
import importlib.util
import logging
import sys
import threading
import weakref
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.errors import ConfigError
from bot.matching import alias_forms, lint, name_rules, risk
from bot.matching.alias_index import AliasIndex
from bot.matching.normalize import letter_count, phrase_words
from bot.matching.spelling import skeleton
from bot.matching.watchlists import (
    alias_collisions,
    load_watchlists,
    read_watchlists,
    risky_aliases,
    term_warnings,
)
from bot.models import Entity
from tests import load_reference as ref

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = (
    ROOT / "watchlists",
    ROOT / "tests" / "data" / "watchlists",
    ROOT / "tests" / "data" / "match_eval" / "watchlists",
)


@cache
def bench_watchlist(size: int) -> tuple[Entity, ...]:
    """bench/match_speed.py's generated watchlist of `size` aliases (seed 7)."""
    spec = importlib.util.spec_from_file_location("match_speed", ROOT / "bench" / "match_speed.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("match_speed", module)
    spec.loader.exec_module(module)
    _, vocab = module.make_drafts(7, 200)
    return tuple(module.make_watchlist(7, size, vocab.all_words()))


def assert_same(
    entities: list[Entity],
    directory: Path = Path("wl"),
    thresholds: tuple[float, ...] = (90, 80, 100),
) -> None:
    assert term_warnings(directory, entities) == ref.term_warnings(directory, entities)
    assert alias_collisions(entities) == ref.alias_collisions(entities)
    for e in entities:
        assert risky_aliases(e) == ref.risky_aliases(e)
    for threshold in thresholds:
        index = AliasIndex(entities, threshold)
        assert ref.index_tables(index) == ref.index_tables(ref.ReferenceIndex(entities, threshold))


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda p: p.relative_to(ROOT).as_posix())
@pytest.mark.parametrize("cold", [True, False], ids=["cold", "warm"])
def test_shipped_watchlists_give_the_same_warnings_and_index(folder: Path, cold: bool) -> None:
    if cold:
        alias_forms.forms.cache_clear()
    assert_same(read_watchlists(folder), folder)


def test_the_generated_10000_alias_watchlist_gives_the_same_warnings_and_index() -> None:
    entities = list(bench_watchlist(10_000))
    assert sum(len(e.all_aliases) for e in entities) == 10_000
    alias_forms.forms.cache_clear()
    assert_same(entities, thresholds=(90,))  # the default; the others on smaller lists


def test_start_up_logs_the_same_warnings(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """load_watchlists' log lines are the reference's warnings, one per risky alias."""
    folder = ROOT / "tests" / "data" / "match_eval" / "watchlists"
    with caplog.at_level(logging.WARNING, logger="bot.matching.watchlists"):
        entities = load_watchlists(folder)
    logged = [r.getMessage() for r in caplog.records]
    collisions = ref.alias_collisions(entities)
    risky = [(e, a, why) for e in entities for a, why in ref.risky_aliases(e)]
    assert len(logged) == bool(collisions) + len(risky)
    if collisions:
        assert logged[0].endswith("; ".join(collisions))
    for line, (e, alias, why) in zip(logged[bool(collisions) :], risky, strict=True):
        assert line.endswith(f"alias {alias!r} is risky: {why}") and repr(e.id) in line


# -- random aliases and entities ----------------------------------------------------------

# Letters of both cases, digits, the symbols word matching drops or keeps, accents,
# another script, and whole words the rules care about (common, generic, connectors,
# directions, "Province", the Islamic State's synonyms).
_CHARS = st.sampled_from(list("aAbBkKhHlLtTsSiIeEoOuUyY019 -'.&+#/éüКаб"))
_WORDS = st.sampled_from(
    "the of al ul e Islamic State islamicstate Province north North-West Khan 26 "
    "Tehrik-i-Taliban ISKP IS-KP K-P C++ .NET J&K AT&T Karimov Usama Osama bin Laden "
    "people Said said Haqqani Network Kabul Kunar Jamaat Sahel Taliban TALIBAN".split()
)
ALIASES = st.lists(st.one_of(_CHARS, _WORDS), min_size=1, max_size=7).map(" ".join).map(str.strip)


@given(ALIASES)
def test_an_alias_record_holds_what_each_old_check_computed(alias: str) -> None:
    record = alias_forms.forms(alias)
    tokens = phrase_words(alias)
    assert (record.folded, record.cased) == (tokens.folded, tokens.cased)
    assert record.skel == tuple(skeleton(w) for w in tokens.folded)
    assert record.letters == letter_count(alias) == alias_forms.letters(alias)
    assert record.strict == ref.is_strict(alias) == name_rules.is_strict(alias)
    assert record.symbols == ref.dropped_symbols(alias) == risk.dropped_symbols(alias)
    assert list(record.risks) == ref.risk_reasons(alias) == risk.risk_reasons(alias)
    assert lint.alias_warnings(alias) == ref.risk_reasons(alias)
    assert lint.alias_keys(alias) == ref.alias_keys(alias)
    assert list(record.keys) == list(ref.alias_keys(alias))  # the same order, too


@given(st.text())
def test_letters_counts_what_letter_count_counts(text: str) -> None:
    assert alias_forms.letters(text) == letter_count(text)


@given(st.one_of(st.text(), st.text(st.characters(max_codepoint=127)), ALIASES))
def test_dropped_symbols_finds_what_the_regular_expression_finds(text: str) -> None:
    assert risk.dropped_symbols(text) == ref.dropped_symbols(text)


_KINDS = st.sampled_from(["group", "person", "region"])


@st.composite
def entity_lists(draw: st.DrawFn) -> list[Entity]:
    out = []
    for k in range(draw(st.integers(1, 6))):
        name = draw(ALIASES.filter(lambda a: bool(phrase_words(a).folded)))
        aliases = tuple(draw(st.lists(ALIASES, max_size=4)))
        listed = (name, *aliases)
        out.append(
            Entity(
                id=f"e{k}",
                name=name,
                kind=draw(_KINDS),
                aliases=aliases,
                exclude=tuple(
                    draw(
                        st.lists(ALIASES.filter(lambda a: bool(phrase_words(a).folded)), max_size=2)
                    )
                ),
                source=f"f.toml:{k + 1}",
                context=tuple(draw(st.lists(ALIASES, max_size=1))),
                loose=tuple(draw(st.lists(st.sampled_from(listed), max_size=2, unique=True))),
            )
        )
    return out


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(entity_lists())
def test_random_entities_give_the_same_warnings_index_and_exclusion_check(
    entities: list[Entity],
) -> None:
    assert_same(entities)
    from bot.matching.watchlists import _check_exclusions

    clash = next((c for e in entities if (c := ref.exclusion_clash(e))), None)
    if clash is None:
        _check_exclusions(Path("wl"), entities)
    else:
        with pytest.raises(ConfigError) as raised:
            _check_exclusions(Path("wl"), entities)
        phrase, alias = clash
        assert f"exclude phrase {phrase!r} equals its alias {alias!r}" in str(raised.value)


# -- the collector's pause during a build ----------------------------------------------


def test_a_build_leaves_the_garbage_collector_as_it_found_it() -> None:
    entities = list(bench_watchlist(1_000))
    assert gc.isenabled()
    AliasIndex(entities)
    assert gc.isenabled() and gc.get_freeze_count() == 0
    gc.disable()
    try:
        AliasIndex(entities)
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_builds_in_several_threads_at_once_leave_the_collector_enabled() -> None:
    """The bot builds in a thread; a reload may overlap a deferred build."""
    entities = list(bench_watchlist(1_000))
    barrier = threading.Barrier(3)

    def build() -> int:
        barrier.wait()
        return AliasIndex(entities).alias_count

    with ThreadPoolExecutor(3) as pool:
        counts = list(pool.map(lambda _: build(), range(3)))
    assert counts == [1_000] * 3
    assert gc.isenabled() and gc.get_freeze_count() == 0


def test_cyclic_garbage_moved_to_the_oldest_generation_is_still_freed() -> None:
    """The build's end moves every young object to the oldest generation; a cycle
    dropped before (or during) it is freed by the next full collection."""

    class Node:
        pass

    entities = list(bench_watchlist(1_000))
    gc.collect()  # the young generation empty: no collection before the build's
    node = Node()
    node.self = node  # type: ignore[attr-defined]
    gone = weakref.ref(node)
    del node
    AliasIndex(entities)
    assert gone() is not None  # not freed by reference counting: a cycle
    gc.collect()
    assert gone() is None


def test_a_failing_build_still_restores_the_collector() -> None:
    # An exclusion without words (validation refuses it in files) breaks the build.
    broken = Entity(id="y", name="Zarobod", kind="region", exclude=("!",))
    with pytest.raises(IndexError):
        AliasIndex([broken])
    assert gc.isenabled()
