"""bot.matching: tokenize/fold and the Matcher, on hand-built and shipped watchlists."""

from __future__ import annotations

import functools
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.matching.matcher import Matcher, is_strict
from bot.matching.normalize import fold, tokenize
from bot.matching.watchlists import load_watchlists
from bot.models import Entity, Item

SHIPPED_WATCHLISTS = Path(__file__).parent.parent / "watchlists"


def entity(
    id: str,
    name: str,
    *aliases: str,
    kind: str = "group",
    exclude: tuple[str, ...] = (),
    severity: str = "medium",
) -> Entity:
    return Entity(id, name, kind, tuple(aliases), tuple(exclude), severity)


def ids(matcher: Matcher, title: str, summary: str = "") -> list[str]:
    return [m.entity_id for m in matcher.match_text(title, summary)]


def only(matcher: Matcher, title: str, summary: str = ""):
    matches = matcher.match_text(title, summary)
    assert len(matches) == 1, matches
    return matches[0]


@functools.cache
def shipped() -> Matcher:
    return Matcher(load_watchlists(SHIPPED_WATCHLISTS))


# -- normalisation ------------------------------------------------------------------


def test_tokenize_offsets_and_forms():
    text = "Rahmon’s visit to Dushanbé & TTP-linked"
    toks = tokenize(text)
    assert [t.folded for t in toks] == ["rahmon", "visit", "to", "dushanbe", "and", "ttp", "linked"]
    assert [t.cased for t in toks] == ["Rahmon", "visit", "to", "Dushanbe", "and", "TTP", "linked"]
    assert [text[t.start : t.end] for t in toks] == [
        "Rahmon’s",
        "visit",
        "to",
        "Dushanbé",
        "&",
        "TTP",
        "linked",
    ]


def test_fold():
    assert fold("  Lashkar-e-Jhangvi's  RISE!") == "lashkar e jhangvi rise"
    assert fold("Душанбе") == "dushanbe"
    assert fold("Jama'at") == "jamaat"
    assert fold("") == ""


@pytest.mark.parametrize(
    ("alias", "strict"),
    [
        ("ISKP", True),
        ("IS-KP", True),
        ("HuM", True),
        ("LeT", True),
        ("Modi", True),  # four letters or fewer
        ("COAS Munir", True),
        ("Kunar", False),
        ("Taliban", False),
        ("Lashkar-e-Jhangvi", False),
    ],
)
def test_is_strict(alias, strict):
    assert is_strict(alias) is strict


# -- hand-built matchers ---------------------------------------------------------------


def test_case_and_accents():
    m = Matcher([entity("dushanbe", "Dushanbe", kind="region")])
    for text, quoted in [
        ("Blast in Dushanbé", "Dushanbé"),
        ("DUSHANBE airport closed", "DUSHANBE"),
        ("flights to dushanbe resume", "dushanbe"),
    ]:
        hit = only(m, text)
        assert hit.text == quoted
        assert hit.score == 100.0
    # the alias may carry the accent instead of the text
    m2 = Matcher([entity("ashgabat", "Aşgabat", kind="region")])
    assert only(m2, "Talks in Asgabat").text == "Asgabat"


def test_decomposed_accents_match_like_composed():
    m = Matcher([entity("tokayev", "Tokayev", kind="person")])
    composed = "Tokáyev visits Astana"
    decomposed = unicodedata.normalize("NFD", composed)
    assert ids(m, composed) == ["tokayev"]
    assert ids(m, decomposed) == ["tokayev"]


@pytest.mark.parametrize(
    ("alias", "text"),
    [
        ("Hizb-ul-Mujahideen", "Hizb ul Mujahideen claims attack"),
        ("Hizb ul Mujahideen", "Hizb-ul-Mujahideen claims attack"),
        ("Hizb ul-Mujahideen", "HIZB-UL MUJAHIDEEN claims attack"),
    ],
)
def test_hyphens_equal_spaces(alias, text):
    hit = only(Matcher([entity("hm", alias)]), text)
    assert hit.score == 100.0
    assert hit.text.lower().replace("-", " ") == "hizb ul mujahideen"


@pytest.mark.parametrize("text", ["Rahmon's visit", "Rahmon’s visit", "RAHMON'S visit"])
def test_possessives(text):
    m = Matcher([entity("rahmon", "Emomali Rahmon", "Rahmon", kind="person")])
    hit = only(m, text)
    assert hit.alias == "Rahmon"
    assert hit.text == text[: len("Rahmon's")]
    assert hit.score == 100.0


def test_possessive_on_acronym():
    m = Matcher([entity("ttp", "Tehrik-i-Taliban Pakistan", "TTP")])
    assert only(m, "TTP's new chief").text == "TTP's"


