"""Themes: templates and static files. `themes/default` is the base every theme overrides."""
