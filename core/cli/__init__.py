"""The `groundswell` command."""
