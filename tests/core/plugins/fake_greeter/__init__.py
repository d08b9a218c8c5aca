"""A small plugin for the host's tests: one of everything a plugin can declare. It imports
only core.plugin_api, like any plugin (test_import_rule checks it)."""
