"""Rules over a found mention's surroundings and over the whole item.

Why a module of its own: however a mention was found (exact or fuzzy), the
same rules decide whether it counts: a person's name does not begin or end
with a lower-case ordinary word; a risky all-capitals alias does not count in
a shouting headline; a mention inside a longer name of another entity is part
of that name; an exclude phrase vetoes its entity and a context term must be
present for a namesake-prone one.
"""

from __future__ import annotations

from bisect import bisect_left

from bot.matching.alias_index import AliasIndex
from bot.matching.mention import Field, Mention
from bot.matching.name_rules import DIRECTIONS, PERSON
from bot.matching.normalize import scan
from bot.matching.risk import RISKY_WORDS


def context_met(index: AliasIndex, entity_id: str, fields: list[Field]) -> bool:
    """Does the item hold one of the entity's context terms (as skeletons, in order)?"""
    for phrase in index.context[entity_id]:
        size = len(phrase)
        for f in fields:
            skel = f.skel
            for i, w in enumerate(skel):
                if w == phrase[0] and tuple(skel[i : i + size]) == phrase:
                    return True
    return False


def vetoed(index: AliasIndex, fields: list[Field]) -> set[str]:
    """Entities one of whose exclude phrases the item contains."""
    found: set[str] = set()
    if not index.excludes:
        return found
    for f in fields:
        words = f.tokens.folded
        for i, w in enumerate(words):
            for entity_id, phrase in index.excludes.get(w, ()):
                if tuple(words[i : i + len(phrase)]) == phrase:
                    found.add(entity_id)
    return found


def plausible(index: AliasIndex, m: Mention, f: Field) -> bool:
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
    if m.alias.isupper() and m.text.isupper() and is_risky(index, m):
        neighbours = [toks.cased[k] for k in (first - 1, last + 1) if 0 <= k < len(toks)]
        if neighbours and all(w.isupper() and len(w) > 1 for w in neighbours):
            return False
    return True


def is_risky(index: AliasIndex, m: Mention) -> bool:
    """Was the alias flagged risky (risk.py) when the index was built?"""
    return (m.entity_id, m.alias) in index.risky


def outermost(mentions: list[Mention], text: str) -> list[Mention]:
    """Drop mentions lying strictly inside a longer mention of another entity.

    "Taliban" inside "Tehrik-i-Taliban Pakistan" is part of another name; but
    "Pakistan" inside "north-west Pakistan" is still Pakistan: a mention that
    only adds direction words around another keeps the inner one.
    """

    def hides(o: Mention, m: Mention) -> bool:
        if o.entity_id == m.entity_id or not (o.start <= m.start and m.end <= o.end):
            return False
        if o.end - o.start <= m.end - m.start:
            return False
        rest = scan(text[o.start : m.start] + " " + text[m.end : o.end]).folded
        return not all(w in DIRECTIONS for w in rest)

    return [m for m in mentions if not any(hides(o, m) for o in mentions)]
