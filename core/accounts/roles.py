"""Roles and who is looking: the facts authorization decisions are made from."""

from __future__ import annotations

from dataclasses import dataclass

# Each role includes the powers of those before it.
ROLES = ("member", "leader", "staff", "admin")
_RANK = {role: rank for rank, role in enumerate(ROLES)}


def check_role(role: str) -> str:
    from core.errors import UserError

    if role not in _RANK:
        raise UserError(f"Unknown role {role!r}; choose one of {', '.join(ROLES)}.")
    return role


def role_at_least(role: str, required: str) -> bool:
    return _RANK.get(role, -1) >= _RANK[required]


@dataclass(frozen=True)
class Viewer:
    """The signed-in login behind a request (from a session cookie or an API token)."""

    login_id: int
    person_id: int
    email: str
    name: str
    role: str

    def has_role(self, required: str) -> bool:
        return role_at_least(self.role, required)
