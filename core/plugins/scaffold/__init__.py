"""`groundswell plugins new NAME`: a separate, pip-installable plugin package that works
and is tested from its first minute (a table and its migration, a page, a background task,
a configuration schema, and a test using the fixtures core ships for plugin authors)."""

from __future__ import annotations

import keyword
from dataclasses import dataclass
from pathlib import Path

from core.plugins.declaration import NAME
from core.plugins.versioning import API_VERSION

TEMPLATES = Path(__file__).parent / "templates"


class ScaffoldError(ValueError):
    """The plugin cannot be created as asked; the message is one line saying why."""


@dataclass(frozen=True)
class Names:
    name: str  # the plugin's name: entry point, Piccolo app, URL space, table prefix

    @property
    def package(self) -> str:
        return f"groundswell_{self.name}"

    @property
    def distribution(self) -> str:
        return f"groundswell-{self.name.replace('_', '-')}"

    @property
    def title(self) -> str:
        return self.name.replace("_", " ").capitalize()

    def fill(self, text: str) -> str:
        for token, value in (
            ("__PACKAGE__", self.package),
            ("__DIST__", self.distribution),
            ("__TITLE__", self.title),
            ("__API__", API_VERSION),
            ("__NAME__", self.name),
        ):
            text = text.replace(token, value)
        return text


def check_name(name: str) -> Names:
    if not NAME.match(name) or keyword.iskeyword(name):
        raise ScaffoldError(
            f"{name!r} is not a plugin name: use 2-40 lowercase letters, digits or underscores, "
            "starting with a letter (e.g. petition_calls)"
        )
    return Names(name)


def new_plugin(name: str, parent: Path) -> Path:
    """Write the package `groundswell-<name>` into `parent` and return its directory."""
    names = check_name(name)
    target = parent / names.distribution
    if target.exists():
        raise ScaffoldError(f"{target} already exists; choose another name or --dir")
    if not parent.is_dir():
        raise ScaffoldError(f"{parent} is not a directory")
    for source in sorted(TEMPLATES.rglob("*.tmpl")):
        relative = names.fill(str(source.relative_to(TEMPLATES)).removesuffix(".tmpl"))
        destination = target / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        destination.write_text(names.fill(source.read_text(encoding="utf-8")), encoding="utf-8")
    return target
