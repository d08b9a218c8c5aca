"""Template lookup with theme override: a theme's template of the same name wins.

Search order: GROUNDSWELL_THEME_DIR/templates, then extra directories (plugins), then
themes/default/templates.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.template.config import TemplateConfig

import themes

DEFAULT_THEME = Path(themes.__file__).parent / "default"


def template_dirs(theme_dir: Path | None, extra: list[Path] | None = None) -> list[Path]:
    dirs = []
    if theme_dir is not None and (theme_dir / "templates").is_dir():
        dirs.append(theme_dir / "templates")
    dirs.extend(extra or [])
    dirs.append(DEFAULT_THEME / "templates")
    return dirs


def static_dirs(theme_dir: Path | None) -> list[Path]:
    dirs = []
    if theme_dir is not None and (theme_dir / "static").is_dir():
        dirs.append(theme_dir / "static")
    dirs.append(DEFAULT_THEME / "static")
    return dirs


def build_environment(dirs: list[Path], globals_: dict[str, Any]) -> Environment:
    env = Environment(
        loader=ChoiceLoader([FileSystemLoader(str(d)) for d in dirs]),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(globals_)
    return env


def template_config(environment: Environment) -> TemplateConfig:
    return TemplateConfig(instance=JinjaTemplateEngine.from_environment(environment))
