"""The watchlist warnings and the alias index's build as they were before each alias's
forms were computed once (alias_forms.forms) and shared: kept here, verbatim in what
they compute, so tests/test_load_equivalence.py can hold the shared-record code to
the very same warnings and index contents.

Copied from main at bbc4025 (bot/matching/lint.py, risk.py, name_rules.is_strict,
watchlists.alias_collisions/risky_aliases/term_warnings and alias_index.AliasIndex's
build); only the names changed. Not used by the bot.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import fields
from pathlib import Path
from typing import Any

from bot.matching.alias_index import Alias, AliasIndex
from bot.matching.common import COMMON_WORDS
from bot.matching.name_rules import (
    ANCHORS_PER_ALIAS,
    DIRECTIONS,
    DROPPABLE,
    GENERIC_WORDS,
    MIN_ANCHOR_LEN,
    MIN_CONSONANTS,
    MIN_FUZZY_CONSONANTS,
    MIN_VOWEL_CLASS_CONSONANTS,
    MIN_VOWEL_CLASS_WORD,
    PERSON,
    SYNONYMS,
    TRAILING_GENERIC,
    fuzzy_score,
)
from bot.matching.normalize import letter_count, phrase_words, scan
from bot.matching.risk import PHRASE_WORDS, RISKY_WORDS
from bot.matching.spelling import MIN_SURNAME_STEM, consonants, skeleton, surname_stem, vowel_class
from bot.models import Entity

VOWELS_RE = re.compile(r"[aeiou]")

# -- risk.py ------------------------------------------------------------------------------

_DROPPED_SYMBOL = re.compile(r"[^\w\s\-'’‘ʼ`&.]|(?<!\w)\.(?=\w)")


def dropped_symbols(alias: str) -> str:
    return "".join(dict.fromkeys(m.group() for m in _DROPPED_SYMBOL.finditer(alias)))


def risk_reasons(alias: str) -> list[str]:
    tokens = phrase_words(alias)
    letters = letter_count(alias)
    reasons = []
    symbols = dropped_symbols(alias)
    words = RISKY_WORDS if len(tokens) == 1 else PHRASE_WORDS
    common = bool(tokens.folded) and all(w in words for w in tokens.folded)
    if symbols and (letters <= 3 or common):
        bare = " ".join(tokens.cased)
        reasons.append(
            f"contains {symbols!r}, which word matching ignores: "
            f"it would also fire on a plain {bare!r}"
        )
    elif letters <= 2 and alias.isalnum():
        reasons.append(
            f"only {letters} letter{'s' * (letters != 1)}: fires on every standalone {alias!r}"
        )
    if common:
        if len(tokens) == 1:
            reasons.append(f"{tokens.folded[0]!r} is a common word: would match ordinary prose")
        else:
            reasons.append("made only of common words: would match most news items")
    elif tokens.folded and all(w.isdigit() for w in tokens.folded):
        reasons.append("only digits: would match any item with that number")
    return reasons


def literal_pattern(alias: str) -> re.Pattern[str]:
    symbols = re.escape(dropped_symbols(alias))
    words = [re.escape(w) for w in alias.split()]
    return re.compile(rf"(?<![\w{symbols}])" + r"\s+".join(words) + rf"(?![\w{symbols}])")


# -- name_rules.py (the helpers the build uses) -------------------------------------------


def is_strict(alias: str) -> bool:
    tokens = phrase_words(alias)
    letters = letter_count(alias)
    return letters <= 4 or any(any(c.isupper() for c in t[1:]) for t in tokens.cased)


def allowed_edits(length: int, threshold: float) -> int:
    edits = 0
    while fuzzy_score(edits + 1, length) >= threshold:
        edits += 1
    return edits


def signature(words: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    parts: list[str] = []
    for w in words:
        if w in DIRECTIONS:
            parts.extend(DIRECTIONS[w])
        elif w.isdigit():
            parts.append(w)
    return tuple(sorted(parts))


def join_skeletons(words: Iterable[str]) -> str:
    out = ""
    for word in words:
        if out and word and out[-1] == word[0] and word[0].isalpha():
            out += word[1:]
        else:
            out += word
    return out


def without_connectors(folded: tuple[str, ...], skel: tuple[str, ...]) -> str:
    last = len(folded) - 1
    return join_skeletons(
        sk
        for k, (w, sk) in enumerate(zip(folded, skel, strict=True))
        if not (0 < k < last and w in DROPPABLE)
    )


def without_trailing_generic(folded: tuple[str, ...], skel: tuple[str, ...]) -> str:
    if len(folded) < 3 or folded[-1] not in TRAILING_GENERIC:
        return ""
    rest = folded[:-1]
    if not any(len(w) >= MIN_ANCHOR_LEN and w not in GENERIC_WORDS for w in rest):
        return ""
    return join_skeletons(skel[:-1])


def deletions(word: str) -> set[str]:
    return {word[:i] + word[i + 1 :] for i in range(len(word))}


_COMMON_SKELETONS = frozenset(COMMON_WORDS | {skeleton(w) for w in COMMON_WORDS})


def distinctive(skel: str) -> bool:
    return skel not in _COMMON_SKELETONS


# -- lint.py and watchlists.py's warnings -------------------------------------------------


def alias_keys(alias: str) -> set[str]:
    tokens = phrase_words(alias)
    words = "".join(skeleton(w) for w in tokens.folded)
    if not is_strict(alias):
        return set(frozenset((words,)))
    keys = {"strict:" + "".join(tokens.cased)}
    if letter_count(alias) > 4:
        keys.add(words)
    return set(frozenset(keys))


def alias_collisions(entities: Iterable[Entity]) -> list[str]:
    owners: dict[str, list[tuple[Entity, str]]] = {}
    for e in entities:
        for alias in e.all_aliases:
            for key in alias_keys(alias):
                owners.setdefault(key, []).append((e, alias))
    out: dict[tuple[str, str, str, str], str] = {}
    for listed in owners.values():
        for k, (first, first_alias) in enumerate(listed):
            for second, second_alias in listed[k + 1 :]:
                if first.id == second.id:
                    continue
                pair = (first.id, first_alias, second.id, second_alias)
                out.setdefault(
                    pair,
                    f"{first_alias!r} ({first.source}, entity {first.id!r}) = "
                    f"{second_alias!r} ({second.source}, entity {second.id!r})",
                )
    return list(out.values())


def risky_aliases(entity: Entity) -> list[tuple[str, str]]:
    return [
        (alias, reason)
        for alias in entity.all_aliases
        if alias not in entity.loose
        for reason in risk_reasons(alias)
    ]


def term_warnings(directory: Path, entities: Iterable[Entity]) -> list[str]:
    entities = list(entities)
    out = [f"alias shared by several entities: {c}" for c in alias_collisions(entities)]
    for e in entities:
        for alias, reason in risky_aliases(e):
            out.append(
                f"{directory / e.source}: entity {e.id!r}: alias {alias!r} is risky: {reason}"
            )
    return out


def exclusion_clash(entity: Entity) -> tuple[str, str] | None:
    """watchlists._check_exclusions' finding for one entity: (exclude phrase, alias)."""
    keys: dict[str, str] = {}
    for alias in entity.all_aliases:
        for key in alias_keys(alias):
            keys[key] = alias
    for phrase in entity.exclude:
        same = [keys[k] for k in sorted(alias_keys(phrase)) if k in keys]
        if same:
            return phrase, same[0]
    return None


