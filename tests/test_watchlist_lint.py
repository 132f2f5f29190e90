"""Watchlist term checks: shared and risky aliases are warned about, never refused."""

from __future__ import annotations

import logging
import textwrap
from pathlib import Path

import pytest

from bot.errors import ConfigError
from bot.matching.lint import alias_keys, alias_warnings
from bot.matching.watchlists import load_watchlists, term_warnings

LOGGER = "bot.matching.watchlists"


def write(directory: Path, name: str, text: str) -> Path:
    directory.mkdir(exist_ok=True)
    path = directory / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def two_entities(first: str, second: str, exclude: str = "") -> str:
    """A file with entity "one" on line 2 and entity "two" on line 8."""
    return (
        "# two entities\n"
        "[[entity]]\n"
        'id = "one"\n'
        'name = "First Entity Name"\n'
        'kind = "group"\n'
        f"aliases = [{first}]\n"
        "\n"
        "[[entity]]\n"
        'id = "two"\n'
        'name = "Second Entity Name"\n'
        'kind = "group"\n'
        f"aliases = [{second}]\n"
        f"exclude = [{exclude}]\n"
    )


# -- alias_keys -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Tehrik-i-Taliban", "Tehreek-e-Taliban"),
        ("Tajikistan", "Tadzhikistan"),
        ("Hizbul Mujahideen", "Hizb-ul-Mujahideen"),
        ("Hizbul Mujahideen", "hizb ul mujahideen"),
        ("Khost", "Khowst"),
        ("ISKP", "IS-KP"),
        ("KP", "K-P"),
        ("the government", "The Government"),
    ],
)
def test_alias_keys_shared_by_the_same_term(a, b):
    assert alias_keys(a) & alias_keys(b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("HuM", "hum"),  # acronyms are case-sensitive to the matcher
        ("KP", "kp"),
        ("Kunar", "Kunari"),
        ("North Waziristan", "South Waziristan"),
        ("Balochistan Liberation Army", "Balochistan Liberation Front"),
        ("Taliban", "Tehrik-i-Taliban"),
    ],
)
def test_alias_keys_differ_for_different_terms(a, b):
    assert not alias_keys(a) & alias_keys(b)


# -- alias_warnings -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("alias", "reason"),
    [
        ("KP", "only 2 letters"),
        ("Kp", "only 2 letters"),
        ("X", "only 1 letter:"),
        ("the government", "common words"),
        ("The Government", "common words"),
        ("police and security", "common words"),
        ("2024", "only digits"),
        ("26 11", "only digits"),
    ],
)
def test_risky_aliases_are_warned(alias, reason):
    warnings = alias_warnings(alias)
    assert any(reason in w for w in warnings), warnings


@pytest.mark.parametrize(
    "alias",
    ["J&K", "K-P", "IS-KP", "ISKP", "TTP", "Taliban", "Kunar", "Tehrik-i-Taliban", "26/11 Mumbai"],
)
def test_deliberate_aliases_are_not_warned(alias):
    assert alias_warnings(alias) == []


def test_two_letter_warning_quotes_the_alias():
    (warning,) = alias_warnings("KP")
    assert "'KP'" in warning


# -- load_watchlists: colliding aliases -------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ('"Tehrik-i-Taliban"', '"Tehrik-i-Taliban"'),
        ('"Tehrik-i-Taliban"', '"Tehreek-e-Taliban"'),
        ('"Tehrik-i-Taliban"', '"tehrik i taliban"'),
        ('"Hizbul Mujahideen"', '"Hizb-ul-Mujahideen"'),
        ('"Tajikistan"', '"Tadzhikistan"'),
        ('"ISKP"', '"IS-KP"'),
        ('"Taliban"', '"TALIBAN"'),  # "TALIBAN" in text fires both
    ],
)
def test_alias_under_two_entities_loads_with_one_warning(tmp_path, caplog, first, second):
    write(tmp_path / "wl", "groups.toml", two_entities(first, second))
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        entities = load_watchlists(tmp_path / "wl")
    assert [e.id for e in entities] == ["one", "two"]
    (record,) = [r for r in caplog.records if r.name == LOGGER]
    message = record.getMessage()
    assert "1 alias shared by several entities" in message
    assert "groups.toml:2, entity 'one'" in message  # where each owner is
    assert "groups.toml:8, entity 'two'" in message
    assert "context = [...]" in message  # how to tell them apart


