"""Groundswell core: one instance of the platform."""

import os

# Piccolo locates its engine and apps through this module; set it before any table is used.
os.environ.setdefault("PICCOLO_CONF", "core.piccolo_conf")
