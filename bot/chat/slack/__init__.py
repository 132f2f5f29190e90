"""The Slack adapter: Block Kit alerts (render.py), delivery and slash commands (sink.py)."""
