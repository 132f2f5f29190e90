"""The container image, its lock file and the compose example, tested without Docker.

No Docker engine runs on the project's machines, so these read the Dockerfile,
.dockerignore, requirements.lock and deploy/compose.yml statically, and start
the bot on the image's layout rebuilt in a temporary folder from the
Dockerfile's own COPY lines. Installing the lock into a clean virtualenv needs
the package index, so .ci/run does it (tests never leave 127.0.0.1).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from tests.dockerfile import (
    DockerIgnore,
    copies,
    exec_form,
    healthcheck_command,
    run_mounts,
    stages,
)

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = (ROOT / "Dockerfile").read_text(encoding="utf-8")
STAGES = stages(DOCKERFILE)
FINAL = STAGES[-1]
IGNORE = DockerIgnore.parse((ROOT / ".dockerignore").read_text(encoding="utf-8"))
LOCK = ROOT / "requirements.lock"
TOKEN_VARS = ("DISCORD_TOKEN", "SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET")
#: Full `python:` images carry compilers; only these variants are small and compiler-free.
SLIM_TAG = re.compile(r"(^|[-:])(slim|alpine)\b|distroless")
COMPILERS = ("gcc", "g++", "clang", "build-essential", "make ", "cc ", "python3-dev")


def _normalise(name: str) -> str:
    """PEP 503 name normalisation: discord.py = discord-py = Discord_Py."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _tracked(path: str) -> list[str]:
    """The files at or under `path` that git tracks or would track: what a checkout holds."""
    done = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "--", path],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.split()


# -- the Dockerfile ------------------------------------------------------------------------


def test_every_path_the_dockerfile_copies_exists_and_reaches_the_build_context() -> None:
    context_copies = [c for s in STAGES for c in copies(s) if c.from_stage is None]
    assert context_copies, "the Dockerfile copies nothing from the repository"
    for copy in context_copies:
        for source in copy.sources:
            assert (ROOT / source).exists(), f"Dockerfile line {copy.line}: {source} is missing"
            rule = IGNORE.excluding_rule(source)
            assert rule is None, f"Dockerfile line {copy.line}: {source} is excluded by {rule!r}"
            files = _tracked(source)
            assert files, f"Dockerfile line {copy.line}: git tracks nothing at {source}"
            for tracked in files:
                rule = IGNORE.excluding_rule(tracked)
                assert rule is None, f"{tracked} (COPY {source}) is excluded by {rule!r}"


def test_dockerignore_keeps_out_history_environments_and_databases_but_not_the_lock() -> None:
    for path in (".git/HEAD", ".venv/bin/python", "data/newswatch.sqlite3", "x.sqlite3-wal"):
        assert IGNORE.excluding_rule(path), f".dockerignore lets {path} into the build"
    for path in ("bot/__pycache__/app.cpython-311.pyc", "deploy/bot.env", ".pytest_cache/x"):
        assert IGNORE.excluding_rule(path), f".dockerignore lets {path} into the build"
    assert IGNORE.excluding_rule("requirements.lock") is None


def test_the_image_is_multi_stage_and_the_final_stage_is_slim_without_compilers() -> None:
    assert len(STAGES) >= 2, "build the wheels in a stage of their own"
    assert SLIM_TAG.search(FINAL.base), f"final base {FINAL.base} is not slim/alpine/distroless"
    for ins in FINAL.all("RUN"):
        for compiler in COMPILERS:
            assert compiler not in ins.args + " ", f"line {ins.line} installs {compiler.strip()}"
    # What reaches the final stage from the builder is only wheels.
    from_builder = [c for c in copies(FINAL) if c.from_stage is not None]
    from_builder_mounts = [m for m in run_mounts(FINAL) if "from" in m]
    assert from_builder or from_builder_mounts, "the final stage takes nothing from the builder"
    for mount in from_builder_mounts:
        assert mount["source"] == "/wheels", mount
    for copy in from_builder:
        assert copy.sources == ("/wheels",), copy


