"""Chat platforms: adapters behind the Sink port in base.py.

The core only knows `Sink`; each platform module owns its formatting, its
limits and its error mapping. Built-in sinks: console and jsonl.
"""
