"""A small static reader for the Dockerfile and .dockerignore, for tests.

Docker cannot run on the project's machines (no daemon, hadolint absent), so
the container tests read the files the way `docker build` would: instructions
with their continuation lines joined, stages split at FROM, COPY sources and
destinations, exec-form (JSON) arguments, and .dockerignore's rules (patterns
anchored at the context root, `**` for any depth, `!` exceptions, last match
wins; a path is excluded when it or a folder above it matches).
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Instruction:
    keyword: str  # upper case: FROM, RUN, COPY, ...
    args: str  # the rest, continuation lines joined with a space
    line: int  # 1-based line of the keyword, for failure messages


@dataclass(slots=True)
class Stage:
    base: str  # the image after FROM
    name: str | None  # FROM … AS name
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]


@dataclass(frozen=True, slots=True)
class Copy:
    sources: tuple[str, ...]
    dest: str
    from_stage: str | None  # COPY --from=stage: not from the build context
    line: int


def instructions(text: str) -> list[Instruction]:
    """Every instruction, continuation lines (ending in a backslash) joined."""
    found: list[Instruction] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and (not line or line.startswith("#")):
            continue  # comments and blank lines inside a continuation are dropped
        if not pending:
            start = number
        if line.endswith("\\"):
            pending.append(line[:-1].strip())
            continue
        pending.append(line)
        joined = " ".join(part for part in pending if part)
        keyword, _, args = joined.partition(" ")
        found.append(Instruction(keyword.upper(), args.strip(), start))
        pending = []
    if pending:
        raise ValueError(f"line {start}: the file ends inside a continued instruction")
    return found


def stages(text: str) -> list[Stage]:
    """The build stages in order; instructions before the first FROM (ARG) are dropped."""
    result: list[Stage] = []
    for ins in instructions(text):
        if ins.keyword == "FROM":
            words = [w for w in ins.args.split() if not w.startswith("--platform")]
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else None
            result.append(Stage(words[0], name))
        elif result:
            result[-1].instructions.append(ins)
    return result


def _flags(args: str) -> tuple[dict[str, str], str]:
    """Leading --flag=value options of an instruction, and the rest."""
    flags: dict[str, str] = {}
    rest = args
    while rest.startswith("--"):
        word, _, rest = rest.partition(" ")
        key, _, value = word[2:].partition("=")
        flags[key] = value
        rest = rest.strip()
    return flags, rest


def exec_form(args: str) -> list[str] | None:
    """The JSON array of an exec-form instruction, or None for the shell form."""
    if not args.startswith("["):
        return None
    value = json.loads(args)
    assert isinstance(value, list) and all(isinstance(v, str) for v in value), args
    return value


def copies(stage: Stage) -> list[Copy]:
    """Each COPY/ADD of the stage with its sources and destination."""
    result: list[Copy] = []
    for ins in stage.instructions:
        if ins.keyword not in ("COPY", "ADD"):
            continue
        flags, rest = _flags(ins.args)
        words = exec_form(rest) or shlex.split(rest)
        result.append(Copy(tuple(words[:-1]), words[-1], flags.get("from"), ins.line))
    return result


def run_mounts(stage: Stage) -> list[dict[str, str]]:
    """The --mount options of the stage's RUN instructions, as key=value dicts."""
    mounts: list[dict[str, str]] = []
    for ins in stage.all("RUN"):
        flags, _ = _flags(ins.args)
        if "mount" in flags:
            mounts.append(dict(part.partition("=")[::2] for part in flags["mount"].split(",")))
    return mounts


def healthcheck_command(stage: Stage) -> list[str] | None:
    """The exec-form command of the stage's last HEALTHCHECK, or None."""
    checks = stage.all("HEALTHCHECK")
    if not checks:
        return None
    args = checks[-1].args
    while args.startswith("--"):
        args = args.partition(" ")[2].strip()
    keyword, _, command = args.partition(" ")
    assert keyword.upper() == "CMD", checks[-1]
    return exec_form(command.strip()) or ["/bin/sh", "-c", command.strip()]


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    """Docker's filepath.Match plus `**`, as a regex over a slash-separated path."""
    out = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
            continue
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            end = pattern.index("]", i)
            out.append(pattern[i : end + 1].replace("[!", "[^"))
            i = end
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out))


@dataclass(frozen=True, slots=True)
class DockerIgnore:
    rules: tuple[tuple[bool, re.Pattern[str], str], ...]  # (is an exception, regex, as written)

    @classmethod
    def parse(cls, text: str) -> DockerIgnore:
        rules = []
        for raw in text.splitlines():
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            negated = line.startswith("!")
            pattern = line.removeprefix("!").strip().strip("/")
            pattern = re.sub(r"/+", "/", pattern).removeprefix("./")
            rules.append((negated, _pattern_regex(pattern), line))
        return cls(tuple(rules))

    def excluding_rule(self, path: str) -> str | None:
        """The rule that keeps `path` (relative to the context) out, or None if it is sent."""
        parts = Path(path).as_posix().strip("/").split("/")
        candidates = ["/".join(parts[: n + 1]) for n in range(len(parts))]
        excluded_by: str | None = None
        for negated, regex, written in self.rules:
            if any(regex.fullmatch(c) for c in candidates):
                excluded_by = None if negated else written
        return excluded_by