# -- alias_index.AliasIndex's build -------------------------------------------------------


def all_prefixes(forms: set[str]) -> set[str]:
    prefixes: set[str] = set()
    for form in forms:
        for k in range(len(form), 0, -1):
            prefix = form[:k]
            if prefix in prefixes:
                break
            prefixes.add(prefix)
    return prefixes


class ReferenceIndex:
    """AliasIndex.__init__ and its helpers as they were; only the built tables."""

    def __init__(self, entities: list[Entity], threshold: float = 90.0) -> None:
        self.entities = list(entities)
        self.threshold = threshold
        self.aliases: list[Alias] = []
        self.strict: dict[str, list[int]] = defaultdict(list)
        self.joined: dict[str, list[int]] = defaultdict(list)
        self.prefixes: set[str] = set()
        self.max_words = 1
        self.noconn: dict[str, list[tuple[int, int]]] = defaultdict(list)
        self.shortened: dict[str, list[int]] = defaultdict(list)
        self.strict_joined: dict[str, list[int]] = defaultdict(list)
        self.by_consonants: dict[str, list[int]] = defaultdict(list)
        self.consonant_target: dict[int, str] = {}
        self.anchors: dict[str, list[tuple[int, int]]] = defaultdict(list)
        self.anchor_words: dict[str, set[str]] = defaultdict(set)
        self.excludes: dict[str, list[tuple[str, tuple[str, ...]]]] = defaultdict(list)
        self.literal: list[tuple[int, re.Pattern[str]]] = []
        self.reversed: dict[str, list[int]] = defaultdict(list)
        self.surnames: dict[str, list[int]] = defaultdict(list)
        self.vowel_forms: dict[str, list[int]] = defaultdict(list)
        self.vowel_starts: set[str] = set()
        self.vowel_words = 1
        self.dropped: dict[str, list[int]] = defaultdict(list)
        self.risky: set[tuple[str, str]] = set()
        self.context: dict[str, list[tuple[str, ...]]] = {
            e.id: [tuple(skeleton(w) for w in scan(c).folded) for c in e.context]
            for e in self.entities
            if e.context
        }
        for entity in self.entities:
            for phrase in entity.exclude:
                words = tuple(scan(phrase).folded)
                self.excludes[words[0]].append((entity.id, words))
            for alias in entity.all_aliases:
                self._add_alias(entity, alias)
        self._build_anchors()
        self.prefixes = all_prefixes({*self.joined, *self.shortened, *self.noconn})
        self.starts = {p for p in self.prefixes if len(p) >= 3} | {
            skeleton(w) for a in self.aliases if not a.strict for w in a.folded[:1]
        }
        self.strict_heads = set(self.strict) | all_prefixes(set(self.strict_joined))
        variants: dict[str, list[int]] = defaultdict(list)
        for index, bare in self.consonant_target.items():
            for key in {bare} | deletions(bare):
                variants[key].append(index)
        self.consonant_variants = variants
        self.vowel_prefixes = all_prefixes(set(self.vowel_forms))

    def _add_alias(self, entity: Entity, text: str) -> None:
        toks = phrase_words(text)
        if not len(toks):
            return
        risky = text not in entity.loose and bool(risk_reasons(text))
        if risky and entity.kind == PERSON and all(w in RISKY_WORDS for w in toks.folded):
            return
        strict = risky or is_strict(text)
        skel = tuple(skeleton(w) for w in toks.folded)
        joined = join_skeletons(skel)
        alias = Alias(
            entity=entity,
            text=text,
            strict=strict,
            folded=tuple(toks.folded),
            cased=tuple(toks.cased),
            skel=skel,
            joined=joined,
            signature=signature(toks.folded),
            allowed=0 if strict else allowed_edits(len(joined), self.threshold),
            size=len(toks),
            risky=risky,
        )
        index = len(self.aliases)
        self.aliases.append(alias)
        if risky:
            self.risky.add((entity.id, text))
        if risky and dropped_symbols(text):
            self.literal.append((index, literal_pattern(text)))
            return
        if entity.kind == PERSON and 2 <= alias.size <= 3:
            self.reversed[skel[-1]].append(index)
        if not strict:
            self._add_variant_forms(index, alias)
        if strict:
            self.strict[alias.cased[0]].append(index)
            self.strict_joined["".join(alias.cased)].append(index)
            return
        noconn = without_connectors(alias.folded, skel)
        self.noconn[noconn].append((index, alias.size))
        if noconn != joined:
            self.dropped[noconn].append(index)
        self.joined[joined].append(index)
        forms = [joined]
        shortened = without_trailing_generic(alias.folded, skel)
        if shortened:
            self.shortened[shortened].append(index)
            forms.append(shortened)
            short = without_connectors(alias.folded[:-1], skel[:-1])
            self.noconn[short].append((index, alias.size - 1))
        for form in forms:
            for name, others in SYNONYMS.items():
                if form.startswith(name) and len(form) > len(name):
                    for other in others:
                        target = self.joined if form == joined else self.shortened
                        target[other + form[len(name) :]].append(index)
        bare = "".join(consonants(w) for w in alias.folded)
        if len(bare) >= MIN_CONSONANTS:
            self.by_consonants[bare].append(index)
        if len(bare) >= MIN_FUZZY_CONSONANTS:
            self.consonant_target[index] = bare
        self.max_words = max(self.max_words, alias.size + 3)

    def _add_variant_forms(self, index: int, alias: Alias) -> None:
        if alias.entity.kind == PERSON and alias.size >= 2:
            stem = surname_stem(alias.skel[-1])
            if len(stem) >= MIN_SURNAME_STEM:
                self.surnames[stem].append(index)
        form = join_skeletons(vowel_class(w) for w in alias.skel)
        consonants_left = len(VOWELS_RE.sub("", form))
        long_enough = alias.size > 1 or len(alias.folded[0]) >= MIN_VOWEL_CLASS_WORD
        wanted = MIN_VOWEL_CLASS_CONSONANTS[alias.size > 1]
        if self.threshold < 100 and long_enough and consonants_left >= wanted:
            self.vowel_forms[form].append(index)
            self.vowel_starts.add(vowel_class(alias.skel[0]))
            self.max_words = max(self.max_words, alias.size)
            self.vowel_words = max(self.vowel_words, alias.size)

    def _build_anchors(self) -> None:
        fuzzy = [i for i, a in enumerate(self.aliases) if a.allowed]
        frequency = Counter(w for i in fuzzy for w in set(self.aliases[i].skel))
        for index in fuzzy:
            alias = self.aliases[index]
            ranked = sorted(
                (frequency[w], -len(w), w, pos)
                for pos, (w, f) in enumerate(zip(alias.skel, alias.folded, strict=True))
                if len(w) >= MIN_ANCHOR_LEN and f not in GENERIC_WORDS and distinctive(w)
            )
            if not ranked:
                longest = max(len(w) for w in alias.skel)
                ranked = [(0, 0, w, p) for p, w in enumerate(alias.skel) if len(w) == longest]
            chosen = ranked[:1] + [r for r in ranked[1:ANCHORS_PER_ALIAS] if r[0] <= 8]
            for _, _, word, pos in chosen:
                if word not in self.anchors:
                    for key in {word} | deletions(word):
                        self.anchor_words[key].add(word)
                self.anchors[word].append((index, pos))


