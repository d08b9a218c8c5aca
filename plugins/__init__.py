"""First-party plugins. Each is a package that uses only `core.plugin_api` (DESIGN §6)."""
