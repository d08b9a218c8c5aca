"""A/B subject tests: a random, evenly split test slice; the winner by actions (or clicks) per
message after the window; the rest get the winner; and the circuit breaker."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from core.errors import UserError
from core.mailings.ab_testing import decide_winner, tests_due, trip_breaker_if_needed
from core.mailings.report import mailing_report
from core.mailings.sending import TOPIC, run_sender
from core.mailings.service import create_mailing, get_mailing, resume, send_now
from core.mailings.tables import Delivery, MailEvent, Mailing
from core.petitions.tables import Signature
from tests.core.mailings.conftest import add_members, add_signers, send_all, statuses
from tests.support.forms import submit
from tests.support.outbox import wait_for_outbox
from tests.support.petitions import published_petition

pytestmark = pytest.mark.usefixtures("unlimited")


async def ab_mailing(**fields) -> tuple[int, int]:
    petition = await published_petition("Save the park")
    mailing_id = await create_mailing(
        kind="members",
        author_login_id=None,
        petition_id=petition.id,
        subject="The park needs you",
        variants=["{{ given_name }}, one minute for the park?"],
        body="[Sign now]({{ petition_url }})",
        audience={"all": True},
        test_fraction=fields.pop("test_fraction", 0.2),
        test_window_seconds=3600,
        **fields,
    )
    return mailing_id, petition.id


async def slice_of(mailing_id: int) -> dict[str, list[dict]]:
    rows = await Delivery.select().where((Delivery.mailing == mailing_id) & (Delivery.variant != ""))
    by_variant: dict[str, list[dict]] = {}
    for row in rows:
        by_variant.setdefault(row["variant"], []).append(row)
    return by_variant


async def test_the_test_slice_is_a_random_share_split_evenly_and_the_rest_waits(smtp) -> None:
    await add_members(100)
    mailing_id, _ = await ab_mailing()

    assert await send_now(mailing_id) == 100
    assert await statuses(mailing_id) == {"queued": 20, "waiting": 80}
    assert {label: len(rows) for label, rows in (await slice_of(mailing_id)).items()} == {"A": 10, "B": 10}

    await send_all()
    subjects = Counter(str(m.message["Subject"]).split(",")[0] for m in smtp.wait_for(20))
    assert subjects["The park needs you"] == 10
    assert (await get_mailing(mailing_id))["status"] == "testing"  # the rest waits for the winner

    # A second test picks another slice: it is random, not the first people.
    other, _ = await ab_mailing()
    await Mailing.update({Mailing.status: "sent"}).where(Mailing.id == mailing_id)
    await send_now(other)
    first = {r["person"] for rows in (await slice_of(mailing_id)).values() for r in rows}
    second = {r["person"] for rows in (await slice_of(other)).values() for r in rows}
    assert first != second


async def test_after_the_window_the_variant_with_more_signatures_per_message_goes_to_the_rest(smtp) -> None:
    people = await add_members(40)
    mailing_id, petition_id = await ab_mailing(test_fraction=0.5)
    await send_now(mailing_id)
    await send_all()
    assert await tests_due() == []  # the window is still open

    slice_ = await slice_of(mailing_id)
    # B's readers sign more: 3 of 10 against 1 of 10.
    b_signers = [row["person"] for row in slice_["B"][:3]]
    a_signers = [row["person"] for row in slice_["A"][:1]]
    await add_signers(petition_id, b_signers, source=f"mail-{mailing_id}-B")
    await add_signers(petition_id, a_signers, source=f"mail-{mailing_id}-A")
    # …even though A got more clicks.
    for row in slice_["A"][:5]:
        await MailEvent.insert(
            MailEvent(mailing=mailing_id, delivery=row["id"], person=row["person"], kind="click")
        )

    started = datetime.now(UTC) - timedelta(hours=2)
    await Mailing.update({Mailing.test_started_at: started}).where(Mailing.id == mailing_id)
    assert await tests_due() == [mailing_id]
    assert await decide_winner(mailing_id) == "B"
    assert await decide_winner(mailing_id) == "B"  # decided once

    await send_all()
    messages = smtp.wait_for(40)
    assert Counter(m.recipients[0] for m in messages) == Counter(f"member{n}@example.org" for n in range(40))
    rest_people = set(people) - {r["person"] for rows in slice_.values() for r in rows}
    assert len(rest_people) == 20
    assert await statuses(mailing_id) == {"sent": 40}
    assert await Delivery.count().where((Delivery.mailing == mailing_id) & (Delivery.variant == "B")) == 30
    b_subjects = [str(m.message["Subject"]) for m in messages if "one minute" in str(m.message["Subject"])]
    assert len(b_subjects) == 30
    mailing = await get_mailing(mailing_id)
    assert (mailing["status"], mailing["winner"]) == ("sent", "B")


async def test_without_any_signatures_the_winner_is_the_variant_more_people_clicked(smtp) -> None:
    await add_members(20)
    mailing_id, _ = await ab_mailing(test_fraction=0.5)
    await send_now(mailing_id)
    await send_all()
    slice_ = await slice_of(mailing_id)
    for row in slice_["B"][:2]:
        for _ in range(2):  # clicking twice is still one person
            await MailEvent.insert(
                MailEvent(mailing=mailing_id, delivery=row["id"], person=row["person"], kind="click")
            )
    await MailEvent.insert(
        MailEvent(
            mailing=mailing_id, delivery=slice_["A"][0]["id"], person=slice_["A"][0]["person"], kind="click"
        )
    )
    assert await decide_winner(mailing_id) == "B"


async def test_the_circuit_breaker_halts_a_test_whose_recipients_unsubscribe_and_staff_can_resume(
    smtp,
) -> None:
    await add_members(100)
    mailing_id, _ = await ab_mailing(test_fraction=0.3, max_unsubscribe_rate=0.05)
    await send_now(mailing_id)
    await send_all()
    slice_ = [row for rows in (await slice_of(mailing_id)).values() for row in rows]
    for row in slice_[:2]:  # 2 of 30 = 6.7%: over the 5% limit
        await MailEvent.insert(
            MailEvent(mailing=mailing_id, delivery=row["id"], person=row["person"], kind="unsubscribe")
        )

    assert await trip_breaker_if_needed(mailing_id)
    mailing = await get_mailing(mailing_id)
    assert mailing["status"] == "halted"
    assert mailing["halted_reason"] == (
        "Halted by the circuit breaker: 2 of 30 recipients of the test slice unsubscribed or "
        "complained (6.7%, limit 5.0%)."
    )
    assert await decide_winner(mailing_id) == ""  # a halted test picks no winner
    assert (await run_sender(mailing_id)).stopped == "halted"

    await resume(mailing_id)
    assert not await trip_breaker_if_needed(mailing_id)  # staff decided on these numbers
    await Mailing.update({Mailing.test_started_at: datetime.now(UTC) - timedelta(hours=2)}).where(
        Mailing.id == mailing_id
    )
    assert await decide_winner(mailing_id) == "A"  # nobody signed or clicked: the first
    await send_all()
    assert len(smtp.wait_for(100)) == 100


async def test_the_circuit_breaker_halts_the_sender_when_the_test_bounces(smtp) -> None:
    await add_members(60)
    mailing_id, _ = await ab_mailing(test_fraction=0.5, max_bounce_rate=0.1)
    await send_now(mailing_id)
    await run_sender(mailing_id)
    slice_ = [row for rows in (await slice_of(mailing_id)).values() for row in rows]
    bounced = [row["id"] for row in slice_[:4]]  # 4 of 30: 13%
    await Delivery.update({Delivery.status: "bounced"}).where(Delivery.id.is_in(bounced))
    # The sender judges again before its next batch.
    await Mailing.update({Mailing.status: "sending"}).where(Mailing.id == mailing_id)
    assert (await run_sender(mailing_id)).stopped == "halted"
    assert (
        "4 of 30 messages of the test slice bounced (13.3%, limit 10.0%)"
        in (await get_mailing(mailing_id))["halted_reason"]
    )


async def test_below_the_minimum_sample_the_breaker_waits() -> None:
    await add_members(10)
    mailing_id, _ = await ab_mailing(test_fraction=0.5, max_unsubscribe_rate=0.01)
    await send_now(mailing_id)
    await Delivery.update({Delivery.status: "sent"}).where(Delivery.status == "queued")
    row = await Delivery.select().where(Delivery.status == "sent").first()
    await MailEvent.insert(
        MailEvent(mailing=mailing_id, delivery=row["id"], person=row["person"], kind="unsubscribe")
    )
    assert not await trip_breaker_if_needed(mailing_id)


async def test_a_test_needs_two_subjects_and_a_sensible_share() -> None:
    with pytest.raises(UserError, match="test them on 5% to 50%"):
        await ab_mailing(test_fraction=0.9)
    with pytest.raises(UserError, match="at least two subject lines"):
        await create_mailing(
            kind="members",
            author_login_id=None,
            subject="One",
            body="x",
            audience={"all": True},
            test_fraction=0.2,
        )


async def test_signatures_from_the_test_are_attributed_to_their_variant(client, smtp) -> None:
    """End to end through the sign form: the tracked link's ?source= lands on the signature."""
    from urllib.parse import parse_qs, urlsplit

    from core.mailings import links

    await add_members(2)
    mailing_id, petition_id = await ab_mailing(test_fraction=0.5)
    await send_now(mailing_id)
    # The app's in-process worker sends the test slice (one message per variant).
    await wait_for_outbox(timeout=20, topic=TOPIC)
    mail = smtp.wait_for(2, timeout=1)[0]
    html = mail.message.get_body(preferencelist=("html",)).get_content()
    token = html.split("/mail/c/", 1)[1].split('"', 1)[0]
    delivery_id, url = links.read_click_token(token)
    source = parse_qs(urlsplit(url).query)["source"][0]
    variant = (await Delivery.select(Delivery.variant).where(Delivery.id == delivery_id).first())["variant"]
    assert source == f"mail-{mailing_id}-{variant}"

    page = f"{urlsplit(url).path}?{urlsplit(url).query}"
    assert f'name="source" value="{source}"' in (await client.get(page)).text
    data = {"name": "Ann Walker", "email": "ann@example.org", "postal_code": "94110", "source": source}
    response = await submit(client, page, f"{urlsplit(url).path}/sign", data)
    assert response.status_code == 200, response.text
    signature = await Signature.select(Signature.source).where(Signature.petition == petition_id).first()
    assert signature["source"] == source
    report = await mailing_report(mailing_id)
    assert {v.label: v.actions for v in report.variants}[variant] == 1
