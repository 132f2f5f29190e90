"""The matching engine: which watched entities does an item mention, and why.

Three rules keep variants in and false alarms out, whatever the watchlist:

* **Whole words, case where it matters.** Text and aliases are split into word
  tokens, so "TTP" never fires inside "HTTPS". Acronyms and short aliases
  (four letters or fewer, or a capital after the first letter: ISKP, HuM, LeT)
  compare the *cased* tokens, so "HuM" does not fire on "hum".
* **Spelling variants are equal skeletons.** Longer aliases compare a
  transliteration skeleton of each word (normalize.skeleton: Tehreek = Tehrik,
  Tadzhikistan = Tajikistan) with the words joined, so hyphens and spaces do
  not matter (Hizbul Mujahideen = Hizb-ul-Mujahideen).
* **Fuzzy only where the name is long enough to afford it.** A remaining
  difference is allowed one edit per 8 letters of the alias's skeleton at the
  default threshold of 90, so Kunar never matches Kunari (too short for any
  edit) while Hibatullah meets Haibatullah. Direction words and numbers must
  agree exactly (north-west Pakistan is not north-east Pakistan). One or two
  capitalised words may stand inside a multi-word name (Narendra Damodardas
  Modi).

Fuzzy candidates are found through anchor words: each alias's rarest
distinctive words and their one-letter deletions (SymSpell-style), looked up
per text word through a cache, so the cost hardly grows with the watchlist.
Only windows anchored on a hit are scored.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from functools import reduce

from rapidfuzz.distance import OSA

from bot.matching.common import COMMON_WORDS
from bot.matching.normalize import (
    CONNECTOR_WORDS,
    CONSONANTAL,
    LINK_WORDS,
    MIN_SURNAME_STEM,
    Tokens,
    consonants,
    scan,
    skeleton,
    stems,
    surname_stem,
    vowel_class,
    vowels_close,
)
from bot.matching.resolve import best_per_entity, better
from bot.matching.risk import RISKY_WORDS, dropped_symbols, literal_pattern, risk_reasons
from bot.models import Entity, Item, Match

PERSON = "person"

# Words too common in names to locate a candidate by: they never anchor a
# fuzzy window (exact matching still uses them).
GENERIC_WORDS = frozenset(
    """
    al el ul ud ur e i the of and in for de da bin ibn abu bint ben von van
    islamic islami state states province provinces region regional city district
    valley army front party movement group groups network liberation national
    people peoples republic union council force forces brigade brigades battalion
    organisation organization north south east west northern southern eastern
    western central upper lower great greater new old jamaat jamiat tehrik tehreek
    lashkar jaish hizb harakat mujahideen mujahidin minister president prime
    general chief mohammad mohammed muhammad ahmad ahmed khan ali syed sayed shah
    mullah maulana haji sheikh emirate islamist militant militants border
    abdul abd sharif governor commander amir emir saif hussain husain hassan hasan
    rahman ullah allah gul mir malik qari mawlawi maulvi sardar sahib sultan
    """.split()
)

# Words whose difference changes the meaning of a name however close the
# spelling: they must agree exactly in a fuzzy match.
DIRECTIONS = {
    "north": ("north",),
    "south": ("south",),
    "east": ("east",),
    "west": ("west",),
    "northern": ("north",),
    "southern": ("south",),
    "eastern": ("east",),
    "western": ("west",),
    "northeast": ("north", "east"),
    "northwest": ("north", "west"),
    "southeast": ("south", "east"),
    "southwest": ("south", "west"),
    "northeastern": ("north", "east"),
    "northwestern": ("north", "west"),
    "southeastern": ("south", "east"),
    "southwestern": ("south", "west"),
    "central": ("central",),
    "upper": ("upper",),
    "lower": ("lower",),
}

# A trailing word that only says what sort of thing a name is: "Islamic State
# Sahel Province" is also written "Islamic State's Sahel branch".
TRAILING_GENERIC = frozenset(
    "province network group party army front movement organisation organization "
    "brigade brigades battalion faction wing branch".split()
)
# Names of the Islamic State in other languages and acronyms, so every branch
# alias ("Islamic State Khorasan") also meets "Daesh Khorasan", "ISIS-Khorasan"
# and Russian "ИГИЛ-Хорасан".
SYNONYMS = {"islamicstate": ("daesh", "daish", "isis", "isil", "igil")}
# Words that name a part of an organisation, not another one: "Islamic State's
# Sahel branch" is still the Sahel Province; "...Liberation Front" is not "...Army".
SUBUNIT_WORDS = frozenset("branch wing faction cell unit chapter affiliate".split())
# Press abbreviations of directions before a place name: N Waziristan.
DIRECTION_ABBREVIATIONS = {"N": "north", "S": "south", "W": "west"}

_DROPPABLE = CONNECTOR_WORDS | LINK_WORDS

MIN_ANCHOR_LEN = 4
ANCHORS_PER_ALIAS = 2
MAX_INSERTED = 2  # capitalised words allowed inside a multi-word name
MIN_CONSONANTS = 4  # an alias's consonants must be this distinctive to match vowel-less script
MIN_FUZZY_CONSONANTS = 7  # ...and this long to allow one consonant edit
# Consonants a name needs before its vowels may differ (Usama bin Laden = Osama
# bin Laden; Pashtun = Pukhtun), for one word and for a longer name: Karim is
# not Karam, nor Doval Duval.
MIN_VOWEL_CLASS_CONSONANTS = (4, 6)
MIN_VOWEL_CLASS_WORD = 7  # letters of a one-word name: Khost is not Khust
_VOWELS_RE = re.compile(r"[aeiou]")
_CACHE_LIMIT = 200_000


def is_strict(alias: str) -> bool:
    """Acronyms and short aliases match exactly and case-sensitively.

    Short means four letters or fewer; an acronym has a capital after the
    first letter of a word (ISKP, IS-KP, HuM, LeT).
    """
    tokens = scan(alias)
    letters = sum(c.isalnum() for c in alias)
    return letters <= 4 or any(any(c.isupper() for c in t[1:]) for t in tokens.cased)


def fuzzy_score(distance: int, length: int) -> float:
    """The reported score of a variant `distance` edits from an alias of `length` letters."""
    return round(100.0 - 80.0 * distance / max(length, 1), 1)


def allowed_edits(length: int, threshold: float) -> int:
    """Edits a variant may differ by, for an alias skeleton of `length` letters.

    At the default threshold of 90 that is one edit per 8 letters: none for
    "Kunar" or "Khost" (5 letters), one for "Tashkent" or "Turkmenistan",
    two from 16 letters on. 100 allows none; 80 allows one per 4 letters.
    """
    edits = 0
    while fuzzy_score(edits + 1, length) >= threshold:
        edits += 1
    return edits


def _signature(words: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Direction words and numbers of a phrase, which a fuzzy match must keep."""
    parts: list[str] = []
    for w in words:
        if w in DIRECTIONS:
            parts.extend(DIRECTIONS[w])
        elif w.isdigit():
            parts.append(w)
    return tuple(sorted(parts))


