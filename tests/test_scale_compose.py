"""The scaled-out compose example (deploy/compose.postgres.yml), read statically.

No Docker engine (nor the compose plugin) runs on the project's machines, so this
resolves the file the way `docker compose config` would for the parts that matter:
the bot service `extends` deploy/compose.yml's, mappings merge, volumes merge by
their target in the container, and healthcheck.test is replaced. Then it checks
what several replicas on one PostgreSQL need: the database service with a health
check and a named volume, replicas that start only once it is healthy, one config
for every replica that differs from the single-instance one only in where the
database is and where /healthz listens, and no password in any tracked file.
"""

from __future__ import annotations

import copy
import re
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.config import is_postgres, read_config
from tests.dockerfile import DockerIgnore

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
SCALED = DEPLOY / "compose.postgres.yml"
REPLACED = ("command", "entrypoint")  # compose replaces these instead of merging


def _merge(base: Any, override: Any, key: str = "") -> Any:
    """Compose's merge of an extending service over the one it extends (the parts used)."""
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for name, value in override.items():
            if name in merged and name not in REPLACED and name != "test":
                merged[name] = _merge(merged[name], value, name)
            else:
                merged[name] = copy.deepcopy(value)
        return merged
    if key == "volumes" and isinstance(base, list) and isinstance(override, list):
        by_target = {_target(v): v for v in base}
        by_target.update({_target(v): v for v in override})
        return list(by_target.values())
    if key == "env_file" and isinstance(base, list) and isinstance(override, list):
        return base + [e for e in override if e not in base]
    return copy.deepcopy(override)


def _target(volume: str | dict) -> str:
    return volume["target"] if isinstance(volume, dict) else volume.split(":")[1]


def _source(volume: str | dict) -> str:
    return volume["source"] if isinstance(volume, dict) else volume.split(":")[0]


@pytest.fixture(scope="module")
def scaled() -> dict:
    return yaml.safe_load(SCALED.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def bot(scaled: dict) -> dict:
    """The bot service as compose resolves it: deploy/compose.yml's, extended."""
    service = dict(scaled["services"]["bot"])
    extends = service.pop("extends")
    base_file = yaml.safe_load((DEPLOY / extends["file"]).read_text(encoding="utf-8"))
    resolved = _merge(base_file["services"][extends["service"]], service)
    assert isinstance(resolved, dict)
    return resolved


def _config_of(bot: dict) -> Path:
    mounts = {_target(v): _source(v) for v in bot["volumes"]}
    return DEPLOY / mounts["/config/bot.toml"]


def test_the_bot_extends_the_single_instance_service_and_runs_replicas(
    scaled: dict, bot: dict
) -> None:
    extends = scaled["services"]["bot"]["extends"]
    assert (DEPLOY / extends["file"]).is_file()
    assert "build" in bot and bot["restart"] == "unless-stopped" and bot["init"] is True
    assert bot["deploy"]["replicas"] >= 2, "the point is several instances"
    assert "container_name" not in bot, "replicas cannot share one container name"
    assert "ports" not in bot, "replicas cannot publish one host port"
    assert bot["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_postgres_has_a_health_check_a_named_volume_and_the_tested_version(
    scaled: dict, bot: dict
) -> None:
    pg = scaled["services"]["postgres"]
    assert re.fullmatch(r"postgres:15(\.\d+)?(-[a-z]+)?", pg["image"]), pg["image"]
    assert pg["restart"] == "unless-stopped"
    assert "pg_isready" in pg["healthcheck"]["test"]
    volumes = {_target(v): _source(v) for v in pg["volumes"]}
    assert volumes["/var/lib/postgresql/data"] in scaled["volumes"]
    # The role and database the bot's URL names are the ones the server creates.
    config = tomllib.loads(_config_of(bot).read_text(encoding="utf-8"))
    url = config["bot"]["database"]
    assert url == (
        f"postgresql://{pg['environment']['POSTGRES_USER']}@postgres:5432/"
        f"{pg['environment']['POSTGRES_DB']}"
    )


def test_every_named_volume_is_declared_and_every_bind_mount_exists(
    scaled: dict, bot: dict
) -> None:
    for service in (bot, scaled["services"]["postgres"]):
        for volume in service["volumes"]:
            source = _source(volume)
            if source.startswith("."):
                assert (DEPLOY / source).exists(), f"compose mounts {source}, which is missing"
            else:
                assert source in scaled["volumes"], f"volume {source} is not declared"


def test_the_password_comes_from_an_ignored_env_file_never_from_a_tracked_one(
    scaled: dict, bot: dict
) -> None:
    for service in (bot, scaled["services"]["postgres"]):
        files = [e["path"] if isinstance(e, dict) else e for e in service["env_file"]]
        assert "postgres.env" in files
    example = (DEPLOY / "postgres.env.example").read_text(encoding="utf-8")
    assert re.search(r"^POSTGRES_PASSWORD=", example, re.M)
    assert re.search(r"^PGPASSWORD=", example, re.M)
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", "deploy/postgres.env"], cwd=ROOT, check=False
    )
    assert ignored.returncode == 0, "deploy/postgres.env must be ignored by git"
    dockerignore = DockerIgnore.parse((ROOT / ".dockerignore").read_text(encoding="utf-8"))
    assert dockerignore.excluding_rule("deploy/postgres.env")
    for path in (SCALED, _config_of(bot)):
        text = path.read_text(encoding="utf-8")
        assert "POSTGRES_PASSWORD:" not in text and "PGPASSWORD=" not in text
        assert not re.search(r"postgres(ql)?://[^@/\s\"]*:[^@/\s\"]*@", text), path


def test_every_replica_reads_one_config_equal_to_the_single_instance_one_but_the_database(
    bot: dict,
) -> None:
    scaled_config = tomllib.loads(_config_of(bot).read_text(encoding="utf-8"))
    single = tomllib.loads((DEPLOY / "bot.toml").read_text(encoding="utf-8"))
    assert scaled_config["bot"].pop("database").startswith("postgresql://")
    listen = scaled_config["bot"].pop("listen")
    single["bot"].pop("database")
    assert scaled_config == single
    # The container's health check asks this replica's own /healthz.
    host, port = listen.rsplit(":", 1)
    assert host == "127.0.0.1"
    assert f"http://127.0.0.1:{port}/healthz" in " ".join(bot["healthcheck"]["test"])


def test_the_bot_reads_the_replicas_config_as_a_postgresql_deployment(bot: dict) -> None:
    """The settings the replicas get: PostgreSQL, /healthz on, and no other problem
    than the sample feed files, which exist in the image's /config, not beside it here."""
    report = read_config(_config_of(bot))
    others = [p for p in report.problems if not p.where.startswith("feeds[")]
    assert others == [], others
    assert is_postgres(report.settings.bot.database)
    assert report.settings.bot.listen == ("127.0.0.1", 9100)
