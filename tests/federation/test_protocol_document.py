"""docs/federation.md is the protocol another implementation follows, so its examples and
schemas are checked against the code: if either drifts, this fails."""

from __future__ import annotations

import json
import re
from pathlib import Path

from federation import schemas
from federation.discovery import parse_discovery_document
from federation.events import verify_event
from federation.httpsig import BODY_COMPONENTS, HttpRequest, signature_base
from federation.keyring import KeyRing, PinnedKeyStore
from federation.keys import b64url_decode
from federation.transactions import parse_transaction
from federation.verify import InMemoryNonceStore, Verifier

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "federation.md").read_text(encoding="utf-8")
EXAMPLE_TIME = 1760000000


def fenced(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)\n```", DOC, flags=re.S)


def example_request() -> tuple[str, str, list[tuple[str, str]], bytes]:
    head, body = fenced("http")[0].split("\n\n", 1)
    request_line, *lines = head.split("\n")
    method, target, _ = request_line.split(" ")
    headers = [tuple(line.split(": ", 1)) for line in lines]
    return method, target, headers, body.encode()


def example_discovery() -> dict:
    return json.loads(fenced("json")[0])


def pinned_instance() -> tuple[PinnedKeyStore, str]:
    document = example_discovery()
    ring = KeyRing()
    ring.add_current(b64url_decode(document["keys"][0]["public_key"]))
    store = PinnedKeyStore()
    store.pin(document["node_id"], ring)
    return store, document["node_id"]


def test_the_example_request_verifies_and_its_transaction_and_event_are_valid():
    store, instance = pinned_instance()
    verifier = Verifier(
        public_url="https://hub.example.org",
        keys=store,
        nonces=InMemoryNonceStore(),
        clock=lambda: EXAMPLE_TIME,
    )
    method, target, headers, body = example_request()
    verified = verifier.verify(method, target, headers, body)
    assert verified.node_id == instance
    txn = parse_transaction(verified, path_txn_id=target.rsplit("/", 1)[1], this_node_id="gs-" + "h" * 26)
    assert verify_event(txn.events[0], store).payload["signatures"] == 5120


def test_the_example_signature_base_is_what_the_example_request_signs():
    method, target, headers, _ = example_request()
    params_value = dict(headers)["Signature-Input"].removeprefix("gs=")
    base = signature_base(
        HttpRequest(method, "https://hub.example.org" + target, headers), BODY_COMPONENTS, params_value
    )
    shown = re.search(r"The signature base it signs.*?```\n(.*?)\n```", DOC, flags=re.S).group(1)
    assert base.decode() == shown


def test_the_example_discovery_document_verifies_with_the_documented_fingerprint():
    document = example_discovery()
    fingerprint = re.search(
        r"Example \(the RFC 9421 Appendix B.1.4 test key.*?\n`([A-Z2-7-]+)`", DOC, flags=re.S
    ).group(1)
    parsed = parse_discovery_document(
        json.dumps(document).encode(),
        fetched_from="https://instance.example.org",
        now=EXAMPLE_TIME,
        pinned_fingerprint=fingerprint,
    )
    assert parsed.document["keys"][0]["fingerprint"] == fingerprint


def test_every_schema_in_the_document_is_the_one_the_code_enforces():
    blocks = re.findall(
        r"`federation\.schemas\.([A-Z_]+(?:\[\"[a-z.]+\"\])?)`\n\n```json\n(.*?)\n```", DOC, flags=re.S
    )
    documented = {name: json.loads(text) for name, text in blocks}
    expected = {
        "DISCOVERY_SCHEMA": schemas.DISCOVERY_SCHEMA,
        "PAIR_REQUEST_SCHEMA": schemas.PAIR_REQUEST_SCHEMA,
        "TRANSACTION_SCHEMA": schemas.TRANSACTION_SCHEMA,
        "EVENTS_PAGE_SCHEMA": schemas.EVENTS_PAGE_SCHEMA,
        "ENVELOPE_SCHEMA": schemas.ENVELOPE_SCHEMA,
        **{f'PAYLOAD_SCHEMAS["{t}"]': s for t, s in schemas.PAYLOAD_SCHEMAS.items()},
    }
    assert documented == json.loads(json.dumps(expected))


def test_every_error_code_the_code_can_return_is_documented():
    source = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "federation").glob("*.py"))
    codes = set(re.findall(r'FederationError\(\s*\d{3},\s*"([a-z_]+)"', source))
    codes |= {"malformed_header"}
    table = DOC.split("## 7. Error responses", 1)[1].split("## 8.", 1)[0]
    missing = sorted(code for code in codes if f"`{code}`" not in table)
    assert not missing, f"undocumented error codes: {missing}"