@pytest.mark.parametrize(
    ("alias", "text"),
    [
        ("Sistan and Baluchestan", "Quake hits Sistan & Baluchestan"),
        ("Sistan & Baluchestan", "Quake hits Sistan and Baluchestan"),
        ("Sistan & Baluchestan", "Quake hits Sistan&Baluchestan"),
    ],
)
def test_ampersand_equals_and(alias, text):
    hit = only(Matcher([entity("sb", alias, kind="region")]), text)
    assert hit.score == 100.0
    assert text.endswith(hit.text)


@pytest.mark.parametrize(
    ("alias", "text", "quoted"),
    [
        ("Dushanbe", "Взрыв в Душанбе", "Душанбе"),
        # A Russian case ending is part of the name: the first mention is quoted.
        ("Toshkent", "Саммит в Тошкенте и Тошкент", "Тошкенте"),
        ("Bishkek", "Protest in Бишкек", "Бишкек"),
    ],
)
def test_cyrillic_matches_its_transliteration(alias, text, quoted):
    hit = only(Matcher([entity("x", alias, kind="region")]), text)
    assert hit.text == quoted
    assert hit.score == 100.0


@pytest.mark.parametrize(
    ("name", "text", "quoted"),
    [
        ("Hibatullah Akhundzada", "Haibatullah Akhundzada issues decree", "Haibatullah Akhundzada"),
        ("Haibatullah Akhundzada", "Hibatullah Akhundzada issues decree", "Hibatullah Akhundzada"),
        ("Hibatullah", "Decree by Haibatullah", "Haibatullah"),
        ("Lashkar-e-Jhangvi", "Lashkar-i-Jhangvi attack in Quetta", "Lashkar-i-Jhangvi"),
        ("Lashkar-i-Jhangvi", "Lashkar-e-Jhangvi attack in Quetta", "Lashkar-e-Jhangvi"),
        ("Zabihullah Mujahid", "spokesman Zabiullah Mujahid said", "Zabiullah Mujahid"),
    ],
)
def test_one_letter_transliteration_variants_match_fuzzily(name, text, quoted):
    hit = only(Matcher([entity("x", name, kind="person")]), text)
    assert hit.text == quoted
    # A shared transliteration skeleton is a "variant" (100); otherwise "fuzzy".
    assert 90.0 <= hit.score <= 100.0
    assert hit.how in ("variant", "fuzzy")
    assert hit.alias == name


def test_two_letter_differences_do_not_match():
    m = Matcher([entity("x", "Tehrik-e-Taliban")])
    assert ids(m, "Tehreek-e-Taliban") == ["x"]  # one letter: fuzzy
    m = Matcher([entity("x", "Muhammad")])
    assert ids(m, "Mahmood") == []  # another name, several letters apart
    # Two vowels apart is a transliteration family of its own (see test_match_families).
    assert ids(m, "Mohammed") == ["x"]


@pytest.mark.parametrize(
    ("alias", "text", "hit"),
    [
        ("HuM", "hum a tune", False),
        ("HuM", "HUM TV reports", False),
        ("HuM", "Hum claimed it", False),
        ("HuM", "HuM claimed the attack", True),
        ("TiP", "a tip from readers", False),
        ("TiP", "TIP report released", False),
        ("TiP", "TiP fighters in Idlib", True),
        ("TTP", "see HTTPS link", False),
        ("TTP", "https://ttp.example/x", False),
        ("TTP", "ttp militants", False),
        ("TTP", "TTP-linked militants", True),
        ("TTP", "militants (TTP) attack", True),
        ("IS-KP", "IS-KP claims", True),
        ("IS-KP", "IS KP claims", True),
        ("IS-KP", "is kp claims", False),
        ("ISKP", "ISKCON temple", False),
    ],
)
def test_acronyms_are_case_sensitive_whole_words(alias, text, hit):
    m = Matcher([entity("x", "Some Long Group Name", alias)])
    matches = m.match_text(text)
    assert bool(matches) is hit, matches
    if hit:
        assert matches[0].alias == alias
        assert matches[0].score == 100.0


def test_acronym_match_quotes_only_the_acronym():
    m = Matcher([entity("ttp", "Tehrik-i-Taliban Pakistan", "TTP")])
    hit = only(m, "TTP-linked militants")
    assert (hit.text, hit.start, hit.end) == ("TTP", 0, 3)


def test_ampersand_acronym_is_strict():
    assert is_strict("J&K")
    m = Matcher([entity("jk", "Jammu and Kashmir", "J&K", kind="region")])
    assert ids(m, "J&K police") == ["jk"]
    assert ids(m, "loop over j and k") == []


