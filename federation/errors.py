"""The one error type of the protocol layer.

Every refusal carries an HTTP status and a stable machine-readable `code`, because the peer on
the other side is a program: it decides from the code whether to retry (clock_skew after
fixing its clock, 429 later) or to stop and alert its admin (key_revoked, node_mismatch).
It is a `core.errors.UserError`, so the web layer maps it to a response in its usual place.
"""

from __future__ import annotations

from core.plugin_api import UserError

__all__ = ["FederationError"]


class FederationError(UserError):
    """A refused federation message: `status` (400/401/403/409/411/413/429), `code`, `message`,
    and machine-readable `details` (e.g. `server_time` with clock_skew)."""

    def __init__(self, status: int, code: str, message: str, **details: object) -> None:
        super().__init__(message)
        self.status_code = status
        self.code = code
        self.details = details

    def as_json(self) -> dict[str, object]:
        """The response body peers receive: {"error": code, "status", "message", ...details}."""
        return {"error": self.code, "status": self.status_code, "message": self.message, **self.details}

    def __repr__(self) -> str:
        return f"FederationError({self.status_code}, {self.code!r}, {self.message!r})"
