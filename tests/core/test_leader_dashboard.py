"""The campaign leader's area: who may see a petition's dashboard, publishing, editing,
closing and delivering, the growth chart, sources, comments and the signers export."""

import csv
import io
import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime, time, timedelta

import pytest

from core.accounts.logins import login_for_email
from core.instance_settings import set_policy
from core.petitions import counter
from core.petitions.chart import signature_chart
from core.petitions.dashboard import daily_signatures, sources, status_counts
from core.petitions.service import (
    PetitionInput,
    TargetInput,
    close_petition,
    create_petition,
    get_petition,
    reject_petition,
    submit_petition,
    targets_of,
)
from core.petitions.signers import csv_safe, csv_text
from core.petitions.signing import SignatureInput, sign
from core.petitions.tables import Petition, Signature
from tests.support.accounts import sign_in
from tests.support.forms import csrf_token_in, submit

SVG = "{http://www.w3.org/2000/svg}"
LEADER = "leader@example.org"


async def draft_by(email: str, title: str = "Fix the Riverside footbridge now", **fields) -> Petition:
    login = await login_for_email(email)
    assert login is not None
    data = PetitionInput(
        title=title,
        body=fields.pop(
            "body", "The footbridge has been closed for two years. Reopen it so children can walk."
        ),
        targets=fields.pop("targets", [TargetInput(name="Jane Mayor", title="Mayor of Riverside")]),
        **fields,
    )
    return await create_petition(data, creator_id=login.person)


async def my_draft(client, **fields) -> Petition:
    await sign_in(client, LEADER, "leader")
    return await draft_by(LEADER, **fields)


async def my_published(client, **fields) -> Petition:
    petition = await my_draft(client, **fields)
    return await submit_petition(petition.id, trusted=True)


async def signer(petition: Petition, name: str, email: str, **fields) -> None:
    await sign(petition.id, SignatureInput(name=name, email=email, **fields))


def edit_form(petition: Petition, **changes: str) -> dict[str, str]:
    form = {
        "title": petition.title,
        "summary": petition.summary,
        "body": petition.body,
        "goal": str(petition.goal),
        "scope_kind": petition.scope_kind,
        "scope_value": petition.scope_value,
        "target_name_0": "Jane Mayor",
        "target_title_0": "Mayor of Riverside",
    }
    form.update(changes)
    return form


# Who may see what ----------------------------------------------------------------------------


async def test_the_creator_sees_the_dashboard_of_their_draft(client):
    petition = await my_draft(client)
    page = await client.get(f"/lead/petitions/{petition.id}")
    assert page.status_code == 200
    assert petition.title in page.text
    assert "Status: draft" in page.text
    assert f'action="/lead/petitions/{petition.id}/publish"' in page.text
    assert "<svg" in page.text


async def test_my_petitions_lists_my_own_with_status_and_counts_but_not_others(client):
    petition = await my_published(client)
    await sign_in(client, "other@example.org", "leader")
    await draft_by("other@example.org", title="Someone else's petition about parks")
    await sign_in(client, LEADER, "leader")
    await signer(petition, "Ann Able", "ann@example.org")
    page = await client.get("/lead/")
    assert page.status_code == 200
    assert f'href="/lead/petitions/{petition.id}"' in page.text
    assert "published" in page.text
    assert "1 <span" in page.text
    assert "Someone else" not in page.text


async def test_another_leader_is_refused_with_a_message(client):
    petition = await my_draft(client)
    await sign_in(client, "rival@example.org", "leader")
    for path in ("", "/edit", "/signers.csv", "/delivery.pdf", "/delivery.csv"):
        response = await client.get(f"/lead/petitions/{petition.id}{path}")
        assert response.status_code == 403, path
        assert "only for the person who started it and for staff" in response.text
    page = await client.get("/lead/")
    response = await client.post(
        f"/lead/petitions/{petition.id}/publish", data={"_csrf_token": csrf_token_in(page.text)}
    )
    assert response.status_code == 403
    assert (await get_petition(petition.id)).status == "draft"


