"""The matching engine: which watched entities does an item mention, and why.

Exact matching works on token sequences (whole words only, so "TTP" never
fires inside "HTTPS"). Acronyms and short aliases compare the *cased* tokens,
so "HuM" does not fire on "hum". Longer aliases also match fuzzily: candidate
windows are found through anchor tokens (each alias's rarest words and their
one-letter deletions, SymSpell-style) and only those windows are scored with
rapidfuzz, which keeps the cost independent of watchlist size.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass

from rapidfuzz.distance import Indel

from bot.matching.normalize import Token, tokenize
from bot.models import Entity, Item, Match

# Words too common in names to locate a candidate by: they never anchor a
# fuzzy window on their own (exact matching still uses them).
GENERIC_WORDS = frozenset(
    """
    al el ul e i the of and in for de da bin ibn abu islamic state states province
    provinces region regional city district valley army front party movement group
    network liberation national people peoples republic union council force forces
    brigade brigades battalion organisation organization north south east west northern
    southern eastern western central upper lower great greater new jamaat tehrik
    tehreek lashkar jaish hizb harakat mujahideen mujahidin minister president prime
    general chief
    """.split()
)

MIN_FUZZY_LETTERS = 7  # shorter aliases match exactly only: Kunar must not match Kunari
MIN_ANCHOR_LEN = 4
ANCHORS_PER_ALIAS = 2


def is_strict(alias: str) -> bool:
    """Acronyms and short aliases match exactly and case-sensitively.

    Short means four letters or fewer; an acronym has a capital after the
    first letter of a word (ISKP, IS-KP, HuM, LeT).
    """
    tokens = tokenize(alias)
    letters = sum(c.isalnum() for c in alias)
    return letters <= 4 or any(any(c.isupper() for c in t.cased[1:]) for t in tokens)


def _deletions(word: str) -> set[str]:
    return {word[:i] + word[i + 1 :] for i in range(len(word))}


@dataclass(frozen=True, slots=True)
class _Alias:
    entity: Entity
    text: str
    tokens: tuple[str, ...]  # cased tokens if strict, folded otherwise
    strict: bool
    joined: str  # folded tokens joined by spaces, for fuzzy scoring
    fuzzy: bool


class Matcher:
    """Built once per watchlist version; `match` is pure and thread-safe."""

    def __init__(self, entities: list[Entity], threshold: float = 90.0) -> None:
        self.entities = list(entities)
        self.threshold = threshold
        self._aliases: list[_Alias] = []
        self._exact_folded: dict[str, list[int]] = defaultdict(list)
        self._exact_cased: dict[str, list[int]] = defaultdict(list)
        self._anchors: dict[str, set[tuple[int, int]]] = defaultdict(set)
        self._excludes: dict[str, list[tuple[str, ...]]] = {}
        for entity in self.entities:
            self._excludes[entity.id] = [
                tuple(t.folded for t in tokenize(p)) for p in entity.exclude
            ]
            for alias in entity.all_aliases:
                self._add_alias(entity, alias)
        self._build_anchors()

    def _add_alias(self, entity: Entity, alias: str) -> None:
        toks = tokenize(alias)
        if not toks:
            return
        strict = is_strict(alias)
        folded = tuple(t.folded for t in toks)
        letters = sum(len(t) for t in folded)
        entry = _Alias(
            entity=entity,
            text=alias,
            tokens=tuple(t.cased for t in toks) if strict else folded,
            strict=strict,
            joined=" ".join(folded),
            fuzzy=not strict and letters >= MIN_FUZZY_LETTERS,
        )
        index = len(self._aliases)
        self._aliases.append(entry)
        (self._exact_cased if strict else self._exact_folded)[entry.tokens[0]].append(index)

    def _build_anchors(self) -> None:
        """Index fuzzy aliases by their rarest distinctive words and those words' deletions."""
        frequency = Counter(tok for a in self._aliases if a.fuzzy for tok in set(a.tokens))
        for index, alias in enumerate(self._aliases):
            if not alias.fuzzy:
                continue
            positions = [
                (frequency[tok], tok, pos)
                for pos, tok in enumerate(alias.tokens)
                if len(tok) >= MIN_ANCHOR_LEN and tok not in GENERIC_WORDS
            ]
            if not positions:  # all words generic or short: anchor on the longest
                positions = [
                    (0, tok, pos)
                    for pos, tok in enumerate(alias.tokens)
                    if len(tok) == max(len(t) for t in alias.tokens)
                ]
            for _, tok, pos in sorted(positions)[:ANCHORS_PER_ALIAS]:
                for key in {tok} | _deletions(tok):
                    self._anchors[key].add((index, pos))

    # -- matching -------------------------------------------------------------

    def match_text(self, title: str, summary: str = "") -> list[Match]:
        """Best match per entity over title then summary, with exclusions applied.

        Within a field, a mention inside a longer mention of another entity is
        not a mention of its own: "Taliban" inside "Tehrik-i-Taliban Pakistan"
        does not fire the Afghan Taliban.
        """
        fields = [("title", title, tokenize(title)), ("summary", summary, tokenize(summary))]
        vetoed = self._vetoed([toks for _, _, toks in fields])
        best: dict[str, Match] = {}
        for field_name, text, toks in fields:
            mentions = [
                m for m in self._match_tokens(field_name, text, toks) if m.entity_id not in vetoed
            ]
            for m in _outermost(mentions):
                current = best.get(m.entity_id)
                if current is None or m.score > current.score:
                    best[m.entity_id] = m
        order = {e.id: i for i, e in enumerate(self.entities)}
        return sorted(best.values(), key=lambda m: order[m.entity_id])

    def match(self, item: Item) -> list[Match]:
        return self.match_text(item.title, item.summary)

    def _vetoed(self, token_lists: list[list[Token]]) -> set[str]:
        vetoed: set[str] = set()
        folded_fields = [[t.folded for t in toks] for toks in token_lists]
        for entity_id, phrases in self._excludes.items():
            for phrase in phrases:
                if any(_contains(words, phrase) for words in folded_fields):
                    vetoed.add(entity_id)
                    break
        return vetoed

    def _match_tokens(self, field_name: str, text: str, toks: list[Token]) -> list[Match]:
        folded = [t.folded for t in toks]
        cased = [t.cased for t in toks]
        found: list[Match] = []
        for i in range(len(toks)):
            for words, index in ((folded, self._exact_folded), (cased, self._exact_cased)):
                for a in index.get(words[i], ()):
                    alias = self._aliases[a]
                    n = len(alias.tokens)
                    if tuple(words[i : i + n]) == alias.tokens:
                        found.append(self._make(alias, field_name, text, toks, i, i + n, 100.0))
        matched_entities = {m.entity_id for m in found}
        if self._anchors:
            found.extend(self._fuzzy(field_name, text, toks, folded, matched_entities))
        return found

    def _fuzzy(
        self,
        field_name: str,
        text: str,
        toks: list[Token],
        folded: list[str],
        skip: set[str],
    ) -> list[Match]:
        best: dict[str, Match] = {}
        tried: set[tuple[int, int, int]] = set()
        for i, word in enumerate(folded):
            if len(word) < MIN_ANCHOR_LEN - 1:
                continue
            hits: set[tuple[int, int]] = set()
            for key in {word} | _deletions(word):
                hits |= self._anchors.get(key, set())
            for a, pos in sorted(hits):
                alias = self._aliases[a]
                if alias.entity.id in skip:
                    continue
                n = len(alias.tokens)
                # Windows of n-1..n+1 words placed so the anchor lines up.
                for size in (n, n - 1, n + 1):
                    if size < 1:
                        continue
                    for start in {i - pos, i - pos + (n - size)}:
                        end = start + size
                        if start < 0 or end > len(toks) or not start <= i < end:
                            continue
                        if (a, start, end) in tried:
                            continue
                        tried.add((a, start, end))
                        score = round(
                            Indel.normalized_similarity(" ".join(folded[start:end]), alias.joined)
                            * 100,
                            1,
                        )
                        if score < self.threshold:
                            continue
                        m = self._make(alias, field_name, text, toks, start, end, score)
                        current = best.get(m.entity_id)
                        if current is None or m.score > current.score:
                            best[m.entity_id] = m
        return list(best.values())

    @staticmethod
    def _make(
        alias: _Alias, field_name: str, text: str, toks: list[Token], i: int, j: int, score: float
    ) -> Match:
        start, end = toks[i].start, toks[j - 1].end
        e = alias.entity
        return Match(
            entity_id=e.id,
            entity_name=e.name,
            kind=e.kind,
            severity=e.severity,
            alias=alias.text,
            text=text[start:end],
            score=score,
            field=field_name,
            start=start,
            end=end,
        )


def _outermost(mentions: list[Match]) -> list[Match]:
    """Drop mentions lying strictly inside a longer mention of another entity."""
    return [
        m
        for m in mentions
        if not any(
            o.entity_id != m.entity_id
            and o.start <= m.start
            and m.end <= o.end
            and o.end - o.start > m.end - m.start
            for o in mentions
        )
    ]


def _contains(words: list[str], phrase: tuple[str, ...]) -> bool:
    n = len(phrase)
    if not n:
        return False
    first = phrase[0]
    return any(
        words[i] == first and tuple(words[i : i + n]) == phrase for i in range(len(words) - n + 1)
    )
