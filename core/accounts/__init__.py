"""Logins, roles, sessions and API tokens."""
