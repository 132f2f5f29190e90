"""Reading an item once: what it says as comparable terms (`Profile`, `StoryItem`).

Step 1 of story grouping (bot/stories/__init__.py): every comparison needs the same
features of an item, so they are read from its text once, when the item is made.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache

from bot.matching.normalize import scan
from bot.stories.words import (
    _BRIEFING,
    _BRIEFING_WORDS,
    _FOLLOW_UP_KINDS,
    _PRIOR_COMMON,
    FAMILY,
    telling,
    term,
)

# --- Reading an item -----------------------------------------------------

# "PESHAWAR, Pakistan (Reuters) - ": the dateline says where the desk is.
_DATELINE = re.compile(r"^[^()]{0,60}\((?:Reuters|AP|AFP|IRNA|[A-Z]{2,6})\)\s*[-–—]+\s*")
# Clauses that bring in *another* event: "hours after a separate convoy
# attack near Mir Ali", "a day after Kabul accused Pakistan of shelling".
_CONTEXT = re.compile(
    r"(?:,\s*|\s+)(?:(?:just |only )?(?:hours|a day|days|two days|a week|weeks|minutes) "
    r"(?:after|before)|after a separate|in a separate|the second [a-z -]+ (?:that|the same) "
    r"day|its second [a-z ]+|without (?:linking|connecting|saying whether))[^.;]*",
    re.IGNORECASE,
)
# A match needs one of these words (see `_may_match`).
_CONTEXT_WORDS = ("after", "before", "separate", "second", "without")
# Words after which a capitalised word is a place: "near Mir Ali"; and nouns
# before which it is one: "the Rask police station", "Kulachi tehsil".
_PLACE_WORDS = frozenset("in near at off outside across into around opposite along".split())
_PLACE_NOUNS = frozenset(
    """district province city town village area tehsil county sector region valley market
    bazaar road highway crossing camp airport""".split()
)
_PLACE_PREFIXES = frozenset("north south east west upper lower central northern southern".split())
# A headline in Title Case capitalises these; a sentence-case one does not.
_TITLE_CASE_HINTS = frozenset("in on at of for over with after says say to and as by from".split())

# Context words count this much against the body's 1 and the headline's 2.
_FIELD_WEIGHT = {"title": 2.0, "body": 1.0, "context": 0.3}


@dataclass(frozen=True, slots=True)
class Profile:
    """What an item says, as comparable terms (see `term`)."""

    title: frozenset[str]
    body: frozenset[str]  # the summary without context clauses
    context: frozenset[str]  # clauses about another event
    names: frozenset[str]  # written with a capital inside a sentence
    title_names: frozenset[str]
    places: frozenset[str]  # where the headline and the first sentence put the event
    events: frozenset[str]  # kinds of event the headline reports (@blast ...)
    briefing: bool  # a press briefing or conference is what is reported
    # The headline reports an attack or a killing but not its kind, at most what followed
    # it: "BLA claims attack on Levies post", "Chilas bus attack: police arrest three".
    unspecified_attack: bool
    surface: Mapping[str, str]  # a term → a word the item wrote for it, for explanations
    # Derived from the above once, as `compare` needs them for every pair.
    said: frozenset[str] = field(init=False)  # headline and body
    terms: frozenset[str] = field(init=False)  # all
    field_weights: Mapping[str, float] = field(init=False)  # headline 2, body 1, context 0.3
    counts: frozenset[str] = field(init=False)  # numbers of 4 or more, tolls: "#7"
    families: frozenset[str] = field(init=False)  # of the events
    # Tuples keep the order of the set they come from, so that sums over them
    # add up in the same order, to the same last bit, every time.
    telling_said: tuple[str, ...] = field(init=False)  # `said` that is `telling`: indexed
    title_words: tuple[str, ...] = field(init=False)  # the headline but numbers
    specific_places: frozenset[str] = field(init=False)  # places but countries and such
    specific_title_names: frozenset[str] = field(init=False)  # title_names, likewise

    def __post_init__(self) -> None:
        weights = dict.fromkeys(self.context, _FIELD_WEIGHT["context"])
        weights.update(dict.fromkeys(self.body, _FIELD_WEIGHT["body"]))
        weights.update(dict.fromkeys(self.title, _FIELD_WEIGHT["title"]))
        said = self.title | self.body
        # A derived set equal to one at hand is that one, and an empty one is _EMPTY:
        # thousands of profiles stay in the story index, and each set costs ~0.6 KB.
        derived = {
            "said": said,
            "terms": said | self.context if self.context else said,
            "field_weights": weights,
            "counts": frozenset(t for t in said if t[0] == "#" and int(t[1:]) >= 4) or _EMPTY,
            "families": frozenset(FAMILY[e] for e in self.events) or _EMPTY,
            "telling_said": tuple(t for t in said if telling(t)),
            "title_words": tuple(t for t in self.title if t[0] != "#"),
            "specific_places": _without(self.places, _PRIOR_COMMON),
            "specific_title_names": _without(self.title_names, _PRIOR_COMMON),
        }
        for name, value in derived.items():
            object.__setattr__(self, name, value)


_EMPTY: frozenset[str] = frozenset()


def _without(terms: frozenset[str], common: frozenset[str]) -> frozenset[str]:
    """`terms - common`, but `terms` itself when they share nothing (no copy kept)."""
    return terms if terms.isdisjoint(common) else (terms - common or _EMPTY)


def _sentence_start(text: str, start: int) -> bool:
    j = start - 1
    while j >= 0 and text[j] == " ":
        j -= 1
    return j < 0 or text[j] in ".!?:;\"'‘“(-–—|"


def _may_match(text: str, words: tuple[str, ...]) -> bool:
    """False if a case-insensitive pattern that needs one of `words` surely finds nothing.

    A quick test before a slow IGNORECASE scan: in ASCII text, ignoring case
    is looking in the lower-cased text, and a substring test is fast. Other
    text goes to the pattern (there, "ſ" matches "s", which `lower()` misses).
    """
    if not text.isascii():
        return True
    lowered = text.lower()
    return any(word in lowered for word in words)


def _read(
    text: str, field_name: str, names: set[str], places: set[str], surface: dict[str, str]
) -> list[str]:
    """The terms of one field; adds its names, places and surface forms to the given ones."""
    tokens = scan(text)
    folded_tokens = tokens.folded
    title_case = field_name == "title" and any(
        c[:1].isupper() and c.lower() in _TITLE_CASE_HINTS for c in tokens.cased[1:]
    )
    context = field_name == "context"
    out: list[str] = []
    run: list[str] = []  # consecutive names: "Mir Ali", "Lakki Marwat"
    run_is_place = False
    for k, (folded, cased, start) in enumerate(
        zip(folded_tokens, tokens.cased, tokens.starts, strict=True)
    ):
        t = term(folded)
        if t is not None:
            out.append(t)
            surface.setdefault(t, cased)
        # A name: a capitalised word that is not just the first of a sentence
        # (or of a Title Case headline), unless an acronym ("TTP").
        if (
            t is None
            or context
            or t[0] in "#@"
            or not cased[:1].isupper()
            or (
                (title_case or _sentence_start(text, start))
                and not (len(cased) > 1 and cased.isupper())
            )
        ):
            if run:
                if folded in _PLACE_NOUNS or (
                    folded == "police" and folded_tokens[k + 1 : k + 2] in (["station"], ["post"])
                ):
                    places.update(run)
                run, run_is_place = [], False
            continue
        names.add(t)
        if not run:
            before = k - 1  # "in North Waziristan": look past the compass word
            while before >= 0 and folded_tokens[before] in _PLACE_PREFIXES:
                before -= 1
            run_is_place = before >= 0 and folded_tokens[before] in _PLACE_WORDS
        run.append(t)
        if run_is_place:
            places.add(t)
    return out


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"'‘“])")


def _first_sentence(text: str) -> tuple[str, str]:
    parts = _SENTENCE_END.split(text, maxsplit=1)
    return parts[0], parts[1] if len(parts) > 1 else ""


def _split_context(summary: str) -> tuple[str, str]:
    """(the clauses about another event, joined by spaces; the summary without them)"""
    if not _may_match(summary, _CONTEXT_WORDS):
        return "", summary
    clauses: list[str] = []
    rest: list[str] = []
    end = 0
    for m in _CONTEXT.finditer(summary):
        clauses.append(m.group())
        rest.append(summary[end : m.start()])
        end = m.end()
    rest.append(summary[end:])
    return " ".join(clauses), "".join(rest)


@dataclass(slots=True)
class ReadCount:
    """How many items `profile` has read in this process. A test hook, not a metric: it
    lets a test see that start-up loads stored profiles (bot/stories/features.py)
    instead of reading every member's text again."""

    items: int = 0


