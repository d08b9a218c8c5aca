"""Plugins' background work: their outbox handlers and periodic jobs, and their event topics.

A plugin lists the modules whose import registers its handlers (`task_modules`); workers
import them only for plugins that run, after the broker is installed — a Dramatiq actor
declared at import time would otherwise bind to a default broker (see STYLE.md).
"""

from __future__ import annotations

import importlib

from core.plugins import host
from core.plugins.events import register_event_topics


def load_plugin_handlers() -> None:
    """Import each running plugin's task modules; a module that fails to import disables its
    plugin (with the reason) instead of stopping the worker."""
    for plugin in host.active_plugins():
        for module in plugin.task_modules:
            try:
                importlib.import_module(module)
            except Exception as exc:
                host.record_error(plugin.name, f"its task module {module} cannot be imported: {exc}")
                break
    register_event_topics(host.active_plugins())
