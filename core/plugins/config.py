"""A plugin's configuration: `<data dir>/plugins/<name>.json`, checked against its schema.

A file rather than environment variables: configurations are nested JSON, the data dir is
already the instance's volume, and `GROUNDSWELL_*` names are checked strictly by
core.settings (a misspelt variable stops start-up). No file means `{}`, which the schema
may accept (every option has a default) or refuse (a required API key), naming what is missing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jsonschema
from jsonschema.exceptions import SchemaError, ValidationError


class PluginConfigError(ValueError):
    """The configuration cannot be used; the message is one line naming the file and path."""


def config_path(data_dir: Path, name: str) -> Path:
    return data_dir / "plugins" / f"{name}.json"


def _where(error: ValidationError) -> str:
    path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
    return path.lstrip(".") or "(top level)"


def load_config(data_dir: Path, name: str, schema: Mapping[str, Any] | None) -> dict[str, Any]:
    """The plugin's validated configuration; PluginConfigError says what to fix."""
    path = config_path(data_dir, name)
    config: Any = {}
    if path.is_file():
        try:
            config = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise PluginConfigError(f"{path} is not valid JSON: {exc}") from None
    if schema is None:
        if not isinstance(config, dict):
            raise PluginConfigError(f"{path} must hold a JSON object")
        return config
    try:
        validator_class = jsonschema.validators.validator_for(schema)
        validator_class.check_schema(schema)
    except SchemaError as exc:
        raise PluginConfigError(
            f"the plugin's config_schema is not a valid JSON Schema: {exc.message}"
        ) from None
    errors = sorted(validator_class(schema).iter_errors(config), key=lambda e: list(e.absolute_path))
    if errors:
        first = errors[0]
        source = str(path) if path.is_file() else f"{path} (absent, so {{}})"
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise PluginConfigError(f"config {source} at {_where(first)}: {first.message}{more}")
    return config