READS = ReadCount()


def profile(title: str, summary: str) -> Profile:
    """Read an item's headline and summary once (see the module docstring, step 1).

    Both are plain text already (bot/feeds/html_text.py ran at parse time):
    stripping "tags" again would eat literal text such as "<5 dead".
    """
    READS.items += 1
    summary = _DATELINE.sub("", summary)
    context, body = _split_context(summary)
    names: set[str] = set()
    title_places: set[str] = set()
    body_places: set[str] = set()
    surface: dict[str, str] = {}
    title_terms = _read(title, "title", names, title_places, surface)
    title_names = frozenset(names)
    first, rest = _first_sentence(body)
    body_terms = _read(first, "body", names, body_places, surface)
    body_terms += _read(rest, "body", names, set(), surface)
    context_terms = _read(context, "context", names, set(), surface)
    return Profile(
        title=frozenset(title_terms),
        body=frozenset(body_terms),
        context=frozenset(context_terms),
        names=frozenset(names),
        title_names=title_names,
        places=frozenset(title_places | body_places),
        # What the headline reports; if it names no kind of event, what the body does.
        events=frozenset(t for t in title_terms if t in FAMILY)
        or frozenset(t for t in body_terms if t in FAMILY),
        briefing=any(
            _may_match(text, _BRIEFING_WORDS) and _BRIEFING.search(text) for text in (title, body)
        ),
        unspecified_attack=all(t not in FAMILY or t in _FOLLOW_UP_KINDS for t in title_terms)
        and not {"@attack", "@kill"}.isdisjoint(title_terms),
        surface=surface,
    )