def test_every_collision_is_listed_in_one_warning(tmp_path, caplog):
    """A big person list holds many namesakes: all of them, in one warning, in one run."""
    people = "".join(
        f'[[entity]]\nid = "p{k}"\nname = "{name}"\nkind = "person"\n\n'
        for k, name in enumerate(
            [
                "Said Karimi",
                "Saeed Karimi",
                "Usman Khalid",
                "Usman Khaalid",
                "Ali Rezaei",
                "Ali Rezaei",
            ]
        )
    )
    write(tmp_path / "wl", "people.toml", people)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        entities = load_watchlists(tmp_path / "wl")
    assert len(entities) == 6
    (record,) = [r for r in caplog.records if r.name == LOGGER]
    message = record.getMessage()
    assert "3 aliases shared by several entities" in message
    for first, second in [("p0", "p1"), ("p2", "p3"), ("p4", "p5")]:
        assert f"entity {first!r}) = " in message and f"entity {second!r})" in message
    warnings = term_warnings(tmp_path / "wl", entities)
    assert len([w for w in warnings if "shared by several entities" in w]) == 3


def test_alias_under_entities_in_two_files(tmp_path, caplog):
    write(
        tmp_path / "wl",
        "a.toml",
        """\
        [[entity]]
        id = "ttp"
        name = "Tehrik-i-Taliban Pakistan"
        kind = "group"
        """,
    )
    write(
        tmp_path / "wl",
        "b.toml",
        """\
        # Pakistan groups


        [[entity]]
        id = "pak-taliban"
        name = "Pakistani Taliban"
        kind = "group"
        aliases = ["Tehreek-e-Taliban Pakistan"]
        """,
    )
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        load_watchlists(tmp_path / "wl")
    (record,) = [r for r in caplog.records if r.name == LOGGER]
    message = record.getMessage()
    assert "'Tehrik-i-Taliban Pakistan' (a.toml:1, entity 'ttp')" in message
    assert "'Tehreek-e-Taliban Pakistan' (b.toml:4, entity 'pak-taliban')" in message


def test_same_term_twice_in_one_entity_is_fine(tmp_path):
    write(
        tmp_path / "wl",
        "a.toml",
        """\
        [[entity]]
        id = "ttp"
        name = "Tehrik-i-Taliban"
        kind = "group"
        aliases = ["Tehreek-e-Taliban", "Tehrik e Taliban"]
        """,
    )
    (e,) = load_watchlists(tmp_path / "wl")
    assert e.all_aliases == ("Tehrik-i-Taliban", "Tehreek-e-Taliban", "Tehrik e Taliban")


def test_different_acronym_case_is_not_a_collision(tmp_path):
    # HuM and HUM are different terms to the case-sensitive matcher.
    write(tmp_path / "wl", "a.toml", two_entities('"HuM"', '"HUM TV"'))
    assert [e.id for e in load_watchlists(tmp_path / "wl")] == ["one", "two"]


# -- load_watchlists: exclusions ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("aliases", "exclude", "equals"),
    [
        ('"Lalit Modi"', '"Lalit Modi"', "Lalit Modi"),
        ('"Tehrik-i-Taliban"', '"Tehreek-e-Taliban"', "Tehrik-i-Taliban"),
        ('"Something"', '"second entity name"', "Second Entity Name"),  # the name is an alias
    ],
)
def test_exclude_equal_to_an_alias_is_refused(tmp_path, aliases, exclude, equals):
    path = write(tmp_path / "wl", "a.toml", two_entities('"Quetta Shura"', aliases, exclude))
    with pytest.raises(ConfigError) as err:
        load_watchlists(tmp_path / "wl")
    e = err.value
    assert e.path == str(path)
    assert e.where == "line 8 (entity 'two')"
    assert f"equals its alias {equals!r}" in e.problem
    assert "could never match" in e.problem