async def test_staff_see_any_petition_and_the_list_of_all(client):
    petition = await my_draft(client)
    await sign_in(client, "staff@example.org", "staff")
    page = await client.get(f"/lead/petitions/{petition.id}")
    assert page.status_code == 200
    assert petition.title in page.text
    listing = await client.get("/lead/")
    assert "All petitions" in listing.text and petition.title in listing.text


async def test_a_member_is_refused_by_role(client):
    petition = await my_draft(client)
    await sign_in(client, "member@example.org", "member")
    response = await client.get(f"/lead/petitions/{petition.id}")
    assert response.status_code == 403
    assert "needs a leader account" in response.text


async def test_anonymous_visitors_are_sent_to_sign_in(client):
    await sign_in(client, LEADER, "leader")
    petition = await draft_by(LEADER)
    client.cookies.clear()
    response = await client.get(f"/lead/petitions/{petition.id}", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == f"/login?next=%2Flead%2Fpetitions%2F{petition.id}"


async def test_unknown_and_impossible_petition_ids_are_not_found(client):
    await sign_in(client, LEADER, "leader")
    assert (await client.get("/lead/petitions/987654")).status_code == 404
    assert (await client.get("/lead/petitions/99999999999999999999")).status_code == 404
    assert (await client.get("/lead/petitions/abc")).status_code == 404


# Publishing, editing, closing, delivering ----------------------------------------------------


async def test_publishing_a_draft_under_post_moderation_puts_it_live(client):
    petition = await my_draft(client)
    response = await submit(
        client, f"/lead/petitions/{petition.id}", f"/lead/petitions/{petition.id}/publish"
    )
    assert response.status_code == 200
    assert "Your petition is published" in response.text
    assert (await get_petition(petition.id)).status == "published"
    assert (await client.get(f"/p/{petition.slug}")).status_code == 200


async def test_publishing_under_pre_moderation_waits_for_review(client):
    await set_policy("moderation", "pre")
    petition = await my_draft(client)
    page = await client.get(f"/lead/petitions/{petition.id}")
    assert "Submit for review" in page.text
    response = await submit(
        client, f"/lead/petitions/{petition.id}", f"/lead/petitions/{petition.id}/publish"
    )
    assert "waiting for review" in response.text
    assert (await get_petition(petition.id)).status == "pending"


async def test_staff_publish_at_once_even_under_pre_moderation(client):
    await set_policy("moderation", "pre")
    petition = await my_draft(client)
    await sign_in(client, "staff@example.org", "staff")
    await submit(client, f"/lead/petitions/{petition.id}", f"/lead/petitions/{petition.id}/publish")
    assert (await get_petition(petition.id)).status == "published"


async def test_publishing_twice_is_a_clear_conflict(client):
    petition = await my_published(client)
    page = await client.get(f"/lead/petitions/{petition.id}")
    response = await client.post(
        f"/lead/petitions/{petition.id}/publish", data={"_csrf_token": csrf_token_in(page.text)}
    )
    assert response.status_code == 409
    assert "already published" in response.text


async def test_a_rejected_petition_shows_the_reason_and_can_be_edited_and_resubmitted(client):
    await set_policy("moderation", "pre")
    petition = await my_draft(client)
    await submit_petition(petition.id)
    await reject_petition(petition.id, "Name a person who can decide, not a whole country.")
    page = await client.get(f"/lead/petitions/{petition.id}")
    assert "Name a person who can decide" in page.text
    assert f'href="/lead/petitions/{petition.id}/edit"' in page.text
    assert "Resubmit for review" in page.text
    await submit(client, f"/lead/petitions/{petition.id}", f"/lead/petitions/{petition.id}/publish")
    assert (await get_petition(petition.id)).status == "pending"


async def test_the_edit_form_is_prefilled_with_five_target_rows(client):
    petition = await my_draft(client, goal=250)
    page = await client.get(f"/lead/petitions/{petition.id}/edit")
    assert page.status_code == 200
    assert f'value="{petition.title}"' in page.text
    assert 'value="Jane Mayor"' in page.text
    assert 'value="250"' in page.text
    assert 'name="target_name_4"' in page.text and 'name="target_name_5"' not in page.text


async def test_editing_saves_the_text_and_the_targets(client):
    petition = await my_draft(client)
    form = edit_form(
        petition,
        title="Reopen the Riverside footbridge by spring",
        goal="2,500",
        target_name_1="Council Roads Committee",
        target_postal_area_1="RV1",
    )
    response = await submit(
        client, f"/lead/petitions/{petition.id}/edit", f"/lead/petitions/{petition.id}/edit", form
    )
    assert response.status_code == 200
    assert "Your changes are saved" in response.text
    saved = await get_petition(petition.id)
    assert saved.title == "Reopen the Riverside footbridge by spring"
    assert saved.goal == 2500
    targets = await targets_of(petition.id)
    assert [(t.name, t.postal_area) for t in targets] == [
        ("Jane Mayor", ""),
        ("Council Roads Committee", "RV1"),
    ]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"title": "Short"}, "title of at least 10 characters"),
        ({"goal": "lots"}, "The goal is a number of signatures"),
        ({"goal": "0"}, "Set a goal between 1 and"),
        ({"target_name_0": "", "target_title_0": ""}, "Name at least one target"),
        ({"body": "Too short."}, "at least 30 characters"),
        ({"scope_kind": "galaxy"}, "Choose where the petition matters"),
        ({"scope_kind": "region", "scope_value": ""}, "Say which region"),
        ({"target_phone_2": "1" * 41}, "Target 3&#39;s phone number is too long"),
    ],
)
async def test_editing_with_bad_input_shows_the_message_on_the_form_and_stores_nothing(
    client, changes, message
):
    petition = await my_draft(client)
    form = edit_form(petition, **changes, summary="A new summary that must not be stored")
    response = await submit(
        client, f"/lead/petitions/{petition.id}/edit", f"/lead/petitions/{petition.id}/edit", form
    )
    assert response.status_code == 400
    assert message in response.text
    assert "Nothing was saved yet" in response.text
    assert 'name="title"' in response.text  # the form again, with what was typed
    assert "A new summary that must not be stored" in response.text
    saved = await get_petition(petition.id)
    assert saved.summary == "" and saved.version == petition.version
    assert [t.name for t in await targets_of(petition.id)] == ["Jane Mayor"]


