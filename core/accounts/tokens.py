"""Random bearer secrets (login links, session cookies, API tokens) and their stored hashes.

Only SHA-256 hashes are stored: the secrets carry 256 bits of entropy, so a slow hash adds
nothing, and a leaked table grants no access.
"""

from __future__ import annotations

import hashlib
import secrets


def new_secret(prefix: str = "") -> tuple[str, str]:
    """A fresh secret and its hash."""
    secret = prefix + secrets.token_urlsafe(32)
    return secret, hash_secret(secret)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()
