"""Events: rallies, house parties, petition deliveries and meetings that members host and RSVP to.

A first-party plugin built only on `core.plugin_api`; its declaration is `plugins.events.plugin.PLUGIN`.
"""
