"""The matcher's shortcuts (issue 13) against the plain loops they replaced.

Why: to match faster, the exact and fuzzy finders skip words and windows
that cannot hold a name (exact_mentions over the words AliasIndex.word_bits marks,
fuzzy's precomputed Hit tests, the widening middle-name gaps of
fuzzy.windows, reversed_names' early return). A skip that is wrong loses a
mention silently, so each shortcut is compared here with the loop it
replaced, kept in this file as the reference, on generated text made of the
watchlist's own words, one-letter variants, capitals, hyphens, commas and
filler; every finder must report exactly the same mentions in the same order.
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path
from types import ModuleType
from unittest import mock

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import bot.matching
from bot.matching import compiled, exact, fuzzy
from bot.matching.alias_index import Alias, AliasIndex
from bot.matching.matcher import Matcher
from bot.matching.mention import Field
from bot.matching.name_rules import (
    DIRECTIONS,
    GENERIC_WORDS,
    MAX_INSERTED,
    MIN_ANCHOR_LEN,
    distinctive,
    head,
    same_start,
)
from bot.matching.normalize import Tokens, scan
from bot.matching.resolve import better
from bot.matching.spelling import skeleton
from bot.models import Entity, Match


def _entity(id: str, name: str, *aliases: str, kind: str = "group") -> Entity:
    return Entity(id, name, kind, tuple(aliases))


ENTITIES = [
    _entity("ttp", "Tehrik-i-Taliban Pakistan", "TTP"),
    _entity("iskp", "Islamic State Khorasan Province", "ISKP"),
    _entity("imu", "Islamic Movement of Uzbekistanabad"),
    _entity("hm", "Hizbul Mujahideen"),
    _entity("hut", "Hizb ut-Tahrir"),
    _entity("let", "Lashkar-e-Taiba", "LeT"),
    _entity("nwaz", "North Waziristan", kind="region"),
    _entity("kp", "Khyber Pakhtunkhwa", "KP", kind="region"),
    _entity("nangarhar", "Nangarhar Province", kind="region"),
    _entity("kadul", "Mulah Kadul", kind="person"),
    _entity("modi", "Narendra Modi", kind="person"),
    _entity("sharif", "Shehbaz Sharif", kind="person"),
    _entity("hib", "Hibatullah Akhundzada", kind="person"),
    _entity("ahmadi", "Said Ahmadi", kind="person"),
    _entity("karimov", "Islam Karimov", kind="person"),
    _entity("rashid", "Khuan Rashid Kazvarval", kind="person"),
    _entity("tnt", "Tehrik-e-Nusrat Tashbulak", "TNT"),
]

_ALIAS_WORDS = sorted(
    {w for e in ENTITIES for a in e.all_aliases for w in a.replace("-", " ").split()}
)
_FILLER = ["the", "said", "in", "Kabul", "Khan", "police", "North", "of", "al", "Province", "Tarek"]
_SEPARATORS = [" ", " ", " ", "-", ", ", ". ", " (", "'s "]


@st.composite
def _word(draw: st.DrawFn) -> str:
    """An alias word as written, or with one letter changed, dropped or doubled, or filler."""
    word = draw(st.sampled_from(_ALIAS_WORDS + _FILLER))
    change = draw(st.sampled_from(["none", "none", "swap", "drop", "double", "lower", "upper"]))
    k = draw(st.integers(0, max(0, len(word) - 1)))
    if change == "swap" and len(word) > 1:
        word = word[:k] + draw(st.sampled_from("aeioukhsz")) + word[k + 1 :]
    elif change == "drop" and len(word) > 3:
        word = word[:k] + word[k + 1 :]
    elif change == "double":
        word = word[: k + 1] + word[k:]
    elif change == "lower":
        word = word.lower()
    elif change == "upper":
        word = word.upper()
    return word


@st.composite
def _text(draw: st.DrawFn) -> str:
    words = draw(st.lists(_word(), min_size=1, max_size=12))
    out = words[0]
    for w in words[1:]:
        out += draw(st.sampled_from(_SEPARATORS)) + w
    return out


@pytest.fixture(scope="module")
def index() -> AliasIndex:
    return Matcher(ENTITIES)._index


def _field(text: str) -> Field:
    toks = scan(text)
    return Field("title", text, toks, [skeleton(w) for w in toks.folded])


def _every_word(f: Field) -> Field:
    n = len(f.skel)
    every = list(range(n))
    return Field(f.name, f.text, f.tokens, f.skel, (every, every, every, every), f.heads)


def _key(m: Match) -> tuple[object, ...]:
    return (m.entity_id, m.alias, m.text, m.start, m.end, m.score, m.how)


# -- the loops the shortcuts replaced ---------------------------------------------------------


def reference_windows(alias: Alias, i: int, pos: int, toks: Tokens) -> list[tuple[int, int, int]]:
    """fuzzy.windows before issue 13: every gap tried, each inserted word checked."""
    size, n = alias.size, len(toks)
    out = []
    for length in (size, size - 1):
        if length < 1:
            continue
        for start in {i - pos, i - pos + (size - length)}:
            if 0 <= start <= i < start + length <= n:
                out.append((start, start + length, 0))
    if size >= 2:
        for gap in range(1, MAX_INSERTED + 1):
            start = i - pos if pos < size - 1 else i - pos - gap
            end = start + size + gap
            if start < 0 or end > n:
                continue
            inner = range(end - 1 - gap, end - 1)
            if all(
                toks.cased[k][:1].isupper()
                and toks.folded[k] not in GENERIC_WORDS
                and toks.folded[k] not in DIRECTIONS
                for k in inner
            ):
                out.append((start, end, gap))
    return out


def reference_fuzzy(index: AliasIndex, f: Field, skip: set[str]) -> list[Match]:
    """fuzzy.fuzzy before issue 13: every word, neighbours_fit and verify called per window."""
    best: dict[str, Match] = {}
    tried: set[tuple[int, int, int, int]] = set()
    toks, skel = f.tokens, f.skel
    for i, word in enumerate(skel):
        anchorable = len(word) >= MIN_ANCHOR_LEN - 1 and distinctive(word)
        for a, pos in index.anchor_hits(word) if anchorable else ():
            alias = index.aliases[a]
            if alias.entity.id in skip or not fuzzy.neighbours_fit(alias, pos, i, toks, skel):
                continue
            for start, end, gap in reference_windows(alias, i, pos, toks):
                if (a, start, end, gap) in tried:
                    continue
                tried.add((a, start, end, gap))
                m = fuzzy.verify(index, alias, f, start, end, gap)
                if m is not None and (m.entity_id not in best or better(m, best[m.entity_id])):
                    best[m.entity_id] = m
    return list(best.values())


# -- properties ---------------------------------------------------------------------------------


@settings(max_examples=400, deadline=None, derandomize=True, database=None)
@example("K-P police and T-N-T")
@example("Islamic Movement of Tarek Uzbekistanabad")
@example("Hizbul, Mulah Kadul's and Narendra Damodardas Modi")
@example("Ahmadi, Said met Islam Karim and Usama Hibatulah Akhundzade")
@given(_text())
def test_fuzzy_shortcuts_find_what_the_plain_loop_finds(index: AliasIndex, text: str) -> None:
    f = _field(text)
    assert [_key(m) for m in fuzzy.fuzzy(index, f, set())] == [
        _key(m) for m in reference_fuzzy(index, f, set())
    ]


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@example("K-P police and T-N-T")
@example("Islamic Movement of Tarek Uzbekistanabad")
@example("Hizbul, Mulah Kadul's and Narendra Damodardas Modi")
@example("Ahmadi, Said met Islam Karim and Usama Hibatulah Akhundzade")
@given(_text())
def test_exact_candidates_skip_no_word_that_finds_a_name(index: AliasIndex, text: str) -> None:
    """exact_mentions visiting only the marked words (word_bits) = visiting every word."""
    f = _field(text)
    fast = [_key(m) for m in exact.exact_mentions(index, f)]
    # Every word marked: each finder visits every word (variants
    # still skips lower-case and transliterated ones itself, as before).
    every_word = [_key(m) for m in exact.exact_mentions(index, _every_word(f))]
    assert fast == every_word


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(_text(), st.integers(0, 11))
def test_windows_equal_the_plain_loop(index: AliasIndex, text: str, at: int) -> None:
    toks = scan(text)
    i = at % len(toks) if len(toks) else 0
    for alias in index.aliases:
        for pos in range(alias.size):
            if len(toks):
                assert fuzzy.windows(alias, i, pos, toks) == reference_windows(alias, i, pos, toks)


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(st.text(alphabet="aeiobkhz", max_size=4), st.text(alphabet="aeiobkhz", max_size=4))
def test_head_decides_same_start(a: str, b: str) -> None:
    """The fuzzy pass compares precomputed heads; that must be same_start exactly."""
    assert same_start(a, b) == (not head(a) or not head(b) or head(a) == head(b))


def test_the_generated_text_reaches_the_shortcuts(index: AliasIndex) -> None:
    """The properties above are only worth something if the text finds names both ways."""
    f = _field(
        "Mulah Kadol, Hizb-ul-Mujahideen and K-P police; Narendra Damodardas Modi; "
        "Islamic Movement of Tarek Uzbekistanabad"
    )
    assert {m.entity_id for m in fuzzy.fuzzy(index, f, set())} >= {"kadul", "modi", "imu"}
    assert {m.entity_id for m in exact.exact_mentions(index, f)} >= {"hm", "kp"}


@functools.cache
def _fuzzy_source() -> ModuleType:
    """bot.matching.fuzzy as Python, even where the build compiled it.

    The test below records fuzzy's internal calls to verify with mock.patch; a
    mypyc-compiled fuzzy calls verify directly, past the patch. So the shortcut
    logic is checked here on its source, and tests/test_matcher_compiled.py holds
    the compiled matcher to the source's results.
    """
    if not compiled.is_compiled(fuzzy):
        return fuzzy
    spec = importlib.util.spec_from_file_location(
        "fuzzy_source", Path(bot.matching.__file__).parent / "fuzzy.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@example("K-P police and T-N-T")
@example("Islamic Movement of Tarek Uzbekistanabad")
@example("Hizbul, Mulah Kadul's and Narendra Damodardas Modi")
@example("Ahmadi, Said met Islam Karim and Usama Hibatulah Akhundzade")
@given(_text())
def test_no_window_that_verifies_is_skipped(index: AliasIndex, text: str) -> None:
    """Stronger than equal results: every window the plain loop verifies, the fast one verifies.

    (Equal results alone could hide a skipped window whose mention another
    anchor of the same alias happens to find.)
    """
    f = _field(text)

    def recorded(into: set[tuple[object, ...]]):  # type: ignore[no-untyped-def]
        def verify(index, alias, f, start, end, gap):  # type: ignore[no-untyped-def]
            m = real(index, alias, f, start, end, gap)
            if m is not None:
                into.add((alias.text, start, end, gap))
            return m

        return verify

    source = _fuzzy_source()
    real = source.verify
    fast: set[tuple[object, ...]] = set()
    plain: set[tuple[object, ...]] = set()
    with mock.patch.object(source, "verify", recorded(fast)):
        source.fuzzy(index, f, set())
    with mock.patch.object(fuzzy, "verify", recorded(plain)):
        reference_fuzzy(index, f, set())
    assert fast == plain