_NONE: frozenset[str] = frozenset()
_ENTITY_ID_SEPARATOR = re.compile(r"[\W_]+")
# A StoryItem's profile until __post_init__ reads the text.
_UNREAD = Profile(
    _NONE,
    _NONE,
    _NONE,
    _NONE,
    _NONE,
    _NONE,
    _NONE,
    briefing=False,
    unspecified_attack=False,
    surface={},
)


def entity_terms(entities: Iterable[str]) -> frozenset[str]:
    """The terms of the item's watched entity ids: the matcher found them in the item."""
    return frozenset(t for e in entities for t in _entity_id_terms(e))


@lru_cache(maxsize=20_000)
def _entity_id_terms(entity: str) -> tuple[str, ...]:
    """ "lakki_marwat" → the terms of "lakki marwat" (cached: ids recur in every item)."""
    return tuple(t for w in _ENTITY_ID_SEPARATOR.split(entity.lower()) if (t := term(w)))


@dataclass(frozen=True, slots=True)
class StoryItem:
    """What story grouping needs to know about an item.

    `seen_at` is when the bot fetched it: items without a published date are
    placed in time by it.
    """

    key: str
    title: str
    summary: str
    published: datetime | None
    entities: frozenset[str]
    seen_at: datetime | None = None
    # Filled in from the fields above: what the item says, read once.
    profile: Profile = field(default=_UNREAD, compare=False, repr=False)
    entity_terms: frozenset[str] = field(default=frozenset(), compare=False, repr=False)
    # What the item says (not in context clauses), and the terms of its entity ids.
    mentions: frozenset[str] = field(default=frozenset(), compare=False, repr=False)
    # When the item happened as far as we know: published, else fetched.
    when: datetime | None = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "entities", frozenset(self.entities))
        if self.profile is _UNREAD:
            object.__setattr__(self, "profile", profile(self.title, self.summary))
        entity_terms_ = entity_terms(self.entities)
        object.__setattr__(self, "entity_terms", entity_terms_)
        # A watched place the matcher found only in a clause about another event
        # ("hours after ... in the Red Sea") is not where this item puts its event.
        elsewhere = self.profile.context - self.profile.said
        said = self.profile.said
        extra = entity_terms_ - elsewhere
        # `said` itself when the entities add nothing to it: one set fewer kept per member.
        object.__setattr__(self, "mentions", said if extra <= said else said | extra)
        object.__setattr__(self, "when", self.published or self.seen_at)

    @property
    def terms(self) -> frozenset[str]:
        """All its terms (for `Rarity`, which counts members and items alike)."""
        return self.profile.terms

    @classmethod
    def of(
        cls,
        key: str,
        title: str,
        summary: str,
        published: datetime | None,
        entities: Iterable[str],
        seen_at: datetime | None = None,
    ) -> StoryItem:
        """An item as the pipeline knows it: `seen_at` (fetch time) stands in for a
        missing `published`."""
        return cls(key, title, summary, published, frozenset(entities), seen_at)