def test_the_final_stage_installs_only_the_locked_wheels_and_no_test_dependencies() -> None:
    installs = [i for i in FINAL.all("RUN") if "pip install" in i.args]
    assert len(installs) == 1, "one pip install, of the wheels"
    args = installs[0].args
    assert "--no-index" in args, "the final stage must not reach the index"
    assert "--no-deps" in args and "pip check" in args, args
    assert "[test]" not in DOCKERFILE and "pytest" not in DOCKERFILE
    builder = STAGES[0]
    wheel_steps = [i.args for i in builder.all("RUN") if "pip wheel" in i.args]
    assert any("-r requirements.lock" in step for step in wheel_steps), wheel_steps
    assert any("requirements.lock" in c.sources for c in copies(builder))


def test_the_final_stage_runs_the_bot_as_a_non_root_user_with_data_on_a_volume() -> None:
    users = FINAL.all("USER")
    assert users, "the final stage runs as root"
    user = users[-1].args.split(":")[0]
    assert user not in ("root", "0"), user
    volumes = " ".join(v.args for v in FINAL.all("VOLUME"))
    assert "/data" in volumes
    entry = exec_form(FINAL.all("ENTRYPOINT")[-1].args)
    cmd = exec_form(FINAL.all("CMD")[-1].args)
    assert entry == ["python", "-m", "bot"], entry
    assert cmd is not None and cmd[0] == "run" and "--config" in cmd, cmd


def test_the_healthcheck_runs_the_bots_health_command_on_the_image_config() -> None:
    command = healthcheck_command(FINAL)
    assert command == ["python", "-m", "bot", "health", "--config", _image_config()], command


def test_no_token_or_secret_is_baked_into_the_image() -> None:
    for ins in FINAL.instructions + STAGES[0].instructions:
        if ins.keyword in ("ENV", "ARG", "LABEL"):
            assert not re.search(r"TOKEN|SECRET|PASSWORD", ins.args, re.I), ins


def _image_config() -> str:
    """Where the image keeps its default config: the CMD's --config."""
    cmd = exec_form(FINAL.all("CMD")[-1].args) or []
    return cmd[cmd.index("--config") + 1]


# -- the entry point on the image's layout ---------------------------------------------------


def _image_layout(root: Path) -> Path:
    """The final stage's files from the build context, copied as the Dockerfile says
    under `root` (an absolute destination /x becomes root/x); returns the WORKDIR."""
    workdir = "/"
    for ins in FINAL.instructions:
        if ins.keyword == "WORKDIR":
            workdir = ins.args
    for copy in copies(FINAL):
        if copy.from_stage is not None:
            continue
        for source in copy.sources:
            target = root / copy.dest.lstrip("/")
            if copy.dest.endswith("/"):
                target = target / Path(source).name
            target.parent.mkdir(parents=True, exist_ok=True)
            if (ROOT / source).is_dir():
                shutil.copytree(ROOT / source, target)
            else:
                shutil.copy(ROOT / source, target)
    return root / workdir.lstrip("/")


def _bot(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in TOKEN_VARS}
    env["PYTHONPATH"] = str(ROOT)  # the bot itself, as its wheel provides it in the image
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=90,
        env=env,
    )


def test_the_image_default_config_passes_check_with_the_paths_of_the_image(
    tmp_path: Path,
) -> None:
    workdir = _image_layout(tmp_path)
    config = tmp_path / _image_config().lstrip("/")
    settings = tomllib.loads(config.read_text(encoding="utf-8"))
    assert settings["bot"]["database"].startswith("/data/"), "the database belongs on the volume"
    # As `docker compose exec bot python -m bot check`: no --config, from the WORKDIR.
    done = _bot("check", cwd=workdir)
    assert done.returncode == 0, done.stderr
    assert "OK" in done.stdout
    assert config.samefile(workdir / "bot.toml")


def test_the_image_default_config_runs_a_poll_and_alerts(tmp_path: Path) -> None:
    """`once` on the image layout, with the /data volume at tmp_path/data."""
    workdir = _image_layout(tmp_path)
    config = tmp_path / _image_config().lstrip("/")
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace('"/data/', f'"{tmp_path}/data/'), encoding="utf-8")
    (tmp_path / "data").mkdir()
    done = _bot("once", "--config", str(config), cwd=workdir)
    assert done.returncode == 0, done.stderr
    assert "ISKP" in done.stdout or "Islamic State" in done.stdout, done.stdout[:2000]
    assert (tmp_path / "data" / "newswatch.sqlite3").is_file()


