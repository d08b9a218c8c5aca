"""Core events reach plugins through the outbox: emitted where things happen, committed with
them, delivered by workers, one plugin's failure isolated from signing and from other plugins."""

from __future__ import annotations

import asyncio
import json
import time

from core.outbox import transaction
from core.outbox.tables import OutboxItem
from core.plugin_api import EVENTS, Event, Plugin
from core.plugins.events import emit
from core.plugins.host import installed_plugins
from tests.core.plugins.conftest import plugins_installed, running_app
from tests.core.plugins.fake_greeter.plugin import RECEIVED, greeter
from tests.support.forms import submit
from tests.support.outbox import wait_for_outbox
from tests.support.petitions import published_petition


async def _record(event: Event) -> None:
    RECEIVED.append(event)


def recorder() -> Plugin:
    """Listens to every core event."""
    return Plugin(name="recorder", version="1", requires_api="1.0", events=dict.fromkeys(EVENTS, _record))


async def queued_events(plugin: str = "recorder") -> list[dict]:
    rows = (
        await OutboxItem.select(OutboxItem.payload)
        .where(OutboxItem.topic == f"plugin.event.{plugin}")
        .order_by(OutboxItem.id)
    )
    return [
        row["payload"] if isinstance(row["payload"], dict) else json.loads(row["payload"]) for row in rows
    ]


async def test_signing_delivers_signature_created_to_the_plugin_through_a_worker(greeter_client):
    petition = await published_petition()
    page = await submit(
        greeter_client,
        f"/p/{petition.slug}",
        f"/p/{petition.slug}/sign",
        {"name": "Sam", "email": "sam@example.org"},
    )
    assert page.status_code == 200
    await wait_for_outbox(topic="plugin.event.greeter")
    by_name = {event.name: event for event in RECEIVED}
    assert set(by_name) == {"petition.published", "signature.created"}
    signed = by_name["signature.created"]
    assert signed.data["petition_id"] == petition.id
    assert signed.data["status"] == "counted"
    assert signed.key == str(signed.data["signature_id"])


async def test_a_failing_event_handler_is_logged_retried_and_never_breaks_signing_or_other_plugins():
    async def explode(event: Event) -> None:
        raise RuntimeError("the CRM is down")

    failing = Plugin(name="failing", version="1", requires_api="1.0", events={"signature.created": explode})
    async with running_app([failing, greeter()]) as client:
        petition = await published_petition()
        page = await submit(
            client,
            f"/p/{petition.slug}",
            f"/p/{petition.slug}/sign",
            {"name": "Sam", "email": "sam@example.org"},
        )
        assert page.status_code == 200 and "Thank you for signing" in page.text
        await wait_for_outbox(topic="plugin.event.greeter")
        assert "signature.created" in {event.name for event in RECEIVED}
        deadline = time.monotonic() + 10
        while True:
            item = await OutboxItem.objects().where(OutboxItem.topic == "plugin.event.failing").first()
            if item is not None and item.attempts >= 1 and item.status == "pending":
                break
            assert time.monotonic() < deadline, item
            await asyncio.sleep(0.05)
        assert item.last_error == "RuntimeError: the CRM is down"  # kept for the admin, retried later


