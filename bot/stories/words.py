"""The vocabulary of story grouping: which words are evidence, folded to comparable terms.

Kinds of event and their synonyms fold into one term ("IED", "bomb" → @blast), numbers
and demonyms likewise, so a rewrite in other words still compares equal. Pure data and
pure functions; see bot/stories/__init__.py for how the pieces fit.
"""

from __future__ import annotations

import re
from functools import lru_cache

from bot.matching.common import COMMON_WORDS
from bot.matching.spelling import skeleton

# --- Words ---------------------------------------------------------------

# Kinds of event, by what a headline says happened. A rewrite may say "IED"
# where the wire said "roadside bomb"; both are a blast. Each kind belongs to
# a family: a shooting and a blast can be one event told twice (accounts
# differ), and arrests follow an attack, but a blast and a flood cannot be one
# event, nor an attack and an execution or a meeting about it.
EVENT_KINDS: dict[str, tuple[str, str]] = {
    # kind: (family, words as written, lower-case)
    "blast": (
        "incident",
        "blast blasts bomb bombs bombing bombings bomber bombers bombed ied ieds vbied "
        "explosion explosions explosive explosives explode exploded explodes exploding "
        "blew detonated detonation detonate grenade grenades",
    ),
    "gunfire": (
        "incident",
        "gunmen gunman gunfire shot shoot shoots shooting shootings shootout shootouts "
        "fire fired firing gunfight gunfights",
    ),
    "clash": ("incident", "clash clashes clashed skirmish skirmishes scuffle scuffled"),
    "assault": ("incident", "storm stormed assault assaulted ambush ambushed ambushes"),
    "encounter": ("incident", "encounter encounters"),
    "shelling": ("incident", "shelling shelled shells mortar mortars artillery"),
    "missile": ("incident", "rocket rockets missile missiles"),
    "drone": ("incident", "drone drones quadcopter quadcopters"),
    "infiltration": ("incident", "infiltration infiltrator infiltrators intruders intrusion"),
    "kidnap": ("incident", "kidnap kidnapped kidnapping abducted abduction"),
    "raid": ("incident", "raid raids raided operation operations crackdown sweep searches"),
    "arrest": (
        "incident",
        "arrest arrested arrests detain detained detains detention nabbed apprehended",
    ),
    "execution": ("legal", "execute executed executes execution executions hanged hang hangs"),
    "charges": ("legal", "chargesheet chargesheets chargesheeted indicted indictment"),
    "meeting": ("statement", "meet meets met meeting meetings talks receives received hosted"),
    "briefing": ("statement", "briefing briefings"),
    "decree": ("statement", "decree decrees edict edicts"),
    "flood": (
        "nature",
        "flood floods flooded flooding downpour downpours drown drowned rain rains rainfall",
    ),
    "quake": (
        "nature",
        "earthquake earthquakes quake quakes tremor tremors aftershock aftershocks magnitude",
    ),
    "landslide": ("nature", "landslide landslides avalanche avalanches mudslide mudslides"),
}
# Words that are not a kind of event but have synonyms a rewrite swaps in.
SYNONYMS: dict[str, str] = {
    "kill": "kill kills killed killing killings dead die died dies death deaths martyr "
    "martyred martyrs martyrdom succumbed slain",
    "injure": "injure injured injuring injuries wounded wounding wounds hurt",
    "attack": "attack attacks attacked attacker attackers",
    "soldier": "soldier soldiers troops troop jawans jawan servicemen",
    "police": "police policeman policemen constable constables cop cops",
    "militant": "militant militants terrorist terrorists insurgent insurgents khawarij",
    "closed": "close closed closes closure shut shuts suspended suspends blocked",
}
# Kinds of event that follow an attack: a headline of an attack and only these is about
# that attack ("bus attack: police arrest three suspects").
_FOLLOW_UP_KINDS = frozenset({"@arrest"})
_CLASS_OF: dict[str, str] = {
    w: "@" + kind for kind, (_, words) in EVENT_KINDS.items() for w in words.split()
} | {w: "@" + name for name, words in SYNONYMS.items() for w in words.split()}
FAMILY: dict[str, str] = {"@" + kind: family for kind, (family, _) in EVENT_KINDS.items()}

# A press briefing is often told without the word: "told reporters".
_BRIEFING = re.compile(
    r"\b(?:press|news) conference|\bbriefing\b|"
    r"\b(?:told|telling|briefed|briefing) (?:reporters|journalists|the media)\b",
    re.IGNORECASE,
)
# A match needs one of these words (see `_may_match`).
_BRIEFING_WORDS = ("conference", "briefing", "reporters", "journalists", "media")