# -- the lock file -----------------------------------------------------------------------


def _lock_requirements() -> dict[str, str]:
    pinned: dict[str, str] = {}
    for number, raw in enumerate(LOCK.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line or line.startswith("--hash"):
            continue
        line = line.removesuffix("\\").strip()
        m = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)==([A-Za-z0-9.+!_-]+)", line)
        assert m, f"requirements.lock line {number}: {raw!r} is not pinned as name==version"
        pinned[_normalise(m.group(1))] = m.group(2)
    return pinned


def test_every_line_of_the_lock_is_pinned_and_it_covers_every_runtime_dependency() -> None:
    pinned = _lock_requirements()
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    for requirement in pyproject["project"]["dependencies"]:
        name = _normalise(re.split(r"[\s<>=!~;\[]", requirement, maxsplit=1)[0])
        assert name in pinned, f"{name} (pyproject.toml) is missing from requirements.lock"
    assert "prometheus-client" in pinned
    tests_only = {
        _normalise(r.split(">")[0]) for r in pyproject["project"]["optional-dependencies"]["test"]
    }
    assert not tests_only & set(pinned), "test dependencies must not be in the image's lock"


def test_the_lock_says_how_to_regenerate_it_and_the_readme_repeats_it() -> None:
    header = LOCK.read_text(encoding="utf-8").splitlines()[:3]
    command = next((line.strip("# ") for line in header if "compile" in line), "")
    assert command.startswith(("uv pip compile", "pip-compile")), header
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert command in readme, f"README does not give the regenerate command: {command}"


def test_the_builder_compiles_the_matcher_and_the_final_stage_gets_only_its_wheel() -> None:
    """setup.py compiles the matcher when a compiler is there: the builder has one, the
    final stage none, and a matcher that does not compile fails the image build."""
    builder = STAGES[0]
    assert any("gcc" in i.args for i in builder.all("RUN")), "the builder installs no compiler"
    assert any("setup.py" in c.sources for c in copies(builder))
    own = [i.args for i in builder.all("RUN") if "pip wheel" in i.args and " ." in i.args + " "]
    assert own and all("NEWSWATCH_REQUIRE_COMPILED=1" in step for step in own), own
    for path in (
        "bot/matching/normalize.cpython-311-x86_64-linux-gnu.so",
        "bot/matching/compiled_build.json",
    ):
        assert IGNORE.excluding_rule(path), f".dockerignore lets {path} into the build"


def test_ci_tests_exactly_the_locked_versions_with_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    install = next(line for line in ci.splitlines() if "pytest" in line and "pip install" in line)
    assert "-c requirements.lock" in install, install
    assert install.strip() in readme, "CI must run the README's test command verbatim"
    assert "mypy" in ci.split()


# -- compose ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "deploy" / "compose.yml").read_text(encoding="utf-8"))


def test_compose_has_the_volume_env_file_read_only_config_health_and_restart(
    compose: dict,
) -> None:
    (service,) = compose["services"].values()
    assert service["restart"] in ("unless-stopped", "always", "on-failure")
    assert (ROOT / "deploy" / service["build"]["context"] / "Dockerfile").is_file()
    env_files = [e["path"] if isinstance(e, dict) else e for e in service["env_file"]]
    assert env_files == ["bot.env"]
    assert (ROOT / "deploy" / "bot.env.example").is_file()
    assert IGNORE.excluding_rule("deploy/bot.env"), "the tokens file must stay out of the image"
    volumes = {v.split(":")[1]: v for v in service["volumes"]}
    assert volumes["/data"].split(":")[0] in compose["volumes"], "the database on a named volume"
    config_mount = volumes[_image_config()]
    assert config_mount.endswith(":ro"), config_mount
    for mount in service["volumes"]:
        source = mount.split(":")[0]
        if source.startswith("."):
            assert (ROOT / "deploy" / source).exists(), f"compose mounts {source}, which is missing"
    assert service["healthcheck"]["test"] == ["CMD", *(healthcheck_command(FINAL) or [])]
