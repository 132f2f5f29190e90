"""The grouping decision: are two items one story? (step 3 of story grouping)

A few kinds of evidence, each a number with a fixed weight, added up to a
log-odds score; `Evidence.explain()` says which counted. Pure: time, window
and threshold are the caller's.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta

from bot.stories.member import FIELD_WEIGHTS, Member
from bot.stories.profile import Profile, StoryItem
from bot.stories.rarity import Rarity
from bot.stories.words import CAPITALS, telling, term

DEFAULT_WINDOW = timedelta(hours=48)
DEFAULT_THRESHOLD = 0.75

# --- Comparing two items -------------------------------------------------

# Evidence → weight. Fitted by logistic regression on the pairs of the
# labelled set (items.jsonl), then rounded to halves. A score is log-odds:
# 0 is "as likely one story as not"; DEFAULT_THRESHOLD 0.75 (odds about 2:1)
# is the middle of the range where grouping the labelled set is best.
WEIGHTS: dict[str, float] = {
    "words": 2.5,  # rarity-weighted cosine of all terms, 0..1
    "headlines": 3.5,  # how much of each headline the other item covers, 0..1
    "names": 1.5,  # shared capitalised names, saturating, 0..1
    "entity": 2.5,  # rarity of the rarest shared watched entity, 0..1
    "numbers": 2.5,  # a shared count of 4 or more (a toll), 0/1
    "same_event": 2.0,  # headlines report the same kind of event, 1; an unnamed attack, 0.5
    "other_places": -2.5,  # each puts the event where the other never mentions, 0/1
    "other_event": -1.0,  # the kinds of event cannot be one story (blast, flood), 0/1
    "briefing": -2.5,  # one reports a press briefing, the other does not, 0/1
    "hours": -1.5,  # time apart, as a share of 48 h
    "bias": -4.0,
}


@dataclass(frozen=True, slots=True)
class Evidence:
    """Why two items are (not) one story: each kind of evidence and its value.

    No values means the items share no telling word and were not weighed.
    """

    values: Mapping[str, float]
    shared: tuple[str, ...] = ()  # the most telling shared words, as the item wrote them

    @property
    def score(self) -> float:
        if not self.values:
            return -math.inf
        return sum(WEIGHTS[k] * v for k, v in self.values.items()) + WEIGHTS["bias"]

    def explain(self) -> str:
        """E.g. "score +2.10 = words +0.9, headlines +2.1, ...; shared: Mir Ali, convoy"."""
        if not self.values:
            return "no telling word in common"
        parts = [f"{k} {WEIGHTS[k] * v:+.1f}" for k, v in self.values.items() if WEIGHTS[k] * v]
        parts.append(f"bias {WEIGHTS['bias']:+.1f}")
        shared = f"; shared: {', '.join(self.shared)}" if self.shared else ""
        return f"score {self.score:+.2f} = {', '.join(parts)}{shared}"


_NO_EVIDENCE = Evidence({})


def compare(a: StoryItem, b: StoryItem | Member, rarity: Rarity) -> Evidence:
    """The evidence that a and b report one event (time and window are the caller's)."""
    comparison = _Comparison(a, rarity)
    other = b if isinstance(b, Member) else Member.of(b)
    values = comparison.values(other)
    if values is None:
        return _NO_EVIDENCE
    return Evidence(values, comparison.shared_words(other))


# A ceiling on a score is added up in another order than the score itself, so
# it may come out lower than the exact score by a rounding error (about
# 1e-15): a pair is ruled out only when its ceiling falls short by more than this.
_SLACK = 1e-9


class _Comparison:
    """`compare` for one item against many others (a `find`): the item's side is worked
    out once, and a pair that cannot reach a given score is ruled out before its costly
    evidence is worked out.

    `values` computes everything as `compare` always did, in the same order,
    so scores come out the same to the last bit. `ceilings` gives upper bounds
    on the score from the cheap evidence. Every value of evidence is 0..1
    (time apart 0 or more), so the score is at most what the cheap values
    give with each costly one at its best: time apart at 0, the other item's
    headline cover at 1, and the words evidence at 1 or, closer, at
    `words_ceiling`: the words evidence is a cosine, so at most the length of
    the item's vector over the terms the two share relative to its full
    length (Cauchy-Schwarz), which needs no weights of the other item's words.
    """

    def __init__(self, item: StoryItem, rarity: Rarity) -> None:
        self.item = item
        self.rarity = rarity
        p = item.profile
        self.telling = frozenset(p.telling_said)
        self.title_set = frozenset(p.title_words)
        rarities = {t: rarity.weight(t) for t in p.terms}
        self.weights = {t: f * rarities[t] for t, f in p.field_weights.items()}
        self.squares = {t: w * w for t, w in self.weights.items()}
        self.norm = sum(self.squares.values())  # the squared length of `weights`
        self.title_weights = {t: rarities[t] for t in p.title_words}
        self.title_total = sum(self.title_weights.values())
        self.name_weights = {t: rarities[t] for t in p.names}
        self.entity_weights = {e: rarity.entity_weight(e) for e in item.entities}
        self.entity_at_most = min(max(self.entity_weights.values(), default=0.0) / 5, 1.0)

    def ceilings(self, others: Iterable[Member]) -> list[tuple[float, Member]]:
        """For each of the others, the highest score it can have with the item, from the
        quickest evidence (see the class docstring); `closer_ceiling` takes more into account.

        One loop for all, as this runs for every candidate of a `find`.
        """
        a = self.item
        pa = a.profile
        title_weight, name_weight = self.title_weights.__getitem__, self.name_weights.__getitem__
        w = WEIGHTS
        # The evidence not looked at here at its best: the words 1, the other's
        # headline covered fully, the entity the item's rarest, time apart 0.
        ceiling = w["bias"] + w["words"] + w["headlines"] / 2 + w["entity"] * self.entity_at_most
        # "headlines" is the mean of two covers; the item's is a share of its title weight.
        per_title_weight = w["headlines"] / 2 / self.title_total if self.title_total else 0.0
        title_set = self.title_set
        out = []
        for b in others:
            covered = sum(map(title_weight, title_set.intersection(b.said)))
            names = sum(map(name_weight, pa.names.intersection(b.names)))
            out.append(
                (
                    ceiling
                    + per_title_weight * covered
                    + w["names"] * (1 - math.exp(-names / 6))
                    + w["numbers"] * (not pa.counts.isdisjoint(b.counts))
                    + w["same_event"] * _same_event(pa, b)
                    + w["other_places"] * _other_places(a, b)
                    + w["other_event"] * _other_event(pa, b)
                    + w["briefing"] * (pa.briefing != b.briefing),
                    b,
                )
            )
        return out

    def closer_ceiling(self, other: Member, ceiling: float, cutoff: float) -> float:
        """`ceiling` brought closer by evidence that takes longer to work out: the shared
        entity and time apart, then the words at `words_ceiling` rather than 1 (unless the
        ceiling is below `cutoff` already)."""
        a, b = self.item, other
        shared = a.entities.intersection(b.entities)
        entity = max(map(self.entity_weights.__getitem__, shared), default=0.0)
        ceiling -= WEIGHTS["entity"] * (self.entity_at_most - min(entity / 5, 1.0))
        if a.when and b.when:
            ceiling += WEIGHTS["hours"] * abs((a.when - b.when).total_seconds()) / 3600 / 48
        if ceiling < cutoff - _SLACK:
            return ceiling
        return ceiling - WEIGHTS["words"] * (1 - self.words_ceiling(b))

    def words_ceiling(self, other: Member) -> float:
        """The highest the words evidence can be (see the class docstring)."""
        if not self.norm:
            return 0.0
        shared = self.item.profile.terms.intersection(other.terms)
        return math.sqrt(sum(map(self.squares.__getitem__, shared)) / self.norm)

    def values(self, other: Member, cutoff: float = -math.inf) -> dict[str, float] | None:
        """`Evidence.values` of the item and `other`; None if they share no telling word, or
        if their score is surely below `cutoff` (then the words are not weighed)."""
        a, b = self.item, other
        pa = a.profile
        if self.telling.isdisjoint(b.said):
            return None
        rarity = self.rarity
        shared_names = sum(self.name_weights[t] for t in _both(pa.names, b.names))
        shared = a.entities.intersection(b.entities)
        entity = max((self.entity_weights[e] for e in shared), default=0.0)
        hours = 0.0
        if a.when and b.when:
            hours = abs((a.when - b.when).total_seconds()) / 3600
        covered = 0.0
        if self.title_total:
            said = b.said
            weights = self.title_weights
            covered = sum(weights[t] for t in pa.title_words if t in said) / self.title_total
        values = {
            "words": 0.0,  # the costly one: below, unless the rest rules the pair out
            "headlines": (covered + _headline_cover(b, pa, rarity)) / 2,
            "names": 1 - math.exp(-shared_names / 6),
            "entity": min(entity / 5, 1.0),
            "numbers": float(not pa.counts.isdisjoint(b.counts)),
            "same_event": _same_event(pa, b),
            "other_places": float(_other_places(a, b)),
            "other_event": float(_other_event(pa, b)),
            "briefing": float(pa.briefing != b.briefing),
            "hours": hours / 48,
        }
        if cutoff > -math.inf:
            ceiling = Evidence(values).score + WEIGHTS["words"] * self.words_ceiling(b)
            if ceiling < cutoff - _SLACK:
                return None
        weight, fields = rarity.weight, FIELD_WEIGHTS
        wb = {t: fields[f] * weight(t) for t, f in zip(b.terms, b.fields, strict=True)}
        values["words"] = _cosine(self.weights, wb, self.norm)
        return values

    def shared_words(self, other: Member) -> tuple[str, ...]:
        """The most telling words the two share, as the item wrote them (for `explain`)."""
        pa = self.item.profile
        weight = self.rarity.weight
        shared = pa.said.intersection(other.said)
        top = sorted((t for t in shared if telling(t)), key=lambda t: (-weight(t), t))
        return tuple(pa.surface.get(t, t) for t in top[:6])


def _cosine(a: dict[str, float], b: dict[str, float], a_norm: float) -> float:
    """The cosine of a and b; `a_norm` is a's squared length, sum(w * w for w in a.values())."""
    dot = sum(w * b[t] for t, w in a.items() if t in b)
    if not dot:
        return 0.0
    return dot / math.sqrt(a_norm * sum(w * w for w in b.values()))


def _both(a: frozenset[str], b: tuple[str, ...]) -> set[str]:
    """`a & b` as Python works it out for two sets, `b` a member's tuple of a set: the
    same words, added in the same order, so a sum over them adds up to the same last bit."""
    if len(b) > len(a):
        return {t for t in a if t in b}
    return {t for t in b if t in a}


def _headline_cover(a: Profile | Member, b: Profile, rarity: Rarity) -> float:
    """Share of a's headline (by rarity) that b says in its headline or body."""
    weights = [rarity.weight(t) for t in a.title_words]
    total = sum(weights)
    if not total:
        return 0.0
    said = b.said
    return sum(w for t, w in zip(a.title_words, weights, strict=True) if t in said) / total


def _same_event(a: Profile, b: Member) -> float:
    """1 if the headlines report the same kind of event; 0.5 if one reports an attack or a
    killing without saying what kind ("claims attack") and the other an incident; else 0."""
    if not a.events.isdisjoint(b.events):
        return 1.0
    if (a.unspecified_attack and (b.unspecified_attack or "incident" in b.families)) or (
        b.unspecified_attack and "incident" in a.families
    ):
        return 0.5
    return 0.0


def _other_event(a: Profile, b: Member) -> bool:
    """Are the kinds of event ones that cannot be one story (a blast and a flood)?"""
    return bool(a.families and b.families and a.families.isdisjoint(b.families))


def _other_places(a: StoryItem, b: Member) -> bool:
    """Does each item put the event somewhere (or, for a meeting, with someone) the other
    never mentions?

    Two attacks in one province differ in the district or village: "near Mir
    Ali" against "in Razmak". The watched place both items share (the
    province) does not count, nor do countries; items that name the same
    specific place are never in conflict. A place counts as mentioned if the
    other item writes it (outside context clauses) or the matcher found it
    there (its entity ids), but not if the matcher found it only in a context
    clause ("hours after it hit a tanker in the Red Sea"). Two meetings of one
    minister differ in the counterpart, so for a meeting or briefing the names
    in its headline count too, a capital counting as its country ("urged
    Beijing" mentions the "Chinese envoy").
    """
    # The watched place both share is among both items' entity terms, so both
    # mention it: it never makes the places differ, and needs no removing. (A watched
    # place the matcher found only in a clause about another event is not shared.)
    where_a, where_b = a.profile.specific_places, b.specific_places
    b_mentions = b.mentions
    places_differ = not all(map(b_mentions.__contains__, where_a)) and not (
        a.mentions.issuperset(where_b)
    )
    if places_differ and not where_a.isdisjoint(where_b):
        # Both name the same specific place (other than a watched one both share).
        a_own, b_own = a.entity_terms & a.mentions, b.entity_terms
        places_differ = all(
            t in a_own and t in b_own and t in b_mentions for t in where_a.intersection(where_b)
        )
    if places_differ or not ("statement" in a.profile.families or "statement" in b.families):
        return places_differ
    who_a, who_b = a.profile.specific_title_names, b.specific_title_names
    return not _counterparts_mentioned(who_a, b_mentions) and not _counterparts_mentioned(
        who_b, a.mentions
    )


def _counterparts_mentioned(
    names: Iterable[str], mentions: frozenset[str] | tuple[str, ...]
) -> bool:
    """Are all of the names among the mentions, a capital counting as its country?"""
    return all(t in mentions or _CAPITAL_OF.get(t) in mentions for t in names)


_CAPITAL_OF: dict[str, str] = {
    t: c for city, country in CAPITALS.items() if (t := term(city)) and (c := term(country))
}


def similarity(a: StoryItem, b: StoryItem, rarity: Rarity) -> float:
    """How likely a and b are one story, 0..1 (the logistic of the evidence score)."""
    return 1 / (1 + math.exp(-compare(a, b, rarity).score))


def same_story(
    a: StoryItem,
    b: StoryItem,
    rarity: Rarity,
    *,
    window: timedelta = DEFAULT_WINDOW,
    threshold: float = DEFAULT_THRESHOLD,
) -> bool:
    """Are a and b one story: close in time, a shared entity, and enough evidence?"""
    if a.when and b.when and abs(a.when - b.when) > window:
        return False
    if a.entities and b.entities and not a.entities & b.entities:
        return False
    return compare(a, b, rarity).score >= threshold
