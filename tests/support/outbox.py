"""Waiting for background work in tests, without sleeping blindly: the same helper core ships
to plugin authors."""

from core.plugins.testing import wait_for_outbox

__all__ = ["wait_for_outbox"]
