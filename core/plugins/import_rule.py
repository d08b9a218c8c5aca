"""The rule that keeps plugins upgradeable: from Groundswell they import `core.plugin_api` only.

Checked by reading each module's imports (ast), so it covers third-party plugins that
import-linter does not know about; `assert_only_plugin_api` is what a plugin's own test calls.
"""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

ALLOWED = "core.plugin_api"


def _package_dir(package: str | Path) -> Path:
    if isinstance(package, Path):
        return package
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ValueError(f"{package!r} is not an importable package")
    return Path(next(iter(spec.submodule_search_locations)))


def _is_forbidden(module: str) -> bool:
    return (module == "core" or module.startswith("core.")) and not (
        module == ALLOWED or module.startswith(ALLOWED + ".")
    )


def forbidden_imports(package: str | Path) -> list[str]:
    """Every import of core other than core.plugin_api in the package, as "file:line: name"."""
    root = _package_dir(package)
    found = []
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                if node.module == "core":
                    names = [f"core.{alias.name}" for alias in node.names]
                else:
                    names = [node.module]
            for name in names:
                if _is_forbidden(name):
                    found.append(f"{path.relative_to(root.parent)}:{node.lineno}: imports {name}")
    return found


def assert_only_plugin_api(package: str | Path) -> None:
    """Fail (AssertionError listing each offending line) if the package imports any part of
    core other than core.plugin_api."""
    found = forbidden_imports(package)
    assert not found, "plugins may import only core.plugin_api from Groundswell:\n" + "\n".join(found)
