"""A story member as the index keeps it: only what comparing with a new item needs, in tuples.

The index holds every member of the story window (13,000 at 1 M remembered
items), and a member kept as a `StoryItem` cost about 9 KB: its title and
summary, a dozen frozensets (a set of 20 words is a 2 KB hash table), the
explanation's surface words. A new item is compared with a member from the
item's side: the item's sets are at hand, and of the member the comparison only
iterates its words or asks whether one is among them. So a member keeps each
word set as a tuple of interned strings (8 bytes a word), drops what only the
new item's side uses (title and summary text, surface forms, the headline /
body / context split), and keeps the headline/body/context weight of each term
as one byte. With its postings, about 2.3 KB a member instead of 11 KB
(bench/story_memory.py).

The tuples keep the iteration order of the sets they stand for (`tuple(set)`),
so that every sum over them adds up in the same order as before, to the same
last bit: grouping decides exactly as it did (tests/test_story_member.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from sys import intern

from bot.stories.profile import Profile, StoryItem, entity_terms
from bot.stories.words import _PRIOR_COMMON, FAMILY, telling

#: A term's weight by its one-byte code in `Member.fields`: context, body, headline
#: (bot/stories/profile.py `_FIELD_WEIGHT`).
FIELD_WEIGHTS = (0.3, 1.0, 2.0)
_CODE = {w: code for code, w in enumerate(FIELD_WEIGHTS)}
_NONE: tuple[str, ...] = ()
# Kinds and families of event come in a few dozen combinations: one tuple each.
_SHARED: dict[tuple[str, ...], tuple[str, ...]] = {}


def _shared(words: Iterable[str]) -> tuple[str, ...]:
    t = tuple(words)
    if not t:
        return _NONE
    return _SHARED.setdefault(t, t) if len(_SHARED) < 4096 else t


class Member:
    """A story member: the fields `compare` reads of the other side, as tuples."""

    __slots__ = (
        "briefing",
        "counts",
        "entities",
        "entity_terms",
        "events",
        "families",
        "fields",
        "key",
        "mentions",
        "names",
        "said",
        "specific_places",
        "specific_title_names",
        "story",
        "telling",
        "terms",
        "title_words",
        "unspecified_attack",
        "when",
    )

    key: str
    story: str
    when: datetime | None
    entities: tuple[str, ...]
    said: tuple[str, ...]  # headline and body terms, the `telling` ones first
    telling: int  # how many of `said` are telling: the words the index finds members by
    terms: tuple[str, ...]  # all terms, in `Profile.field_weights` order ...
    fields: bytes  # ... and each one's weight, coded as in FIELD_WEIGHTS
    title_words: tuple[str, ...]
    names: tuple[str, ...]
    counts: tuple[str, ...]
    events: tuple[str, ...]
    families: tuple[str, ...]
    specific_places: tuple[str, ...]
    specific_title_names: tuple[str, ...]
    entity_terms: tuple[str, ...]
    mentions: tuple[str, ...]
    briefing: bool
    unspecified_attack: bool

    @classmethod
    def of(cls, item: StoryItem, story: str = "") -> Member:
        """The member for an item read in full (a new one, or one read again from its text)."""
        p = item.profile
        m = cls()
        m.key = item.key
        m.story = intern(story)
        m.when = item.when
        m.entities = tuple(item.entities)
        m.said, m.telling = _telling_first(p.said)
        m.terms = tuple(p.field_weights)
        m.fields = bytes(map(_CODE.__getitem__, p.field_weights.values()))
        m.title_words = p.title_words
        m.names = tuple(p.names) or _NONE
        m.counts = tuple(p.counts) or _NONE
        m.events = _shared(p.events)
        m.families = _shared(p.families)
        m.specific_places = tuple(p.specific_places) or _NONE
        m.specific_title_names = tuple(p.specific_title_names) or _NONE
        m.entity_terms = tuple(item.entity_terms) or _NONE
        extra = item.mentions - p.said
        m.mentions = m.said + tuple(extra) if extra else m.said
        m.briefing = p.briefing
        m.unspecified_attack = p.unspecified_attack
        return m

    @classmethod
    def stored(
        cls,
        key: str,
        story: str,
        when: datetime | None,
        entities: Iterable[str],
        sets: Mapping[str, frozenset[str]],
        briefing: bool,
        unspecified_attack: bool,
    ) -> Member:
        """The member from a stored profile's sets (bot/stories/features.py), derived as
        `Profile` and `StoryItem` derive them, without building either."""
        title, body, context = sets["title"], sets["body"], sets["context"]
        weights = dict.fromkeys(context, FIELD_WEIGHTS[0])
        weights.update(dict.fromkeys(body, FIELD_WEIGHTS[1]))
        weights.update(dict.fromkeys(title, FIELD_WEIGHTS[2]))
        said = title | body
        m = cls()
        m.key = key
        m.story = intern(story)
        m.when = when
        m.entities = tuple(map(intern, entities))
        m.said, m.telling = _telling_first(said)
        m.terms = tuple(weights)
        m.fields = bytes(map(_CODE.__getitem__, weights.values()))
        m.title_words = tuple(t for t in title if t[0] != "#")
        m.names = tuple(sets["names"]) or _NONE
        m.counts = tuple(t for t in m.said if t[0] == "#" and int(t[1:]) >= 4) or _NONE
        events = sets["events"]
        m.events = _shared(events)
        m.families = _shared(frozenset(FAMILY[e] for e in events))
        m.specific_places = tuple(sets["places"] - _PRIOR_COMMON) or _NONE
        m.specific_title_names = tuple(sets["title_names"] - _PRIOR_COMMON) or _NONE
        own = entity_terms(m.entities)
        m.entity_terms = tuple(own) or _NONE
        extra = own - (context - said) - said
        m.mentions = m.said + tuple(extra) if extra else m.said
        m.briefing = briefing
        m.unspecified_attack = unspecified_attack
        return m

    @property
    def telling_said(self) -> tuple[str, ...]:
        """The member's indexed words."""
        return self.said[: self.telling]

    def __repr__(self) -> str:
        return f"Member({self.key!r}, story={self.story!r}, when={self.when!r})"


def _telling_first(said: Iterable[str]) -> tuple[tuple[str, ...], int]:
    """`said` with its telling words first (the order of `said` is never summed over), and
    how many they are: the indexed words without a tuple of their own."""
    yes: list[str] = []
    no: list[str] = []
    for t in said:
        (yes if telling(t) else no).append(t)
    return tuple(yes + no), len(yes)


def profile_sets(p: Profile) -> dict[str, frozenset[str]]:
    """The sets `Member.stored` is built from, of a profile at hand (tests, features)."""
    return {
        "title": p.title,
        "body": p.body,
        "context": p.context,
        "names": p.names,
        "title_names": p.title_names,
        "places": p.places,
        "events": p.events,
    }
