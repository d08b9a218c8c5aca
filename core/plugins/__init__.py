"""The plugin host: finding, checking, configuring and wiring plugins into an instance.

Plugins never import from here; their one surface is `core.plugin_api`. This package is the
machinery behind it: `host` (discovery and status), `config`, `migrations`, `events`,
`web` (routes, templates, navigation, action panels), `scaffold` and `testing`.
"""
