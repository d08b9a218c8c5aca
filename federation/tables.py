"""Federation's own tables (Piccolo app "federation"; every table is named federation_…).

Times used in scheduling and expiry are epoch seconds (DoublePrecision), as in core's outbox,
so the same comparisons work on SQLite and PostgreSQL. Pairs that must be unique (origin and
idempotency key, origin and event id) are stored as one `key` column with a unique index,
which both databases create with the table and accept as an ON CONFLICT target.
"""

from __future__ import annotations

from piccolo.columns import Boolean, DoublePrecision, ForeignKey, Integer, Text, Varchar
from piccolo.columns.base import OnDelete
from piccolo.table import Table

from core.plugin_api import Petition


class FederationPeer(Table, tablename="federation_peer"):
    """A paired node: its pinned keys (a KeyRing as JSON), status (pending → active, or
    suspended by this node's admin), the sender-side backoff towards it and the one
    transaction in flight in each direction."""

    node_id = Varchar(length=40, unique=True)
    origin = Varchar(length=300)
    role = Varchar(length=12)
    status = Varchar(length=12, default="pending", index=True)
    keys = Text(default="[]")
    created_at = DoublePrecision(default=0.0)
    approved_at = DoublePrecision(default=0.0)
    last_seen_at = DoublePrecision(default=0.0)
    failures = Integer(default=0)
    next_attempt_at = DoublePrecision(default=0.0)
    last_error = Text(default="")
    out_txn = Varchar(length=64, default="")
    out_lease_until = DoublePrecision(default=0.0)
    in_txn = Varchar(length=64, default="")
    in_lease_until = DoublePrecision(default=0.0)
    catch_up_cursor = Varchar(length=40, default="0")


class FederationInvite(Table, tablename="federation_invite"):
    """A single-use pairing invite (hub). Only the token's SHA-256 is kept."""

    token_hash = Varchar(length=64, unique=True)
    origin = Varchar(length=300)
    created_at = DoublePrecision(default=0.0)
    expires_at = DoublePrecision(default=0.0)
    used_at = DoublePrecision(default=0.0)
    used_by = Varchar(length=40, default="")


class FederationOutbound(Table, tablename="federation_outbound"):
    """One signed event queued for one peer. The row id is the catch-up cursor; rows stay for
    30 days after they are sent so a peer can catch up, then they are pruned."""

    peer = Varchar(length=40, index=True)
    event_id = Varchar(length=64)
    event_type = Varchar(length=40)
    envelope = Text()
    status = Varchar(length=12, default="pending", index=True)
    txn_id = Varchar(length=64, default="", index=True)
    created_at = DoublePrecision(default=0.0, index=True)
    sent_at = DoublePrecision(default=0.0)
    last_error = Text(default="")


class FederationTransaction(Table, tablename="federation_transaction"):
    """Receiver side: `origin txn_id` → the body hash and the response, kept 30 days, so a
    retried transaction is answered from here and the same key with another body is a 409."""

    key = Varchar(length=120, unique=True)
    body_hash = Varchar(length=64)
    response = Text()
    created_at = DoublePrecision(default=0.0, index=True)


class FederationSeenEvent(Table, tablename="federation_seen_event"):
    """`origin event_id` of every event applied: a duplicate (a retry, a catch-up page that
    overlaps a push) is recognised and has no second effect."""

    key = Varchar(length=120, unique=True)
    created_at = DoublePrecision(default=0.0, index=True)


class FederationNonce(Table, tablename="federation_nonce"):
    """Nonces of accepted signed requests until their signature expires (replay → 401)."""

    key = Varchar(length=330, unique=True)
    until = DoublePrecision(default=0.0, index=True)


class FederationCopy(Table, tablename="federation_copy"):
    """The hub's record of a federated petition: which core Petition row holds its text, the
    highest text version and status version applied (so old or repeated events change
    nothing), and the latest federation-wide count (each reporter's latest report is in
    `federation_count_report`)."""

    key = Varchar(length=150, unique=True)
    origin_node = Varchar(length=40, index=True)
    origin_id = Varchar(length=100)
    petition = ForeignKey(references=Petition, null=True, default=None, on_delete=OnDelete.set_null)
    text_version = Integer(default=0)
    status_version = Integer(default=0)
    status = Varchar(length=12, default="published")
    closed_at = DoublePrecision(default=0.0)
    url = Text(default="")
    signature_count = Integer(default=0)
    growth_day = Integer(default=0, index=True)
    first_seen_at = DoublePrecision(default=0.0)
    updated_at = DoublePrecision(default=0.0)


class FederationCountSample(Table, tablename="federation_count_sample"):
    """Reported totals over time, for ranking the directory by recent growth."""

    copy = ForeignKey(references=FederationCopy, on_delete=OnDelete.cascade)
    at = DoublePrecision(default=0.0, index=True)
    total = Integer(default=0)


class FederationReport(Table, tablename="federation_report"):
    """Instance side: the last cumulative count reported for a local petition, and its
    sequence number (reports are cumulative, so a lost or reordered one is harmless)."""

    petition_id = Integer(unique=True)
    sequence = Integer(default=0)
    total = Integer(default=0)
    reported_at = DoublePrecision(default=0.0)


class FederationCountReport(Table, tablename="federation_count_report"):
    """Every node: the latest `petition.counts` of each reporter for each petition (`petition_key`
    is `origin:id`), sequence-checked. A node's total is its own local signatures plus the sum of
    these rows for the petition, never including its own reports. The envelope is kept so the
    hub can hand the current counts to an instance it approves later."""

    key = Varchar(length=200, unique=True)
    petition_key = Varchar(length=150, index=True)
    reporter = Varchar(length=40)
    sequence = Integer(default=0)
    signatures = Integer(default=0)
    as_of = Integer(default=0)
    envelope = Text(default="")
    updated_at = DoublePrecision(default=0.0)


class FederationRelayState(Table, tablename="federation_relay_state"):
    """Hub side: the latest origin-signed text event and status event of each federated
    petition (`key` is `origin:id text` or `origin:id status`), with the version they carry, so
    an instance approved later receives the current state exactly as the origin signed it."""

    key = Varchar(length=160, unique=True)
    petition_key = Varchar(length=150, index=True)
    origin_node = Varchar(length=40, index=True)
    version = Integer(default=0)
    envelope = Text(default="")
    updated_at = DoublePrecision(default=0.0)


class FederationNodeListing(Table, tablename="federation_node_listing"):
    """Hub side: the version of the latest `node.listed` sent about each peer (monotonic)."""

    node_id = Varchar(length=40, unique=True)
    version = Integer(default=0)
    listed = Boolean(default=True)
    updated_at = DoublePrecision(default=0.0)


class FederationIntroducedNode(Table, tablename="federation_introduced_node"):
    """Instance side: a node the hub introduced with `node.listed`. Kept apart from
    `federation_peer` on purpose: these keys verify only events the hub relays, and never a
    transport signature (the transport key store is built from peers alone)."""

    node_id = Varchar(length=40, unique=True)
    origin = Varchar(length=300, default="")
    role = Varchar(length=12, default="instance")
    keys = Text(default="[]")
    version = Integer(default=0)
    listed = Boolean(default=False)
    introduced_by = Varchar(length=40, default="")
    updated_at = DoublePrecision(default=0.0)


TABLES = [
    FederationPeer,
    FederationInvite,
    FederationOutbound,
    FederationTransaction,
    FederationSeenEvent,
    FederationNonce,
    FederationCopy,
    FederationCountSample,
    FederationReport,
    FederationCountReport,
    FederationRelayState,
    FederationNodeListing,
    FederationIntroducedNode,
]