async def test_every_problem_in_the_form_is_listed_at_once(client):
    petition = await my_draft(client)
    form = edit_form(petition, goal="lots", title="Short", target_email_0="x" * 400)
    response = await submit(
        client, f"/lead/petitions/{petition.id}/edit", f"/lead/petitions/{petition.id}/edit", form
    )
    assert response.status_code == 400
    for message in (
        "The goal is a number",
        "title of at least 10 characters",
        "Target 1&#39;s email is too long",
    ):
        assert message in response.text


async def test_closing_then_marking_delivered(client):
    petition = await my_published(client)
    response = await submit(client, f"/lead/petitions/{petition.id}", f"/lead/petitions/{petition.id}/close")
    assert "The petition is closed" in response.text
    assert "Mark as delivered" in response.text
    assert (await get_petition(petition.id)).status == "closed"
    response = await submit(
        client, f"/lead/petitions/{petition.id}", f"/lead/petitions/{petition.id}/deliver"
    )
    assert "Marked as delivered" in response.text
    delivered = await get_petition(petition.id)
    assert delivered.status == "delivered" and delivered.delivered_at is not None


async def test_closing_a_draft_is_refused_and_a_closed_petition_cannot_be_edited(client):
    petition = await my_draft(client)
    page = await client.get(f"/lead/petitions/{petition.id}")
    response = await client.post(
        f"/lead/petitions/{petition.id}/close", data={"_csrf_token": csrf_token_in(page.text)}
    )
    assert response.status_code == 409
    assert "Only an open petition can be closed" in response.text
    await submit_petition(petition.id, trusted=True)
    await close_petition(petition.id)
    response = await client.get(f"/lead/petitions/{petition.id}/edit")
    assert response.status_code == 409
    assert "its text can no longer change" in response.text
    response = await client.post(
        f"/lead/petitions/{petition.id}/edit",
        data={**edit_form(petition), "_csrf_token": csrf_token_in(page.text)},
    )
    assert response.status_code == 409


