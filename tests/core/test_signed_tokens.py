"""Signed link tokens: the value comes back only for the purpose and secret it was made with."""

import time

import pytest

from core import signed_tokens


def test_a_token_returns_its_value_for_its_purpose():
    token = signed_tokens.sign("unsubscribe", "42:7", secret="s")
    assert signed_tokens.verify("unsubscribe", token, secret="s") == "42:7"


def test_a_token_for_one_purpose_is_refused_for_another():
    token = signed_tokens.sign("click", "42", secret="s")
    assert signed_tokens.verify("unsubscribe", token, secret="s") is None


def test_another_instance_secret_refuses_the_token():
    token = signed_tokens.sign("unsubscribe", "42", secret="s")
    assert signed_tokens.verify("unsubscribe", token, secret="other") is None


@pytest.mark.parametrize("token", ["", ".", "abc", "abc.def", "!!!.???", "e30.AAAA", "a" * 500])
def test_malformed_tokens_are_refused_without_raising(token):
    assert signed_tokens.verify("unsubscribe", token, secret="s") is None


def test_a_changed_value_is_refused():
    token = signed_tokens.sign("unsubscribe", "42", secret="s")
    forged = signed_tokens.sign("unsubscribe", "43", secret="s").split(".")[0] + "." + token.split(".")[1]
    assert signed_tokens.verify("unsubscribe", forged, secret="s") is None


def test_expiring_tokens_expire(monkeypatch):
    token = signed_tokens.sign("preview", "9", ttl_seconds=60, secret="s")
    assert signed_tokens.verify("preview", token, secret="s") == "9"
    now = time.time()
    monkeypatch.setattr(time, "time", lambda: now + 61)
    assert signed_tokens.verify("preview", token, secret="s") is None
