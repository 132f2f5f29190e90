"""The story index and comparison as they were before members were made compact (issue
13): the reference tests/test_story_member.py holds bot/stories/{grouping,index}.py to.

A copy of both modules at that point, in one file, unchanged but for the imports: a
member is the whole `StoryItem`, every word set a frozenset.
"""

from __future__ import annotations

import heapq
import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import groupby
from operator import itemgetter

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


def compare(a: StoryItem, b: StoryItem, rarity: Rarity) -> Evidence:
    """The evidence that a and b report one event (time and window are the caller's)."""
    comparison = _Comparison(a, rarity)
    values = comparison.values(b)
    if values is None:
        return _NO_EVIDENCE
    return Evidence(values, comparison.shared_words(b))


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
        rarities = {t: rarity.weight(t) for t in p.terms}
        self.weights = {t: f * rarities[t] for t, f in p.field_weights.items()}
        self.squares = {t: w * w for t, w in self.weights.items()}
        self.norm = sum(self.squares.values())  # the squared length of `weights`
        self.title_weights = {t: rarities[t] for t in p.title_words}
        self.title_total = sum(self.title_weights.values())
        self.name_weights = {t: rarities[t] for t in p.names}
        self.entity_weights = {e: rarity.entity_weight(e) for e in item.entities}
        self.entity_at_most = min(max(self.entity_weights.values(), default=0.0) / 5, 1.0)

    def ceilings(self, others: Iterable[StoryItem]) -> list[tuple[float, StoryItem]]:
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
        out = []
        for b in others:
            pb = b.profile
            covered = sum(map(title_weight, pb.said.intersection(pa.title_words)))
            names = sum(map(name_weight, pa.names & pb.names))
            out.append(
                (
                    ceiling
                    + per_title_weight * covered
                    + w["names"] * (1 - math.exp(-names / 6))
                    + w["numbers"] * (not pa.counts.isdisjoint(pb.counts))
                    + w["same_event"] * _same_event(pa, pb)
                    + w["other_places"] * _other_places(a, b)
                    + w["other_event"] * _other_event(pa, pb)
                    + w["briefing"] * (pa.briefing != pb.briefing),
                    b,
                )
            )
        return out

    def closer_ceiling(self, other: StoryItem, ceiling: float, cutoff: float) -> float:
        """`ceiling` brought closer by evidence that takes longer to work out: the shared
        entity and time apart, then the words at `words_ceiling` rather than 1 (unless the
        ceiling is below `cutoff` already)."""
        a, b = self.item, other
        entity = max(map(self.entity_weights.__getitem__, a.entities & b.entities), default=0.0)
        ceiling -= WEIGHTS["entity"] * (self.entity_at_most - min(entity / 5, 1.0))
        if a.when and b.when:
            ceiling += WEIGHTS["hours"] * abs((a.when - b.when).total_seconds()) / 3600 / 48
        if ceiling < cutoff - _SLACK:
            return ceiling
        return ceiling - WEIGHTS["words"] * (1 - self.words_ceiling(b))

    def words_ceiling(self, other: StoryItem) -> float:
        """The highest the words evidence can be (see the class docstring)."""
        if not self.norm:
            return 0.0
        shared = self.item.profile.terms & other.profile.terms
        return math.sqrt(sum(map(self.squares.__getitem__, shared)) / self.norm)

    def values(self, other: StoryItem, cutoff: float = -math.inf) -> dict[str, float] | None:
        """`Evidence.values` of the item and `other`; None if they share no telling word, or
        if their score is surely below `cutoff` (then the words are not weighed)."""
        a, b = self.item, other
        pa, pb = a.profile, b.profile
        if pb.said.isdisjoint(pa.telling_said):
            return None
        rarity = self.rarity
        shared_names = sum(self.name_weights[t] for t in pa.names & pb.names)
        entity = max((self.entity_weights[e] for e in a.entities & b.entities), default=0.0)
        hours = 0.0
        if a.when and b.when:
            hours = abs((a.when - b.when).total_seconds()) / 3600
        covered = 0.0
        if self.title_total:
            said = pb.said
            weights = self.title_weights
            covered = sum(weights[t] for t in pa.title_words if t in said) / self.title_total
        values = {
            "words": 0.0,  # the costly one: below, unless the rest rules the pair out
            "headlines": (covered + _headline_cover(pb, pa, rarity)) / 2,
            "names": 1 - math.exp(-shared_names / 6),
            "entity": min(entity / 5, 1.0),
            "numbers": float(bool(pa.counts & pb.counts)),
            "same_event": _same_event(pa, pb),
            "other_places": float(_other_places(a, b)),
            "other_event": float(_other_event(pa, pb)),
            "briefing": float(pa.briefing != pb.briefing),
            "hours": hours / 48,
        }
        if cutoff > -math.inf:
            ceiling = Evidence(values).score + WEIGHTS["words"] * self.words_ceiling(b)
            if ceiling < cutoff - _SLACK:
                return None
        weight = rarity.weight
        wb = {t: f * weight(t) for t, f in pb.field_weights.items()}
        values["words"] = _cosine(self.weights, wb, self.norm)
        return values

    def shared_words(self, other: StoryItem) -> tuple[str, ...]:
        """The most telling words the two share, as the item wrote them (for `explain`)."""
        pa = self.item.profile
        weight = self.rarity.weight
        shared = pa.said & other.profile.said
        top = sorted((t for t in shared if telling(t)), key=lambda t: (-weight(t), t))
        return tuple(pa.surface.get(t, t) for t in top[:6])


