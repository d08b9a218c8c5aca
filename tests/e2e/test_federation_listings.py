"""Groups and public events across a federation on loopback: a hub and two instances, each
its own `groundswell serve` process with its own database and the events plugin enabled (as
by default), paired with the CLI. A group and a public event made on each instance's site,
and a group of the hub's own, appear in the hub's directory; cancelling an event there takes
it off the hub, and a private (unlisted) event never reaches it."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.e2e.federation_nodes import ADMIN, Node, federation_of, pair
from tests.e2e.test_serve import sign_in_with
from tests.support.forms import csrf_token_in
from tests.support.processes import wait_until

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def federation_nodes(tmp_path_factory) -> Iterator[list[Node]]:
    with federation_of("hub", "instance", "instance", root=tmp_path_factory.mktemp("listings")) as nodes:
        yield nodes


@contextlib.contextmanager
def _admin(node: Node) -> Iterator[httpx.Client]:
    """A browser signed in as the node's admin (who may also host events)."""
    with httpx.Client(base_url=node.url, timeout=15) as browser:
        sign_in_with(browser, node.run_ok("admin", "create", ADMIN).last_line)
        yield browser


def _post(browser: httpx.Client, page: str, action: str, data: dict[str, str]) -> httpx.Response:
    token = csrf_token_in(browser.get(page).text)
    return browser.post(action, data={"_csrf_token": token, **data}, follow_redirects=False)


def _create_group(browser: httpx.Client, name: str, region: str) -> None:
    made = _post(browser, "/admin/groups/", "/admin/groups", {"name": name, "region": region, "listed": "1"})
    assert made.status_code == 303, made.text


def _create_event(browser: httpx.Client, title: str, zone: str, **fields: str) -> int:
    start = (
        (datetime.now(UTC) + timedelta(days=5)).astimezone(ZoneInfo(zone)).replace(second=0, microsecond=0)
    )
    made = _post(
        browser,
        "/events/new",
        "/events/new",
        {
            "title": title,
            "kind": "rally",
            "starts_at": start.strftime("%Y-%m-%dT%H:%M"),
            "ends_at": (start + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"),
            "timezone": zone,
            "visibility": "public",
            "description": "Bring a sign.",
            "host_email": "host@example.org",
            **fields,
        },
    )
    assert made.status_code == 303, made.text
    return int(made.headers["location"].split("/")[2])


def _directory(hub: Node, tab: str) -> list[dict]:
    return httpx.get(f"{hub.url}/federation/directory/{tab}?format=json", timeout=10).json()[tab]


def test_groups_and_public_events_of_every_node_reach_the_hub_directory_and_cancelling_removes_one(
    federation_nodes,
):
    hub, one, two = federation_nodes
    pair(hub, one), pair(hub, two)
    with _admin(hub) as browser:
        _create_group(browser, "National Volunteers", "US")
    with _admin(one) as browser:
        _create_group(browser, "Riverside Council", "CO")
        rally = _create_event(
            browser,
            "Footbridge rally",
            "America/Denver",
            venue="City Hall steps",
            address="1437 Bannock Street",
            locality="Denver",
            region="CO",
            postal_code="80202",
        )
        _create_event(
            browser,
            "Leaders' private meeting",
            "America/Denver",
            visibility="unlisted",
            online_url="https://meet.example.org/leaders",
        )
    with _admin(two) as browser:
        _create_group(browser, "Lakeside Council", "NY")
        _create_event(
            browser,
            "Phone bank for the library",
            "America/New_York",
            online_url="https://meet.example.org/phone-bank",
        )

    wait_until(
        lambda: len(_directory(hub, "groups")) == 3 and len(_directory(hub, "events")) == 2,
        timeout=60,
        interval=1,
    )
    groups = {g["name"]: g for g in _directory(hub, "groups")}
    assert {name: g["instance"] for name, g in groups.items()} == {
        "Lakeside Council": two.url,
        "National Volunteers": hub.url,
        "Riverside Council": one.url,
    }
    assert groups["Riverside Council"]["url"] == f"{one.url}/g/riverside-council"
    events = {e["title"]: e for e in _directory(hub, "events")}
    assert set(events) == {"Footbridge rally", "Phone bank for the library"}
    assert events["Footbridge rally"]["url"] == f"{one.url}/events/{rally}"
    assert events["Footbridge rally"]["start_date"].endswith(("-06:00", "-07:00"))  # Denver time
    assert events["Phone bank for the library"]["online"] is True

    page = httpx.get(f"{hub.url}/federation/directory/events", timeout=10).text
    assert "Footbridge rally" in page and "Denver" in page and one.url in page
    assert "private meeting" not in page
    assert "Lakeside Council" in httpx.get(f"{hub.url}/federation/directory/groups", timeout=10).text

    with _admin(one) as browser:
        cancelled = _post(browser, f"/events/{rally}/host", f"/events/{rally}/cancel", {"reason": "Storm"})
        assert cancelled.status_code == 303, cancelled.text
    wait_until(
        lambda: [e["title"] for e in _directory(hub, "events")] == ["Phone bank for the library"],
        timeout=60,
        interval=1,
    )
    assert "Footbridge rally" not in httpx.get(f"{hub.url}/federation/directory/events", timeout=10).text
