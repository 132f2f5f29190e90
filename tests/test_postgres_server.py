"""The PostgreSQL test fixture itself: an unprivileged role, a fresh database per test."""

from __future__ import annotations

import asyncpg


async def test_the_bot_role_is_not_a_superuser_but_may_create_databases(postgres_url: str) -> None:
    con = await asyncpg.connect(postgres_url)
    try:
        row = await con.fetchrow(
            "SELECT rolsuper, rolcreatedb FROM pg_roles WHERE rolname = current_user"
        )
        assert (row["rolsuper"], row["rolcreatedb"]) == (False, True)
        await con.execute("CREATE TABLE leftover (x int)")
    finally:
        await con.close()


async def test_each_test_gets_an_empty_database(postgres_url: str) -> None:
    con = await asyncpg.connect(postgres_url)
    try:
        tables = await con.fetchval(
            "SELECT count(*) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', "
            "'information_schema')"
        )
        assert tables == 0
        assert await con.fetchval("SELECT current_database()") != "postgres"
    finally:
        await con.close()
