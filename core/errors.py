"""Errors a person can act on. Services raise these; the web layer maps each to its status
once (core.web.errors), the CLI prints the message as one line."""

from __future__ import annotations


class UserError(Exception):
    """Bad input or a request that cannot be honoured; `message` says what to do instead."""

    status_code = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(UserError):
    status_code = 404


class Forbidden(UserError):
    status_code = 403


class Unauthorized(UserError):
    status_code = 401


class Conflict(UserError):
    status_code = 409


class Gone(UserError):
    status_code = 410


class TooManyRequests(UserError):
    status_code = 429
