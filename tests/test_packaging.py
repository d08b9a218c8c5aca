"""`pip install .` must carry everything an instance needs at run time."""

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_wheel_contains_templates_static_files_and_migrations(tmp_path):
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--wheel-dir",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
        cwd=tmp_path,
    )
    [wheel] = tmp_path.glob("groundswell-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "themes/default/templates/base.html" in names
    assert "themes/default/static/site.css" in names
    assert any(n.startswith("core/piccolo_migrations/core_") for n in names)
    assert not any(n.startswith("tests/") for n in names)
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "groundswell = core.cli.main:main" in zipfile.ZipFile(wheel).read(entry_points).decode()
