"""Issue 5 end to end, with a real SMTP sink: a petition reaches 20 signatures through its
form, a random sample of members is mailed, recipients follow the link in the email they
received and sign, the window closes, the engine expands, and the leader's dashboard and the
staff page show each decision with its numbers."""

from __future__ import annotations

import asyncio
import re
import time

import pytest

from core.boost.runner import run_boosts
from tests.core.boost_runner.conftest import POLICY, members, send_all, sentences, stages
from tests.support.accounts import sign_in
from tests.support.forms import csrf_token_in, submit
from tests.support.petitions import published_petition

pytestmark = pytest.mark.usefixtures("instance_boost_policy")

_SIGN_LINK = re.compile(r"\((http://testserver\.local/mail/[^\s)]+)\)")
_SOURCE = re.compile(r'name="source" value="([^"]*)"')


async def received(smtp, count: int, timeout: float = 30.0) -> list:
    """Drain the sender until `count` messages arrived. The app's in-process worker may hold a
    sender run, so this waits on the event loop (never blocking it) instead of on the server."""
    deadline = time.monotonic() + timeout
    while len(smtp.messages) < count:
        assert time.monotonic() < deadline, f"expected {count} messages, got {len(smtp.messages)}"
        await send_all()
        await asyncio.sleep(0.05)
    return smtp.messages


async def sign_from_email(client, mail) -> str:
    """Follow the email's sign link as its recipient would and sign; returns the source code
    the petition page carried into the form."""
    message = mail.message
    text = message.get_body(preferencelist=("plain",)).get_content()
    link = _SIGN_LINK.search(text.split("-- \n")[0])
    assert link, text
    page = await client.get(link.group(1))
    assert page.status_code == 200, page.text
    source = _SOURCE.search(page.text).group(1)
    address = message["To"].addresses[0].addr_spec
    signed = await client.post(
        str(page.url).split("?")[0] + "/sign",
        data={
            "_csrf_token": csrf_token_in(page.text),
            "name": "Boosted Member",
            "email": address,
            "source": source,
        },
    )
    assert signed.status_code == 200, signed.text
    return source


async def test_a_petition_reaching_20_is_sampled_signed_from_the_email_and_expanded(client, smtp, clock):
    await members(400)
    petition = await published_petition("Reopen the Riverside footbridge")
    for n in range(20):
        response = await submit(
            client,
            f"/p/{petition.slug}",
            f"/p/{petition.slug}/sign",
            {"name": f"Early Signer{n}", "email": f"early{n}@example.net"},
        )
        assert response.status_code == 200, response.text

    report = await run_boosts(now=clock.now)
    assert report.qualified
    first = await received(smtp, POLICY.first_stage_size)
    assert first[0].message["Subject"] == "Will you sign “Reopen the Riverside footbridge”?"
    assert first[0].message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    sources = {await sign_from_email(client, message) for message in first[:12]}
    assert sources == {f"boost-{petition.id}-1"}

    await run_boosts(now=clock.now)  # the stage's last email went: its window opens
    # (The clock started before the sending did; the window counts from the last email.)
    clock.advance(POLICY.window_seconds + 60)
    report = await run_boosts(now=clock.now)
    assert report.decided and report.mailed
    assert await sentences(petition.id) == [
        "20 signatures, qualifies for a member sample → sample of 50",
        "sampled 50, 12 signed (24.0 %), benchmark 3.0 %, P>0.99 → expanded to 200",
    ]
    one, two = await stages(petition.id)
    assert (one["deliveries"], one["signatures"]) == (50, 12)
    assert (two["size"], two["allocated"]) == (200, 200)
    await received(smtp, POLICY.first_stage_size + 200)
    # Nobody was mailed twice, and no signer was mailed at all.
    addresses = [m.recipients[0] for m in smtp.messages]
    assert len(addresses) == len(set(addresses))
    assert not any(a.startswith("early") for a in addresses)

    await sign_in(client, "staff@example.org", role="staff")
    dashboard = (await client.get(f"/lead/petitions/{petition.id}")).text
    assert "Your petition qualifies for a member sample." in dashboard
    assert "sampled 50, 12 signed (24.0 %), benchmark 3.0 %, P&gt;0.99 → expanded to 200" in dashboard
    staff_page = (await client.get("/staff/boosts")).text
    assert "20 signatures, qualifies for a member sample → sample of 50" in staff_page
    assert "expanded to 200" in staff_page
