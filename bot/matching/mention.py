"""One field of an item as the finders see it, and how a found window becomes a Mention.

Why a module of its own: every finder (exact.py, fuzzy.py) reports its
windows through `make_match`, so a mention's score and its "how" (exact,
normalised, variant, transliterated, fuzzy) are decided in one place.
"""

from __future__ import annotations

from bot.matching.alias_index import EXACT, FUZZY, REVERSED, VARIANT, Alias, AliasIndex
from bot.matching.name_rules import fuzzy_score, head
from bot.matching.normalize import Tokens
from bot.models import Match

# The words of a field that may begin an exact lookup, a spelling family, a fuzzy
# window, or end a family name written first (AliasIndex.word_bits), by position.
Positions = tuple[list[int], list[int], list[int], list[int]]


class Field:
    """One field of an item, tokenised once, with its skeletons.

    A plain class, not a dataclass: compiled, its __init__ is native code,
    where a dataclass's generated one runs in Python for every field of
    every item (1.4 % of matching's instructions, callgrind).
    """

    def __init__(
        self,
        name: str,
        text: str,
        tokens: Tokens,
        skel: list[str],
        at: Positions | None = None,
        heads: list[str] | None = None,
    ) -> None:
        self.name = name
        self.text = text
        self.tokens = tokens
        self.skel = skel
        # The positions of the words each finder starts from (see Positions);
        # None: work them out.
        self.at = at
        # Per word, name_rules.head of its skeleton (the fuzzy pass compares first letters).
        self.heads = heads

    def word_positions(self, index: AliasIndex) -> Positions:
        """The positions the matcher passed, or the index's decision for each word (uncached)."""
        if self.at is None:
            bits = list(map(index.word_bits, self.tokens.cased, self.skel))
            self.at = positions(bits)
        return self.at

    def word_heads(self) -> list[str]:
        """The heads the matcher passed, or each skeleton's head."""
        if self.heads is None:
            self.heads = list(map(head, self.skel))
        return self.heads


def positions(bits: list[int]) -> Positions:
    """Positions from each word's AliasIndex.word_bits: the plain form of what
    matcher._columns builds inline, word by word, on the hot path."""
    return (
        [k for k, b in enumerate(bits) if b & EXACT],
        [k for k, b in enumerate(bits) if b & VARIANT],
        [k for k, b in enumerate(bits) if b & FUZZY],
        [k for k, b in enumerate(bits) if b & REVERSED],
    )


class Mention:
    """A mention the finders found: the fields of a Match, in a class of the compiled matcher.

    Why not Match itself: the finders make about two of these for each one
    an item keeps (the rest are implausible, inside a longer name, or not
    their entity's best; 1,228 for 635 kept over the bench's 5,000 items),
    and Match, a frozen dataclass, takes about 1.3 µs to make in Python
    against a small fraction of that for a native class; a kept one's
    ambiguity was added by copying it (dataclasses.replace) too. The matcher
    turns the kept ones into Matches at the end (to_match).
    """

    def __init__(
        self,
        entity_id: str,
        entity_name: str,
        kind: str,
        severity: str,
        alias: str,
        text: str,
        score: float,
        field: str,
        start: int,
        end: int,
        how: str,
        candidates: tuple[str, ...] = (),
    ) -> None:
        self.entity_id = entity_id
        self.entity_name = entity_name
        self.kind = kind
        self.severity = severity
        self.alias = alias
        self.text = text
        self.score = score
        self.field = field
        self.start = start
        self.end = end
        self.how = how
        self.candidates = candidates

    @property
    def ambiguous(self) -> bool:
        return bool(self.candidates)

    def with_candidates(self, candidates: tuple[str, ...]) -> Mention:
        """The same mention, ambiguous with `candidates` (resolve.best_per_entity)."""
        return Mention(*self._fields()[:11], candidates)

    def to_match(self) -> Match:
        return Match(*self._fields())

    def _fields(
        self,
    ) -> tuple[str, str, str, str, str, str, float, str, int, int, str, tuple[str, ...]]:
        return (
            self.entity_id,
            self.entity_name,
            self.kind,
            self.severity,
            self.alias,
            self.text,
            self.score,
            self.field,
            self.start,
            self.end,
            self.how,
            self.candidates,
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Mention) and self._fields() == other._fields()

    def __hash__(self) -> int:
        return hash(self._fields())

    def __repr__(self) -> str:
        return "Mention" + repr(self._fields())


def make_match(alias: Alias, f: Field, i: int, j: int, distance: int, length: int = 0) -> Mention:
    """The Mention for words i..j-1 of a field, `distance` edits from the alias."""
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
    return Mention(
        e.id, e.name, e.kind, e.severity, alias.text, span, score, f.name, start, end, how
    )
