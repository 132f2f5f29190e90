"""The matching engine: which watched entities does an item mention, and why.

Three rules keep variants in and false alarms out, whatever the watchlist:

* **Whole words, case where it matters.** Text and aliases are split into word
  tokens, so "TTP" never fires inside "HTTPS". Acronyms and short aliases
  (four letters or fewer, or a capital after the first letter: ISKP, HuM, LeT)
  compare the *cased* tokens, so "HuM" does not fire on "hum".
* **Spelling variants are equal skeletons.** Longer aliases compare a
  transliteration skeleton of each word (spelling.skeleton: Tehreek = Tehrik,
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

The engine is split by idea: name_rules.py (word lists, thresholds, skeleton
joins), alias_index.py (what is indexed), exact.py and fuzzy.py (finding
candidates in a text), plausible.py (rules over a mention's surroundings and
the whole item), mention.py (a found window as a Mention, a Match once kept). This module is the
facade the rest of the bot uses: it tokenises an item once and puts the
pieces together in their order.
"""

from __future__ import annotations

from bot.matching.alias_index import ABBREVIATION, EXACT, FUZZY, REVERSED, VARIANT, AliasIndex
from bot.matching.exact import exact_mentions
from bot.matching.fuzzy import fuzzy
from bot.matching.mention import Field, Mention, Positions, positions
from bot.matching.name_rules import (
    DIRECTION_ABBREVIATIONS,
    PERSON,
    allowed_edits,
    capitalised,
    fuzzy_score,
    head,
    is_strict,
)
from bot.matching.normalize import (
    Tokens,
    ascii_words,
    one_token_each,
    spanned_tokens,
    transliterated,
)
from bot.matching.plausible import context_met, outermost, plausible, vetoed
from bot.matching.resolve import best_per_entity
from bot.matching.spelling import skeleton
from bot.models import Entity, Item, Match

# Imported from here by the rest of the bot and the tests.
__all__ = ["PERSON", "Matcher", "allowed_edits", "fuzzy_score", "is_strict"]


def field(index: AliasIndex, name: str, text: str) -> Field:
    """A text tokenised, with each word's skeleton and head and the positions of the words
    each finder starts from, from the index's word cache.

    The same tokens as normalize.scan (tests/test_match_words.py), but ASCII
    text (most of what feeds carry) is split once and every form of each word
    (cased, folded, skeleton, bits, head) comes from the index's word cache:
    one dict lookup per word. Other text is scanned and its transliterated
    tokens looked up the same way. Only words not seen before take the slow
    path (AliasIndex.word).
    """
    if text.isascii():
        raw = ascii_words(text)
        cased, folded, skel, heads, at, abbreviated = _columns(index, raw)
        toks = Tokens.from_words(text, raw, cased, folded)
    else:
        # Transliterated: each token its own word (no ' nor &), looked up by its cased form.
        raw, forms = transliterated(text)
        single = one_token_each(forms)
        if single is not None:  # one token per word (most texts)
            cased, folded, skel, heads, at, abbreviated = _columns(index, single[0])
            toks = Tokens.from_words(text, raw, cased, folded, single[1])
        else:
            toks = spanned_tokens(text, raw, forms)
            _, _, skel, heads, at, abbreviated = _columns(index, toks.cased)
    if abbreviated:
        at = _abbreviations(index, toks.cased, skel, heads, at)
    return Field(name, text, toks, skel, at, heads)


Columns = tuple[list[str], list[str], list[str], list[str], Positions, bool]


def _columns(index: AliasIndex, words: list[str]) -> Columns:
    """The index's record of each word as columns (cased, folded, skeleton, head), the
    positions of the words each finder starts from, and whether a direction
    abbreviation is among them. One loop, which mypyc compiles to C; a word's bits are
    one int, and most words have none, so most words cost one test for all finders."""
    cache = index.words
    n = len(words)
    # Sized once and filled by position: no list grows (and reallocates) word by word.
    cased: list[str] = [""] * n
    folded: list[str] = [""] * n
    skel: list[str] = [""] * n
    heads: list[str] = [""] * n
    exact_at: list[int] = []
    variant_at: list[int] = []
    fuzzy_at: list[int] = []
    reversed_at: list[int] = []
    abbreviated = False
    for k in range(n):
        w = words[k]
        r = cache.get(w)
        if r is None:
            r = index.word(w)
        cased[k] = r.cased
        folded[k] = r.folded
        skel[k] = r.skel
        heads[k] = r.head
        bits = r.bits
        if bits:
            if bits & EXACT:
                exact_at.append(k)
            if bits & VARIANT:
                variant_at.append(k)
            if bits & FUZZY:
                fuzzy_at.append(k)
            if bits & REVERSED:
                reversed_at.append(k)
            if bits & ABBREVIATION:
                abbreviated = True
    return cased, folded, skel, heads, (exact_at, variant_at, fuzzy_at, reversed_at), abbreviated


def _abbreviations(
    index: AliasIndex, cased: list[str], skel: list[str], heads: list[str], at: Positions
) -> Positions:
    """Direction abbreviations before a name read as their words (N. Waziristan): the
    skeletons, heads and positions with those words' (few texts have any)."""
    changed = False
    for k in range(len(skel) - 1):
        if cased[k] in DIRECTION_ABBREVIATIONS and capitalised(cased[k + 1]):
            skel[k] = skeleton(DIRECTION_ABBREVIATIONS[cased[k]])
            heads[k] = head(skel[k])
            changed = True
    if not changed:
        return at
    return positions(list(map(index.word_bits, cased, skel)))


class Matcher:
    """Built once per watchlist version; `match` is pure.

    The caches inside only remember lookups (word → candidates), so results
    never depend on what was matched before.
    """

    def __init__(self, entities: list[Entity], threshold: float = 90.0) -> None:
        self.entities = list(entities)
        self.threshold = threshold
        self._index = AliasIndex(self.entities, threshold)
        self._order = {e.id: i for i, e in enumerate(self.entities)}

    @property
    def alias_count(self) -> int:
        return self._index.alias_count

    def match(self, item: Item) -> list[Match]:
        return self.match_text(item.title, item.summary)

    def match_text(self, title: str, summary: str = "") -> list[Match]:
        """Best match per entity over title then summary, with exclusions applied.

        Within a field, a mention inside a longer mention of another entity is
        not a mention of its own: "Taliban" inside "Tehrik-i-Taliban Pakistan"
        does not fire the Afghan Taliban.
        """
        index = self._index
        fields = [field(index, "title", title), field(index, "summary", summary)]
        excluded = vetoed(index, fields)
        mentions: list[Mention] = []
        for f in fields:
            found = [m for m in self._mentions(f) if m.entity_id not in excluded]
            if found:
                mentions.extend(outermost(found, f.text))
        if index.context:
            missing = {
                m.entity_id
                for m in mentions
                if m.entity_id in index.context and not context_met(index, m.entity_id, fields)
            }
            mentions = [m for m in mentions if m.entity_id not in missing]
        if not mentions:  # most items
            return []
        kept = sorted(best_per_entity(mentions), key=lambda m: self._order[m.entity_id])
        return [m.to_match() for m in kept]

    def _mentions(self, f: Field) -> list[Mention]:
        """The plausible mentions of one field: exact lookups, then fuzzy for the rest."""
        index = self._index
        found = [m for m in exact_mentions(index, f) if plausible(index, m, f)]
        if index.anchors and f.word_positions(index)[2]:
            found.extend(
                m for m in fuzzy(index, f, {m.entity_id for m in found}) if plausible(index, m, f)
            )
        return found