NUMBER_WORDS: dict[str, int] = {
    w: n
    for n, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen "
        "fourteen fifteen sixteen seventeen eighteen nineteen twenty".split()
    )
} | {"thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80}
# Numbers from here up are years, sums, distances: not how many died.
_BIG_NUMBER = 1000

# A country and its people are one word: "Pakistani soldiers", "in Pakistan".
DEMONYMS: dict[str, str] = {
    "pakistani": "pakistan",
    "afghan": "afghanistan",
    "afghans": "afghanistan",
    "indian": "india",
    "iranian": "iran",
    "chinese": "china",
    "iraqi": "iraq",
    "uzbek": "uzbekistan",
    "tajik": "tajikistan",
    "kyrgyz": "kyrgyzstan",
    "kazakh": "kazakhstan",
    "turkmen": "turkmenistan",
    "russian": "russia",
    "israeli": "israel",
    "yemeni": "yemen",
    "syrian": "syria",
    "turkish": "turkey",
    "saudi": "saudi",
    "baloch": "balochistan",
    "baluch": "balochistan",
    "baluchistan": "balochistan",
    "baluchestan": "balochistan",
    "kashmiri": "kashmir",
}

# A capital named for its government ("urged Beijing", "Tehran said"): a meeting's
# counterpart written as the capital is the country the other item names.
CAPITALS: dict[str, str] = {
    "beijing": "china",
    "moscow": "russia",
    "tehran": "iran",
    "islamabad": "pakistan",
    "kabul": "afghanistan",
    "tashkent": "uzbekistan",
    "dushanbe": "tajikistan",
    "bishkek": "kyrgyzstan",
    "ankara": "turkey",
    "riyadh": "saudi",
    "washington": "america",
    "delhi": "india",
    "baghdad": "iraq",
}

# Words of news copy that say nothing about which event it is. (The event
# words above are taken out first: "attack" is common, but it is evidence.)
_FILLER = (COMMON_WORDS - _CLASS_OF.keys()) | frozenset(
    """
    news report reports reported says said say told tells statement spokesman spokesperson
    according official officials sources source media agency agencies update updated
    live latest breaking monday tuesday wednesday thursday friday saturday sunday today
    yesterday tomorrow morning evening night overnight afternoon week month year
    january february march april june july august september october november december
    reuters afp
    """.split()
)
# Words that are not filler but common in news of this kind; the rarity
# prior treats them (and every event word) as seen in many items.
_NEWS_COMMON = frozenset(
    """
    province provincial district districts city town village capital region country border
    highway road market area army military government minister ministry forces security
    pakistan afghanistan india iran china iraq russia syria israel turkey saudi yemen
    civilians people residents guards group groups claim claims claimed responsibility toll
    rises rose condemned condemns protest funeral suspects suspected member members
    """.split()
)

_SUFFIXES = ("ings", "ing", "ers", "ies", "ed", "es", "er", "s")


def stem(word: str) -> str:
    """A crude English stem, enough for news nouns and verbs: convoys → convoy."""
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def number_value(word: str) -> int | None:
    """The count a word states, digits or spelled ("seven", "7" → 7); None if none or ≥ 1000."""
    if word.isdigit():
        value = int(word)
        return value if value < _BIG_NUMBER else None
    return NUMBER_WORDS.get(word.lower())


# Cached: every item is read through it, word by word, and news repeats its
# words; the cache holds the words of a few days of feeds.
@lru_cache(maxsize=100_000)
def term(word: str) -> str | None:
    """One folded word as the unit of comparison, or None for filler.

    Numbers become "#7", event words and their synonyms "@blast", demonyms
    their country, other words a stem in a transliteration-neutral spelling
    (so "Khorasan" meets "Khurasan").
    """
    value = number_value(word)
    if value is not None:
        return f"#{value}"
    if word in _CLASS_OF:
        return _CLASS_OF[word]
    word = DEMONYMS.get(word, word)
    if word in _FILLER or len(word) < 3:
        return None
    return skeleton(stem(word))


_PRIOR_COMMON = frozenset(t for t in map(term, _NEWS_COMMON) if t) | frozenset(_CLASS_OF.values())


def telling(term_: str) -> bool:
    """Is a term evidence of which event it is, rather than of news in general?"""
    return term_[0] not in "#@" and term_ not in _PRIOR_COMMON
