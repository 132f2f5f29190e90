"""News-watch alert bot: feeds in, matched and deduplicated alerts out to chat."""

__version__ = "0.1.0"
