"""Relaying on loopback: a hub and two instances, each its own `groundswell serve` process
with its own data dir and database. A petition created on instance one reaches instance two
through the hub (one made before two joined, as the current state handed to a newcomer, and
one made after, relayed live); a member signs it on instance two; the origin's page and API,
the hub's API and directory, and instance two's copy all converge to the same
federation-wide total; and the signer's email never leaves instance two."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.federation_nodes import Node, create_petition, federation_of, hub_petitions, pair
from tests.support.processes import wait_until

pytestmark = pytest.mark.slow

SIGNER = "far.away.signer@example.org"


@pytest.fixture(scope="module")
def federation_nodes(tmp_path_factory) -> Iterator[list[Node]]:
    with federation_of("hub", "instance", "instance", root=tmp_path_factory.mktemp("relay")) as nodes:
        yield nodes


def petitions_on(node: Node) -> dict[str, dict]:
    with node.api() as api:
        listed = api.get("/api/v1/petitions", params={"per_page": 100}).json()["_embedded"]["osdi:petitions"]
    return {p["title"]: p for p in listed}


def local_id(resource: dict) -> str:
    return resource["identifiers"][0].split(":")[-1]


def test_a_petition_from_one_instance_is_signed_on_another_and_every_node_shows_the_same_total(
    federation_nodes,
):
    hub, one, two = federation_nodes
    one_id = pair(hub, one)
    earlier = create_petition(one, "Light the towpath before winter", signatures=2)
    two_id = pair(hub, two)  # joins after the first petition went out
    create_petition(one, "Keep the night bus running on Sundays")

    copies = wait_until(
        lambda: (
            (found := petitions_on(two)).get("Light the towpath before winter")
            and found.get("Keep the night bus running on Sundays")
            and found
        ),
        timeout=60,
        interval=1,
    )
    copy = copies["Light the towpath before winter"]
    assert copy["origin_system"] == one_id
    assert f"{one_id}:{earlier}" in copy["identifiers"]

    page = httpx.get(copy["browser_url"], timeout=10)
    assert page.status_code == 200
    assert "Started on" in page.text and one.url.removeprefix("http://") in page.text
    assert 'action="/p/' in page.text  # signable here

    with two.api() as api:
        signed = api.post(
            f"/api/v1/petitions/{local_id(copy)}/record_signature_helper",
            json={"person": {"email_addresses": [{"address": SIGNER}], "given_name": "Far"}},
        )
        assert signed.status_code in (200, 201), signed.text

    def totals() -> dict[str, int]:
        return {
            "one": petitions_on(one)["Light the towpath before winter"]["total_signatures"],
            "hub": {p["title"]: p for p in hub_petitions(hub)}["Light the towpath before winter"][
                "total_signatures"
            ],
            "two": petitions_on(two)["Light the towpath before winter"]["total_signatures"],
        }

    wait_until(lambda: set(totals().values()) == {3}, timeout=90, interval=1)
    origin_page = httpx.get(petitions_on(one)["Light the towpath before winter"]["browser_url"], timeout=10)
    assert "<strong>3</strong>" in origin_page.text
    directory = httpx.get(hub.url + "/federation/directory", timeout=10).text
    entry = directory.split("Light the towpath before winter", 1)[1].split("</li>", 1)[0]
    assert "<strong>3</strong>" in entry

    # The signature stays on instance two: neither the hub nor the origin ever sees who signed.
    assert two.sql(f"SELECT COUNT(*) FROM person WHERE email = '{SIGNER}'")[0][0] == 1
    for node in (hub, one):
        assert node.sql(f"SELECT COUNT(*) FROM person WHERE email = '{SIGNER}'")[0][0] == 0
        stored = node.sql(
            "SELECT envelope FROM federation_outbound UNION ALL SELECT envelope FROM federation_count_report"
        )
        assert not any(SIGNER in row[0] or "far.away" in row[0] for row in stored)
    sent_by_two = two.sql("SELECT envelope FROM federation_outbound")
    assert sent_by_two and not any("far.away" in row[0] for row in sent_by_two)
    assert {p["node_id"]: p["status"] for p in hub.peers()} == {one_id: "active", two_id: "active"}
