"""Running the bot for months: health and the status listener, backups, and moving
feed lists in and out (OPML)."""
