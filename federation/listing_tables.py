"""The hub's copies of federated group and event listings (`group.listed`, `event.listed`).

One row per listing, keyed `origin:id`, holding the highest version applied: an older or
repeated event changes nothing, a newer one replaces every field, and `listed = false` hides
the row (kept, so a late older "listed" version cannot bring it back). Times of events are
epoch seconds in BigInt columns (PostgreSQL's Integer ends in 2038).
"""

from __future__ import annotations

from piccolo.columns import BigInt, Boolean, DoublePrecision, Integer, Text, Varchar
from piccolo.table import Table


class FederationGroupListing(Table, tablename="federation_group_listing"):
    key = Varchar(length=150, unique=True)
    origin_node = Varchar(length=40, index=True)
    local_id = Varchar(length=100)
    version = Integer(default=0)
    listed = Boolean(default=False, index=True)
    name = Varchar(length=200, default="")
    kind = Varchar(length=12, default="other")
    description = Text(default="")
    region = Varchar(length=100, default="")
    url = Text(default="")
    updated_at = DoublePrecision(default=0.0)


class FederationEventListing(Table, tablename="federation_event_listing"):
    key = Varchar(length=150, unique=True)
    origin_node = Varchar(length=40, index=True)
    local_id = Varchar(length=100)
    version = Integer(default=0)
    listed = Boolean(default=False, index=True)
    title = Varchar(length=300, default="")
    description = Text(default="")
    starts_at = BigInt(default=0, index=True)
    ends_at = BigInt(default=0, index=True)
    timezone = Varchar(length=64, default="UTC")
    online = Boolean(default=False)
    venue = Varchar(length=300, default="")
    locality = Varchar(length=200, default="")
    region = Varchar(length=100, default="")
    group_name = Varchar(length=200, default="")
    url = Text(default="")
    updated_at = DoublePrecision(default=0.0)


LISTING_TABLES = [FederationGroupListing, FederationEventListing]
