"""Announcing public listings, so whatever publishes them elsewhere (the federation plugin's
hub directory, a webhook plugin) hears about every change without knowing who announced it.

Why core keeps the listing and numbers its versions, rather than each announcer passing a
version: an announcer just states "this is what the public sees now" after every change
(inside the transaction that makes it); core compares it with the last announcement, and
only a real change gets the next version and a `listing.changed` event. So versions are
monotonic per listing whatever the announcer's own counters mean (the events plugin's
`version` counts reschedules, not title edits), announcing twice costs nothing, and the
table is the current public directory of the instance, which a newly paired hub can be
sent in full (`current_listings`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from core.listings.tables import PublicListing
from core.outbox import transaction
from core.plugins.events import emit

__all__ = ["Listing", "announce_listing", "current_listings"]

KIND = re.compile(r"^[a-z][a-z0-9_]{1,39}$")
LOCAL_ID = re.compile(r"^[A-Za-z0-9._:-]{1,100}$")
MAX_FIELDS_BYTES = 64 * 1024


@dataclass(frozen=True)
class Listing:
    """A listing as last announced: `fields` are the announcer's (JSON values)."""

    kind: str
    local_id: str
    version: int
    listed: bool
    fields: Mapping[str, Any]


def _fields_text(kind: str, local_id: str, fields: Mapping[str, Any]) -> str:
    if not KIND.match(kind):
        raise ValueError(f"listing kind must be 2-40 lowercase letters, digits or _; got {kind!r}")
    if not LOCAL_ID.match(local_id):
        raise ValueError(f"listing id must be 1-100 of A-Z a-z 0-9 . _ : -; got {local_id!r}")
    try:
        text = json.dumps(dict(fields), sort_keys=True, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"listing {kind}:{local_id}: fields must be JSON values ({exc})") from None
    if len(text.encode()) > MAX_FIELDS_BYTES:
        raise ValueError(f"listing {kind}:{local_id}: fields exceed {MAX_FIELDS_BYTES} bytes of JSON")
    return text


async def announce_listing(
    kind: str, local_id: str | int, *, listed: bool, fields: Mapping[str, Any] | None = None
) -> int | None:
    """State what the public sees of one thing now. Call it inside the transaction that
    changes the thing, after every change that may affect its listing (also when it is
    hidden, cancelled or deleted: `listed=False`; `fields` may then be omitted, and the last
    announced fields are kept). Returns the listing's new version, or None when nothing
    changed (or a thing never listed is announced unlisted). Raises ValueError for a
    malformed kind, id or fields: a bug in the announcer, not a user's mistake."""
    local_id = str(local_id)
    text = _fields_text(kind, local_id, fields or {})
    key = f"{kind}:{local_id}"
    async with transaction():
        current = await PublicListing.objects().where(PublicListing.key == key).first()
        if current is None and not listed:
            return None
        if current is not None and not fields:
            text = current.fields
        if current is not None and current.listed == listed and (current.fields == text or not listed):
            return None
        now = datetime.now(UTC)
        version = await _next_version(key, kind, local_id, listed, text, now, exists=current is not None)
        await emit(
            "listing.changed",
            f"{key}:{version}",
            {
                "kind": kind,
                "local_id": local_id,
                "version": version,
                "listed": listed,
                "fields": json.loads(text),
            },
        )
    return version


async def _next_version(
    key: str, kind: str, local_id: str, listed: bool, text: str, now: datetime, *, exists: bool
) -> int:
    """Version 1 for a new listing, else one more than the stored one, in one statement so
    two transactions announcing the same listing get different versions."""
    if not exists:
        inserted = await (
            PublicListing.insert(
                PublicListing(
                    key=key,
                    kind=kind,
                    local_id=local_id,
                    version=1,
                    listed=listed,
                    fields=text,
                    updated_at=now,
                )
            )
            .on_conflict(target=PublicListing.key, action="DO NOTHING")
            .returning(PublicListing.version)
        )
        if inserted:
            return 1
    updated = await (
        PublicListing.update(
            {
                PublicListing.version: PublicListing.version + 1,
                PublicListing.listed: listed,
                PublicListing.fields: text,
                PublicListing.updated_at: now,
            }
        )
        .where(PublicListing.key == key)
        .returning(PublicListing.version)
    )
    return int(updated[0]["version"])


async def current_listings(kind: str | None = None, *, listed_only: bool = True) -> list[Listing]:
    """Every listing as last announced (of one kind, or all), oldest first: what to send a
    directory that has just been connected."""
    query = PublicListing.select().order_by(PublicListing.id)
    if kind is not None:
        query = query.where(PublicListing.kind == kind)
    if listed_only:
        query = query.where(PublicListing.listed == True)  # noqa: E712  (a column expression)
    return [
        Listing(r["kind"], r["local_id"], int(r["version"]), bool(r["listed"]), json.loads(r["fields"]))
        for r in await query
    ]
