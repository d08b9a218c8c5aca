"""JSON Schemas (draft 2020-12) of everything that crosses between nodes.

They are data, published verbatim in docs/federation.md, and enforced on receipt. Every object
sets `additionalProperties: false`: a field this version does not define is refused rather
than stored, which also keeps member data from slipping through in an unexpected field.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "DISCOVERY_SCHEMA",
    "ENVELOPE_SCHEMA",
    "EVENTS_PAGE_SCHEMA",
    "PAIR_REQUEST_SCHEMA",
    "PAYLOAD_SCHEMAS",
    "TRANSACTION_SCHEMA",
]

Schema = dict[str, Any]
DIALECT = "https://json-schema.org/draft/2020-12/schema"
MAX_EVENTS_PER_TRANSACTION = 50


def _object(properties: dict[str, Schema], required: list[str] | None = None) -> Schema:
    return {
        "type": "object",
        "properties": properties,
        "required": sorted(properties) if required is None else required,
        "additionalProperties": False,
    }


def _text(max_length: int, min_length: int = 1) -> Schema:
    return {"type": "string", "minLength": min_length, "maxLength": max_length}


NODE_ID: Schema = {"type": "string", "pattern": "^gs-[a-z2-7]{26}$"}
KEY_ID: Schema = {"type": "string", "pattern": "^[a-z2-7]{52}$"}
PUBLIC_KEY: Schema = {"type": "string", "pattern": "^[A-Za-z0-9_-]{43}$"}
SIGNATURE_B64: Schema = {"type": "string", "pattern": "^[A-Za-z0-9_-]{86}$"}
FINGERPRINT: Schema = {"type": "string", "pattern": "^([A-Z2-7]{4}-){12}[A-Z2-7]{4}$"}
TIMESTAMP: Schema = {"type": "integer", "minimum": 0, "maximum": 2**53 - 1}
COUNT: Schema = {"type": "integer", "minimum": 0, "maximum": 2**53 - 1}
POSITIVE: Schema = {"type": "integer", "minimum": 1, "maximum": 2**53 - 1}
URL: Schema = {"type": "string", "pattern": "^https?://[^\\s]+$", "maxLength": 2000}
ORIGIN: Schema = {"type": "string", "pattern": "^https?://[a-z0-9.\\-\\[\\]:]+$", "maxLength": 300}
LOCAL_ID: Schema = {"type": "string", "pattern": "^[A-Za-z0-9._:-]{1,100}$"}
SLUG: Schema = {"type": "string", "pattern": "^[a-z0-9][a-z0-9-]{0,199}$"}

SIGNATURES: Schema = {
    "type": "array",
    "minItems": 1,
    "maxItems": 4,
    "items": _object({"key_id": KEY_ID, "sig": SIGNATURE_B64}),
}

PETITION_REF: Schema = _object({"origin": NODE_ID, "id": LOCAL_ID})

GEOGRAPHY: Schema = _object(
    {
        "country": {"type": "string", "pattern": "^[A-Z]{2}$"},
        "region": _text(100),
        "district": _text(100),
        "postal_prefix": {"type": "string", "pattern": "^[A-Za-z0-9 -]{1,10}$"},
    },
    required=[],
)

# Decision makers are public figures; their contact details stay on the origin's page.
TARGET: Schema = _object({"name": _text(200), "title": _text(200, 0), "postal_area": _text(100, 0)}, ["name"])

PETITION_COPY: Schema = _object(
    {
        "id": LOCAL_ID,
        "version": POSITIVE,
        "slug": SLUG,
        "title": _text(300),
        "body": _text(100_000, 0),
        "targets": {"type": "array", "maxItems": 50, "items": TARGET},
        "goal": COUNT,
        "scope": GEOGRAPHY,
        "status": {"enum": ["published", "closed", "delivered"]},
        "url": URL,
        "group": _object({"id": LOCAL_ID, "name": _text(200)}),
        "published_at": TIMESTAMP,
        "updated_at": TIMESTAMP,
    },
    required=[
        "id",
        "version",
        "slug",
        "title",
        "body",
        "targets",
        "status",
        "url",
        "published_at",
        "updated_at",
    ],
)

KEY_OBJECT: Schema = _object({"key_id": KEY_ID, "public_key": PUBLIC_KEY})

PAYLOAD_SCHEMAS: dict[str, Schema] = {
    "petition.published": _object({"petition": PETITION_COPY}),
    "petition.updated": _object({"petition": PETITION_COPY}),
    "petition.closed": _object(
        {
            "petition": PETITION_REF,
            "version": POSITIVE,
            "closed_at": TIMESTAMP,
            "status": {"enum": ["closed", "delivered", "withdrawn"]},
        }
    ),
    "petition.counts": _object(
        {"petition": PETITION_REF, "sequence": POSITIVE, "as_of": TIMESTAMP, "signatures": COUNT}
    ),
    "key.rotated": _object({"old_key": KEY_OBJECT, "new_key": KEY_OBJECT, "old_key_expires": TIMESTAMP}),
    # Hub → instances: another node's keys, so relayed events can be checked against their origin.
    "node.listed": _object(
        {
            "node_id": NODE_ID,
            "origin": ORIGIN,
            "role": {"enum": ["hub", "instance"]},
            "keys": {"type": "array", "maxItems": 4, "items": KEY_OBJECT},
            "old_keys": {
                "type": "array",
                "maxItems": 16,
                "items": _object({**KEY_OBJECT["properties"], "expires": TIMESTAMP}),
            },
            "revoked_keys": {
                "type": "array",
                "maxItems": 256,
                "items": _object({**KEY_OBJECT["properties"], "revoked_at": TIMESTAMP}),
            },
            "version": POSITIVE,
            "listed": {"type": "boolean"},
        }
    ),
    "key.revoked": _object(
        {"key_id": KEY_ID, "revoked_at": TIMESTAMP, "reason": _text(500, 0)}, ["key_id", "revoked_at"]
    ),
    "group.listed": _object(
        {
            "group": _object(
                {
                    "id": LOCAL_ID,
                    "version": POSITIVE,
                    "name": _text(200),
                    "kind": {"enum": ["council", "state", "other"]},
                    "description": _text(5000, 0),
                    "scope": GEOGRAPHY,
                    "url": URL,
                },
                ["id", "version", "name", "kind", "url"],
            ),
            "listed": {"type": "boolean"},
        }
    ),
    "event.listed": _object(
        {
            "event": _object(
                {
                    "id": LOCAL_ID,
                    "version": POSITIVE,
                    "title": _text(300),
                    "description": _text(20_000, 0),
                    "starts_at": TIMESTAMP,
                    "ends_at": TIMESTAMP,
                    "timezone": _text(64),
                    "online": {"type": "boolean"},
                    "venue": _text(300, 0),
                    "locality": _text(200, 0),
                    "scope": GEOGRAPHY,
                    "group": _object({"id": LOCAL_ID, "name": _text(200)}),
                    "url": URL,
                },
                ["id", "version", "title", "starts_at", "timezone", "online", "url"],
            ),
            "listed": {"type": "boolean"},
        }
    ),
    "boost.request": _object(
        {
            "boost_id": LOCAL_ID,
            "petition": PETITION_REF,
            "target_count": POSITIVE,
            "deliver_by": TIMESTAMP,
            "k_min": POSITIVE,
        }
    ),
    "boost.report": _object(
        {
            "boost_id": LOCAL_ID,
            "petition": PETITION_REF,
            "sequence": POSITIVE,
            "as_of": TIMESTAMP,
            # Cumulative totals; null where a cell is below k_min and suppressed.
            "sent": {"type": ["integer", "null"], "minimum": 0},
            "signed": {"type": ["integer", "null"], "minimum": 0},
            "unsubscribed": {"type": ["integer", "null"], "minimum": 0},
            "refused": {"type": "boolean"},
        }
    ),
    # Instance → hub: how many members it could mail for a federation-wide boost, rounded to
    # tens (0 below the floor, or when the instance does not take part); see federation.reach.
    "reach.report": _object(
        {
            "sequence": POSITIVE,
            "as_of": TIMESTAMP,
            "eligible": {"type": "integer", "minimum": 0, "maximum": 2**53 - 1, "multipleOf": 10},
        }
    ),
}

ENVELOPE_SCHEMA: Schema = {
    "$schema": DIALECT,
    **_object(
        {
            "id": {"type": "string", "pattern": "^[A-Za-z0-9_-]{16,64}$"},
            "type": {"enum": sorted(PAYLOAD_SCHEMAS)},
            "origin": NODE_ID,
            "created": TIMESTAMP,
            "payload": {"type": "object"},
            "signatures": SIGNATURES,
        }
    ),
}

TRANSACTION_SCHEMA: Schema = {
    "$schema": DIALECT,
    **_object(
        {
            "origin": NODE_ID,
            "destination": NODE_ID,
            "txn_id": {"type": "string", "pattern": "^[A-Za-z0-9_-]{8,64}$"},
            "events": {
                "type": "array",
                "minItems": 1,
                "maxItems": MAX_EVENTS_PER_TRANSACTION,
                "items": {"type": "object"},
            },
        }
    ),
}

EVENTS_PAGE_SCHEMA: Schema = {
    "$schema": DIALECT,
    **_object(
        {
            "origin": NODE_ID,
            "events": {"type": "array", "maxItems": 500, "items": {"type": "object"}},
            "next": {"type": ["string", "null"], "maxLength": 200},
        }
    ),
}

PUBLISHED_KEY: Schema = _object({"key_id": KEY_ID, "public_key": PUBLIC_KEY, "fingerprint": FINGERPRINT})

DISCOVERY_SCHEMA: Schema = {
    "$schema": DIALECT,
    **_object(
        {
            "protocol": {"const": "groundswell-federation/1"},
            "node_id": NODE_ID,
            "origin": ORIGIN,
            "role": {"enum": ["hub", "instance"]},
            "keys": {"type": "array", "minItems": 1, "maxItems": 4, "items": PUBLISHED_KEY},
            "old_keys": {
                "type": "array",
                "maxItems": 16,
                "items": _object({**PUBLISHED_KEY["properties"], "expires": TIMESTAMP}),
            },
            "revoked_keys": {
                "type": "array",
                "maxItems": 256,
                "items": _object({"key_id": KEY_ID, "public_key": PUBLIC_KEY, "revoked_at": TIMESTAMP}),
            },
            "endpoints": _object({"send": URL, "events": URL, "pair": URL}),
            "issued_at": TIMESTAMP,
            "valid_until": TIMESTAMP,
            "signatures": SIGNATURES,
        }
    ),
}

PAIR_REQUEST_SCHEMA: Schema = {
    "$schema": DIALECT,
    **_object(
        {
            "protocol": {"const": "groundswell-federation/1"},
            "invite_token": {"type": "string", "pattern": "^[A-Za-z0-9_-]{43}$"},
            "node_id": NODE_ID,
            "origin": ORIGIN,
            "role": {"const": "instance"},
        }
    ),
}
