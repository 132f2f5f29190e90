"""bot.matching.watchlists: load_watchlists and merge_chat_terms."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from bot.errors import ConfigError
from bot.matching.normalize import fold
from bot.matching.watchlists import ChatTerm, load_watchlists, merge_chat_terms
from bot.models import Entity

SHIPPED_WATCHLISTS = Path(__file__).parent.parent / "watchlists"


def write(directory: Path, name: str, text: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def load_error(directory: Path) -> str:
    with pytest.raises(ConfigError) as info:
        load_watchlists(directory)
    return str(info.value)


# Entity headers are placed without a blank line before them: see
# test_line_numbers_after_blank_lines for why.
GROUPS = """\
    # armed groups
    [[entity]]
    id = "iskp"
    name = "Islamic State Khorasan Province"
    kind = "group"
    aliases = ["ISKP", "IS-K", " ISKP ", "Islamic State Khorasan Province"]
    exclude = ["ISKCON"]
    severity = "high"
    [[entity]]
    id = "ttp"
    name = "Tehrik-i-Taliban Pakistan"
    kind = "group"
    aliases = ["TTP"]
"""

PEOPLE = """\
    [[entity]]
    id = "rahmon"
    name = "Emomali Rahmon"
    kind = "person"
    severity = "low"
"""

REGIONS = """\
    [[entity]]
    id = "kunar"
    name = "Kunar"
    kind = "region"
    aliases = ["Konar province"]
