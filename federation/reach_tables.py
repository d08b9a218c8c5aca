"""Pooled reach's tables (Piccolo app "federation"): reach reports and boost requests.

Times are epoch seconds (DoublePrecision), as in federation.tables. Only aggregates are kept:
how many members an instance could mail, and a request's cumulative counts.
"""

from __future__ import annotations

from piccolo.columns import Boolean, DoublePrecision, Integer, Text, Varchar
from piccolo.table import Table


class FederationReach(Table, tablename="federation_reach"):
    """The latest reach report per node. On the hub, one row per instance (what it said it
    could mail); on an instance, one row for itself (what it last sent, so a report goes
    only when the figure moved materially or has grown old)."""

    node_id = Varchar(length=40, unique=True)
    sequence = Integer(default=0)
    as_of = DoublePrecision(default=0.0)
    eligible = Integer(default=0)
    received_at = DoublePrecision(default=0.0)


class FederationBoostRequest(Table, tablename="federation_boost_request"):
    """Instance side: a hub's `boost.request`, what this instance did with it and the last
    `boost.report` it sent. `key` is "<hub node id> <boost_id>", unique: a request delivered
    again changes nothing. status: waiting (for the petition's copy to arrive), mailing
    (claimed by one worker, inside its transaction), mailed, refused, done (reporting has ended)."""

    key = Varchar(length=150, unique=True)
    hub = Varchar(length=40, index=True)
    boost_id = Varchar(length=100)
    petition_origin = Varchar(length=40)
    petition_ref = Varchar(length=100)
    petition_id = Integer(null=True, default=None)
    target_count = Integer(default=0)
    k_min = Integer(default=1)
    deliver_by = DoublePrecision(default=0.0)
    report_until = DoublePrecision(default=0.0, index=True)
    received_at = DoublePrecision(default=0.0)
    status = Varchar(length=10, default="waiting", index=True)
    reason = Text(default="")
    mailing_id = Integer(null=True, default=None)
    queued = Integer(default=0)
    report_sequence = Integer(default=0)
    reported_at = DoublePrecision(default=0.0)
    sent = Integer(null=True, default=None)
    signed = Integer(null=True, default=None)
    unsubscribed = Integer(null=True, default=None)
    refused = Boolean(default=False)


REACH_TABLES = [FederationReach, FederationBoostRequest]
