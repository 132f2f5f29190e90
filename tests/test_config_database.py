"""`[bot] database`: a SQLite path or a PostgreSQL URL, and a password never shown."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.config import database_label, is_postgres, load_config
from bot.config_values import postgres_url_problem
from bot.errors import ConfigError
from bot.redact import REDACTED, prescan_config, redact_url, url_password

ROOT = Path(__file__).resolve().parent.parent


def config_with(tmp_path: Path, database: str) -> Path:
    path = tmp_path / "bot.toml"
    path.write_text(
        f'[bot]\ndatabase = "{database}"\n[[channels]]\nplatform = "console"\n', encoding="utf-8"
    )
    return path


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://newswatch@db.internal:5432/newswatch",
        "postgres://newswatch@db.internal/newswatch",
        "postgresql://newswatch:s3cret@127.0.0.1:6543/news",
        "POSTGRESQL://newswatch@[::1]:5432/news",
        "postgresql:///news?host=/run/postgresql",
        "postgresql://db/news?sslmode=require",
    ],
)
def test_a_postgres_url_is_kept_as_the_url(tmp_path: Path, url: str) -> None:
    settings = load_config(config_with(tmp_path, url))
    assert settings.bot.database == url
    assert is_postgres(settings.bot.database)


def test_a_path_stays_a_sqlite_path_relative_to_the_config(tmp_path: Path) -> None:
    settings = load_config(config_with(tmp_path, "state/news.sqlite3"))
    assert settings.bot.database == tmp_path.resolve() / "state" / "news.sqlite3"
    assert not is_postgres(settings.bot.database)
    # A str is always a URL in settings; a path-like str is not mistaken for one.
    assert not is_postgres("data/postgresql.sqlite3")


@pytest.mark.parametrize(
    ("url", "problem", "fix"),
    [
        ("postgresql://db.internal", "names no database", "/DBNAME"),
        ("postgresql://db.internal/", "names no database", "/DBNAME"),
        ("postgresql://db.internal/a/b", "is not a database name", "/DBNAME"),
        ("postgresql:///news", "names no server", "postgresql://USER@HOST:PORT/DBNAME"),
        ("postgresql://db:port/news", "is not a valid URL", "postgresql://USER@HOST"),
        ("postgresql://db:70000/news", "is not a valid URL", "postgresql://USER@HOST"),
        ("postgresql://db:0/news", "has no valid port", "1 to 65535"),
        ("postgresql://[::1/news", "is not a valid URL", "postgresql://USER@HOST"),
        ("postgresql://db/news#x", "has a #fragment", "%23"),
        ("postgresql://db/news?sslmode", "is not a valid URL", "postgresql://USER@HOST"),
        ("mysql://db/news", "mysql:// is not a database this bot supports", "SQLite file path"),
        ("postgresql://u:pass word@db/news", "contains a space", "%20"),
    ],
)
def test_a_malformed_url_names_bot_database_and_the_fix(
    tmp_path: Path, url: str, problem: str, fix: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(config_with(tmp_path, url))
    error = caught.value
    assert error.where == "bot.database"
    assert problem in error.problem
    assert fix in error.fix


def test_the_password_of_a_bad_url_is_not_in_the_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(config_with(tmp_path, "postgresql://newswatch:hunter2-secret@db:99999/n"))
    assert "hunter2-secret" not in str(caught.value)
    assert REDACTED in str(caught.value)


def test_database_label_hides_the_password() -> None:
    assert database_label("postgresql://u:hunter2@db/news") == f"postgresql://u:{REDACTED}@db/news"
    assert database_label("postgresql://db/news?password=pw&sslmode=require") == (
        f"postgresql://db/news?password={REDACTED}&sslmode=require"
    )
    assert database_label("postgresql://u@db/news") == "postgresql://u@db/news"
    assert database_label(Path("/data/news.sqlite3")) == "/data/news.sqlite3"


def test_prescan_collects_the_url_password_for_redaction(tmp_path: Path) -> None:
    scan = prescan_config(config_with(tmp_path, "postgresql://u:p%40ssword@db/news"))
    assert scan.secret_values == ("p@ssword",)
    assert "PGPASSWORD" in scan.secret_envs


def test_no_command_prints_the_url_password(tmp_path: Path) -> None:
    """A bad watchlists path makes `check` fail after reading the database URL: the output
    names the database without the password, and the password never appears."""
    config = tmp_path / "bot.toml"
    config.write_text(
        '[bot]\ndatabase = "postgresql://u:pw-in-the-url@127.0.0.1:1/news"\n'
        'watchlists = "missing"\n[[channels]]\nplatform = "console"\n',
        encoding="utf-8",
    )
    env = {**os.environ, "PGPASSWORD": "pw-from-the-env"}
    for command in ("check", "health", "backup"):
        extra = [str(tmp_path / "b.sqlite3")] if command == "backup" else []
        ran = subprocess.run(
            [sys.executable, "-m", "bot", command, "--config", str(config), *extra],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        output = ran.stdout + ran.stderr
        assert "pw-in-the-url" not in output and "pw-from-the-env" not in output, output


# -- properties of the URL rules ---------------------------------------------------------

_name = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=12)
_host = st.from_regex(r"[a-z][a-z0-9-]{0,10}(\.[a-z]{2,5})?", fullmatch=True)


@given(
    user=_name,
    password=_name,
    host=_host,
    port=st.integers(1, 65535),
    dbname=st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,15}", fullmatch=True),
    scheme=st.sampled_from(["postgresql", "postgres"]),
)
def test_every_well_formed_url_is_accepted_and_its_password_hidden(
    user: str, password: str, host: str, port: int, dbname: str, scheme: str
) -> None:
    url = f"{scheme}://{quote(user, safe='')}:{quote(password, safe='')}@{host}:{port}/{dbname}"
    assert postgres_url_problem(url) is None
    assert is_postgres(url)
    assert url_password(url) == password
    user_part = quote(user, safe="")
    assert redact_url(url) == f"{scheme}://{user_part}:{REDACTED}@{host}:{port}/{dbname}"


@given(st.text(max_size=60))
def test_any_text_gets_an_answer_never_an_exception(text: str) -> None:
    """Whatever is written after the scheme, the rules answer (problem, fix) or None."""
    answer = postgres_url_problem("postgresql://" + text)
    assert answer is None or (isinstance(answer[0], str) and answer[1])
    redact_url("postgresql://" + text)  # never raises either