def _cosine(a: dict[str, float], b: dict[str, float], a_norm: float) -> float:
    """The cosine of a and b; `a_norm` is a's squared length, sum(w * w for w in a.values())."""
    dot = sum(w * b[t] for t, w in a.items() if t in b)
    if not dot:
        return 0.0
    return dot / math.sqrt(a_norm * sum(w * w for w in b.values()))


def _headline_cover(a: Profile, b: Profile, rarity: Rarity) -> float:
    """Share of a's headline (by rarity) that b says in its headline or body."""
    weights = [rarity.weight(t) for t in a.title_words]
    total = sum(weights)
    if not total:
        return 0.0
    said = b.said
    return sum(w for t, w in zip(a.title_words, weights, strict=True) if t in said) / total


def _same_event(a: Profile, b: Profile) -> float:
    """1 if the headlines report the same kind of event; 0.5 if one reports an attack or a
    killing without saying what kind ("claims attack") and the other an incident; else 0."""
    if not a.events.isdisjoint(b.events):
        return 1.0
    if (a.unspecified_attack and (b.unspecified_attack or "incident" in b.families)) or (
        b.unspecified_attack and "incident" in a.families
    ):
        return 0.5
    return 0.0


def _other_event(a: Profile, b: Profile) -> bool:
    """Are the kinds of event ones that cannot be one story (a blast and a flood)?"""
    return bool(a.families and b.families and a.families.isdisjoint(b.families))


def _other_places(a: StoryItem, b: StoryItem) -> bool:
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
    where_a, where_b = a.profile.specific_places, b.profile.specific_places
    places_differ = not where_a <= b.mentions and not where_b <= a.mentions
    if places_differ and not where_a.isdisjoint(where_b):
        # Both name the same specific place (other than a watched one both share).
        places_differ = (
            where_a & where_b <= a.entity_terms & b.entity_terms & a.mentions & b.mentions
        )
    if places_differ or not (_is_statement(a) or _is_statement(b)):
        return places_differ
    who_a, who_b = a.profile.specific_title_names, b.profile.specific_title_names
    return not _counterparts_mentioned(who_a, b) and not _counterparts_mentioned(who_b, a)


def _counterparts_mentioned(names: frozenset[str], item: StoryItem) -> bool:
    """Does the item mention all of the names, a capital counting as its country?"""
    mentions = item.mentions
    return all(t in mentions or _CAPITAL_OF.get(t) in mentions for t in names)


_CAPITAL_OF: dict[str, str] = {
    t: c for city, country in CAPITALS.items() if (t := term(city)) and (c := term(country))
}


def _is_statement(item: StoryItem) -> bool:
    return "statement" in item.profile.families


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


# --- The index of recent stories ------------------------------------------

# A term in more than this share of members (and more than _INDEX_MIN) is too
# common to find candidates by: a pair that shares only such words would not
# reach the threshold anyway, and its posting list would make `find` slow.
_INDEX_SHARE = 0.05
_INDEX_MIN = 50
# At most this many candidates are compared in full for one `find`.
_MAX_COMPARED = 50


