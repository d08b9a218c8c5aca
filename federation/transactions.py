"""Transactions between peers and the sender's retry policy, as pure functions.

A transaction is `PUT /federation/v1/send/{txn_id}` with `{"origin", "destination", "txn_id",
"events": [≤ 50 signed events]}`; the txn_id is also the Idempotency-Key, so a retried PUT is
recognised and answered with the stored result for 30 days. The sender keeps one transaction
in flight per peer, retries with exponential backoff and full jitter capped at 6 hours, never
drops an event before 30 days, and then dead-letters it for the admin.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from federation.canonical import CanonicalJSONError, canonical_json, loads_strict
from federation.documents import validate_schema
from federation.errors import FederationError
from federation.schemas import MAX_EVENTS_PER_TRANSACTION, TRANSACTION_SCHEMA
from federation.verify import VerifiedRequest, check_claimed_node

__all__ = [
    "BACKOFF_BASE_SECONDS",
    "BACKOFF_CAP_SECONDS",
    "DEAD_LETTER_AFTER_SECONDS",
    "IDEMPOTENCY_RETENTION_SECONDS",
    "MAX_EVENTS_PER_TRANSACTION",
    "Transaction",
    "backoff_delay",
    "build_transaction",
    "is_dead_letter",
    "new_txn_id",
    "parse_transaction",
    "send_path",
]

BACKOFF_BASE_SECONDS = 30
BACKOFF_CAP_SECONDS = 6 * 3600
DEAD_LETTER_AFTER_SECONDS = 30 * 24 * 3600
IDEMPOTENCY_RETENTION_SECONDS = 30 * 24 * 3600


@dataclass(frozen=True)
class Transaction:
    origin: str
    destination: str
    txn_id: str
    events: list[dict[str, Any]]


def new_txn_id() -> str:
    return secrets.token_urlsafe(18)


def send_path(txn_id: str) -> str:
    return f"/federation/v1/send/{txn_id}"


def build_transaction(origin: str, destination: str, txn_id: str, events: Sequence[dict[str, Any]]) -> bytes:
    """The request body (canonical JSON, so a retry sends identical bytes)."""
    if not 1 <= len(events) <= MAX_EVENTS_PER_TRANSACTION:
        raise ValueError(f"a transaction carries 1 to {MAX_EVENTS_PER_TRANSACTION} events")
    body = {"origin": origin, "destination": destination, "txn_id": txn_id, "events": list(events)}
    validate_schema(TRANSACTION_SCHEMA, body, "transaction")
    return canonical_json(body)


def parse_transaction(verified: VerifiedRequest, *, path_txn_id: str, this_node_id: str) -> Transaction:
    """After transport verification: strict JSON, schema, the signer is the claimed origin,
    the transaction is addressed to us, and the path, body and Idempotency-Key agree.
    Each event is then checked on its own (events.verify_event / apply_key_*)."""
    try:
        body = loads_strict(verified.body)
    except CanonicalJSONError as exc:
        raise FederationError(400, "document_invalid", f"transaction: {exc}") from None
    validate_schema(TRANSACTION_SCHEMA, body, "transaction")
    check_claimed_node(verified, body["origin"])
    if body["destination"] != this_node_id:
        raise FederationError(403, "wrong_destination", "this transaction is addressed to another node")
    if body["txn_id"] != path_txn_id or verified.idempotency_key != path_txn_id:
        raise FederationError(400, "txn_mismatch", "txn_id, the path and Idempotency-Key must be equal")
    return Transaction(body["origin"], body["destination"], body["txn_id"], body["events"])


def backoff_delay(attempt: int, rng: random.Random | None = None) -> float:
    """Seconds to wait before retry number `attempt` (1 = first retry): full jitter over an
    exponential ceiling min(6 h, 30 s · 2^(attempt-1)), never less than 1 s."""
    ceiling = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** min(max(attempt, 1) - 1, 30))
    return max(1.0, (rng or random).uniform(0, ceiling))


def is_dead_letter(first_attempt_at: float, now: float) -> bool:
    """An event is given up (and shown to the admin) only after 30 days of failed delivery."""
    return now - first_attempt_at >= DEAD_LETTER_AFTER_SECONDS
