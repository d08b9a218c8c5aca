"""`groundswell plugins new` makes a package that installs through real entry points, loads,
migrates, serves its page and runs its task — proven by the package's own tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from core.cli.main import cli
from core.plugin_api import API_VERSION
from core.plugins.import_rule import forbidden_imports
from core.plugins.scaffold import new_plugin
from tests.support.processes import base_environment, groundswell_command

pytestmark = pytest.mark.slow


def test_the_scaffolded_plugin_installs_and_its_own_tests_pass(tmp_path):
    package = new_plugin("petition_notes", tmp_path)
    assert package == tmp_path / "groundswell-petition-notes"
    assert forbidden_imports(package / "groundswell_petition_notes") == []
    site = tmp_path / "site"
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--target", str(site), str(package)],
        capture_output=True, text=True, cwd=tmp_path, timeout=300,
    )  # fmt: skip
    assert install.returncode == 0, install.stderr
    assert list(site.glob("groundswell_petition_notes-0.1.0.dist-info"))
    assert (site / "groundswell_petition_notes" / "templates" / "petition_notes" / "index.html").is_file()

    env = {**base_environment(), "PYTHONPATH": str(site)}
    if os.environ.get("GROUNDSWELL_TEST_DATABASE_URL"):
        env["GROUNDSWELL_TEST_DATABASE_URL"] = os.environ["GROUNDSWELL_TEST_DATABASE_URL"]
    # The package's tests, run from its directory against the installed copy (not the source).
    (package / "groundswell_petition_notes").rename(package / "source_moved_away")
    tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        capture_output=True, text=True, cwd=package, env=env, timeout=300,
    )  # fmt: skip
    assert tests.returncode == 0, tests.stdout[-4000:] + tests.stderr[-2000:]
    assert "3 passed" in tests.stdout

    # The real entry point, seen by the CLI of an instance that has the package installed.
    data_dir = tmp_path / "instance"
    instance_env = {**env, "GROUNDSWELL_DATA_DIR": str(data_dir)}
    migrated = subprocess.run(
        [*groundswell_command(), "migrate"], capture_output=True, text=True, env=instance_env, timeout=120
    )
    assert migrated.returncode == 0, migrated.stderr
    assert "plugin petition_notes" in migrated.stdout
    listed = subprocess.run(
        [*groundswell_command(), "plugins", "list", "--json"],
        capture_output=True, text=True, env=instance_env, timeout=120,
    )  # fmt: skip
    assert listed.returncode == 0, listed.stderr
    [notes] = [p for p in json.loads(listed.stdout) if p["name"] == "petition_notes"]
    assert notes == {
        "name": "petition_notes",
        "version": "0.1.0",
        "requires_api": API_VERSION,  # a new plugin asks for the API it was made with
        "enabled": True,
        "status": "enabled",
        "reason": "",
        "distribution": "groundswell-petition-notes",
    }
    (data_dir / "plugins").mkdir()
    (data_dir / "plugins" / "petition_notes.json").write_text('{"heading": ""}')
    listed = subprocess.run(
        [*groundswell_command(), "plugins", "list"],
        capture_output=True,
        text=True,
        env=instance_env,
        timeout=120,
    )
    assert listed.returncode == 0, listed.stderr
    line = next(line for line in listed.stdout.splitlines() if line.startswith("petition_notes"))
    assert line.split()[:4] == ["petition_notes", "0.1.0", API_VERSION, "no"]
    assert "at heading: '' should be non-empty" in line


def test_plugins_new_refuses_a_bad_name_or_an_existing_directory_with_one_line(tmp_path):
    runner = CliRunner()
    result = runner.invoke(cli, ["plugins", "new", "Bad-Name", "--dir", str(tmp_path)])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "groundswell: error: 'Bad-Name' is not a plugin name: use 2-40 lowercase letters, digits or "
        "underscores, starting with a letter (e.g. petition_calls)"
    ]
    assert runner.invoke(cli, ["plugins", "new", "calls", "--dir", str(tmp_path)]).exit_code == 0
    result = runner.invoke(cli, ["plugins", "new", "calls", "--dir", str(tmp_path)])
    assert result.exit_code == 2
    assert result.output.strip() == (
        f"groundswell: error: {tmp_path / 'groundswell-calls'} already exists; choose another name or --dir"
    )
    made = Path(tmp_path / "groundswell-calls")
    assert (
        made / "groundswell_calls" / "piccolo_migrations" / "calls_2026_01_01t00_00_00_000000.py"
    ).is_file()
    assert 'calls = "groundswell_calls.plugin:PLUGIN"' in (made / "pyproject.toml").read_text()
