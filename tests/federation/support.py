"""Shared test material: two nodes with keys, a pinned key store, a verifier on a fixed clock,
and a helper that signs a request exactly as a peer would."""

from __future__ import annotations

from dataclasses import dataclass, field

from federation.httpsig import sign_request
from federation.keyring import KeyRing, PinnedKeyStore, new_node_id
from federation.keys import NodeKey, generate_node_key
from federation.verify import InMemoryNonceStore, Verifier

HUB_URL = "https://hub.example.org"
SEND_PATH = "/federation/v1/send/txn-0001"
NOW = 1_760_000_000
BODY = b'{"origin":"x","events":[]}'


class Clock:
    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass
class Node:
    node_id: str
    key: NodeKey
    ring: KeyRing = field(default_factory=KeyRing)

    @classmethod
    def create(cls) -> Node:
        key = generate_node_key()
        node = cls(new_node_id(), key)
        node.ring.add_current(key.public_bytes)
        return node


@dataclass
class World:
    alice: Node
    bob: Node
    keys: PinnedKeyStore
    nonces: InMemoryNonceStore
    clock: Clock
    verifier: Verifier


def make_world(max_body: int = 1_048_576) -> World:
    alice, bob = Node.create(), Node.create()
    keys = PinnedKeyStore()
    keys.pin(alice.node_id, alice.ring)
    keys.pin(bob.node_id, bob.ring)
    nonces = InMemoryNonceStore()
    clock = Clock()
    verifier = Verifier(public_url=HUB_URL, keys=keys, nonces=nonces, clock=clock, max_body=max_body)
    return World(alice, bob, keys, nonces, clock, verifier)


def signed_put(
    key: NodeKey,
    body: bytes = BODY,
    *,
    now: int = NOW,
    url: str = HUB_URL + SEND_PATH,
    idempotency_key: str = "txn-0001",
    **kwargs: object,
) -> list[tuple[str, str]]:
    return sign_request("PUT", url, key, now=now, body=body, idempotency_key=idempotency_key, **kwargs)


def replace_header(headers: list[tuple[str, str]], name: str, value: str) -> list[tuple[str, str]]:
    return [(k, value if k.lower() == name.lower() else v) for k, v in headers]


def without_header(headers: list[tuple[str, str]], name: str) -> list[tuple[str, str]]:
    return [(k, v) for k, v in headers if k.lower() != name.lower()]


def header(headers: list[tuple[str, str]], name: str) -> str:
    return next(v for k, v in headers if k.lower() == name.lower())