async def test_each_core_event_is_emitted_where_it_happens_with_its_documented_payload():
    from core.groups.service import GroupInput, create_group, update_group
    from core.instance_settings import set_policy
    from core.mailings.suppression import unsubscribe
    from core.moderation.blocks import release
    from core.people.service import get_or_create_person
    from core.people.signup import PersonInput, sign_up
    from core.petitions.service import (
        PetitionInput,
        TargetInput,
        close_petition,
        create_petition,
        mark_delivered,
        reject_petition,
        submit_petition,
        update_petition,
    )
    from core.petitions.signing import SignatureInput, confirm_signature, sign
    from core.petitions.tables import Signature

    async with plugins_installed([recorder()]):
        petition = await published_petition()
        await update_petition(
            petition.id,
            PetitionInput(
                title="Fix the Riverside footbridge this year",
                body="The footbridge has been closed for two years. Reopen it so children can walk.",
                targets=[TargetInput(name="Jane Mayor")],
            ),
        )
        await sign(petition.id, SignatureInput(name="Sam Signer", email="sam@example.org"))
        await set_policy("confirm_signatures", True)
        await sign(petition.id, SignatureInput(name="Cy Confirm", email="cy@example.org"))
        confirmation = await Signature.objects().where(Signature.status == "unconfirmed").first()
        token = "known-token"
        from core.accounts.tokens import hash_secret

        await Signature.update({Signature.confirmation_hash: hash_secret(token)}).where(
            Signature.id == confirmation.id
        )
        await confirm_signature(token)
        held = await sign(petition.id, SignatureInput(name="Hal Held", email="hal@example.org"), held=True)
        await release(petition.id, [held.signature_id])  # staff release it: now it counts too
        await close_petition(petition.id)
        other = await published_petition("Light the Riverside towpath at night")
        await mark_delivered(other.id)
        abusive = await published_petition("Something staff will take down")
        await reject_petition(abusive.id, "Against our policy.")
        await set_policy("moderation", "pre")
        draft = await create_petition(
            PetitionInput(
                title="Rejected before anyone saw it",
                body="A petition that waits for review and never goes out to anyone.",
                targets=[TargetInput(name="Jane Mayor")],
            ),
            creator_id=None,
        )
        pending = await submit_petition(draft.id)
        await reject_petition(pending.id, "Not for this instance.")  # never published: no event
        await sign_up(PersonInput(email="new@example.org", source="api"))
        await get_or_create_person("login@example.org")
        group = await create_group("Riverside Council")  # also its public listing
        await update_group(group.id, GroupInput("Riverside Council", region="North"))
        signer = await Signature.objects().first()
        await unsubscribe(signer.person, via="page")
        await unsubscribe(signer.person, via="page")  # a replay changes nothing, emits nothing
        events = await queued_events()

    names = [e["event"] for e in events]
    assert names.count("person.created") == 5  # three signers, one signup, one login
    assert sorted(e["data"]["via"] for e in events if e["event"] == "signature.confirmed") == [
        "email",
        "release",
    ]
    assert set(names) == set(EVENTS)
    assert names.count("person.unsubscribed") == 1
    for event in events:
        assert set(event["data"]) == set(EVENTS[event["event"]]), event
    assert [e["data"]["petition_id"] for e in events if e["event"] == "petition.taken_down"] == [abusive.id]
    closed = next(e for e in events if e["event"] == "petition.closed")
    assert closed["data"]["signature_count"] == 3
    assert len({e["event"] + e["key"] for e in events}) == len(events)  # each occurrence once


async def test_signing_again_emits_nothing_new():
    from core.petitions.signing import SignatureInput, sign

    async with plugins_installed([recorder()]):
        petition = await published_petition()
        await sign(petition.id, SignatureInput(name="Sam Signer", email="sam@example.org"))
        before = len(await queued_events())
        await sign(petition.id, SignatureInput(name="Sam Signer", email="sam@example.org"))
        assert len(await queued_events()) == before


async def test_an_event_whose_transaction_rolls_back_is_never_delivered():
    async with plugins_installed([recorder()]):
        try:
            async with transaction():
                assert await emit("group.created", "1", {"group_id": 1, "slug": "x", "name": "X"}) == 1
                raise RuntimeError("the change failed")
        except RuntimeError:
            pass
        assert await queued_events() == []


async def test_without_a_listening_plugin_emitting_queues_nothing():
    with installed_plugins([greeter(events={})]):
        assert await emit("group.created", "1", {"group_id": 1, "slug": "x", "name": "X"}) == 0
    assert await OutboxItem.count().where(OutboxItem.topic.like("plugin.event.%")) == 0


async def test_an_unknown_event_or_unserialisable_data_is_logged_not_raised():
    async with plugins_installed([recorder()]):
        assert await emit("petition.exploded", "1", {}) == 0
        assert await emit("group.created", "1", {"group_id": object()}) == 0
        assert await queued_events() == []
