"""Moderation and abuse defence: review queues, reports, blocks and rate limits."""
