"""Node keys: Ed25519 generation, fingerprints, key ids, and storage in the data directory.

A fingerprint is what two admins compare by eye or paste into `federation join`, so its form
is fixed exactly (docs/federation.md "Fingerprints"): SHA-256 over the raw 32-byte public key,
RFC 4648 base32 (alphabet A–Z 2–7), upper case, the four "=" padding characters removed
(52 characters), written in 13 groups of 4 joined by "-". Comparison ignores case, spaces and
hyphens. The key id is the same 52 characters in lower case: a label derived from the key
itself, so a keyid can be checked against the key it names and never needs to be fetched.

The private key is written once, atomically and race-free (two processes starting together
end up with the same key), as unencrypted PKCS#8 PEM with mode 0600. A mounted secret (PEM,
or base64 of the raw 32-byte seed) can be used instead and is never written to.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

__all__ = [
    "PRIVATE_KEY_FILE",
    "NodeKey",
    "b64url_decode",
    "b64url_encode",
    "federation_dir",
    "fingerprint",
    "fingerprints_match",
    "generate_node_key",
    "key_id_for",
    "load_or_create_private_key",
    "load_private_key",
    "normalize_fingerprint",
    "public_key_from_raw",
    "raw_public_key",
    "verify_ed25519",
    "write_private_key",
]

PRIVATE_KEY_FILE = "node_key.pem"
_FINGERPRINT_RE = re.compile(r"^[A-Z2-7]{52}$")


def b64url_encode(data: bytes) -> str:
    """base64url without padding: the one binary encoding used inside our JSON documents."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Strict inverse of b64url_encode: refuses padding, other alphabets and non-canonical tails."""
    if not isinstance(text, str) or not re.fullmatch(r"[A-Za-z0-9_-]*", text) or len(text) % 4 == 1:
        raise ValueError("not unpadded base64url")
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if b64url_encode(data) != text:
        raise ValueError("non-canonical base64url")
    return data


def raw_public_key(key: Ed25519PublicKey | Ed25519PrivateKey) -> bytes:
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_key_from_raw(raw: bytes) -> Ed25519PublicKey:
    if len(raw) != 32:
        raise ValueError("an Ed25519 public key is 32 bytes")
    return Ed25519PublicKey.from_public_bytes(raw)


def _compact_fingerprint(raw_public: bytes) -> str:
    return base64.b32encode(hashlib.sha256(raw_public).digest()).decode("ascii").rstrip("=")


def fingerprint(raw_public: bytes) -> str:
    """The display form: 13 groups of 4 upper-case base32 characters joined by "-"."""
    compact = _compact_fingerprint(raw_public)
    return "-".join(compact[i : i + 4] for i in range(0, len(compact), 4))


def key_id_for(raw_public: bytes) -> str:
    """The keyid of a public key: its compact fingerprint in lower case."""
    return _compact_fingerprint(raw_public).lower()


def normalize_fingerprint(text: str) -> str:
    """Compact upper-case form of a typed or pasted fingerprint; ValueError if it is not one."""
    compact = re.sub(r"[\s-]", "", text or "").upper()
    if not _FINGERPRINT_RE.match(compact):
        raise ValueError(
            "a fingerprint is 52 characters A–Z and 2–7, usually written in groups of 4 separated by hyphens"
        )
    return compact


def fingerprints_match(expected: str, raw_public: bytes) -> bool:
    try:
        wanted = normalize_fingerprint(expected)
    except ValueError:
        return False
    return secrets.compare_digest(wanted, _compact_fingerprint(raw_public))


def verify_ed25519(raw_public: bytes, signature: bytes, message: bytes) -> bool:
    try:
        public_key_from_raw(raw_public).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


@dataclass(frozen=True)
class NodeKey:
    """A private key with the derived names the protocol uses for it."""

    private_key: Ed25519PrivateKey

    @property
    def public_bytes(self) -> bytes:
        return raw_public_key(self.private_key)

    @property
    def key_id(self) -> str:
        return key_id_for(self.public_bytes)

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.public_bytes)

    def sign(self, message: bytes) -> bytes:
        return self.private_key.sign(message)

    def pem(self) -> bytes:
        return self.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )


def generate_node_key() -> NodeKey:
    return NodeKey(Ed25519PrivateKey.generate())


def load_private_key(data: bytes, *, source: str = "key") -> NodeKey:
    """Read PKCS#8 PEM or base64 (standard or url-safe) of the raw 32-byte seed."""
    text = data.strip()
    if text.startswith(b"-----BEGIN"):
        try:
            key = serialization.load_pem_private_key(text, password=None)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{source}: not a readable unencrypted PEM private key") from exc
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError(f"{source}: the PEM key is not an Ed25519 key")
        return NodeKey(key)
    try:
        seed = base64.b64decode(text.replace(b"-", b"+").replace(b"_", b"/") + b"=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"{source}: neither PEM nor base64") from exc
    if len(seed) != 32:
        raise ValueError(f"{source}: a raw Ed25519 private key is 32 bytes, got {len(seed)}")
    return NodeKey(Ed25519PrivateKey.from_private_bytes(seed))


def federation_dir(data_dir: Path) -> Path:
    return Path(data_dir) / "federation"


def write_private_key(path: Path, key: NodeKey, *, replace: bool = False) -> bool:
    """Write atomically with mode 0600. Without `replace`, an existing file wins and False is
    returned: hard-linking the finished temporary file fails if another process got there first."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(key.pem())
            handle.flush()
            os.fsync(handle.fileno())
        if replace:
            os.replace(tmp, path)
            return True
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        return True
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def load_or_create_private_key(data_dir: Path, secret_path: Path | None = None) -> NodeKey:
    """The node's current private key: from the mounted secret when one is configured (never
    written), else from `<data dir>/federation/node_key.pem`, generated on first use."""
    if secret_path is not None:
        secret = Path(secret_path)
        if not secret.is_file():
            raise ValueError(f"federation key file {secret} does not exist or is not a file")
        return load_private_key(secret.read_bytes(), source=str(secret))
    path = federation_dir(data_dir) / PRIVATE_KEY_FILE
    if not path.exists():
        write_private_key(path, generate_node_key())
    return load_private_key(path.read_bytes(), source=str(path))