# What the dashboard shows -------------------------------------------------------------------


async def test_the_growth_chart_is_well_formed_accessible_svg(client):
    petition = await my_published(client, goal=10)
    await signer(petition, "Ann Able", "ann@example.org")
    await signer(petition, "Bob Baker", "bob@example.org")
    page = await client.get(f"/lead/petitions/{petition.id}")
    start, end = page.text.index("<svg"), page.text.index("</svg>") + len("</svg>")
    svg = ET.fromstring(page.text[start:end])
    assert svg.get("role") == "img"
    assert svg.find(f"{SVG}title").text.startswith("Signatures for")
    assert "2 signatures in all" in svg.find(f"{SVG}desc").text
    assert [t.text for t in svg.iter(f"{SVG}text") if t.text and "Signatures" in t.text]
    assert "<script" not in page.text[start:end]


def test_the_chart_is_sensible_with_one_day_or_a_thousand_days():
    one = ET.fromstring(signature_chart([(date(2026, 3, 1), 5)], title="One <day> & more"))
    assert one.find(f"{SVG}title").text == "One <day> & more"
    assert one.find(f"{SVG}circle") is not None
    assert "5 signatures in all, counted on 1 Mar 2026" in one.find(f"{SVG}desc").text
    start = date(2023, 1, 1)
    many = [(start + timedelta(days=i), i % 7) for i in range(1000)]
    svg = signature_chart(many, goal=2000)
    tree = ET.fromstring(svg)
    points = tree.find(f"{SVG}polyline").get("points").split()
    assert len(points) == 1000
    labels = [t.text for t in tree.iter(f"{SVG}text")]
    assert "1 Jan 2023" in labels and "26 Sep 2025" in labels
    assert "Goal 2,000" in labels
    assert len(svg) < 40_000
    empty = ET.fromstring(signature_chart([]))
    assert empty.find(f"{SVG}desc").text == "No signatures yet."


async def test_daily_signatures_cover_every_day_of_the_petition_with_zeros():
    petition = await create_petition(
        PetitionInput(
            title="Plant trees on every school street",
            body="Shade and cleaner air for children walking to school every day.",
            targets=[TargetInput(name="Council")],
        ),
        creator_id=None,
    )
    petition = await submit_petition(petition.id, trusted=True)
    await sign(petition.id, SignatureInput(name="Ann Able", email="ann@example.org"))
    await sign(petition.id, SignatureInput(name="Bob Baker", email="bob@example.org"))
    # Early in the day three days ago, so the signature an hour later falls on the same day
    # whatever the time of day the suite runs.
    published = datetime.combine(datetime.now(UTC).date() - timedelta(days=3), time(1), UTC)
    await Petition.update({Petition.published_at: published}).where(Petition.id == petition.id)
    await Signature.update({Signature.created_at: published + timedelta(hours=1)}).where(
        Signature.id == (await Signature.select(Signature.id).first())["id"]
    )
    series = await daily_signatures(await get_petition(petition.id))
    assert [n for _, n in series] == [1, 0, 0, 1]
    assert series[0][0] == published.date() and series[-1][0] == datetime.now(UTC).date()


async def test_sources_are_counted_with_direct_for_links_without_a_code(client):
    petition = await my_published(client)
    await signer(petition, "Ann Able", "ann@example.org", source="share-whatsapp")
    await signer(petition, "Bob Baker", "bob@example.org", source="share-whatsapp")
    await signer(petition, "Cy Cole", "cy@example.org", source="newsletter-may")
    await signer(petition, "Di Dunn", "di@example.org")
    rows = await sources(petition.id)
    assert [(r.code, r.count) for r in rows] == [("share-whatsapp", 2), ("direct", 1), ("newsletter-may", 1)]
    assert rows[0].label == "Shared on WhatsApp" and rows[0].percent == 50.0
    page = await client.get(f"/lead/petitions/{petition.id}")
    assert "Shared on WhatsApp" in page.text and "newsletter-may" in page.text
    assert "?source=flyer" in page.text


