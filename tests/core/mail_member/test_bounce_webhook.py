"""The bounce and complaint webhook: JSON in a documented format, a shared secret in the
Authorization header, every event checked before any is applied."""

from __future__ import annotations

import base64
import dataclasses
import json

import pytest

import core.mailings.webhook
from core.mailings import links
from core.mailings.suppression import suppression_of
from core.settings import SettingsError, current_settings, load_settings

from .support import delivery, events, member, message_id_of, subscription

SECRET = "s3cret-webhook-value-0123456789"
URL = "/mail/webhooks/bounces"
AUTH = {"Authorization": f"Bearer {SECRET}"}


@pytest.fixture
def enabled(monkeypatch):
    settings = dataclasses.replace(current_settings(), mail_webhook_secret=SECRET)
    monkeypatch.setattr(core.mailings.webhook, "current_settings", lambda: settings)


async def test_without_a_configured_secret_the_webhook_is_disabled(client):
    response = await client.post(URL, json={"type": "complaint", "email": "ada@example.org"}, headers=AUTH)
    assert response.status_code == 404
    assert "GROUNDSWELL_MAIL_WEBHOOK_SECRET" in response.json()["error"]


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-secret-wrong-secret-wrong"},
        {"Authorization": f"Bearer {SECRET}x"},
        {"Authorization": SECRET},
        {"Authorization": "Basic !!!"},
        {"X-Webhook-Secret": SECRET},
    ],
)
async def test_a_missing_or_wrong_secret_is_refused_and_changes_nothing(client, enabled, headers):
    person = await member("ada@example.org")
    response = await client.post(URL, json={"type": "complaint", "email": "ada@example.org"}, headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert "Authorization: Bearer" in response.json()["error"]
    assert await subscription(person) == "subscribed"
    assert await suppression_of("ada@example.org") is None


async def test_events_are_applied_and_counted(client, enabled):
    ada = await member("ada@example.org")
    bob = await member("bob@example.org")
    cy = await member("cy@example.org")
    dee = await member("dee@example.org")
    _, ada_delivery = await delivery(ada)
    mailing_id, _ = await delivery(cy)
    payload = {
        "events": [
            {
                "type": "bounce",
                "email": "ada@example.org",
                "bounce_type": "hard",
                "message_id": message_id_of(ada_delivery),
                "detail": "550 5.1.1 user unknown",
            },
            {"type": "bounce", "email": "bob@example.org", "bounce_type": "soft", "detail": "mailbox full"},
            {"type": "complaint", "email": "stranger@example.net"},
            {"type": "unsubscribe", "token": links.unsubscribe_token(cy, mailing_id)},
            {"type": "unsubscribe", "email": "DEE@example.org"},
        ]
    }
    response = await client.post(URL, json=payload, headers=AUTH)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "processed": 5,
        "hard_bounces": 1,
        "soft_bounces": 1,
        "complaints": 1,
        "unsubscribes": 2,
        "not_used": 0,
    }
    assert [await subscription(p) for p in (ada, bob, cy, dee)] == [
        "bounced",
        "subscribed",
        "unsubscribed",
        "unsubscribed",
    ]
    assert await suppression_of("stranger@example.net") == "complaint"
    [bounce] = await events("bounce")
    assert bounce["delivery"] == ada_delivery
    [by_token] = [e for e in await events("unsubscribe") if e["person"] == cy]
    assert (by_token["mailing"], by_token["detail"]) == (mailing_id, "webhook")


async def test_a_single_event_object_and_basic_auth_are_accepted(client, enabled):
    person = await member("ada@example.org")
    basic = base64.b64encode(f"groundswell:{SECRET}".encode()).decode()
    response = await client.post(
        URL,
        json={"type": "complaint", "email": "ada@example.org"},
        headers={"Authorization": f"Basic {basic}"},
    )
    assert response.status_code == 200
    assert response.json()["complaints"] == 1
    assert await subscription(person) == "complained"


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (b"{not json", 400, "not valid JSON"),
        (b"[1, 2]", 400, "must be a JSON object"),
        (b"\xff\xfe", 400, "not valid JSON"),
        (json.dumps({"events": []}), 422, "events: [] should be non-empty"),
        (
            json.dumps({"events": [{"type": "bounce", "email": "a@example.org"}]}),
            422,
            "events[0]: 'bounce_type' is a required property",
        ),
        (
            json.dumps(
                {"events": [{"type": "bounce", "email": "a@example.org", "bounce_type": "permanent"}]}
            ),
            422,
            'events[0].bounce_type: "permanent" is not one of "hard", "soft"',
        ),
        (
            json.dumps({"type": "bounced", "email": "a@example.org"}),
            422,
            'type: "bounced" is not one of "bounce", "complaint", "unsubscribe"',
        ),
        (json.dumps({"type": "complaint", "emial": "a@example.org"}), 422, "'emial' was unexpected"),
        (json.dumps({"type": "complaint", "email": 7}), 422, "email: 7 is not of type 'string'"),
        (
            json.dumps(
                {
                    "events": [
                        {"type": "complaint", "email": "a@example.org"},
                        {"type": "complaint", "email": "nope"},
                    ]
                }
            ),
            422,
            "events[1].email: 'nope' is not a valid email address",
        ),
        (json.dumps({"type": "unsubscribe"}), 422, "needs an email or a token"),
        (
            json.dumps({"type": "unsubscribe", "token": "forged.token"}),
            422,
            "token: the unsubscribe token is damaged",
        ),
    ],
)
async def test_a_malformed_payload_is_refused_with_the_bad_field_named_and_nothing_applied(
    client, enabled, body, status, message
):
    response = await client.post(URL, content=body, headers={**AUTH, "Content-Type": "application/json"})
    assert response.status_code == status, response.text
    assert message in response.json()["error"]
    assert await suppression_of("a@example.org") is None


async def test_an_oversized_body_is_refused(client, enabled):
    events_list = [
        {"type": "complaint", "email": f"person{i}@example.org", "detail": "x" * 1900} for i in range(200)
    ]
    response = await client.post(URL, json={"events": events_list}, headers=AUTH)
    assert response.status_code == 413
    assert "KiB" in response.json()["error"]
    assert await suppression_of("person0@example.org") is None


def test_a_short_webhook_secret_is_a_configuration_error(tmp_path):
    env = {"GROUNDSWELL_DATA_DIR": str(tmp_path), "GROUNDSWELL_MAIL_WEBHOOK_SECRET": "short"}
    with pytest.raises(SettingsError, match="GROUNDSWELL_MAIL_WEBHOOK_SECRET must be at least 24"):
        load_settings(env)
    env["GROUNDSWELL_MAIL_WEBHOOK_SECRET"] = SECRET
    assert load_settings(env).mail_webhook_secret == SECRET
