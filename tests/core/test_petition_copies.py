"""Copies of petitions started on other nodes (core.petitions.copies): core stores what a
plugin describes, the copy is a petition people can sign here, and a plugin can never use
these functions to change a petition started on this node."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core.petitions.copies import (
    CopyTarget,
    PetitionCopy,
    save_petition_copy,
    set_petition_copy_status,
    taken_down_here,
)
from core.petitions.directory import DirectoryQuery, search
from core.petitions.service import reject_petition
from core.petitions.signing import SignatureInput, sign
from core.petitions.tables import Petition, PetitionTarget
from tests.support.petitions import published_petition

ORIGIN = "gs-aaaaaaaaaaaaaaaaaaaaaaaaaa"


def copy(**changes) -> PetitionCopy:
    values = {
        "origin_node": ORIGIN,
        "origin_id": "41",
        "origin_url": "https://riverside.example.org/p/save-the-pool",
        "slug": "save-the-pool",
        "title": "Save the Riverside pool",
        "body": "Keep it **open** all summer.",
        "status": "published",
        "version": 1,
        "goal": 500,
        "targets": [CopyTarget("The Council", "City council")],
    }
    return PetitionCopy(**{**values, **changes})


async def test_a_copy_is_a_petition_that_names_its_origin_and_takes_signatures_here():
    petition_id = await save_petition_copy(copy())
    petition = await Petition.objects().where(Petition.id == petition_id).first()
    assert (petition.origin_node, petition.origin_id, petition.status) == (ORIGIN, "41", "published")
    assert petition.slug.startswith("save-the-pool-") and "<strong>open</strong>" in petition.body_html
    assert await PetitionTarget.count().where(PetitionTarget.petition == petition_id) == 1
    assert (await sign(petition_id, SignatureInput(name="Ann", email="ann@example.org"))).created


async def test_a_newer_text_replaces_the_text_and_targets_and_closing_stops_signing():
    petition_id = await save_petition_copy(copy())
    again = await save_petition_copy(
        copy(title="Save the pool, all year", version=2, targets=[CopyTarget("Mayor"), CopyTarget("Parks")]),
        petition_id,
    )
    assert again == petition_id
    petition = await Petition.objects().where(Petition.id == petition_id).first()
    assert (petition.title, petition.version) == ("Save the pool, all year", 2)
    targets = await PetitionTarget.select(PetitionTarget.name).where(PetitionTarget.petition == petition_id)
    assert [t["name"] for t in targets] == ["Mayor", "Parks"]

    await set_petition_copy_status(petition_id, "closed", datetime(2026, 11, 1, tzinfo=UTC))
    assert (await Petition.objects().where(Petition.id == petition_id).first()).status == "closed"


async def test_a_petition_started_here_is_never_changed_through_the_copy_functions():
    local = await published_petition("Light the towpath")
    with pytest.raises(ValueError, match="is not a copy"):
        await save_petition_copy(copy(), local.id)
    await set_petition_copy_status(local.id, "closed", None)
    unchanged = await Petition.objects().where(Petition.id == local.id).first()
    assert (unchanged.title, unchanged.status) == ("Light the towpath", "published")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"origin_node": ""}, "needs the origin node"),
        ({"status": "draft"}, "status is one of published, closed, delivered, withdrawn"),
        ({"scope_kind": "galaxy"}, "scope is one of"),
    ],
)
async def test_a_malformed_copy_is_refused_before_anything_is_written(changes, message):
    with pytest.raises(ValueError, match=message):
        await save_petition_copy(copy(**changes))
    assert await Petition.count() == 0


async def _status(petition_id: int) -> str:
    return (await Petition.select(Petition.status).where(Petition.id == petition_id).first())["status"]


async def test_a_copy_the_origin_withdraws_is_hidden_and_comes_back_if_published_again():
    petition_id = await save_petition_copy(copy())
    await set_petition_copy_status(petition_id, "withdrawn", None)
    assert await _status(petition_id) == "rejected"
    assert (await search(DirectoryQuery())).total == 0
    assert not taken_down_here(await Petition.objects().where(Petition.id == petition_id).first())
    await save_petition_copy(copy(version=3, title="Save the pool (revised)"), petition_id)
    assert await _status(petition_id) == "published"
    assert (await search(DirectoryQuery())).total == 1


async def test_a_copy_our_staff_took_down_stays_down_whatever_the_origin_sends():
    petition_id = await save_petition_copy(copy())
    await reject_petition(petition_id, "Hateful content, against our policy.")
    taken_down = await Petition.objects().where(Petition.id == petition_id).first()
    assert taken_down_here(taken_down)
    await save_petition_copy(copy(version=2, title="Save the pool, all year"), petition_id)
    await set_petition_copy_status(petition_id, "closed", None)
    await set_petition_copy_status(petition_id, "withdrawn", None)
    await save_petition_copy(copy(version=4), petition_id)
    after = await Petition.objects().where(Petition.id == petition_id).first()
    assert (after.status, after.version) == ("rejected", 4)  # the text follows, the decision stands
    assert after.rejection_reason == "Hateful content, against our policy."


async def test_a_petition_started_here_and_rejected_is_not_a_copy_taken_down():
    local = await published_petition("Light the towpath")
    rejected = await reject_petition(local.id, "Duplicate of another petition.")
    assert not taken_down_here(rejected)
