"""The hub relays: petitions go origin → hub → instances, counts from every node to every node.

When the hub applies `petition.published`, `petition.updated`, `petition.closed` or
`petition.counts` from an instance, it queues the same envelope, unchanged and still signed
by its origin, for every other approved instance (never back to the origin; a suspended
instance's copy waits in its queue until it is unsuspended). Receivers check the origin's
signature against the keys the hub introduced (`federation.introductions`).

So that an instance approved later does not start empty, the hub keeps the latest text and
status envelope of every federated petition (and every reporter's latest count report, kept
by `federation.copies`) and queues them for the newcomer when it is approved, after the
`node.listed` introductions that let it verify them.

A petition the hub's staff took down (a report upheld on the hub) is relayed no further and
handed to no newcomer: the hub will not spread what it moderated away. The origin's own
withdrawal (`petition.closed` with status `withdrawn`) is relayed like any status.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

from core.plugin_api import Petition, taken_down_here
from federation.events import Event
from federation.identity import load_identity
from federation.outbound import queue_event
from federation.publishing import approved_instances, republish_to
from federation.tables import FederationCopy, FederationCountReport, FederationPeer, FederationRelayState

__all__ = ["relayed", "send_current_state"]

Handler = Callable[[Event, float], Awaitable[str]]

# What part of a petition's state each relayed type carries, and where its version is.
_STATE_PARTS = {"petition.published": "text", "petition.updated": "text", "petition.closed": "status"}


def relayed(handler: Handler) -> Handler:
    """Wrap an event handler: once the event applied here, a hub relays it to the other
    instances (inside the same database transaction, so applying and relaying are one)."""

    async def apply_then_relay(event: Event, now: float) -> str:
        result = await handler(event, now)
        if result == "ok" and load_identity(now).role == "hub":
            petition_key = f"{event.origin}:{event.payload['petition']['id']}"
            if petition_key not in await taken_down_by_hub_staff([petition_key]):
                await relay(event, now)
        return result

    apply_then_relay.__name__ = f"relayed_{getattr(handler, '__name__', 'handler')}"
    apply_then_relay.__doc__ = handler.__doc__
    return apply_then_relay


async def relay(event: Event, now: float) -> int:
    """Queue the origin-signed envelope for every approved instance but its origin."""
    if event.type in _STATE_PARTS:
        await _remember(event, now)
    targets = [node for node in await approved_instances() if node != event.origin]
    return await queue_event(event.type, event.payload, targets, envelope=event.envelope, now=now)


def _version_of(event: Event) -> int:
    if event.type == "petition.closed":
        return int(event.payload["version"])
    return int(event.payload["petition"]["version"])


async def _remember(event: Event, now: float) -> None:
    """Keep the envelope if it carries a newer version of its part than the one we hold."""
    ref = event.payload["petition"]
    petition_key = f"{event.origin}:{ref['id']}"
    key = f"{petition_key} {_STATE_PARTS[event.type]}"
    version = _version_of(event)
    text = json.dumps(event.envelope)
    held = await FederationRelayState.objects().where(FederationRelayState.key == key).first()
    if held is None:
        await FederationRelayState.insert(
            FederationRelayState(
                key=key,
                petition_key=petition_key,
                origin_node=event.origin,
                version=version,
                envelope=text,
                updated_at=now,
            )
        )
    elif version > held.version:
        await FederationRelayState.update(
            {
                FederationRelayState.version: version,
                FederationRelayState.envelope: text,
                FederationRelayState.updated_at: now,
            }
        ).where(FederationRelayState.id == held.id)


async def taken_down_by_hub_staff(petition_keys: list[str]) -> set[str]:
    """Which of these federated petitions (`origin:id`) the hub's staff took down."""
    if not petition_keys:
        return set()
    copies = await FederationCopy.select(FederationCopy.key, FederationCopy.petition).where(
        FederationCopy.key.is_in(sorted(set(petition_keys))) & FederationCopy.petition.is_not_null()
    )
    if not copies:
        return set()
    petitions = await Petition.objects().where(Petition.id.is_in([row["petition"] for row in copies]))
    down = {petition.id for petition in petitions if taken_down_here(petition)}
    return {row["key"] for row in copies if row["petition"] in down}


async def _active_instances() -> set[str]:
    rows = await FederationPeer.select(FederationPeer.node_id).where(
        (FederationPeer.role == "instance") & (FederationPeer.status == "active")
    )
    return {r["node_id"] for r in rows}


async def send_current_state(node_id: str, others: list[str], now: float) -> None:
    """(hub) A peer became active: it gets the state of every petition of the other active
    instances and of the hub, and every other node's latest report; the other instances get
    the state of its petitions (new to them if it was suspended when they joined). Event ids
    are the originals, so nothing a peer already has is queued for it again."""
    active = await _active_instances()
    states = await FederationRelayState.objects().order_by(FederationRelayState.id)
    reports = await FederationCountReport.objects().order_by(FederationCountReport.id)
    withheld = await taken_down_by_hub_staff([row.petition_key for row in [*states, *reports]])
    for row in states:
        if row.origin_node not in active or row.petition_key in withheld:
            continue  # not introduced to anyone while unlisted, or moderated away here
        envelope = json.loads(row.envelope)
        targets = [node_id] if row.origin_node != node_id else others
        await queue_event(envelope["type"], envelope["payload"], targets, envelope=envelope, now=now)
    for row in reports:
        if row.reporter not in active or not row.envelope or row.petition_key in withheld:
            continue
        envelope = json.loads(row.envelope)
        targets = [node_id] if row.reporter != node_id else others
        await queue_event("petition.counts", envelope["payload"], targets, envelope=envelope, now=now)
    await republish_to([node_id], now)
