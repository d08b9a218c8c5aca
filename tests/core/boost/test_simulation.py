"""bench/boost_sim.py runs the real engine and reports what the docs quote."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_a_small_simulation_prints_its_figures_as_the_last_line(tmp_path):
    chart = tmp_path / "chart.svg"
    result = subprocess.run(
        [
            sys.executable,
            "bench/boost_sim.py",
            "--members",
            "5000",
            "--petitions",
            "12",
            "--seeds",
            "1",
            "--svg",
            str(chart),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert figures["bench"] == "boost_sim"
    assert (figures["members"], figures["petitions"], figures["days"]) == (5000, 12, 30)
    for name in ("engine", "fixed", "oracle"):
        assert {"signatures", "emails", "signatures_per_email"} <= figures[name].keys()
    assert figures["engine"]["emails"] == figures["oracle"]["emails"]
    assert 0 < figures["share_of_oracle"] <= 1.2
    assert figures["per_email_vs_fixed"] > 0
    assert chart.read_text().startswith("<svg")