"""


def test_three_files_load_in_name_order(tmp_path):
    write(tmp_path, "b_people.toml", PEOPLE)
    write(tmp_path, "a_groups.toml", GROUPS)
    write(tmp_path, "c_regions.toml", REGIONS)
    write(tmp_path, "README.md", "not a watchlist")

    entities = load_watchlists(tmp_path)

    assert [e.id for e in entities] == ["iskp", "ttp", "rahmon", "kunar"]
    iskp, ttp, rahmon, kunar = entities
    assert iskp == Entity(
        id="iskp",
        name="Islamic State Khorasan Province",
        kind="group",
        aliases=("ISKP", "IS-K", "Islamic State Khorasan Province"),  # stripped, deduplicated
        exclude=("ISKCON",),
        severity="high",
        source="a_groups.toml:2",
    )
    # the name counts as an alias, once, first
    assert iskp.all_aliases == ("Islamic State Khorasan Province", "ISKP", "IS-K")
    assert ttp.severity == "medium"  # default
    assert ttp.source == "a_groups.toml:9"
    assert ttp.all_aliases == ("Tehrik-i-Taliban Pakistan", "TTP")
    assert rahmon.aliases == ()
    assert rahmon.exclude == ()
    assert rahmon.all_aliases == ("Emomali Rahmon",)
    assert rahmon.severity == "low"
    assert rahmon.source == "b_people.toml:1"
    assert kunar.kind == "region"
    assert kunar.all_aliases == ("Kunar", "Konar province")


def test_extra_terms_are_merged_at_load(tmp_path):
    write(tmp_path, "a.toml", PEOPLE)
    entities = load_watchlists(tmp_path, [ChatTerm("rahmon", "Rahmon"), ChatTerm("cpec", "CPEC")])
    assert [e.id for e in entities] == ["rahmon", "cpec"]
    assert entities[0].aliases == ("Rahmon",)


# -- errors: file + line + key ------------------------------------------------------


def test_duplicate_id_across_files_names_both(tmp_path):
    write(tmp_path, "a.toml", PEOPLE)
    second = write(
        tmp_path,
        "b.toml",
        """\
        [[entity]]
        id = "other"
        name = "Other"
        kind = "person"
        [[entity]]
        id = "rahmon"
        name = "Rahmon again"
        kind = "person"
        """,
    )
    message = load_error(tmp_path)
    assert message.startswith(f"{second}: line 5: ")
    assert "entity id 'rahmon' is already used in a.toml line 1" in message
    assert "unique id" in message


def test_duplicate_id_within_one_file(tmp_path):
    path = write(tmp_path, "a.toml", PEOPLE + PEOPLE)
    message = load_error(tmp_path)
    assert message.startswith(f"{path}: line 6: ")
    assert "already used in a.toml line 1" in message


ENTITY_OK = """\
[[entity]]
id = "ok"
name = "Fine"
kind = "group"
"""

# (id, second entity's body, key named, expected problem text)
ENTITY_ERRORS = [
    (
        "bad-id-chars",
        'id = "Bad ID!"\nname = "X"\nkind = "group"',
        "id",
        "'Bad ID!' is not a valid id",
    ),
    ("upper-case-id", 'id = "ISKP"\nname = "X"\nkind = "group"', "id", "is not a valid id"),
    ("missing-id", 'name = "X"\nkind = "group"', "id", "is missing"),
    ("missing-name", 'id = "x"\nkind = "group"', "name", "is missing"),
    ("missing-kind", 'id = "x"\nname = "X"', "kind", "is missing"),
    ("blank-name", 'id = "x"\nname = "  "\nkind = "group"', "name", "expected a non-empty string"),
    (
        "name-no-letters",
        'id = "x"\nname = "--"\nkind = "group"',
        "name",
        "has no letters or digits",
    ),
    ("name-not-string", 'id = "x"\nname = 5\nkind = "group"', "name", "found 5"),
    ("unknown-key", 'id = "x"\nname = "X"\nkind = "group"\nalias = ["Y"]', "alias", "unknown key"),
    (
        "severity",
        'id = "x"\nname = "X"\nkind = "group"\nseverity = "critical"',
        "severity",
        "unknown severity 'critical'",
    ),
    (
        "aliases-not-list",
        'id = "x"\nname = "X"\nkind = "group"\naliases = "Y"',
        "aliases",
        "expected a list of strings",
    ),
    (
        "empty-alias",
        'id = "x"\nname = "X"\nkind = "group"\naliases = ["Y", ""]',
        "aliases[1]",
        "expected a non-empty string, found ''",
    ),
    (
        "alias-not-string",
        'id = "x"\nname = "X"\nkind = "group"\naliases = [3]',
        "aliases[0]",
        "expected a non-empty string, found 3",
    ),
    (
        "alias-no-letters",
        'id = "x"\nname = "X"\nkind = "group"\naliases = ["---"]',
        "aliases[0]",
        "has no letters or digits",
    ),
    (
        "exclude-not-list",
        'id = "x"\nname = "X"\nkind = "group"\nexclude = "Y"',
        "exclude",
        "expected a list of strings",
    ),
]


@pytest.mark.parametrize(
    ("body", "key", "problem"),
    [pytest.param(body, key, problem, id=name) for name, body, key, problem in ENTITY_ERRORS],
)
def test_entity_error_names_file_line_and_key(tmp_path, body, key, problem):
    path = write(tmp_path, "groups.toml", ENTITY_OK + "[[entity]]\n" + body + "\n")
    message = load_error(tmp_path)
    assert message.startswith(f"{path}: line 5 (entity #2), key {key!r}: ")
    assert problem in message


def test_error_fix_hints(tmp_path):
    write(tmp_path, "a.toml", '[[entity]]\nid = "Bad"\nname = "X"\nkind = "group"\n')
    assert "use lower-case letters, digits, - and _" in load_error(tmp_path)
    write(tmp_path, "a.toml", '[[entity]]\nid = "x"\nkind = "group"\n')
    assert 'add name = "..."' in load_error(tmp_path)
    write(tmp_path, "a.toml", '[[entity]]\nid = "x"\nname = "X"\nkind = "g"\nseverity = "max"\n')
    assert "use low, medium or high" in load_error(tmp_path)
    write(tmp_path, "a.toml", '[[entity]]\nid = "x"\nname = "X"\nkind = "g"\nfoo = 1\n')
    assert "use only id, name, kind, aliases, exclude, severity" in load_error(tmp_path)


def test_line_numbers_after_blank_lines(tmp_path):
    path = write(tmp_path, "a.toml", ENTITY_OK + "\n\n[[entity]]\nid = 'x'\nname = 'X'\n")
    message = load_error(tmp_path)
    assert message.startswith(f"{path}: line 7 (entity #2), key 'kind': ")


def test_toml_syntax_error(tmp_path):
    path = write(tmp_path, "a.toml", '[[entity]]\nid = "x"\nname = "X\nkind = "group"\n')
    message = load_error(tmp_path)
    assert message.startswith(f"{path}: invalid TOML")
    assert "line 3" in message
    assert "fix the syntax" in message


def test_unknown_top_level_key(tmp_path):
    path = write(tmp_path, "a.toml", "version = 2\n\n" + ENTITY_OK)
    message = load_error(tmp_path)
    assert message.startswith(f"{path}: key 'version': unknown top-level key")
    assert "only [[entity]] tables" in message


def test_single_table_instead_of_array(tmp_path):
    path = write(tmp_path, "a.toml", '[entity]\nid = "x"\nname = "X"\nkind = "group"\n')
    message = load_error(tmp_path)
    assert message.startswith(f"{path}: entity: ")
    assert "must be [[entity]] tables, not [entity]" in message


def test_empty_directory(tmp_path):
    (tmp_path / "notes.txt").write_text("no toml here", encoding="utf-8")
    message = load_error(tmp_path)
    assert message.startswith(str(tmp_path))
    assert "no watchlist files (*.toml)" in message
    assert "[[entity]]" in message


def test_missing_directory(tmp_path):
    missing = tmp_path / "nope"
    message = load_error(missing)
    assert message.startswith(str(missing))
    assert "watchlist directory not found" in message
    assert "bot.watchlists" in message


def test_files_without_entities(tmp_path):
    write(tmp_path, "a.toml", "# nothing yet\n")
    message = load_error(tmp_path)
    assert message.startswith(str(tmp_path))
    assert "define no entity" in message


def test_non_utf8_file(tmp_path):
    path = tmp_path / "a.toml"
    path.write_bytes(b'[[entity]]\nid = "x"\nname = "caf\xe9"\nkind = "group"\n')
    message = load_error(tmp_path)
    assert message.startswith(str(path))
    assert "UTF-8" in message


# -- merge_chat_terms -----------------------------------------------------------------

BASE = [
    Entity("iskp", "Islamic State Khorasan Province", "group", ("ISKP",)),
    Entity("kunar", "Kunar", "region"),
]


def test_chat_term_adds_alias_to_existing_entity():
    merged = merge_chat_terms(BASE, [ChatTerm("iskp", "ISIS-K")])
    assert [e.id for e in merged] == ["iskp", "kunar"]
    assert merged[0].aliases == ("ISKP", "ISIS-K")
    assert merged[0].kind == "group"  # the chat term's kind does not override
    assert BASE[0].aliases == ("ISKP",)  # inputs are not mutated


def test_chat_term_creates_new_entity():
    merged = merge_chat_terms(BASE, [ChatTerm("cpec", "CPEC", kind="project")])
    assert [e.id for e in merged] == ["iskp", "kunar", "cpec"]
    assert merged[-1] == Entity("cpec", "CPEC", "project", source="chat")
    assert merge_chat_terms(BASE, [ChatTerm("x", "X")])[-1].kind == "topic"


def test_chat_terms_ignore_duplicates():
    terms = [
        ChatTerm("iskp", "ISKP"),  # already an alias
        ChatTerm("kunar", "Kunar"),  # the name
        ChatTerm("kunar", "Konar"),
        ChatTerm("kunar", "Konar"),  # repeated
        ChatTerm("cpec", "CPEC"),
        ChatTerm("cpec", "CPEC"),  # repeated new entity
        ChatTerm("cpec", "China-Pakistan Economic Corridor"),
    ]
    merged = merge_chat_terms(BASE, terms)
    assert [e.id for e in merged] == ["iskp", "kunar", "cpec"]
    assert merged[0] == BASE[0]
    assert merged[1].aliases == ("Konar",)
    assert merged[2].all_aliases == ("CPEC", "China-Pakistan Economic Corridor")


def test_no_chat_terms_is_identity():
    assert merge_chat_terms(BASE, []) == BASE


# -- the shipped watchlists -------------------------------------------------------------


def test_shipped_watchlists_load():
    entities = load_watchlists(SHIPPED_WATCHLISTS)
    ids = [e.id for e in entities]
    assert len(ids) == len(set(ids))
    assert len(entities) > 20
    assert {e.kind for e in entities} <= {"group", "region", "person"}
    for e in entities:
        assert e.source, e.id


def test_shipped_watchlists_share_no_alias_between_entities():
    """The watchlist convention: no alias may appear in two entities."""
    owners: dict[str, set[str]] = {}
    for e in load_watchlists(SHIPPED_WATCHLISTS):
        for alias in e.all_aliases:
            owners.setdefault(fold(alias), set()).add(e.id)
    shared = {alias: ids for alias, ids in owners.items() if len(ids) > 1}
    assert not shared
