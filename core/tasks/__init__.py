"""Background work: Dramatiq actors that drain the durable outbox.

The broker carries only wake-up calls ("work on topic X"); the outbox table is the truth.
With no broker configured, the same Dramatiq worker runs inside the web process.
"""
