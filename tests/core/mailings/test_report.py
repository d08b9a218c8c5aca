"""The per-mailing report: what was sent, failed, bounced or skipped, and what people did."""

from __future__ import annotations

import pytest

from core.mailings.report import mailing_report
from core.mailings.service import create_mailing, send_now
from core.mailings.tables import Delivery, MailEvent
from core.people.tables import Person
from tests.core.mailings.conftest import add_members, add_signers, send_all
from tests.support.petitions import published_petition

pytestmark = pytest.mark.usefixtures("unlimited")


async def test_the_report_counts_outcomes_and_actions_with_rates_per_message_sent(smtp) -> None:
    petition = await published_petition("Save the park")
    people = await add_members(10)
    smtp.refuse("member9@example.org", "550 5.1.1 No such user")
    mailing_id = await create_mailing(
        kind="members",
        author_login_id=None,
        petition_id=petition.id,
        subject="The park",
        body="[Sign]({{ petition_url }})",
        audience={"all": True},
    )
    await send_now(mailing_id)
    await Person.update({Person.subscription: "unsubscribed"}).where(Person.id == people[8])
    await send_all()

    rows = {r["person"]: r for r in await Delivery.select().where(Delivery.mailing == mailing_id)}
    await Delivery.update({Delivery.status: "bounced"}).where(Delivery.id == rows[people[0]]["id"])
    for person, kind in [(1, "click"), (1, "click"), (2, "click"), (3, "unsubscribe"), (4, "complaint")]:
        row = rows[people[person]]
        await MailEvent.insert(
            MailEvent(mailing=mailing_id, delivery=row["id"], person=row["person"], kind=kind)
        )
    await add_signers(petition.id, [people[1], people[2]], source=f"mail-{mailing_id}")
    await add_signers(petition.id, [people[5]], source="share-link")  # not this mailing's

    report = await mailing_report(mailing_id)

    t = report.totals
    assert (t.recipients, t.sent, t.failed, t.skipped, t.bounced) == (10, 8, 1, 1, 1)
    assert (t.clicks, t.unsubscribed, t.complaints, t.actions) == (2, 1, 1, 2)
    assert t.action_rate == pytest.approx(2 / 8) and t.bounce_rate == pytest.approx(1 / 8)
    assert report.variants == []  # no A/B test
    assert report.status == "sent" and report.source_code == f"mail-{mailing_id}"
    assert report.failure_reasons[0][1] == 1 and "550 5.1.1 No such user" in report.failure_reasons[0][0]
    assert report.skip_reasons == [("not subscribed (unsubscribed)", 1)]


async def test_an_ab_report_has_a_row_per_variant(smtp) -> None:
    petition = await published_petition("Save the park")
    people = await add_members(20)
    mailing_id = await create_mailing(
        kind="members",
        author_login_id=None,
        petition_id=petition.id,
        subject="Subject A",
        variants=["Subject B"],
        body="[Sign]({{ petition_url }})",
        audience={"all": True},
        test_fraction=0.5,
    )
    await send_now(mailing_id)
    await send_all()
    b_people = [
        r["person"]
        for r in await Delivery.select().where((Delivery.mailing == mailing_id) & (Delivery.variant == "B"))
    ]
    await add_signers(petition.id, b_people[:2], source=f"mail-{mailing_id}-B")

    report = await mailing_report(mailing_id)
    by_label = {v.label: v for v in report.variants}
    assert set(by_label) == {"A", "B"}
    assert (by_label["A"].subject, by_label["B"].subject) == ("Subject A", "Subject B")
    assert (by_label["A"].sent, by_label["B"].sent) == (5, 5)
    assert (by_label["A"].actions, by_label["B"].actions) == (0, 2)
    assert report.totals.waiting == 10 and report.totals.recipients == len(people)
    assert report.status == "testing"
