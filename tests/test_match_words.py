"""The matcher's per-word cache (issue 13) against the uncached path it replaced.

Why: matcher.field tokenises a text by looking each word up in the index's
word cache (AliasIndex.word: cased and folded token, skeleton, bits, head),
and the finders then visit only marked words, through caches of their own
(the anchor hits in AliasIndex.anchor_cache). A cached decision that
differed from the plain computation would lose or invent a mention silently,
and one that depended on what was matched before would make results depend
on history. So: field's tokens must be scan()'s, its per-word values the
plain functions' values, and a matcher whose caches are warm (or were just
cleared) must return exactly what a fresh one does.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from bot.matching import alias_index, compiled, exact, fuzzy
from bot.matching import matcher as matcher_module
from bot.matching.matcher import Matcher, field
from bot.matching.mention import Field, make_match, positions
from bot.matching.name_rules import (
    DIRECTION_ABBREVIATIONS,
    DROPPABLE,
    SUBUNIT_WORDS,
    TRAILING_GENERIC,
    head,
    join_skeleton,
)
from bot.matching.normalize import scan
from bot.matching.spelling import LINK_WORDS, skeleton
from bot.models import Match
from tests.test_match_prefilter import ENTITIES, _text

# Words and separators scan() and the cache treat specially: possessives,
# apostrophes, "&", direction abbreviations before a capital, accents,
# Cyrillic and Arabic script, acronyms with hyphens.
_TRICKY = st.lists(
    st.sampled_from(
        [
            "TTP's",
            "Rahmon`s",
            "rock'n'roll",
            "&",
            "N",
            "S",
            "W",
            "Waziristan",
            "Dushanbé",
            "Кабуле",
            "پاکستان",
            "K-P",
            "KP",
            "Khan",
            "said",
            "Karimov",
            "Usama",
            "al",
            "d",
            "Abd",
            "Province",
            "Kadol",
        ]
    ),
    max_size=14,
).map(" ".join)
_ANY_TEXT = st.one_of(_text(), _TRICKY, st.text(max_size=60))


def _plain_skeletons(text: str) -> list[str]:
    """Skeletons as match_text computed them before the word cache."""
    toks = scan(text)
    skel = [skeleton(w) for w in toks.folded]
    for k in range(len(skel) - 1):
        if toks.cased[k] in DIRECTION_ABBREVIATIONS and toks.cased[k + 1][:1].isupper():
            skel[k] = skeleton(DIRECTION_ABBREVIATIONS[toks.cased[k]])
    return skel


def _key(m: Match) -> tuple[object, ...]:
    return (m.entity_id, m.alias, m.text, m.field, m.start, m.end, m.score, m.how, m.candidates)


_MATCHER = Matcher(ENTITIES)


def every_word(f: Field) -> Field:
    """The field with every word flagged: the finders visit every word, as the plain loops did."""
    n = len(f.skel)
    every = list(range(n))
    return Field(f.name, f.text, f.tokens, f.skel, (every, every, every, every), f.heads)


@settings(max_examples=400, deadline=None, derandomize=True, database=None)
@example("N Waziristan & S Waziristan's K-P police, Abd d Kadol")
@example("Кабуле & TTP's Dushanbé")
@given(_ANY_TEXT)
def test_field_equals_scan_and_the_plain_per_word_values(text: str) -> None:
    index = _MATCHER._index
    f = field(index, "title", text)
    assert f.tokens.rows() == scan(text).rows()
    assert f.skel == _plain_skeletons(text)
    bits = [index.word_bits(c, s) for c, s in zip(f.tokens.cased, f.skel, strict=True)]
    assert f.at == positions(bits)
    assert list(f.word_heads()) == [head(s) for s in f.skel]


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@example(["Mulah Kadol, Hizb-ul-Mujahideen", "Narendra Damodardas Modi and K-P"])
@given(st.lists(_ANY_TEXT, min_size=1, max_size=6))
def test_warm_caches_give_what_a_fresh_matcher_gives(texts: list[str]) -> None:
    """One matcher over many texts (caches filling) = a fresh matcher per text."""
    shared = Matcher(ENTITIES)
    for text in texts:
        fresh = Matcher(ENTITIES)
        assert [_key(m) for m in shared.match_text(text, text[::-1])] == [
            _key(m) for m in fresh.match_text(text, text[::-1])
        ]


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@example("Hizbul, Mulah Kadul's and Narendra Damodardas Modi")
@example("Ahmadi, Said met Islam Karim and Usama Hibatulah Akhundzade")
@given(_text())
def test_flagged_words_find_what_every_word_finds(text: str) -> None:
    """Visiting only flagged words (and exact_mentions' unrolled first join) = visiting all."""
    index = _MATCHER._index
    f = field(index, "title", text)
    every = every_word(f)
    assert [_key(m) for m in exact.exact_mentions(index, f)] == [
        _key(m) for m in exact.exact_mentions(index, every)
    ]
    assert [_key(m) for m in fuzzy.fuzzy(index, f, set())] == [
        _key(m) for m in fuzzy.fuzzy(index, every, set())
    ]


def test_caches_cleared_when_full_change_nothing(monkeypatch: object) -> None:
    """A tiny CACHE_LIMIT clears the word and anchor caches on nearly every word."""
    text = "Mulah Kadol met N Waziristan's TTP & K-P police; Islam Karim, Usama Hibatulah"
    expected = [_key(m) for m in Matcher(ENTITIES).match_text(text, text)]
    tiny = Matcher(ENTITIES)
    monkeypatch.setattr(alias_index, "CACHE_LIMIT", 2)  # type: ignore[attr-defined]
    monkeypatch.setattr(alias_index, "WORD_CACHE_LIMIT", 2)  # type: ignore[attr-defined]
    for _ in range(3):
        assert [_key(m) for m in tiny.match_text(text, text)] == expected
    assert len(tiny._index.words) <= 3


def test_the_matcher_pickles_with_warm_caches() -> None:
    """perf-boot may build the matcher elsewhere or cache it: caches are plain data.

    A mypyc-compiled Matcher cannot be unpickled (mypyc calls __init__, which
    needs the entities; nothing in the bot pickles one): there the check runs on
    the .py sources, in a NEWSWATCH_PURE_PYTHON=1 interpreter.
    """
    if compiled.is_compiled(matcher_module):
        with pytest.raises(TypeError):
            pickle.loads(pickle.dumps(Matcher(ENTITIES)))
        env = {**os.environ, compiled.PURE_ENV: "1"}
        test = f"{__file__}::test_the_matcher_pickles_with_warm_caches"
        args = [sys.executable, "-m", "pytest", "-q", "-n", "0", "-p", "no:cacheprovider", test]
        done = subprocess.run(args, env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stdout[-2000:]
        return
    matcher = Matcher(ENTITIES)
    text = "Mulah Kadol met N Waziristan's TTP in Кабуле"
    before = [_key(m) for m in matcher.match_text(text)]
    copy = pickle.loads(pickle.dumps(matcher))
    assert [_key(m) for m in copy.match_text(text)] == before
    assert before  # the text does find names


def test_an_empty_text_has_an_empty_field() -> None:
    f = field(_MATCHER._index, "summary", "")
    assert (len(f.tokens), f.skel, f.at, list(f.word_heads())) == (0, [], ([], [], [], []), [])
    assert isinstance(f, Field)


def reference_exact(index: alias_index.AliasIndex, f: Field) -> list[Match]:
    """exact_mentions as it was before the word cache: every word visited, every join tried."""
    found: list[Match] = []
    toks, skel, text = f.tokens, f.skel, f.text
    cased, folded = toks.cased, toks.folded
    n = len(toks)
    for i in range(n):
        if cased[i] in index.strict or (
            i + 1 < n and toks.starts[i + 1] == toks.ends[i] + 1 and text[toks.ends[i]] == "-"
        ):
            found.extend(exact.strict_at(index, f, i))
        word = skel[i]
        if word not in index.starts or word not in index.prefixes:
            continue
        joined, bare, interior, linked = "", "", False, False
        for j in range(i, min(n, i + index.max_words)):
            joined = join_skeleton(joined, skel[j])
            droppable = j > i and folded[j] in DROPPABLE
            bare_next = bare if droppable else join_skeleton(bare, skel[j])
            if joined not in index.prefixes and bare_next not in index.prefixes:
                break
            for a in index.joined.get(joined, ()):
                found.append(make_match(index.aliases[a], f, i, j + 1, 0))
            if joined in index.shortened and (
                j + 1 == n
                or folded[j + 1] not in TRAILING_GENERIC
                or folded[j + 1] in SUBUNIT_WORDS
            ):
                for a in index.shortened[joined]:
                    found.append(make_match(index.aliases[a], f, i, j + 1, 0))
            if droppable:
                interior = True
                linked = linked or folded[j] in LINK_WORDS
                continue
            bare = bare_next
            if j == i:
                continue
            if interior:
                for a, words in index.noconn.get(bare, ()):
                    if words >= 3 or not linked:
                        found.append(make_match(index.aliases[a], f, i, j + 1, 0))
            else:
                for a in index.dropped.get(bare, ()):
                    found.append(make_match(index.aliases[a], f, i, j + 1, 0))
    if any(toks.foreign):
        found.extend(exact.foreign(index, f))
    if index.reversed:
        found.extend(exact.reversed_names(index, f))
    if index.surnames or index.vowel_forms:
        found.extend(exact.variants(index, every_word(f)))
    if index.literal:
        found.extend(exact.literal_at(index, f))
    return found


@settings(max_examples=400, deadline=None, derandomize=True, database=None)
@example("Hizb ul Mujahideen, Hizbul Mujahideen and Hizb-ul-Mujahideen")
@example("Hizb al-Tahrir met Hizb al Tahrir")
@example("K-P police and T-N-T; Islamic Movement of Uzbekistanabad")
@example("Lashkar e Taiba; Lashkar-e-Taiba's; Nangarhar Province branch")
@given(st.one_of(_text(), _TRICKY))
def test_exact_mentions_equal_the_loop_over_every_word(text: str) -> None:
    """The word bits, the strict-head test and the unrolled first join skip nothing."""
    index = _MATCHER._index
    f = field(index, "title", text)
    assert [_key(m) for m in exact.exact_mentions(index, f)] == [
        _key(m) for m in reference_exact(index, f)
    ]
