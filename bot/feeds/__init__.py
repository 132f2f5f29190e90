"""Getting feeds: fetch (HTTP and local files), parse (worker processes), schedule (pure)."""