# -- comparing two indexes ----------------------------------------------------------------

# The tables the build makes (and the two built on first use), which the finders read.
TABLES = (
    "entities threshold aliases strict joined prefixes max_words noconn shortened "
    "strict_joined by_consonants consonant_target consonant_variants anchors anchor_words "
    "excludes literal reversed surnames vowel_forms vowel_starts vowel_prefixes vowel_words "
    "dropped risky context starts strict_heads"
).split()


def _plain(value: Any) -> Any:
    """A value as comparable data: dicts keep their order (items), sets are sorted,
    an Alias is every field (its entity by value), a pattern its text and flags."""
    if isinstance(value, dict):
        return [(k, _plain(v)) for k, v in value.items()]
    if isinstance(value, set | frozenset):
        return sorted(_plain(v) for v in value)
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Alias):
        return [(f.name, _plain(getattr(value, f.name))) for f in fields(value)]
    if isinstance(value, re.Pattern):
        return ("pattern", value.pattern, value.flags)
    if isinstance(value, Entity):
        return ("entity", repr(value))
    return value


def index_tables(index: AliasIndex | ReferenceIndex) -> dict[str, Any]:
    """Every table of a built index as plain data (see TABLES)."""
    return {name: _plain(getattr(index, name)) for name in TABLES}
