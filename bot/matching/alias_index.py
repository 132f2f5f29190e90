"""The alias index: every form under which a watchlist's names can be found.

Why a module of its own: building the index decides *what* can match (which
aliases are strict, which forms a name may take: joined skeletons, without
connecting words or a generic last word, consonants for vowel-less scripts,
vowel classes, family names, anchor words for fuzzy lookup); the finders in
exact.py and fuzzy.py only look those forms up. It is built once per
watchlist version; its caches only remember lookups (word -> candidates), so
results never depend on what was matched before.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Final

from rapidfuzz.distance import OSA

from bot.heap import cycle_collection_paused
from bot.matching.alias_forms import forms as forms_of
from bot.matching.name_rules import (
    ANCHORS_PER_ALIAS,
    CACHE_LIMIT,
    DIRECTION_ABBREVIATIONS,
    DROPPABLE,
    GENERIC_WORDS,
    MIN_ANCHOR_LEN,
    MIN_CONSONANTS,
    MIN_FUZZY_CONSONANTS,
    MIN_VOWEL_CLASS_CONSONANTS,
    MIN_VOWEL_CLASS_WORD,
    PERSON,
    SYNONYMS,
    WORD_CACHE_LIMIT,
    allowed_edits,
    capitalised,
    deletions,
    distinctive,
    head,
    join_skeletons,
    same_start,
    signature,
    without_connectors,
    without_trailing_generic,
)
from bot.matching.normalize import ascii_word, scan
from bot.matching.risk import RISKY_WORDS, literal_pattern
from bot.matching.spelling import MIN_SURNAME_STEM, consonants, skeleton, surname_stem, vowel_class
from bot.models import Entity


@dataclass(frozen=True, slots=True)
class Alias:
    """One alias of an entity, tokenised once, with what matching it allows."""

    entity: Entity
    text: str
    strict: bool
    folded: tuple[str, ...]
    cased: tuple[str, ...]
    skel: tuple[str, ...]
    joined: str  # skeletons joined without spaces
    signature: tuple[str, ...]
    allowed: int  # edits a fuzzy variant may have; 0 = exact (skeleton) only
    size: int  # number of words
    risky: bool = False  # see risk.py: matched case-exact, and not inside shouting capitals


def window_shapes(size: int, pos: int) -> tuple[tuple[int, int], ...]:
    """(start offset from the anchor, length) of the windows fuzzy.windows tries first
    for a name of `size` words anchored at word `pos`: its own length, or one word
    fewer when the text joins two of its words, in that loop's order."""
    shapes: list[tuple[int, int]] = []
    for length in (size, size - 1):
        if length < 1:
            continue
        for start in {-pos, -pos + (size - length)}:
            if start <= 0 < start + length and (start, length) not in shapes:
                shapes.append((start, length))
    return tuple(shapes)


def all_prefixes(forms: set[str]) -> set[str]:
    """Every non-empty beginning of every form.

    Longest first, stopping at a beginning already there (its own beginnings
    are then there too): names share their first letters, so this touches
    each distinct prefix about once instead of every prefix of every form.
    """
    prefixes: set[str] = set()
    for form in forms:
        for k in range(len(form), 0, -1):
            prefix = form[:k]
            if prefix in prefixes:
                break
            prefixes.add(prefix)
    return prefixes


class Word:
    """A text word's record (AliasIndex.word): cased and folded token, skeleton; what
    it may do, decided once per distinct word (word_bits, the bits below); its head.

    A plain class, not a tuple: compiled, its attributes are C fields, where each
    read of a tuple's item was checked for its type (a fifth of tokenising a text).
    """

    __slots__ = ("bits", "cased", "folded", "head", "skel")

    def __init__(self, cased: str, folded: str, skel: str, bits: int, head: str) -> None:
        self.cased = cased
        self.folded = folded
        self.skel = skel
        self.bits = bits
        self.head = head


# What a text word may do, as bits of one int: the matcher tests one int per word
# and lists the few words with a bit set (most words have none).
EXACT: Final = 1  # begin an exact lookup (exact.exact_mentions)
VARIANT: Final = 2  # begin a spelling family (exact.variants)
FUZZY: Final = 4  # anchor a fuzzy window (fuzzy.fuzzy)
REVERSED: Final = 8  # end a family name written first ("Ahmadi, Said": exact.reversed_names)
ABBREVIATION: Final = 16  # a direction abbreviation (N Waziristan: matcher.field reads it)


