"""The daily digest: what was seen in the last 24 hours, per channel, once a day."""
