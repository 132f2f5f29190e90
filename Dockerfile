# syntax=docker/dockerfile:1
# newswatch-bot container image (README → Operations → Container).
#   docker build -t newswatch-bot .
#   docker compose -f deploy/compose.yml up -d
# The image installs exactly the versions in requirements.lock, the file CI
# installs and tests with; nothing else from the network reaches the final stage.

# --- builder: a wheel for every locked dependency, and the bot's own (compiled) --
FROM python:3.11-slim-bookworm AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY requirements.lock ./
RUN pip wheel --no-deps --wheel-dir /wheels -r requirements.lock
# The bot's wheel compiles the matcher with mypyc (setup.py): a C compiler here,
# in the builder only (the final stage gets the wheel, never the compiler). The
# Python headers come with the python image. NEWSWATCH_REQUIRE_COMPILED=1: a
# matcher that does not compile fails the image build rather than shipping the
# slower pure-Python one.
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*
COPY pyproject.toml setup.py README.md ./
COPY bot ./bot
RUN NEWSWATCH_REQUIRE_COMPILED=1 pip wheel --no-deps --wheel-dir /wheels .

# --- final: slim Python (no compilers), only the wheels, a non-root user ------
FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
# The wheels are bind-mounted, not copied, so no layer keeps them. --no-deps:
# the lock is complete, and `pip check` proves it.
RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    pip install --no-index --no-deps /wheels/*.whl && pip check
RUN useradd --system --uid 10001 --user-group --no-create-home \
        --shell /usr/sbin/nologin newswatch \
    && mkdir -p /data \
    && chown newswatch:newswatch /data
# The default config and what it names, owned by root: the bot only reads them.
# Mount your own over /config (read-only); relative paths in it resolve there.
COPY deploy/bot.toml /config/bot.toml
COPY watchlists /config/watchlists
COPY examples/feeds /config/examples/feeds
# The database (and its lock file) lives on the volume. Tokens come only from
# the environment (docker run --env-file, compose env_file), never from a file.
VOLUME ["/data"]
# /config as the working directory: `docker compose exec bot python -m bot check`
# finds bot.toml without --config.
WORKDIR /config
USER newswatch
HEALTHCHECK --interval=1m --timeout=20s --start-period=3m --retries=3 \
    CMD ["python", "-m", "bot", "health", "--config", "/config/bot.toml"]
ENTRYPOINT ["python", "-m", "bot"]
CMD ["run", "--config", "/config/bot.toml"]