def test_exclude_different_from_aliases_is_accepted(tmp_path):
    write(tmp_path / "wl", "a.toml", two_entities('"Quetta Shura"', '"Modi"', '"Lalit Modi"'))
    entities = load_watchlists(tmp_path / "wl")
    assert entities[1].exclude == ("Lalit Modi",)


# -- load_watchlists: risky aliases are logged ------------------------------------------------


@pytest.mark.parametrize(
    ("alias", "reason"),
    [
        ("KP", "only 2 letters"),
        ("the government", "made only of common words"),
        ("2024", "only digits"),
    ],
)
def test_risky_alias_logs_a_warning(tmp_path, caplog, alias, reason):
    path = write(tmp_path / "wl", "a.toml", two_entities('"Quetta Shura"', f'"{alias}"'))
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        entities = load_watchlists(tmp_path / "wl")
    assert [e.id for e in entities] == ["one", "two"]  # a warning, not an error
    records = [r for r in caplog.records if r.name == LOGGER and r.levelno == logging.WARNING]
    assert len(records) == 1, [r.getMessage() for r in records]
    message = records[0].getMessage()
    assert str(path) in message
    assert "line 8 (entity 'two')" in message
    assert repr(alias) in message
    assert reason in message


def test_deliberate_short_forms_log_nothing(tmp_path, caplog):
    write(tmp_path / "wl", "a.toml", two_entities('"Quetta Shura"', '"J&K", "K-P", "ISKP", "TTP"'))
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        load_watchlists(tmp_path / "wl")
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


# -- risky aliases: the reasons, and the entity keys that go with them ------------------------


@pytest.mark.parametrize(
    ("alias", "reason"),
    [
        ("C++", "contains '+'"),
        ("C#", "contains '#'"),
        (".NET", "contains '.'"),
        ("IS", "only 2 letters"),
        ("AQ", "only 2 letters"),
        ("Hope", "'hope' is a common word"),
        ("Said", "'said' is a common word"),
        ("Grace", "'grace' is a common word"),
    ],
)
def test_risky_alias_reasons(alias, reason):
    assert any(reason in w for w in alias_warnings(alias)), alias_warnings(alias)


@pytest.mark.parametrize("alias", ["26/11 Mumbai", "Line of Control", "AT&T", "Said Ahmadi"])
def test_distinctive_aliases_with_symbols_or_names_are_not_risky(alias):
    assert alias_warnings(alias) == []


def test_loose_silences_the_warning_and_context_loads(tmp_path, caplog):
    write(
        tmp_path / "wl",
        "a.toml",
        """\
        [[entity]]
        id = "is"
        name = "Islamic State"
        kind = "group"
        aliases = ["IS", "AQ"]
        loose = ["IS"]
        context = ["Syria", "Iraq"]
        """,
    )
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        (e,) = load_watchlists(tmp_path / "wl")
    assert (e.loose, e.context) == (("IS",), ("Syria", "Iraq"))
    messages = [r.getMessage() for r in caplog.records if r.name == LOGGER]
    assert len(messages) == 1 and "'AQ'" in messages[0]
    assert [w for w in term_warnings(tmp_path / "wl", [e]) if "'IS'" in w] == []


def test_loose_must_name_an_alias_of_the_entity(tmp_path):
    path = write(
        tmp_path / "wl",
        "a.toml",
        """\
        [[entity]]
        id = "is"
        name = "Islamic State"
        kind = "group"
        aliases = ["IS"]
        loose = ["ISIS"]
        """,
    )
    with pytest.raises(ConfigError) as err:
        load_watchlists(tmp_path / "wl")
    assert err.value.path == str(path)
    assert "key 'loose[0]'" in err.value.where
    assert "'ISIS' is not one of this entity's aliases" in str(err.value)
    assert "list it in aliases" in str(err.value)