def _join(head: str, word: str) -> str:
    """Concatenate skeletons, merging a letter doubled across the seam (Siraj-ud-Din)."""
    if head and word and head[-1] == word[0] and word[0].isalpha():
        return head + word[1:]
    return head + word


def _join_all(words: Iterable[str]) -> str:
    """Skeletons joined into one string, doubled letters at the seams merged."""
    return reduce(_join, words, "")


def _without_connectors(folded: tuple[str, ...], skel: tuple[str, ...]) -> str:
    """Joined skeletons with the interior connecting words (al, ul, e) left out."""
    last = len(folded) - 1
    return _join_all(
        sk
        for k, (w, sk) in enumerate(zip(folded, skel, strict=True))
        if not (0 < k < last and w in _DROPPABLE)
    )


def _without_trailing_generic(folded: tuple[str, ...], skel: tuple[str, ...]) -> str:
    """The name without its last word when that word is generic and enough is left.

    What is left must be two words or more with a distinctive one, so
    "Haqqani Network" never shrinks to "Haqqani".
    """
    if len(folded) < 3 or folded[-1] not in TRAILING_GENERIC:
        return ""
    rest = folded[:-1]
    if not any(len(w) >= MIN_ANCHOR_LEN and w not in GENERIC_WORDS for w in rest):
        return ""
    return _join_all(skel[:-1])


def _deletions(word: str) -> set[str]:
    return {word[:i] + word[i + 1 :] for i in range(len(word))}


@dataclass(frozen=True, slots=True)
class _Alias:
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


@dataclass(slots=True)
class _Field:
    """One field of an item, tokenised once, with its skeletons."""

    name: str
    text: str
    tokens: Tokens
    skel: list[str]


