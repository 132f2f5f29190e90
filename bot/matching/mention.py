"""One field of an item as the finders see it, and how a found window becomes a Match.

Why a module of its own: every finder (exact.py, fuzzy.py) reports its
windows through `make_match`, so a mention's score and its "how" (exact,
normalised, variant, transliterated, fuzzy) are decided in one place.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.matching.alias_index import Alias, AliasIndex
from bot.matching.name_rules import fuzzy_score, head
from bot.matching.normalize import Tokens
from bot.models import Match

# Per word of a field: may it begin an exact lookup, a spelling family, a fuzzy window?
Flags = tuple[Sequence[bool], Sequence[bool], Sequence[bool]]


@dataclass(slots=True)
class Field:
    """One field of an item, tokenised once, with its skeletons."""

    name: str
    text: str
    tokens: Tokens
    skel: list[str]
    # Per word, may it begin an exact lookup, a spelling family, a fuzzy window
    # (AliasIndex.word_flags, one sequence each); None: work them out.
    flags: Flags | None = None
    # Per word, name_rules.head of its skeleton (the fuzzy pass compares first letters).
    heads: Sequence[str] | None = None

    def word_flags(self, index: AliasIndex) -> Flags:
        """The flags the matcher passed, or the index's decision for each word (uncached)."""
        if self.flags is None:
            rows = list(map(index.word_flags, self.tokens.cased, self.skel))
            self.flags = ([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows])
        return self.flags

    def word_heads(self) -> Sequence[str]:
        """The heads the matcher passed, or each skeleton's head."""
        if self.heads is None:
            self.heads = list(map(head, self.skel))
        return self.heads


def make_match(alias: Alias, f: Field, i: int, j: int, distance: int, length: int = 0) -> Match:
    """The Match for words i..j-1 of a field, `distance` edits from the alias."""
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
