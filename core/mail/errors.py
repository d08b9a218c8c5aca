"""Why a message was not sent, in words an administrator can act on.

The outbox stores the reason in `last_error`, and `permanent` decides between retrying later
and giving up, so backends classify every failure they know instead of letting a raw
library exception (and its traceback) reach the worker.
"""

from __future__ import annotations


class MailNotSent(Exception):
    """The message was not delivered. `permanent` is True when retrying cannot help."""

    def __init__(self, reason: str, *, permanent: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent


class SmtpRejected(MailNotSent):
    """The server answered with a refusal: 5xx is permanent, 4xx asks us to try later."""


class SmtpUnavailable(MailNotSent):
    """No usable connection: the server is down or slow, TLS failed, or the login was refused.
    Never permanent: it is not this message's fault, and fixing the server or the settings
    should let queued mail go out."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason, permanent=False)