class Matcher:
    """Built once per watchlist version; `match` is pure.

    The caches inside only remember lookups (word → candidates), so results
    never depend on what was matched before.
    """

    def __init__(self, entities: list[Entity], threshold: float = 90.0) -> None:
        self.entities = list(entities)
        self.threshold = threshold
        self._aliases: list[_Alias] = []
        self._strict: dict[str, list[int]] = defaultdict(list)  # first cased word
        self._joined: dict[str, list[int]] = defaultdict(list)  # whole skeleton string
        self._prefixes: set[str] = set()
        self._max_words = 1
        # Without al/ul/e/i (and in/the/of): alias index and its number of words.
        self._noconn: dict[str, list[tuple[int, int]]] = defaultdict(list)
        self._shortened: dict[str, list[int]] = defaultdict(list)  # without "Province"
        self._strict_joined: dict[str, list[int]] = defaultdict(list)  # KP for K-P
        self._consonants: dict[str, list[int]] = defaultdict(list)  # for Arabic script
        self._consonant_variants: dict[str, list[int]] = defaultdict(list)
        self._consonant_target: dict[int, str] = {}
        # anchor word -> (alias, position); a word or deletion -> anchor words
        self._anchors: dict[str, list[tuple[int, int]]] = defaultdict(list)
        self._anchor_words: dict[str, set[str]] = defaultdict(set)
        self._anchor_cache: dict[str, tuple[tuple[int, int], ...]] = {}
        self._skeletons: dict[str, str] = {}  # word -> skeleton, a plain dict: hot path
        self._excludes: dict[str, list[tuple[str, tuple[str, ...]]]] = defaultdict(list)
        self._order = {e.id: i for i, e in enumerate(self.entities)}
        # Risky aliases with symbols word matching would drop (C++): the raw text, as written.
        self._literal: list[tuple[int, re.Pattern[str]]] = []
        # Person aliases by the skeleton of their family name, for "Ahmadi, Said".
        self._reversed: dict[str, list[int]] = defaultdict(list)
        # Person aliases by their family name without its Russian-era ending (Karimov).
        self._surnames: dict[str, list[int]] = defaultdict(list)
        # Names by their vowel-class form (Usama = Osama), and those forms' first words.
        self._vowel_forms: dict[str, list[int]] = defaultdict(list)
        self._vowel_starts: set[str] = set()
        self._vowel_cache: dict[str, str] = {}
        # Names with connecting words (al, of the, va) that texts may leave out.
        self._dropped: dict[str, list[int]] = defaultdict(list)
        self._risky: set[tuple[str, str]] = set()  # (entity id, alias)
        # Terms that must appear in an item for the entity to match (namesakes).
        self._context: dict[str, list[tuple[str, ...]]] = {
            e.id: [tuple(skeleton(w) for w in scan(c).folded) for c in e.context]
            for e in self.entities
            if e.context
        }
        for entity in self.entities:
            for phrase in entity.exclude:
                words = tuple(scan(phrase).folded)
                self._excludes[words[0]].append((entity.id, words))
            for alias in entity.all_aliases:
                self._add_alias(entity, alias)
        self._build_anchors()
        # Every beginning of every form a name can take, so the exact scan stops
        # at the first word that cannot continue any name.
        forms = {*self._joined, *self._shortened, *self._noconn}
        self._prefixes = {form[:k] for form in forms for k in range(1, len(form) + 1)}
        # Words that may begin a name: a name's first word, or a beginning of
        # three letters or more (a text may split what the alias joins).
        self._starts = {p for p in self._prefixes if len(p) >= 3} | {
            skeleton(w) for a in self._aliases if not a.strict for w in a.folded[:1]
        }

    @property
    def alias_count(self) -> int:
        return len(self._aliases)

    def _add_alias(self, entity: Entity, text: str) -> None:
        toks = scan(text)
        if not len(toks):
            return
        risky = text not in entity.loose and bool(risk_reasons(text))
        if risky and entity.kind == PERSON and all(w in RISKY_WORDS for w in toks.folded):
            return  # a given name that is an ordinary word is no evidence of the person
        strict = risky or is_strict(text)
        skel = tuple(skeleton(w) for w in toks.folded)
        joined = _join_all(skel)
        alias = _Alias(
            entity=entity,
            text=text,
            strict=strict,
            folded=tuple(toks.folded),
            cased=tuple(toks.cased),
            skel=skel,
            joined=joined,
            signature=_signature(toks.folded),
            allowed=0 if strict else allowed_edits(len(joined), self.threshold),
            size=len(toks),
            risky=risky,
        )
        index = len(self._aliases)
        self._aliases.append(alias)
        if risky:
            self._risky.add((entity.id, text))
        if risky and dropped_symbols(text):
            self._literal.append((index, literal_pattern(text)))
            return
        if entity.kind == PERSON and 2 <= alias.size <= 3:
            self._reversed[skel[-1]].append(index)
        if not strict:
            self._add_variant_forms(index, alias)
        if strict:
            self._strict[alias.cased[0]].append(index)
            self._strict_joined["".join(alias.cased)].append(index)
            return
        noconn = _without_connectors(alias.folded, skel)
        self._noconn[noconn].append((index, alias.size))
        if noconn != joined:
            self._dropped[noconn].append(index)
        self._joined[joined].append(index)
        forms = [joined]
        shortened = _without_trailing_generic(alias.folded, skel)
        if shortened:
            self._shortened[shortened].append(index)
            forms.append(shortened)
            short = _without_connectors(alias.folded[:-1], skel[:-1])
            self._noconn[short].append((index, alias.size - 1))
        for form in forms:
            for name, others in SYNONYMS.items():
                if form.startswith(name) and len(form) > len(name):
                    for other in others:
                        target = self._joined if form == joined else self._shortened
                        target[other + form[len(name) :]].append(index)
        bare = "".join(consonants(w) for w in alias.folded)
        if len(bare) >= MIN_CONSONANTS:
            self._consonants[bare].append(index)
        if len(bare) >= MIN_FUZZY_CONSONANTS:
            self._consonant_target[index] = bare
            for key in {bare} | _deletions(bare):
                self._consonant_variants[key].append(index)
        # Room for connecting words (al, ud, in the) the alias writes joined or leaves out.
        self._max_words = max(self._max_words, alias.size + 3)

    def _add_variant_forms(self, index: int, alias: _Alias) -> None:
        """Index the spelling families the exact forms miss (see `_variants`)."""
        if alias.entity.kind == PERSON and alias.size >= 2:
            stem = surname_stem(alias.skel[-1])
            if len(stem) >= MIN_SURNAME_STEM:
                self._surnames[stem].append(index)
        form = _join_all(vowel_class(w) for w in alias.skel)
        consonants_left = len(_VOWELS_RE.sub("", form))
        long_enough = alias.size > 1 or len(alias.folded[0]) >= MIN_VOWEL_CLASS_WORD
        wanted = MIN_VOWEL_CLASS_CONSONANTS[alias.size > 1]
        if self.threshold < 100 and long_enough and consonants_left >= wanted:
            self._vowel_forms[form].append(index)
            self._vowel_starts.add(vowel_class(alias.skel[0]))
            self._max_words = max(self._max_words, alias.size)

    def _build_anchors(self) -> None:
        """Index fuzzy aliases by their rarest distinctive words and those words' deletions."""
        fuzzy = [i for i, a in enumerate(self._aliases) if a.allowed]
        frequency = Counter(w for i in fuzzy for w in set(self._aliases[i].skel))
        for index in fuzzy:
            alias = self._aliases[index]
            ranked = sorted(
                (frequency[w], -len(w), w, pos)
                for pos, (w, f) in enumerate(zip(alias.skel, alias.folded, strict=True))
                if len(w) >= MIN_ANCHOR_LEN and f not in GENERIC_WORDS and _distinctive(w)
            )
            if not ranked:  # only generic or short words: anchor on the longest
                longest = max(len(w) for w in alias.skel)
                ranked = [(0, 0, w, p) for p, w in enumerate(alias.skel) if len(w) == longest]
            # A second anchor only if it is rare too: a word shared by many
            # aliases would make them all candidates wherever it appears.
            chosen = ranked[:1] + [r for r in ranked[1:ANCHORS_PER_ALIAS] if r[0] <= 8]
            for _, _, word, pos in chosen:
                self._anchors[word].append((index, pos))
                for key in {word} | _deletions(word):
                    self._anchor_words[key].add(word)

    def _anchor_hits(self, word: str) -> tuple[tuple[int, int], ...]:
        """Fuzzy candidates (alias, position) for a text word, cached per word.

        A shared deletion only says two words are up to two edits apart. A
        candidate is kept when the word starts like the anchor word (spelling
        varies inside a name, rarely at its first letter: Yullah is not Kullah)
        and is within budget: a one-word name's own (a five-letter name has
        none, so "Kabul" never wakes "Kadul"), or a longer name's.
        """
        hits = self._anchor_cache.get(word)
        if hits is None:
            found: set[tuple[int, int]] = set()
            anchors: set[str] = set()
            for key in {word} | _deletions(word):
                anchors.update(self._anchor_words.get(key, ()))
            for anchor in anchors:
                if anchor == word:
                    found.update(self._anchors[anchor])
                    continue
                if not _same_start(anchor, word):
                    continue
                own = allowed_edits(len(anchor), self.threshold)
                distance = OSA.distance(anchor, word, score_cutoff=max(own, 1))
                for a, pos in self._anchors[anchor]:
                    # A word of a longer name may spend the name's budget.
                    budget = own if self._aliases[a].size == 1 else self._aliases[a].allowed
                    if distance <= budget:
                        found.add((a, pos))
            hits = tuple(sorted(found))
            if len(self._anchor_cache) >= _CACHE_LIMIT:
                self._anchor_cache.clear()
            self._anchor_cache[word] = hits
        return hits

    # -- matching -------------------------------------------------------------

    def match(self, item: Item) -> list[Match]:
        return self.match_text(item.title, item.summary)

    def match_text(self, title: str, summary: str = "") -> list[Match]:
        """Best match per entity over title then summary, with exclusions applied.

        Within a field, a mention inside a longer mention of another entity is
        not a mention of its own: "Taliban" inside "Tehrik-i-Taliban Pakistan"
        does not fire the Afghan Taliban.
        """
        fields = []
        cache = self._skeletons
        if len(cache) > _CACHE_LIMIT:
            cache.clear()
        for name, text in (("title", title), ("summary", summary)):
            toks = scan(text)
            skel = []
            for w in toks.folded:
                sk = cache.get(w)
                if sk is None:
                    sk = cache[w] = skeleton(w)
                skel.append(sk)
            for k in range(len(skel) - 1):
                if toks.cased[k] in DIRECTION_ABBREVIATIONS and toks.cased[k + 1][:1].isupper():
                    skel[k] = skeleton(DIRECTION_ABBREVIATIONS[toks.cased[k]])
            fields.append(_Field(name, text, toks, skel))
        vetoed = self._vetoed(fields)
        mentions: list[Match] = []
        for f in fields:
            found = [m for m in self._mentions(f) if m.entity_id not in vetoed]
            mentions.extend(_outermost(found, f.text))
        if self._context:
            missing = {
                m.entity_id
                for m in mentions
                if m.entity_id in self._context and not self._context_met(m.entity_id, fields)
            }
            mentions = [m for m in mentions if m.entity_id not in missing]
        return sorted(best_per_entity(mentions), key=lambda m: self._order[m.entity_id])

    def _context_met(self, entity_id: str, fields: list[_Field]) -> bool:
        """Does the item hold one of the entity's context terms (as skeletons, in order)?"""
        for phrase in self._context[entity_id]:
            size = len(phrase)
            for f in fields:
                skel = f.skel
                for i, w in enumerate(skel):
                    if w == phrase[0] and tuple(skel[i : i + size]) == phrase:
                        return True
        return False

    def _vetoed(self, fields: list[_Field]) -> set[str]:
        """Entities one of whose exclude phrases the item contains."""
        vetoed: set[str] = set()
        if not self._excludes:
            return vetoed
        for f in fields:
            words = f.tokens.folded
            for i, w in enumerate(words):
                for entity_id, phrase in self._excludes.get(w, ()):
                    if tuple(words[i : i + len(phrase)]) == phrase:
                        vetoed.add(entity_id)
        return vetoed

    def _mentions(self, f: _Field) -> list[Match]:
        found: list[Match] = []
        toks, skel, text = f.tokens, f.skel, f.text
        cased, folded = toks.cased, toks.folded
        strict, prefixes, starts = self._strict, self._prefixes, self._starts
        n = len(toks)
        for i in range(n):
            # Acronyms and short aliases: the cased words, exactly.
            if cased[i] in strict or (
                i + 1 < n and toks.starts[i + 1] == toks.ends[i] + 1 and text[toks.ends[i]] == "-"
            ):
                found.extend(self._strict_at(f, i))
            # Longer aliases: the joined skeletons of 1..k words, exactly.
            if skel[i] not in starts:
                continue
            joined, bare, interior, linked = "", "", False, False
            for j in range(i, min(n, i + self._max_words)):
                joined = _join(joined, skel[j])
                droppable = j > i and folded[j] in _DROPPABLE
                bare_next = bare if droppable else _join(bare, skel[j])
                if joined not in prefixes and bare_next not in prefixes:
                    break
                for a in self._joined.get(joined, ()):
                    found.append(self._make(self._aliases[a], f, i, j + 1, 0))
                # Without its generic last word, unless another one follows
                # (Balochistan Liberation Front is not ...Liberation Army).
                if joined in self._shortened and (
                    j + 1 == n
                    or folded[j + 1] not in TRAILING_GENERIC
                    or folded[j + 1] in SUBUNIT_WORDS
                ):
                    for a in self._shortened[joined]:
                        found.append(self._make(self._aliases[a], f, i, j + 1, 0))
                # The same name with its connecting words (al, ul, e) left out.
                if droppable:
                    interior = True
                    linked = linked or folded[j] in LINK_WORDS
                    continue
                bare = bare_next
                if interior:
                    for a, words in self._noconn.get(bare, ()):
                        if words >= 3 or not linked:
                            found.append(self._make(self._aliases[a], f, i, j + 1, 0))
                elif j > i:  # the text leaves out the connecting words the alias has
                    for a in self._dropped.get(bare, ()):
                        found.append(self._make(self._aliases[a], f, i, j + 1, 0))
        if any(toks.foreign):
            found.extend(self._foreign(f))
        if self._reversed:
            found.extend(self._reversed_names(f))
        if self._surnames or self._vowel_forms:
            found.extend(self._variants(f))
        if self._literal:
            found.extend(self._literal_at(f))
        found = [m for m in found if self._plausible(m, f)]
        if self._anchors:
            found.extend(
                m for m in self._fuzzy(f, {m.entity_id for m in found}) if self._plausible(m, f)
            )
        return found

    def _plausible(self, m: Match, f: _Field) -> bool:
        """Rules about the words around a match, whatever way it was found.

        A person's name never begins or ends with an ordinary word written in
        lower case ("Karimi said Ahmadi" is not Said Ahmadi); a risky
        all-capitals alias (IS, AQ) does not count inside a shouting headline
        ("WHAT IS NEXT").
        """
        toks = f.tokens
        first = bisect_left(toks.starts, m.start)
        last = max(first, bisect_left(toks.ends, m.end))
        if first >= len(toks) or last >= len(toks):
            return True
        if m.kind == PERSON:
            for k in {first, last}:
                word = toks.cased[k]
                if word[:1].islower() and toks.folded[k] in RISKY_WORDS and not toks.foreign[k]:
                    return False
        if m.alias.isupper() and m.text.isupper() and self._is_risky(m):
            neighbours = [toks.cased[k] for k in (first - 1, last + 1) if 0 <= k < len(toks)]
            if neighbours and all(w.isupper() and len(w) > 1 for w in neighbours):
                return False
        return True

    def _is_risky(self, m: Match) -> bool:
        return (m.entity_id, m.alias) in self._risky

    def _reversed_names(self, f: _Field) -> list[Match]:
        """A person's name written family name first, after a comma: "Ahmadi, Said"."""
        toks, skel, text = f.tokens, f.skel, f.text
        n, found = len(toks), []
        for k in range(n - 1):
            if (
                skel[k] not in self._reversed
                or text[toks.ends[k] : toks.starts[k + 1]].strip() != ","
            ):
                continue
            for a in self._reversed[skel[k]]:
                alias = self._aliases[a]
                given = alias.size - 1
                end = k + 1 + given
                if end > n or tuple(skel[k + 1 : end]) != alias.skel[:-1]:
                    continue
                if all(toks.cased[x][:1].isupper() for x in range(k, end)):
                    found.append(self._make(alias, f, k, end, 0))
        return found

    def _variants(self, f: _Field) -> list[Match]:
        """Spelling families of names, tried only from capitalised words.

        * A person's family name with or without its Russian-era ending
          (Islam Karim = Islam Karimov, Emomali Rahmonov = Emomali Rahmon),
          the given names exactly; never for a one-word alias, so Ali is not Aliyev.
        * A name whose vowels (and Pashto sh/kh) differ: Osama bin Laden,
          Mohammed Yunus, Pukhtun, when the name has consonants enough.
        """
        toks, skel = f.tokens, f.skel
        cased, n = toks.cased, len(toks)
        found: list[Match] = []
        cache = self._vowel_cache
        if len(cache) > _CACHE_LIMIT:
            cache.clear()
        for i in range(n):
            if not cased[i][:1].isupper() or toks.foreign[i]:
                continue
            word = skel[i]
            for a in self._surnames.get(surname_stem(word), ()):
                alias = self._aliases[a]
                start = i - alias.size + 1
                if (
                    word != alias.skel[-1]
                    and start >= 0
                    and tuple(skel[start:i]) == alias.skel[:-1]
                ):
                    found.append(self._make(alias, f, start, i + 1, 0))
            if not self._vowel_forms:
                continue
            vowels = cache.get(word)
            if vowels is None:
                vowels = cache[word] = vowel_class(word)
            if vowels not in self._vowel_starts:
                continue
            form = vowels
            for j in range(i, min(n, i + self._max_words)):
                if j > i:
                    if toks.foreign[j]:
                        break
                    following = cache.get(skel[j])
                    if following is None:
                        following = cache[skel[j]] = vowel_class(skel[j])
                    form = _join(form, following)
                for a in self._vowel_forms.get(form, ()):
                    alias = self._aliases[a]
                    if alias.size == j - i + 1 and vowels_close(skel[i : j + 1], alias.skel):
                        found.append(self._make(alias, f, i, j + 1, 0))
        return found

    def _literal_at(self, f: _Field) -> list[Match]:
        """Risky aliases with symbols (C++): the text exactly as written, word-bounded."""
        found = []
        for a, pattern in self._literal:
            alias = self._aliases[a]
            e = alias.entity
            for hit in pattern.finditer(f.text):
                found.append(
                    Match(
                        e.id,
                        e.name,
                        e.kind,
                        e.severity,
                        alias.text,
                        hit.group(),
                        100.0,
                        f.name,
                        hit.start(),
                        hit.end(),
                        "exact",
                    )
                )
        return found

    def _strict_at(self, f: _Field, i: int) -> list[Match]:
        """Acronyms starting at word i, also spelled with hyphens between letters (K-P)."""
        toks, text, found = f.tokens, f.text, []
        n = len(toks)
        for a in self._strict.get(toks.cased[i], ()):
            alias = self._aliases[a]
            j = i + alias.size
            if tuple(toks.cased[i:j]) == alias.cased:
                found.append(self._make(alias, f, i, j, 0))
        j, spelled = i, toks.cased[i]
        while j + 1 < n and toks.starts[j + 1] == toks.ends[j] + 1 and text[toks.ends[j]] == "-":
            j += 1
            spelled += toks.cased[j]
            for a in self._strict_joined.get(spelled, ()):
                if self._aliases[a].size != j - i + 1:
                    found.append(self._make(self._aliases[a], f, i, j + 1, 0))
        return found

    def _foreign(self, f: _Field) -> list[Match]:
        """Words transliterated from another script: case endings and missing vowels.

        Russian inflects names (Кабуле → "kabule" for Kabul), and Arabic script
        writes few vowels (پاکستان → "pkstn"): such windows are compared by
        stem and by consonants, only where every word came from another script.
        """
        toks, skel = f.tokens, f.skel
        n = len(toks)
        found: list[Match] = []
        for i in range(n):
            if not toks.foreign[i]:
                continue
            joined, bare = "", ""
            for j in range(i, min(n, i + self._max_words)):
                if not toks.foreign[j]:
                    break
                for stem in stems(toks.folded[j]):
                    for a in self._joined.get(_join(joined, skeleton(stem)), ()):
                        found.append(self._make(self._aliases[a], f, i, j + 1, 0))
                    for a in self._consonants.get(bare + consonants(stem), ()):
                        found.append(self._make(self._aliases[a], f, i, j + 1, 0))
                joined = _join(joined, skel[j])
                bare += consonants(toks.folded[j])
                for a in self._consonants.get(bare, ()):
                    found.append(self._make(self._aliases[a], f, i, j + 1, 0))
                # One consonant off only for scripts that leave vowels out: in
                # Cyrillic it would let "ministerstvo" pass for "Minister Santaov".
                consonantal = toks.foreign[i] == CONSONANTAL == toks.foreign[j]
                if consonantal and len(bare) >= MIN_FUZZY_CONSONANTS - 1:
                    found.extend(self._consonant_fuzzy(f, bare, i, j + 1))
        return found

    def _consonant_fuzzy(self, f: _Field, bare: str, i: int, j: int) -> list[Match]:
        """Vowel-less script with one consonant off (नरेंद्र → "nrmdr" for Narendra)."""
        found = []
        candidates: set[int] = set()
        for key in {bare} | _deletions(bare):
            candidates.update(self._consonant_variants.get(key, ()))
        for a in sorted(candidates):
            alias = self._aliases[a]
            target = self._consonant_target[a]
            distance = OSA.distance(bare, target, score_cutoff=1)
            if distance == 1:
                found.append(self._make(alias, f, i, j, 1, len(target)))
        return found

    def _fuzzy(self, f: _Field, skip: set[str]) -> list[Match]:
        best: dict[str, Match] = {}
        tried: set[tuple[int, int, int, int]] = set()
        toks, skel = f.tokens, f.skel
        cache = self._anchor_cache
        for i, word in enumerate(skel):
            hits = cache.get(word)
            if hits is None:
                distinctive = len(word) >= MIN_ANCHOR_LEN - 1 and _distinctive(word)
                hits = self._anchor_hits(word) if distinctive else ()
                cache[word] = hits
            for a, pos in hits:
                alias = self._aliases[a]
                if alias.entity.id in skip or not _neighbours_fit(alias, pos, i, toks, skel):
                    continue
                for start, end, gap in self._windows(alias, i, pos, toks):
                    if (a, start, end, gap) in tried:
                        continue
                    tried.add((a, start, end, gap))
                    m = self._verify(alias, f, start, end, gap)
                    if m is not None:
                        current = best.get(m.entity_id)
                        if current is None or better(m, current):
                            best[m.entity_id] = m
        return list(best.values())

    @staticmethod
    def _windows(alias: _Alias, i: int, pos: int, toks: Tokens) -> list[tuple[int, int, int]]:
        """Text windows (start, end, inserted words) that could hold `alias`, anchored at i."""
        size, n = alias.size, len(toks)
        out = []
        # The alias's own length, or one word fewer when the text joins two of
        # its words (Hizbul for Hizb ul). A text that splits a word the alias
        # joins is only accepted exactly: "Khan now" must not be "Khano".
        for length in (size, size - 1):
            if length < 1:
                continue
            for start in {i - pos, i - pos + (size - length)}:
                if 0 <= start <= i < start + length <= n:
                    out.append((start, start + length, 0))
        if size >= 2:  # a middle name inside: first words, inserted words, last word
            for gap in range(1, MAX_INSERTED + 1):
                start = i - pos if pos < size - 1 else i - pos - gap
                end = start + size + gap
                if start < 0 or end > n:
                    continue
                # Inserted words must look like names: capitalised, not generic.
                inner = range(end - 1 - gap, end - 1)
                if all(
                    toks.cased[k][:1].isupper()
                    and toks.folded[k] not in GENERIC_WORDS
                    and toks.folded[k] not in DIRECTIONS
                    for k in inner
                ):
                    out.append((start, end, gap))
        return out

    def _verify(self, alias: _Alias, f: _Field, start: int, end: int, gap: int) -> Match | None:
        toks, skel = f.tokens, f.skel
        picked = [*range(start, end - 1 - gap), end - 1] if gap else list(range(start, end))
        # Word by word, a variant starts like the alias (cheap, so first).
        if len(picked) == alias.size:
            for k, w in zip(picked, alias.skel, strict=True):
                if not _same_start(skel[k], w):
                    return None
        elif not _same_start(skel[start], alias.skel[0]):
            return None
        # A name does not run across a full stop, comma or bracket.
        text = f.text
        for k in range(start, end - 1):
            if _BREAK.search(text, toks.ends[k], toks.starts[k + 1]):
                return None
        candidate = _join_all(skel[k] for k in picked)
        if abs(len(candidate) - len(alias.joined)) > alias.allowed:
            return None
        # OSA counts a swap of two letters as one edit (Nangrahar / Nangarhar).
        distance = OSA.distance(candidate, alias.joined, score_cutoff=alias.allowed)
        if distance > alias.allowed:
            return None
        if _signature([toks.folded[k] for k in picked]) != alias.signature:
            return None
        return self._make(alias, f, start, end, distance)

    def _make(
        self, alias: _Alias, f: _Field, i: int, j: int, distance: int, length: int = 0
    ) -> Match:
        toks = f.tokens
        start, end = toks.starts[i], toks.ends[j - 1]
        span = f.text[start:end]
        if distance:
            how = "fuzzy"
            # On the threshold's scale: score >= threshold exactly when
            # distance <= allowed_edits(length, threshold).
            score = fuzzy_score(distance, length or len(alias.joined))
        else:
            score = 100.0
            if span == alias.text:
                how = "exact"
            elif any(toks.foreign[i:j]):
                how = "transliterated"
            elif tuple(toks.folded[i:j]) == alias.folded or "".join(toks.folded[i:j]) == "".join(
                alias.folded
            ):
                how = "normalised"
            else:
                how = "variant"
        e = alias.entity
        return Match(
            entity_id=e.id,
            entity_name=e.name,
            kind=e.kind,
            severity=e.severity,
            alias=alias.text,
            text=span,
            score=score,
            field=f.name,
            start=start,
            end=end,
            how=how,
        )


