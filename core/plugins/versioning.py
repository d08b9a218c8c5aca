"""The plugin API's version, and whether a plugin's requirement is met.

Policy (docs/plugins.md): API_VERSION is MAJOR.MINOR. Additions bump the minor; a removal or
an incompatible change bumps the major, after at least one minor release in which the old way
still works and logs a deprecation warning. A plugin declares the version it was written for
("1.0"): it loads on any API with the same major and at least that minor.
"""

from __future__ import annotations

import re

API_VERSION = "1.2"

_VERSION = re.compile(r"^(\d+)\.(\d+)$")


def parse_api_version(text: str) -> tuple[int, int]:
    match = _VERSION.match(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"requires_api must look like '1.0' (MAJOR.MINOR), got {text!r}")
    return int(match.group(1)), int(match.group(2))


def incompatibility(requires: str, provided: str = API_VERSION) -> str | None:
    """Why a plugin needing `requires` cannot run on `provided`, or None if it can."""
    need_major, need_minor = parse_api_version(requires)
    have_major, have_minor = parse_api_version(provided)
    if need_major != have_major:
        hint = (
            "upgrade Groundswell"
            if need_major > have_major
            else f"install a release of the plugin written for plugin API {have_major}.x"
        )
        return f"needs plugin API {requires}, but this Groundswell provides {provided}: {hint}"
    if need_minor > have_minor:
        return f"needs plugin API {requires}, but this Groundswell provides {provided}: upgrade Groundswell"
    return None
