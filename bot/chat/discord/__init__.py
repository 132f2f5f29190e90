"""The Discord adapter: alerts as embeds (render.py), delivery (sink.py), slash commands."""