_BREAK = re.compile(r"[.,;:!?()\[\]{}|/\"“”]")
_VOWELS = frozenset("aeiou")


def _neighbours_fit(alias: _Alias, pos: int, i: int, toks: Tokens, skel: list[str]) -> bool:
    """A quick necessary condition before any window is scored.

    The words next to the anchor must start like the alias's words next to
    it, be a capitalised inserted name (a middle name), or hold a joined pair
    of the alias's words (Hizbul for Hizb ul).
    """
    size, n = alias.size, len(skel)
    if pos + 1 < size:
        if i + 1 >= n:
            return False
        if not (_same_start(skel[i + 1], alias.skel[pos + 1]) or toks.cased[i + 1][:1].isupper()):
            return False
    if pos > 0:
        if i < 1:
            return False
        left = skel[i - 1]
        if not (
            _same_start(left, alias.skel[pos - 1])
            or (pos > 1 and _same_start(left, alias.skel[pos - 2]))
            or (pos == size - 1 and toks.cased[i - 1][:1].isupper())
        ):
            return False
    return True


_COMMON_SKELETONS = frozenset(COMMON_WORDS | {skeleton(w) for w in COMMON_WORDS})


def _distinctive(skel: str) -> bool:
    """May this word anchor a fuzzy match? Not if it spells like everyday news English.

    Decided on the skeleton alone, so the per-skeleton cache cannot make a
    result depend on which spelling came first.
    """
    return skel not in _COMMON_SKELETONS


def _same_start(a: str, b: str) -> bool:
    """Two spellings of one name word start alike (or both with a vowel: Usman/Osman)."""
    return not a or not b or a[0] == b[0] or (a[0] in _VOWELS and b[0] in _VOWELS)


def _outermost(mentions: list[Match], text: str) -> list[Match]:
    """Drop mentions lying strictly inside a longer mention of another entity.

    "Taliban" inside "Tehrik-i-Taliban Pakistan" is part of another name; but
    "Pakistan" inside "north-west Pakistan" is still Pakistan: a mention that
    only adds direction words around another keeps the inner one.
    """

    def hides(o: Match, m: Match) -> bool:
        if o.entity_id == m.entity_id or not (o.start <= m.start and m.end <= o.end):
            return False
        if o.end - o.start <= m.end - m.start:
            return False
        rest = scan(text[o.start : m.start] + " " + text[m.end : o.end]).folded
        return not all(w in DIRECTIONS for w in rest)

    return [m for m in mentions if not any(hides(o, m) for o in mentions)]
