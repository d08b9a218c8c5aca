"""A federation-wide boost on loopback: a hub and two instances, each its own `groundswell
serve` process with its own database, paired with the CLI, with short boost windows
(GROUNDSWELL_BOOST_WINDOW_SECONDS). The instances report their reach; a hub petition reaches
the threshold and the hub's engine shares its first stage out to the instances; each instance
mails its own members from its own address, with a link to its own copy of the petition; a
member signs there; the hub's boost counts the pooled result when the stage closes."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.federation_nodes import Node, create_petition, federation_of, pair
from tests.e2e.test_serve import mails, read_mail
from tests.support.processes import wait_until

pytestmark = pytest.mark.slow

WINDOW_SECONDS = 90
MEMBERS_PER_INSTANCE = 30


@pytest.fixture(scope="module")
def nodes(tmp_path_factory) -> Iterator[list[Node]]:
    with federation_of(
        "hub",
        "instance",
        "instance",
        root=tmp_path_factory.mktemp("pooled"),
        BOOST_WINDOW_SECONDS=str(WINDOW_SECONDS),
    ) as federation:
        yield federation


def import_members(node: Node, prefix: str, directory: Path) -> None:
    rows = ["email,given_name,email_consent"] + [
        f"{prefix}{n}@example.org,{prefix.title()}{n},yes" for n in range(MEMBERS_PER_INSTANCE)
    ]
    path = directory / f"{prefix}.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    node.run_ok("members", "import", str(path))


def boost_mail_to(node: Node, prefix: str) -> list:
    found = []
    for path in mails(node.instance):
        message = read_mail(path)
        if message["To"].addresses[0].addr_spec.startswith(prefix) and "Will you sign" in str(
            message["Subject"]
        ):
            found.append(message)
    return found


def test_a_hub_boost_is_mailed_by_the_instances_and_counts_their_signatures(nodes, tmp_path):
    hub, one, two = nodes
    for node, prefix in ((one, "one"), (two, "two")):
        import_members(node, prefix, tmp_path)
        pair(hub, node)
    # Both instances tell the hub their reach (30 members each, rounded to tens).
    wait_until(
        lambda: len(hub.sql("SELECT node_id FROM federation_reach WHERE eligible > 0")) == 2, timeout=90
    )

    create_petition(hub, "Keep the night buses running", signatures=20)

    # The hub has no members of its own left to ask: the first stage goes to the instances.
    wait_until(lambda: len(hub.sql("SELECT id FROM boost_remote_share")) == 2, timeout=90)
    for node, prefix in ((one, "one"), (two, "two")):
        wait_until(
            lambda node=node, prefix=prefix: len(boost_mail_to(node, prefix)) == MEMBERS_PER_INSTANCE,
            timeout=60,
        )
    [copy_slug] = [r[0] for r in one.sql("SELECT slug FROM petition WHERE origin_node <> ''")]
    message = boost_mail_to(one, "one")[0]
    assert str(message["From"]).split("@")[-1].rstrip(">")  # sent by the instance's own mail engine
    text = message.get_body(preferencelist=("plain",)).get_content()
    link = re.search(r"https?://\S+", text.split("Sign", 1)[1]).group(0).rstrip(").")
    assert link.startswith(one.url), link  # the instance's own page, not the hub's

    with one.api() as api:
        landing = api.get(link.removeprefix(one.url), follow_redirects=True)
        assert landing.status_code == 200
        assert f"/p/{copy_slug}" in str(landing.url) and "source=fed-" in str(landing.url)
        source = re.search(r"source=([\w.:-]+)", str(landing.url)).group(1)
        [pid] = [r[0] for r in one.sql(f"SELECT id FROM petition WHERE slug = '{copy_slug}'")]
        signed = api.post(
            f"/api/v1/petitions/{pid}/record_signature_helper",
            json={
                "person": {
                    "email_addresses": [{"address": message["To"].addresses[0].addr_spec}],
                    "given_name": message["To"].addresses[0].display_name or "Member",
                },
                "referrer_data": {"source": source},
            },
        )
        assert signed.status_code in (200, 201), signed.text

    # The stage closes after the window; the hub's decision pools both instances' reports.
    def decided() -> list[str]:
        rows = hub.sql("SELECT sentence FROM boost_decision_log ORDER BY id")
        return [r[0] for r in rows][1:]

    wait_until(lambda: decided(), timeout=WINDOW_SECONDS * 4)
    sentence = decided()[0]
    assert "pooled: 0 here" in sentence and "from 2 partners" in sentence, sentence
    # One signature on one instance: a suppressed cell there (below k_min), read as 1.
    assert sentence.startswith("sampled 60, 1 signed"), sentence
    [(deliveries, remote)] = hub.sql("SELECT deliveries, remote_allocated FROM boost_stage WHERE number = 1")
    assert deliveries == remote == 2 * MEMBERS_PER_INSTANCE
    # The instance's admin page lists the request and what was sent (aggregates only).
    reported = one.sql("SELECT status, queued, sent FROM federation_boost_request")
    assert reported and reported[0][0] in ("mailed", "done") and reported[0][1] == MEMBERS_PER_INSTANCE
