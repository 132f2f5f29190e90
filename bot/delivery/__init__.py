"""Delivery: which channels want an alert (routing), the flood cap (flood), and the
durable outbox that posts each alert once, in order, per channel (outbox)."""
