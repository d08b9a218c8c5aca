"""The plugin API stays documented, and plugins stay on it."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import core.plugin_api as api
from core.plugins.declaration import EVENTS, Plugin
from core.plugins.import_rule import assert_only_plugin_api, forbidden_imports

ROOT = Path(__file__).resolve().parents[3]
GUIDE = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")


def test_every_name_in_the_plugin_api_is_documented():
    missing = [name for name in api.__all__ if f"`{name}" not in GUIDE]
    assert not missing, f"document these in docs/plugins.md: {missing}"


def test_every_name_the_plugin_api_exports_exists():
    assert all(hasattr(api, name) for name in api.__all__)


def test_every_plugin_field_is_documented():
    missing = [f.name for f in dataclasses.fields(Plugin) if f"`{f.name}`" not in GUIDE]
    assert not missing, f"document these Plugin fields in docs/plugins.md: {missing}"


def test_every_core_event_is_documented_with_its_payload_keys():
    for event, keys in EVENTS.items():
        row = next((line for line in GUIDE.splitlines() if line.startswith(f"| `{event}` |")), None)
        assert row is not None, f"docs/plugins.md has no row for {event}"
        for key in keys:
            assert f"`{key}`" in row, f"{event}: payload key {key} is not documented"


def test_the_import_rule_finds_imports_of_core_beyond_the_plugin_api(tmp_path):
    package = tmp_path / "sneaky"
    package.mkdir()
    (package / "__init__.py").write_text("from core.plugin_api import Plugin\nimport core.plugin_api\n")
    (package / "deep.py").write_text(
        "import json\nfrom core import plugin_api\nfrom core.petitions.service import close_petition\n"
        "def later():\n    import core.db\n    from core import settings\n"
    )
    assert forbidden_imports(package) == [
        "sneaky/deep.py:3: imports core.petitions.service",
        "sneaky/deep.py:5: imports core.db",
        "sneaky/deep.py:6: imports core.settings",
    ]


def test_the_test_plugin_and_the_scaffold_keep_to_the_plugin_api():
    assert_only_plugin_api("tests.core.plugins.fake_greeter")


def test_first_party_plugins_are_held_to_the_rule_by_import_linter():
    config = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert 'source_modules = ["plugins"]' in config
    assert 'ignore_imports = ["plugins.** -> core.plugin_api"]' in config