# A transliterated word's stems as (skeleton, consonants), and the word's consonants.
ForeignForms = tuple[list[tuple[str, str]], str]


class Hit:
    """A fuzzy candidate: alias number, the anchor's position in it, the alias, and
    for fuzzy.neighbours_fit and verify's first test, precomputed: the head
    (name_rules.head) of the alias word after the anchor (None: the anchor is
    last), the heads of the one or two words before it (None: it is first), whether
    it is the last word, and the heads of the alias's first and last words; last,
    the window shapes fuzzy.windows tries without inserted words, as
    (start - anchor, length) pairs that contain the anchor.

    A plain class, not a tuple, for the reason Word is one: the fuzzy pass reads
    these for every anchor word of every text.
    """

    __slots__ = ("after", "alias", "before", "final", "first", "index", "last", "pos", "shapes")

    def __init__(
        self,
        index: int,
        pos: int,
        alias: Alias,
        after: str | None,
        before: frozenset[str] | None,
        last: bool,
        first: str,
        final: str,
        shapes: tuple[tuple[int, int], ...],
    ) -> None:
        self.index = index
        self.pos = pos
        self.alias = alias
        self.after = after
        self.before = before
        self.last = last
        self.first = first
        self.final = final
        self.shapes = shapes


class AliasIndex:
    """Lookup tables from a name's forms to alias numbers (positions in `aliases`)."""

    def __init__(self, entities: list[Entity], threshold: float = 90.0) -> None:
        self.entities = list(entities)
        self.threshold = threshold
        self.aliases: list[Alias] = []
        self.strict: dict[str, list[int]] = defaultdict(list)  # first cased word
        self.joined: dict[str, list[int]] = defaultdict(list)  # whole skeleton string
        self.prefixes: set[str] = set()
        self.max_words = 1
        # Without al/ul/e/i (and in/the/of): alias index and its number of words.
        self.noconn: dict[str, list[tuple[int, int]]] = defaultdict(list)
        self.shortened: dict[str, list[int]] = defaultdict(list)  # without "Province"
        self.strict_joined: dict[str, list[int]] = defaultdict(list)  # KP for K-P
        self.by_consonants: dict[str, list[int]] = defaultdict(list)  # for Arabic script
        # alias -> its consonants, for one consonant off; the deletion keys that find
        # them are built on first use (see consonant_variants).
        self.consonant_target: dict[int, str] = {}
        self._consonant_variants: dict[str, list[int]] | None = None
        # anchor word -> (alias, position); a word or deletion -> anchor words
        self.anchors: dict[str, list[tuple[int, int]]] = defaultdict(list)
        self.anchor_words: dict[str, set[str]] = defaultdict(set)
        self.anchor_cache: dict[str, tuple[Hit, ...]] = {}
        self._hits: dict[tuple[int, int], Hit] = {}
        self._befores: dict[tuple[str, ...], frozenset[str]] = {}  # shared by _hit
        self._shapes: dict[tuple[int, int], tuple[tuple[int, int], ...]] = {}
        # text word as split -> what it is and may do: see word(); a plain dict, hot path
        self.words: dict[str, Word] = {}
        self.excludes: dict[str, list[tuple[str, tuple[str, ...]]]] = defaultdict(list)
        # Risky aliases with symbols word matching would drop (C++): the raw text, as written.
        self.literal: list[tuple[int, re.Pattern[str]]] = []
        # Person aliases by the skeleton of their family name, for "Ahmadi, Said".
        self.reversed: dict[str, list[int]] = defaultdict(list)
        # Person aliases by their family name without its Russian-era ending (Karimov).
        self.surnames: dict[str, list[int]] = defaultdict(list)
        # Names by their vowel-class form (Usama = Osama), and those forms' first words.
        self.vowel_forms: dict[str, list[int]] = defaultdict(list)
        self.vowel_starts: set[str] = set()
        self._vowel_prefixes: set[str] | None = None  # see vowel_prefixes
        self.vowel_words = 1  # the most words of a name indexed by vowel class
        self.vowel_cache: dict[str, str] = {}
        # A transliterated word (folded) -> its stems' skeletons and consonants, and its
        # consonants: what exact.foreign looks up (bounded like the caches above).
        self.foreign_forms: dict[str, ForeignForms] = {}
        # Names with connecting words (al, of the, va) that texts may leave out.
        self.dropped: dict[str, list[int]] = defaultdict(list)
        self.risky: set[tuple[str, str]] = set()  # (entity id, alias)
        # Terms that must appear in an item for the entity to match (namesakes).
        self.context: dict[str, list[tuple[str, ...]]] = {}
        self.starts: set[str] = set()
        self.strict_heads: set[str] = set()
        # allowed_edits by skeleton length, looked up per fuzzy candidate of a new word.
        self.edits_by_length = [allowed_edits(n, threshold) for n in range(48)]
        with cycle_collection_paused():
            self._build()

    def _build(self) -> None:
        self.context = {
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
        # Every beginning of every form a name can take, so the exact scan stops
        # at the first word that cannot continue any name.
        forms = {*self.joined, *self.shortened, *self.noconn}
        self.prefixes = all_prefixes(forms)
        # Words that may begin a name: a name's first word, or a beginning of
        # three letters or more (a text may split what the alias joins). The
        # prefixes less those of one or two letters (each form's first one and two
        # letters: a few hundred), instead of testing the length of every prefix.
        starts = self.prefixes.copy()
        short = {f[:2] for f in forms}
        starts.difference_update(short, {p[:1] for p in short})
        starts.update(skeleton(a.folded[0]) for a in self.aliases if not a.strict)
        self.starts = starts
        # Cased words that may begin an acronym: its first word, or a beginning
        # of it spelled with hyphens (K-P for KP).
        self.strict_heads = set(self.strict) | all_prefixes(set(self.strict_joined))

    @property
    def alias_count(self) -> int:
        return len(self.aliases)

    def _add_alias(self, entity: Entity, text: str) -> None:
        # The alias's words, skeletons, strictness and risk, as the warnings saw them:
        # computed once per alias text (alias_forms.forms), not again here.
        record = forms_of(text)
        folded = record.folded
        if not folded:
            return
        risky = bool(record.risks) and text not in entity.loose
        if risky and entity.kind == PERSON and all(w in RISKY_WORDS for w in folded):
            return  # a given name that is an ordinary word is no evidence of the person
        strict = risky or record.strict
        skel = record.skel
        joined = join_skeletons(skel)
        alias = Alias(
            entity=entity,
            text=text,
            strict=strict,
            folded=folded,
            cased=record.cased,
            skel=skel,
            joined=joined,
            signature=signature(folded),
            allowed=0 if strict else allowed_edits(len(joined), self.threshold),
            size=len(folded),
            risky=risky,
        )
        index = len(self.aliases)
        self.aliases.append(alias)
        if risky:
            self.risky.add((entity.id, text))
        if risky and record.symbols:
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
        # Without interior connecting words there is nothing to leave out (most names).
        noconn = joined if DROPPABLE.isdisjoint(folded[1:-1]) else without_connectors(folded, skel)
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
        bare = "".join(map(consonants, folded))
        if len(bare) >= MIN_CONSONANTS:
            self.by_consonants[bare].append(index)
        if len(bare) >= MIN_FUZZY_CONSONANTS:
            self.consonant_target[index] = bare
        # Room for connecting words (al, ud, in the) the alias writes joined or leaves out.
        self.max_words = max(self.max_words, alias.size + 3)

    @property
    def consonant_variants(self) -> dict[str, list[int]]:
        """Consonant skeletons and their one-letter deletions -> aliases (in index order).

        Built on first use, not with the index: only items in a vowel-less
        script (Arabic, Devanagari) need it, and for 10,000 aliases it is
        70,000 keys, a fifth of the build, that a Latin-script desk never reads.
        """
        if self._consonant_variants is None:
            variants: dict[str, list[int]] = defaultdict(list)
            for index, bare in self.consonant_target.items():
                for key in {bare} | deletions(bare):
                    variants[key].append(index)
            self._consonant_variants = variants
        return self._consonant_variants

    @property
    def vowel_prefixes(self) -> set[str]:
        """Every beginning of every vowel form, so exact.variants stops widening a window
        that no longer begins one. Built on first use (about 14 ms at 10,000 aliases),
        not with the index: start-up waits for the index, not for the first item."""
        if self._vowel_prefixes is None:
            self._vowel_prefixes = all_prefixes(set(self.vowel_forms))
        return self._vowel_prefixes

    def _add_variant_forms(self, index: int, alias: Alias) -> None:
        """Index the spelling families the exact forms miss (see exact.variants)."""
        if alias.entity.kind == PERSON and alias.size >= 2:
            stem = surname_stem(alias.skel[-1])
            if len(stem) >= MIN_SURNAME_STEM:
                self.surnames[stem].append(index)
        form = join_skeletons(map(vowel_class, alias.skel))
        long_enough = alias.size > 1 or len(alias.folded[0]) >= MIN_VOWEL_CLASS_WORD
        wanted = MIN_VOWEL_CLASS_CONSONANTS[alias.size > 1]
        # Its consonants: vowel_class writes every vowel "a", so all but the a's.
        if self.threshold < 100 and long_enough and len(form) - form.count("a") >= wanted:
            self.vowel_forms[form].append(index)
            self.vowel_starts.add(vowel_class(alias.skel[0]))
            self.max_words = max(self.max_words, alias.size)
            self.vowel_words = max(self.vowel_words, alias.size)

    def _build_anchors(self) -> None:
        """Index fuzzy aliases by their rarest distinctive words and those words' deletions."""
        fuzzy = [i for i, a in enumerate(self.aliases) if a.allowed]
        frequency = Counter(w for i in fuzzy for w in set(self.aliases[i].skel))
        for index in fuzzy:
            alias = self.aliases[index]
            skel, folded = alias.skel, alias.folded
            # Its distinctive words, rarest (then longest) first; a loop, not sorted()
            # over a generator: most names have one or two.
            ranked = []
            for pos, w in enumerate(skel):
                if len(w) >= MIN_ANCHOR_LEN and folded[pos] not in GENERIC_WORDS and distinctive(w):
                    ranked.append((frequency[w], -len(w), w, pos))
            if len(ranked) > 1:
                ranked.sort()
            elif not ranked:  # only generic or short words: anchor on the longest
                longest = max(map(len, skel))
                ranked = [(0, 0, w, p) for p, w in enumerate(skel) if len(w) == longest]
            # A second anchor only if it is rare too: a word shared by many
            # aliases would make them all candidates wherever it appears.
            chosen = ranked[:1] + [r for r in ranked[1:ANCHORS_PER_ALIAS] if r[0] <= 8]
            for _, _, word, pos in chosen:
                if word not in self.anchors:  # a word anchoring several names: keys once
                    for key in {word} | deletions(word):
                        self.anchor_words[key].add(word)
                self.anchors[word].append((index, pos))

    def word(self, raw: str) -> Word:
        """What a text word is and may do, cached in `words` by the word as split.

        `raw` is an ASCII word as normalize.ascii_words yields it (TTP's, &)
        or a cased token of scan() (its own raw form). The record: cased and
        folded tokens, skeleton, word_bits and head. News is Zipfian (a few
        thousand distinct words make up a day's text), so each finder's per-word
        decision is taken once per distinct word and a text costs one dict
        lookup per word (matcher.field).
        Bounded: cleared when full; it lives on the index, rebuilt with the
        watchlist, so it never outlives the names it describes.
        """
        cased = ascii_word(raw)
        folded = cased.lower()
        skel = skeleton(folded)
        record = Word(cased, folded, skel, self.word_bits(cased, skel), head(skel))
        if len(self.words) >= WORD_CACHE_LIMIT:
            self.words.clear()
        self.words[raw] = record
        return record

    def word_bits(self, cased: str, skel: str) -> int:
        """What a word written `cased` (skeleton `skel`) may do, as bits: begin an exact
        lookup (its skeleton in `starts`, or its cased form in `strict_heads`), begin a
        spelling family (capitalised, and variant_start), anchor a fuzzy window, end a
        family name written first; and whether it is a direction abbreviation.

        The very tests the finders made per word before (exact._candidates,
        the start of exact.variants, fuzzy's anchor lookup, reversed_names' lookup),
        so visiting only the words with a bit set visits every word where a finder
        could find anything.
        """
        bits = 0
        if skel in self.starts or cased in self.strict_heads:
            bits |= EXACT
        if (self.surnames or self.vowel_forms) and capitalised(cased) and self.variant_start(skel):
            bits |= VARIANT
        if self.anchors and self.hits_of(skel):
            bits |= FUZZY
        if skel in self.reversed:
            bits |= REVERSED
        if cased in DIRECTION_ABBREVIATIONS:
            bits |= ABBREVIATION
        return bits

    def variant_start(self, word: str) -> bool:
        """May exact.variants find a name from this word (a skeleton)?

        Its family-name stem is indexed, or its vowel class begins an indexed
        vowel form: the two lookups variants makes first. Few words pass. Kept
        with the word's record (word()), so asked once per distinct word.
        """
        return surname_stem(word) in self.surnames or (
            bool(self.vowel_forms) and vowel_class(word) in self.vowel_starts
        )

    def _hit(self, key: tuple[int, int]) -> Hit:
        """The Hit for (alias, position): what the fuzzy pass checks first, precomputed.

        Made the first time a text word reaches the anchor. Its window shapes
        and the set of first letters before it are shared between Hits that
        have the same ones (a handful of distinct values for thousands of
        Hits): fewer objects to make, hold and for the collector to visit.
        """
        hit = self._hits.get(key)
        if hit is None:
            a, pos = key
            alias = self.aliases[a]
            skel, size = alias.skel, alias.size
            after = head(skel[pos + 1]) if pos + 1 < size else None
            before: frozenset[str] | None = None
            if pos:
                letters = tuple([head(w) for w in skel[max(0, pos - 2) : pos]])
                before = self._befores.get(letters)
                if before is None:
                    before = self._befores[letters] = frozenset(letters)
            shapes = self._shapes.get((size, pos))
            if shapes is None:
                shapes = self._shapes[(size, pos)] = window_shapes(size, pos)
            hit = Hit(
                a,
                pos,
                alias,
                after,
                before,
                pos == size - 1,
                head(skel[0]),
                head(skel[-1]),
                shapes,
            )
            self._hits[key] = hit
        return hit

    def hits_of(self, word: str) -> tuple[Hit, ...]:
        """A text word's fuzzy candidates as Hits, cached per word in anchor_cache."""
        hits = self.anchor_cache.get(word)
        if hits is None:
            anchorable = len(word) >= MIN_ANCHOR_LEN - 1 and distinctive(word)
            hits = tuple([self._hit(k) for k in self.anchor_hits(word)]) if anchorable else ()
            if len(self.anchor_cache) >= CACHE_LIMIT:
                self.anchor_cache.clear()
            self.anchor_cache[word] = hits
        return hits

    def anchor_hits(self, word: str) -> tuple[tuple[int, int], ...]:
        """Fuzzy candidates (alias, position) for a text word (cached by hits_of).

        A shared deletion only says two words are up to two edits apart. A
        candidate is kept when the word starts like the anchor word (spelling
        varies inside a name, rarely at its first letter: Yullah is not Kullah)
        and is within budget: a one-word name's own (a five-letter name has
        none, so "Kabul" never wakes "Kadul"), or a longer name's.
        """
        # The word and its deletions (name_rules.deletions) looked up one by one,
        # without building their set: most text words share no key with an anchor.
        anchor_words = self.anchor_words
        anchors: set[str] = set()
        near = anchor_words.get(word)
        if near:
            anchors.update(near)
        for k in range(len(word)):
            near = anchor_words.get(word[:k] + word[k + 1 :])
            if near:
                anchors.update(near)
        if not anchors:
            return ()
        found: set[tuple[int, int]] = set()
        edits = self.edits_by_length
        for anchor in anchors:
            if anchor == word:
                found.update(self.anchors[anchor])
                continue
            if not same_start(anchor, word):
                continue
            size = len(anchor)
            own = edits[size] if size < len(edits) else allowed_edits(size, self.threshold)
            distance = OSA.distance(anchor, word, score_cutoff=max(own, 1))
            for a, pos in self.anchors[anchor]:
                # A word of a longer name may spend the name's budget.
                budget = own if self.aliases[a].size == 1 else self.aliases[a].allowed
                if distance <= budget:
                    found.add((a, pos))
        return tuple(sorted(found))
