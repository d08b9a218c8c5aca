"""A plugin whose migration fails: the instance must start without it."""