@pytest.mark.parametrize(
    ("alias", "text"),
    [
        ("Kabul", "Kabuli pulao recipe"),
        ("Taliban", "Talibanisation of schools"),
        ("Herat", "Herath festival"),
        ("Kunar", "Kunari district"),
        ("Kunar", "Kunr district"),
        ("Modi", "Modiji speaks"),
        ("Modi", "modi operandi"),
    ],
)
def test_whole_words_only_and_short_aliases_exact(alias, text):
    assert ids(Matcher([entity("x", alias, kind="region")]), text) == []


def test_short_alias_still_matches_exactly():
    m = Matcher([entity("kunar", "Kunar", kind="region")])
    assert only(m, "Clashes in Kunar province").text == "Kunar"
    assert only(m, "KUNAR: clashes").text == "KUNAR"


def test_exclude_vetoes_the_whole_item():
    m = Matcher(
        [
            entity("iskp", "Islamic State Khorasan Province", "ISKP", exclude=("ISKCON",)),
            entity("kabul", "Kabul", kind="region"),
        ]
    )
    assert ids(m, "ISKP threatens temple in Kabul") == ["iskp", "kabul"]
    assert ids(m, "ISKP threatens ISKCON temple in Kabul") == ["kabul"]
    assert ids(m, "ISKP threatens temple in Kabul", "an iskcon statement") == ["kabul"]


def test_exclude_phrase_is_whole_words():
    m = Matcher([entity("modi", "Narendra Modi", "Modi", exclude=("Lalit Modi",))])
    assert ids(m, "Modi meets Lalit Modi") == []
    assert ids(m, "Modi meets Lalit Modiji") == ["modi"]


def test_explanation_fields():
    e = entity("dushanbe", "Dushanbe", "Душанбе", kind="region", severity="low")
    m = Matcher([e])
    title = "Talks: «Dushanbé» hosts summit"
    hit = only(m, title)
    assert hit.entity_id == "dushanbe"
    assert hit.entity_name == "Dushanbe"
    assert hit.kind == "region"
    assert hit.severity == "low"
    assert hit.alias == "Dushanbe"
    assert hit.text == "Dushanbé"
    assert hit.score == 100.0
    assert hit.field == "title"
    assert title[hit.start : hit.end] == hit.text
    assert hit.explain() == 'dushanbe: alias "Dushanbe" ~ "Dushanbé" (normalised, title)'


def test_explanation_fields_fuzzy_in_summary():
    m = Matcher([entity("hib", "Hibatullah Akhundzada", kind="person")])
    summary = "On Friday, Haibatullah  Akhundzada's office said..."
    hit = only(m, "Decree issued", summary)
    assert hit.field == "summary"
    assert summary[hit.start : hit.end] == hit.text == "Haibatullah  Akhundzada's"
    assert hit.alias == "Hibatullah Akhundzada"
    assert 90.0 <= hit.score < 100.0
    assert hit.explain().endswith(f"(fuzzy {hit.score:g}, summary)")


def test_match_accepts_items():
    m = Matcher([entity("kabul", "Kabul", kind="region")])
    item = Item("https://f.example/rss", "g1", "https://a.example/1", "News", summary="in Kabul")
    (hit,) = m.match(item)
    assert hit.field == "summary"
    assert item.summary[hit.start : hit.end] == "Kabul"


def test_one_match_per_entity_the_best():
    m = Matcher([entity("hib", "Hibatullah Akhundzada", "Mullah Hibatullah", kind="person")])
    # several exact mentions: the first one
    hit = only(m, "Hibatullah Akhundzada and Mullah Hibatullah")
    assert (hit.text, hit.start) == ("Hibatullah Akhundzada", 0)
    # a fuzzy title mention loses to an exact summary mention
    hit = only(m, "Haibatullah Akhundzada speaks", "Hibatullah Akhundzada said")
    assert (hit.field, hit.score) == ("summary", 100.0)
    # equal scores: the title wins
    hit = only(m, "Hibatullah Akhundzada speaks", "Hibatullah Akhundzada said")
    assert hit.field == "title"


def test_exact_mention_suppresses_fuzzy_one_in_same_field():
    m = Matcher([entity("hib", "Hibatullah Akhundzada", kind="person")])
    hit = only(m, "Haibatullah Akhundzada, or Hibatullah Akhundzada")
    assert hit.score == 100.0
    assert hit.text == "Hibatullah Akhundzada"


def test_order_follows_entity_list_and_is_deterministic():
    entities = [
        entity("b", "Kabul", kind="region"),
        entity("a", "Tehrik-i-Taliban Pakistan", "TTP"),
        entity("c", "Hibatullah Akhundzada", kind="person"),
    ]
    m = Matcher(entities)
    text = "Haibatullah Akhundzada meets TTP in Kabul"
    first = m.match_text(text)
    assert [x.entity_id for x in first] == ["b", "a", "c"]
    assert all(m.match_text(text) == first for _ in range(5))
    assert Matcher(list(entities)).match_text(text) == first
    reordered = Matcher([entities[2], entities[0], entities[1]])
    assert [x.entity_id for x in reordered.match_text(text)] == ["c", "b", "a"]


