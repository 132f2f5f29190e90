"""Per-word helpers rewritten for speed (issue 13) against the code they replaced.

Why: a text word's first sight (AliasIndex.word) is most of what a fresh
matcher's first pass costs, so its helpers lost their regex calls where a
plain string test or str.translate does the same, and the fuzzy anchors of a
word are looked up without building the set of its deletions. A difference
would change matches silently; each helper is compared here with the old code,
kept in this file, on generated words.
"""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st
from rapidfuzz.distance import OSA

from bot.matching.alias_index import AliasIndex
from bot.matching.name_rules import allowed_edits, capitalised, deletions, head, same_start
from bot.matching.spelling import skeleton, undoubled, vowel_class
from bot.models import Entity
from tests.test_match_prefilter import ENTITIES

_OLD_DOUBLED = re.compile(r"([a-z])\1+")
_OLD_SH = re.compile(r"sh(?=[^aeiou])")
_OLD_VOWEL = re.compile(r"[aeiou]")

# Skeleton-like words: the letters that matter (doubles, sh, vowels), digits, odd ones.
words = st.text(alphabet="aeiouyshkhdzgpqxwnbt1ÄéАя-'", max_size=14)


@given(words)
@settings(max_examples=400, deadline=None)
def test_undoubled_is_the_doubled_letter_regex(word: str) -> None:
    assert undoubled(word) == _OLD_DOUBLED.sub(r"\1", word)


@given(words)
@settings(max_examples=400, deadline=None)
def test_vowel_class_is_the_two_regex_version(word: str) -> None:
    assert vowel_class(word) == _OLD_VOWEL.sub("a", _OLD_SH.sub("h", word))


def _old_skeleton(folded: str) -> str:
    """spelling.skeleton before the "ow" and "h" tests and undoubled (its rules, its order)."""
    from bot.matching import spelling as n

    if folded in n._CONNECTORS:
        return n._CONNECTORS[folded]
    if folded in n.COMPASS:
        return n.COMPASS[folded]
    head, s = ("kh", folded[2:]) if folded.startswith("kh") else ("", folded)
    s = n._OW_BEFORE_CONSONANT.sub("o", s)
    for a, b in _OLD_SKELETON_RULES:
        if a in s:
            s = s.replace(a, b)
    return _OLD_DOUBLED.sub(r"\1", head + s)


# The rules as one list, in their order, as they were written before the "h" test.
_OLD_SKELETON_RULES = (
    *(("dzh", "j"), ("zh", "j"), ("kh", "h"), ("gh", "g"), ("ph", "f")),
    *(("q", "k"), ("x", "h"), ("w", "v"), ("y", "i")),
    *(("ee", "i"), ("oo", "u"), ("ou", "u"), ("au", "u")),
)


@given(st.text(alphabet="aeiouwyshkhdzgpqxnbtoo", max_size=14))
@settings(max_examples=400, deadline=None)
def test_skeleton_is_unchanged(word: str) -> None:
    assert skeleton(word) == _old_skeleton(word)


def _old_anchor_hits(index: AliasIndex, word: str) -> tuple[tuple[int, int], ...]:
    """AliasIndex.anchor_hits as it was: the set of the word and its deletions first."""
    found: set[tuple[int, int]] = set()
    anchors: set[str] = set()
    for key in {word} | deletions(word):
        anchors.update(index.anchor_words.get(key, ()))
    for anchor in anchors:
        if anchor == word:
            found.update(index.anchors[anchor])
            continue
        if not same_start(anchor, word):
            continue
        own = allowed_edits(len(anchor), index.threshold)
        distance = OSA.distance(anchor, word, score_cutoff=max(own, 1))
        for a, pos in index.anchors[anchor]:
            budget = own if index.aliases[a].size == 1 else index.aliases[a].allowed
            if distance <= budget:
                found.add((a, pos))
    return tuple(sorted(found))


_INDEX = AliasIndex(ENTITIES)
_ANCHORS = sorted(_INDEX.anchors)


@st.composite
def near_anchor(draw: st.DrawFn) -> str:
    """An anchor word with up to two letters inserted, dropped, changed or swapped."""
    word = draw(st.sampled_from(_ANCHORS))
    for _ in range(draw(st.integers(0, 2))):
        k = draw(st.integers(0, max(len(word) - 1, 0)))
        letter = draw(st.sampled_from("aeioubdhklmnrst"))
        edit = draw(st.sampled_from(["insert", "drop", "change", "swap"]))
        if edit == "insert":
            word = word[:k] + letter + word[k:]
        elif edit == "drop":
            word = word[:k] + word[k + 1 :]
        elif edit == "change":
            word = word[:k] + letter + word[k + 1 :]
        elif k + 1 < len(word):
            word = word[:k] + word[k + 1] + word[k] + word[k + 2 :]
    return word


@given(near_anchor())
@settings(max_examples=500, deadline=None)
def test_anchor_hits_are_those_of_the_set_of_deletions(word: str) -> None:
    assert _INDEX.anchor_hits(word) == _old_anchor_hits(_INDEX, word)


def test_the_generated_words_reach_anchors() -> None:
    """The comparison above is not vacuous: anchors and their variants find candidates."""
    assert _ANCHORS
    assert all(_INDEX.anchor_hits(a) for a in _ANCHORS)
    assert any(_old_anchor_hits(_INDEX, a[:-1] + "x") for a in _ANCHORS)


def _old_hit(index: AliasIndex, a: int, pos: int) -> tuple[object, ...]:
    """AliasIndex._hit as it was: every field made afresh for each (alias, position)."""
    alias = index.aliases[a]
    skel, size = alias.skel, alias.size
    after = head(skel[pos + 1]) if pos + 1 < size else None
    before = frozenset(head(w) for w in skel[max(0, pos - 2) : pos]) if pos else None
    shapes: list[tuple[int, int]] = []
    for length in (size, size - 1):
        if length < 1:
            continue
        for start in {-pos, -pos + (size - length)}:
            if start <= 0 < start + length and (start, length) not in shapes:
                shapes.append((start, length))
    last = pos == size - 1
    return (a, pos, alias, after, before, last, head(skel[0]), head(skel[-1]), tuple(shapes))


def test_every_hit_is_the_one_made_afresh() -> None:
    """Shared shapes and first-letter sets change no Hit (all of them, at two thresholds,
    and with names of up to six words so every (size, position) shape is made)."""
    long_names = [
        Entity(id=f"long{n}", name=name, kind="person", aliases=(name,))
        for n, name in enumerate(
            [
                "Abdul Rahman Khalid Bin Walid Qureshi",
                "Mullah Abdul Ghani Baradar Akhund",
                "Sirajuddin Haqqani Khalifa",
            ]
        )
    ]
    for threshold in (85.0, 90.0):
        index = AliasIndex([*ENTITIES, *long_names], threshold)
        pairs = [pair for hits in index.anchors.values() for pair in hits]
        assert any(index.aliases[a].size >= 5 for a, _ in pairs)
        for a, pos in pairs:
            hit = index._hit((a, pos))
            fields = (hit.index, hit.pos, hit.alias, hit.after, hit.before, hit.last)
            assert (*fields, hit.first, hit.final, hit.shapes) == _old_hit(index, a, pos)


@given(st.text(alphabet=st.characters(max_codepoint=0x7F), max_size=4))
@settings(max_examples=400, deadline=None)
def test_capitalised_is_isupper_of_the_first_letter(token: str) -> None:
    """Tokens are ASCII (transliterated if need be): the compiled test agrees with str.isupper."""
    assert capitalised(token) == token[:1].isupper()
