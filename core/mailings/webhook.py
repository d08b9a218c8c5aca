"""The bounce and complaint webhook: a documented JSON format a mail provider's
notifications (or a small relay in front of them) can post to, authenticated by a shared
secret. The whole payload is checked before any event is applied, so a provider retrying a
rejected batch never applies half of it twice.
"""

from __future__ import annotations

import base64
import hmac
import json
from dataclasses import dataclass
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from core.errors import UserError
from core.mailings import links
from core.mailings.bounce_reports import Finding
from core.mailings.bounces import BounceSummary, apply_finding
from core.people.emails import InvalidEmail, clean_email
from core.settings import current_settings

MAX_BODY_BYTES = 256 * 1024
MAX_EVENTS = 1000

EVENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "type": {"enum": ["bounce", "complaint", "unsubscribe"]},
        "email": {"type": "string", "maxLength": 320},
        "bounce_type": {"enum": ["hard", "soft"]},
        "message_id": {"type": "string", "maxLength": 998},
        "delivery_id": {"type": "integer", "minimum": 1},
        "token": {"type": "string", "maxLength": 1000},
        "detail": {"type": "string", "maxLength": 2000},
    },
    "required": ["type"],
    "additionalProperties": False,
    "allOf": [
        {
            "if": {"properties": {"type": {"const": "bounce"}}, "required": ["type"]},
            "then": {"required": ["email", "bounce_type"]},
        },
        {
            "if": {"properties": {"type": {"const": "complaint"}}, "required": ["type"]},
            "then": {"required": ["email"]},
        },
    ],
}
PAYLOAD_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"events": {"type": "array", "minItems": 1, "maxItems": MAX_EVENTS, "items": EVENT_SCHEMA}},
    "required": ["events"],
    "additionalProperties": False,
}
_payload_validator = Draft202012Validator(PAYLOAD_SCHEMA)
_event_validator = Draft202012Validator(EVENT_SCHEMA)


class WebhookDisabled(UserError):
    status_code = 404


class WebhookUnauthorized(UserError):
    status_code = 401


class InvalidPayload(UserError):
    status_code = 422


@dataclass(frozen=True)
class WebhookResult:
    processed: int
    summary: BounceSummary
    unused: int

    def as_json(self) -> dict[str, int]:
        return {
            "processed": self.processed,
            "hard_bounces": self.summary.hard,
            "soft_bounces": self.summary.soft,
            "complaints": self.summary.complaints,
            "unsubscribes": self.summary.unsubscribes,
            "not_used": self.unused,
        }


def check_secret(authorization: str | None) -> None:
    """`Authorization: Bearer <secret>` (or Basic with the secret as password, for providers
    that only take credentials in the URL)."""
    secret = current_settings().mail_webhook_secret
    if not secret:
        raise WebhookDisabled(
            "The bounce webhook is disabled on this instance: "
            "set GROUNDSWELL_MAIL_WEBHOOK_SECRET to enable it."
        )
    scheme, _, credentials = (authorization or "").strip().partition(" ")
    given = ""
    if scheme.lower() == "bearer":
        given = credentials.strip()
    elif scheme.lower() == "basic":
        try:
            given = base64.b64decode(credentials.strip(), validate=True).decode("utf-8").partition(":")[2]
        except (ValueError, UnicodeDecodeError):
            given = ""
    if not given or not hmac.compare_digest(given.encode(), secret.encode()):
        raise WebhookUnauthorized(
            "Send the webhook secret as `Authorization: Bearer <GROUNDSWELL_MAIL_WEBHOOK_SECRET>`."
        )


def _where(error: ValidationError, prefix: str) -> str:
    path = prefix
    for part in error.absolute_path:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path.lstrip(".") or "the payload"


def _problem(error: ValidationError, prefix: str) -> str:
    where = _where(error, prefix)
    if error.validator == "additionalProperties":
        return f"{where}: {error.message} (known fields: {', '.join(EVENT_SCHEMA['properties'])})"
    if error.validator == "enum":
        choices = ", ".join(json.dumps(c) for c in error.validator_value)
        return f"{where}: {json.dumps(error.instance)[:80]} is not one of {choices}"
    return f"{where}: {error.message}"


def parse_payload(body: bytes) -> list[Finding]:
    """The events in a webhook body: UserError (400) for what is not JSON, InvalidPayload
    (422) naming the first bad field otherwise."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise UserError(f"The body is not valid JSON: {exc}.") from None
    if not isinstance(data, dict):
        raise UserError('The body must be a JSON object: {"events": [...]} or a single event.')
    if "events" in data:
        validator, events, prefix = _payload_validator, data.get("events"), "events"
    else:
        validator, events, prefix = _event_validator, [data], ""
    errors = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        raise InvalidPayload(_problem(errors[0], ""))
    findings = []
    for index, event in enumerate(events):
        where = f"events[{index}]" if prefix else "the event"
        findings.append(_finding(event, where))
    return findings


def _finding(event: dict[str, Any], where: str) -> Finding:
    email = event.get("email")
    if email is not None:
        try:
            email = clean_email(email)
        except InvalidEmail as exc:
            raise InvalidPayload(f"{where}.email: {exc}") from None
    token = event.get("token")
    kind = event["type"]
    if kind == "unsubscribe":
        if email is None and token is None:
            raise InvalidPayload(f"{where}: an unsubscribe event needs an email or a token.")
        if token is not None and links.read_unsubscribe_token(token.strip()) is None:
            raise InvalidPayload(f"{where}.token: the unsubscribe token is damaged or was not issued here.")
    elif kind == "bounce":
        kind = event["bounce_type"]
    return Finding(
        kind,
        email,
        detail=event.get("detail", "") or f"{event['type']} reported through the webhook",
        message_id=event.get("message_id"),
        delivery_id=event.get("delivery_id"),
        token=token.strip() if token else None,
    )


async def process_payload(body: bytes) -> WebhookResult:
    findings = parse_payload(body)
    summary = BounceSummary(messages=len(findings))
    unused = 0
    for finding in findings:
        if await apply_finding(finding, via="webhook"):
            summary.count(finding.kind)
        else:
            unused += 1
    summary.not_understood = unused
    return WebhookResult(processed=len(findings), summary=summary, unused=unused)