def test_threshold_parameter():
    entities = [entity("hib", "Hibatullah Akhundzada", kind="person")]
    text = "Haibatullah Akhundzada speaks"
    loose = Matcher(entities, threshold=90)
    score = only(loose, text).score  # rounded to one decimal
    assert 90 <= score < 100
    assert ids(Matcher(entities, threshold=score - 0.1), text) == ["hib"]
    assert ids(Matcher(entities, threshold=score + 0.1), text) == []
    assert ids(Matcher(entities, threshold=100), text) == []
    # exact matches do not depend on the threshold
    assert ids(Matcher(entities, threshold=100), "Hibatullah Akhundzada speaks") == ["hib"]


def test_no_entities_no_matches():
    assert Matcher([]).match_text("anything at all", "Kabul") == []
    assert Matcher([entity("x", "Kabul")]).match_text("", "") == []


# -- the shipped watchlists ---------------------------------------------------------


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("Blast in Dushanbé kills two", "dushanbe"),
        ("Взрыв в Душанбе", "dushanbe"),
        ("Hizb ul Mujahideen commander killed", "hizbul_mujahideen"),
        ("Hizb-ul-Mujahideen commander killed", "hizbul_mujahideen"),
        ("Emomali Rahmon's visit", "emomali_rahmon"),
        ("Quake in Sistan & Baluchestan", "sistan_baluchestan"),
        ("Jammu & Kashmir police", "jammu_kashmir"),
        ("Haibatullah Akhundzada decree", "hibatullah_akhundzada"),
        ("Hibatullah Akhundzada decree", "hibatullah_akhundzada"),
        ("Lashkar-i-Jhangvi attack", "lashkar_e_jhangvi"),
        ("Lashkar-o-Jhangvi attack", "lashkar_e_jhangvi"),
        ("TTP-linked militants", "ttp"),
        ("TTP's chief", "ttp"),
        ("Kassym-Jomart Tokayev's reform", "kassym_jomart_tokayev"),
        ("Clashes in Kunar", "kunar"),
        ("ISKP threat to ISKCON temple", "iskp"),
        ("Narendra Modi visits Kabul", "narendra_modi"),
    ],
)
def test_shipped_watchlists_match(title, expected):
    assert expected in ids(shipped(), title)


@pytest.mark.parametrize(
    ("title", "absent"),
    [
        ("see HTTPS link for details", "ttp"),
        ("ttp", "ttp"),
        ("Kunari district", "kunar"),
        ("ISKCON temple festival", "iskp"),
        ("Narendra Modi meets Lalit Modi", "narendra_modi"),
        ("Tajik Badakhshan news", "badakhshan"),
        ("a tip from readers", "turkistan_islamic_party"),
    ],
)
def test_shipped_watchlists_do_not_match(title, absent):
    assert absent not in ids(shipped(), title)


def test_shipped_watchlists_quiet_on_plain_news():
    assert (
        shipped().match_text(
            "Stocks rise as central bank holds rates",
            "Markets in London and New York closed higher on Tuesday; https://example.com/a",
        )
        == []
    )


# -- properties --------------------------------------------------------------------------

_TEXT = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs",)) | st.sampled_from(list("'’-& ")),
    max_size=80,
)


@settings(derandomize=True, database=None)
@given(_TEXT)
def test_tokenize_offsets_slice_non_empty_original_text(text):
    for t in tokenize(text):
        assert 0 <= t.start < t.end <= len(text)
        assert text[t.start : t.end].strip()
        assert t.folded
        assert t.folded == t.cased.lower()


@settings(derandomize=True, database=None)
@given(_TEXT)
def test_fold_is_idempotent(text):
    once = fold(text)
    assert fold(once) == once


_NEWSY = st.lists(
    st.sampled_from(
        [
            "Kabul",
            "TTP",
            "Haibatullah",
            "Akhundzada",
            "Lashkar-i-Jhangvi",
            "Душанбе",
            "&",
            "'s",
            "ISKCON",
            "the",
            "Hizb",
            "ul",
            "Mujahideen",
        ]
    ),
    max_size=12,
).map(" ".join)


@settings(max_examples=60, deadline=None, derandomize=True, database=None)
@given(st.one_of(_TEXT, _NEWSY), st.one_of(_TEXT, _NEWSY))
def test_matcher_never_raises_and_quotes_original_text(title, summary):
    for m in shipped().match_text(title, summary):
        source = title if m.field == "title" else summary
        assert source[m.start : m.end] == m.text
        assert m.text
        assert shipped().threshold <= m.score <= 100