async def test_status_counts_include_held_and_unconfirmed_signatures(client):
    petition = await my_published(client)
    await signer(petition, "Ann Able", "ann@example.org")
    await sign(petition.id, SignatureInput(name="Hal Held", email="hal@example.org"), held=True)
    await set_policy("confirm_signatures", True)
    await signer(petition, "Una Unconfirmed", "una@example.org")
    assert await status_counts(petition.id) == {"counted": 1, "unconfirmed": 1, "held": 1}
    page = await client.get(f"/lead/petitions/{petition.id}")
    assert "held for checks" in page.text and "waiting for email confirmation" in page.text


async def test_comments_show_first_name_and_area_newest_first_in_pages(client):
    petition = await my_published(client)
    for i in range(22):
        await signer(
            petition,
            f"Person{i:02d} Surname{i:02d}",
            f"p{i}@example.org",
            postal_code="RV1 2AB",
            comment=f"Comment number {i:02d}",
        )
    page = await client.get(f"/lead/petitions/{petition.id}")
    assert "Comment number 21" in page.text and "Comment number 02" in page.text
    assert "Comment number 01" not in page.text
    assert "Person21, RV1" in page.text and "Surname21" not in page.text
    older = await client.get(f"/lead/petitions/{petition.id}?page=2")
    assert "Comment number 01" in older.text and "Comment number 00" in older.text


# The signers export -------------------------------------------------------------------------


async def test_the_signers_csv_lists_only_consenting_signers_and_never_emails(client):
    petition = await my_published(client)
    await signer(
        petition,
        "Zoë Ñúñez",
        "zoe@example.org",
        postal_code="RV1 2AB",
        share_with_creator=True,
        comment="Please, for the kids",
    )
    await signer(petition, "Private Person", "private@example.org", postal_code="RV9 9ZZ")
    await sign(
        petition.id,
        SignatureInput(name="Held Hal", email="hal@example.org", share_with_creator=True),
        held=True,
    )
    page = await client.get(f"/lead/petitions/{petition.id}")
    assert "Zoë Ñúñez" in page.text and "Private Person" not in page.text
    assert "1 of 2 signers agreed" in page.text
    response = await client.get(f"/lead/petitions/{petition.id}/signers.csv")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == f'attachment; filename="{petition.slug}-signers.csv"'
    text = response.content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["Name", "Postal code", "Locality", "Region", "District", "Comment", "Signed at (UTC)"]
    assert [r[:2] for r in rows[1:]] == [["Zoë Ñúñez", "RV1 2AB"]]
    assert rows[1][5] == "Please, for the kids"
    assert "@" not in text and "Private" not in text and "Hal" not in text


async def test_formula_like_cells_are_neutralised_in_csv_exports(client):
    petition = await my_published(client)
    await signer(
        petition,
        '=HYPERLINK("http://evil") Eve',
        "eve@example.org",
        share_with_creator=True,
        comment="+1 cmd|' /C calc'!A0",
    )
    await signer(petition, "@SUM(A1) Sam", "sam@example.org", share_with_creator=True, comment="-2+3")
    response = await client.get(f"/lead/petitions/{petition.id}/signers.csv")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    cells = [cell for row in rows[1:] for cell in row if cell]
    assert not [cell for cell in cells if cell[0] in "=+-@"]
    assert '\'=HYPERLINK("http://evil") Eve' in cells and "'+1 cmd|' /C calc'!A0" in cells
    assert csv_safe("\tTab") == "'\tTab" and csv_safe(-5) == -5 and csv_safe("plain") == "plain"
    assert csv_text([["=1", "ok"]]) == "'=1,ok\r\n"


async def test_counts_on_the_dashboard_match_the_counter(client):
    petition = await my_published(client, goal=4)
    await signer(petition, "Ann Able", "ann@example.org")
    page = await client.get(f"/lead/petitions/{petition.id}")
    assert await counter.total(petition.id) == 1
    assert "of 4" in page.text and "width: 25%" in page.text