@dataclass(frozen=True, slots=True)
class StoryHit:
    """The story an item continues: its key, the member it matched best, and why."""

    story: str
    member: StoryItem
    evidence: Evidence


class StoryIndex:
    """Recent story members in memory: which story does a new item continue?

    Candidates for a new item are the members that share a telling word
    (through an inverted index of such words) and a watched entity with it,
    within the window; each is then compared in full (`compare`). The story
    of the best-scoring member wins if it reaches the threshold; ties go to
    the oldest story, then the smallest member key, so the answer does not
    depend on insertion order. Word rarity is counted over the members.
    """

    def __init__(
        self, window: timedelta = DEFAULT_WINDOW, threshold: float = DEFAULT_THRESHOLD
    ) -> None:
        self.window = window
        self.threshold = threshold
        self.rarity = Rarity()
        self._members: dict[str, tuple[StoryItem, str]] = {}
        self._by_term: dict[str, set[str]] = {}
        self._by_entity: dict[str, set[str]] = {}
        self._without_entities: set[str] = set()
        self._story_size: Counter[str] = Counter()
        self._story_started: dict[str, tuple[datetime | None, int]] = {}
        self._added = 0
        self._by_time: list[tuple[datetime, int, str]] = []  # a heap, for `expire`
        self._latest: datetime | None = None  # the latest time of a member ever added

    def __len__(self) -> int:
        return len(self._members)

    def __contains__(self, key: object) -> bool:
        return key in self._members

    def member(self, key: str) -> StoryItem | None:
        found = self._members.get(key)
        return found[0] if found else None

    def story_of(self, key: str) -> str | None:
        member = self._members.get(key)
        return member[1] if member else None

    def candidates(self, item: StoryItem) -> list[StoryItem]:
        """Members worth comparing with the item in full, most promising first.

        They share a telling word and a watched entity with it and are within
        the window; of those, the _MAX_COMPARED that share the most word
        rarity (headline words count double). The true story shares the rarest
        words, the place and the headline, so it is among them.
        """
        return self._most_promising(item, self._sharing(item))

    def _sharing(self, item: StoryItem) -> dict[str, set[str]]:
        """Members that share an indexed word with the item, and a watched entity unless one
        of the two has none: for each word, their keys (the item's own may be among them)."""
        limit = max(_INDEX_MIN, int(len(self._members) * _INDEX_SHARE))
        postings = {
            t: posting
            for t in item.profile.telling_said
            if (posting := self._by_term.get(t)) and len(posting) <= limit
        }
        if not item.entities:
            return postings
        # Intersecting each posting list with the members of each entity touches
        # fewer members than intersecting their union.
        entities = [self._by_entity[e] for e in item.entities if e in self._by_entity]
        if self._without_entities:
            entities.append(self._without_entities)
        if not entities:
            return {}
        sharing = {}
        for t, posting in postings.items():
            keys = posting & entities[0]
            for members in entities[1:]:
                keys |= posting & members
            if keys:
                sharing[t] = keys
        return sharing

    def _most_promising(self, item: StoryItem, sharing: dict[str, set[str]]) -> list[StoryItem]:
        """Of the members `_sharing` found, those within the window, most shared rarity first,
        at most _MAX_COMPARED."""
        shared: dict[str, float] = {}
        fields = item.profile.field_weights
        for t, keys in sharing.items():
            weight = self.rarity.weight(t) * fields[t]
            for key in keys:
                shared[key] = shared.get(key, 0.0) + weight
        shared.pop(item.key, None)
        out: list[StoryItem] = []
        check_window = not self._all_within_window(item.when)
        by_rarity = sorted(shared, key=shared.__getitem__, reverse=True)
        for _, tied in groupby(by_rarity, key=shared.__getitem__):
            for key in sorted(tied):  # equal rarity: by key
                member = self._members[key][0]
                if check_window and not self._within_window(item.when, member.when):
                    continue
                out.append(member)
                if len(out) == _MAX_COMPARED:
                    return out
        return out

    def _within_window(self, when: datetime | None, other_when: datetime | None) -> bool:
        return not (when and other_when and abs(when - other_when) > self.window)

    def _all_within_window(self, when: datetime | None) -> bool:
        """Are all members surely within the window of `when` (so none need checking)?

        The earliest time in `_by_time` is at most the earliest member's (it may
        still hold members discarded since), `_latest` at least the latest one's.
        Compared by differences, which always fit in a timedelta: `when - window`
        would overflow for a date near year 1 (or 9999 plus the window).
        """
        if not when or not self._by_time:
            return True  # undated: close to everything; or no member is dated
        assert self._latest is not None
        return when - self._by_time[0][0] <= self.window and self._latest - when <= self.window

    def match(self, item: StoryItem) -> StoryHit | None:
        """The story the item continues, with the best member and the evidence; None if new.

        The best member is the candidate with the highest score, at least the
        threshold; of equal scores, the oldest story's, then the smallest key.
        Most candidates are not the item's story, and a cheap ceiling on their
        score rules them out (`_Comparison`); taking candidates by their
        ceiling, highest first, the best score found so far rules out the rest.
        """
        sharing = self._sharing(item)
        keys = set().union(*sharing.values())
        keys.discard(item.key)
        if len(keys) > _MAX_COMPARED:
            candidates = self._most_promising(item, sharing)
        else:  # all of them are candidates: no need to rank them
            candidates = [self._members[key][0] for key in keys]
            if not self._all_within_window(item.when):
                candidates = [m for m in candidates if self._within_window(item.when, m.when)]
        comparison = _Comparison(item, self.rarity)
        ceilings = sorted(comparison.ceilings(candidates), key=itemgetter(0), reverse=True)
        best: tuple[float, StoryItem, dict[str, float]] | None = None
        for ceiling, member in ceilings:
            cutoff = self.threshold if best is None else max(self.threshold, best[0])
            if ceiling < cutoff - _SLACK:
                break  # and so are all the rest, whose ceilings are lower
            if comparison.closer_ceiling(member, ceiling, cutoff) < cutoff - _SLACK:
                continue
            values = comparison.values(member, cutoff)
            if values is None:
                continue
            score = Evidence(values).score
            if score < self.threshold or (best is not None and score < best[0]):
                continue
            if best is None or score > best[0] or self._age(member) < self._age(best[1]):
                best = (score, member, values)
        if best is None:
            return None
        _, member, values = best
        evidence = Evidence(values, comparison.shared_words(member))
        return StoryHit(self._members[member.key][1], member, evidence)

    def _age(self, member: StoryItem) -> tuple[float, int, str]:
        started, order = self._story_started[self._members[member.key][1]]
        return (started.timestamp() if started else math.inf, order, member.key)

    def find(self, item: StoryItem) -> str | None:
        """The key of the story the item continues, or None for a new story. A pure read."""
        found = self.match(item)
        return found.story if found else None

    def add(self, item: StoryItem, story: str) -> None:
        """Record the item as a member of `story` (again: its story is updated)."""
        if item.key in self._members:
            self.discard(item.key)
        self._members[item.key] = (item, story)
        self._story_size[story] += 1
        started = self._story_started.get(story)
        if started is None or (item.when and (started[0] is None or item.when < started[0])):
            self._story_started[story] = (item.when, self._added)
        self._added += 1
        self.rarity.add(item)
        for t in item.profile.telling_said:
            self._by_term.setdefault(t, set()).add(item.key)
        for entity in item.entities:
            self._by_entity.setdefault(entity, set()).add(item.key)
        if not item.entities:
            self._without_entities.add(item.key)
        if item.when:
            heapq.heappush(self._by_time, (item.when, self._added, item.key))
            if self._latest is None or item.when > self._latest:
                self._latest = item.when

    def discard(self, key: str) -> None:
        """Forget an item (it turned out not to be stored)."""
        member = self._members.pop(key, None)
        if member is None:
            return
        item, story = member
        self.rarity.remove(item)
        for index, words in (
            (self._by_term, item.profile.telling_said),
            (self._by_entity, item.entities),
        ):
            for word in words:
                posting = index.get(word)
                if posting is not None:
                    posting.discard(key)
                    if not posting:
                        del index[word]
        self._without_entities.discard(key)
        self._story_size[story] -= 1
        if self._story_size[story] <= 0:
            del self._story_size[story]
            del self._story_started[story]

    def expire(self, now: datetime) -> None:
        """Drop members older than the window (undated ones stay until discarded)."""
        cutoff = now - self.window
        while self._by_time and self._by_time[0][0] < cutoff:
            when, _, key = heapq.heappop(self._by_time)
            member = self._members.get(key)
            if member is not None and member[0].when == when:
                self.discard(key)
