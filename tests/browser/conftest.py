"""Browser tests: Debian's Chromium driven by Playwright (never a downloaded browser), against a
real `groundswell serve` on loopback, at a phone's size on a slow connection."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.processes import REQUIRE_SERVICES, Instance, Server

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
}
SCREENSHOTS = Path(__file__).resolve().parent.parent.parent / ".screenshots"


@pytest.fixture(scope="session", autouse=True)
def _schema() -> None:
    """Browser tests drive their own `groundswell serve`; the session database is not used."""


@pytest.fixture(autouse=True)
def _clean() -> None:
    """(See _schema.) Playwright's sync API runs an event loop in this thread, so the async
    fixtures of the other tests must not run here."""


@pytest.fixture(scope="module")
def chromium():
    """Module-scoped: while Playwright's loop runs in this thread, async tests cannot."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed (pip install -e '.[test]')")
    if not Path(CHROMIUM).exists():
        if REQUIRE_SERVICES:
            pytest.fail("Debian's chromium is required: apt-get install chromium")
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def live(tmp_path) -> Iterator[tuple[Instance, Server]]:
    """A fresh instance served on a free loopback port."""
    instance = Instance.create(tmp_path / "instance")
    with instance.serve() as server:
        yield instance, server


@pytest.fixture
def phone(chromium):
    """A new browser context sized like a phone; every page in it is slowed to 3G-ish speed."""
    context = chromium.new_context(**PHONE)
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send(
        "Network.emulateNetworkConditions",
        {
            "offline": False,
            "latency": 150,
            "downloadThroughput": 1_600_000 / 8,
            "uploadThroughput": 750_000 / 8,
        },
    )
    yield page
    context.close()


def screenshot(page, name: str) -> Path:
    """Keep a picture of what a person saw (in .screenshots/, ignored by git)."""
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
