"""Canonical JSON: the exact bytes signatures cover."""

from __future__ import annotations

import pytest

from federation.canonical import CanonicalJSONError, canonical_json, loads_strict


def test_keys_are_sorted_and_there_is_no_whitespace():
    assert (
        canonical_json({"b": [1, 2, {"d": None, "c": True}], "a": "x"})
        == b'{"a":"x","b":[1,2,{"c":true,"d":null}]}'
    )


def test_members_are_sorted_by_utf16_code_units_as_rfc_8785_requires():
    # The RFC 8785 section 3.2.3 example keys, in the order the RFC gives as sorted.
    keys = ["\u20ac", "\r", "\ufb33", "1", "\U0001f600", "\u0080", "\u00f6"]
    expected_order = ["\r", "1", "\u0080", "\u00f6", "\u20ac", "\U0001f600", "\ufb33"]
    out = canonical_json(dict.fromkeys(keys, 0)).decode()
    positions = [out.index('"' + (k if k != "\r" else "\\r") + '"') for k in expected_order]
    assert positions == sorted(positions)


def test_strings_are_utf8_with_only_the_required_escapes():
    value = 'é€😀 "quote" back\\slash \n\t\b\f\r \x01 \x7f \u2028'
    assert (
        canonical_json(value)
        == '"é€😀 \\"quote\\" back\\\\slash \\n\\t\\b\\f\\r \\u0001 \x7f \u2028"'.encode()
    )


@pytest.mark.parametrize(
    "value", [1.5, 1.0, float("nan"), {"a": [0.1]}, 2**53, -(2**53), {1: "x"}, b"bytes", "\udc00"]
)
def test_values_without_a_canonical_form_are_refused(value):
    with pytest.raises(CanonicalJSONError):
        canonical_json(value)


def test_safe_integers_are_kept_exactly():
    assert canonical_json([0, -1, 2**53 - 1]) == b"[0,-1,9007199254740991]"


@pytest.mark.parametrize(
    "text",
    [
        b'{"a":1,"a":2}',
        b'{"a":1.5}',
        b"[1e3]",
        b"[NaN]",
        b"[Infinity]",
        b"[9007199254740992]",
        b"\xff",
        b"{",
        b"",
    ],
)
def test_strict_parsing_refuses_what_a_verifier_must_not_guess_about(text):
    with pytest.raises(CanonicalJSONError):
        loads_strict(text)


def test_strict_parsing_round_trips_canonical_json():
    value = {"z": [1, {"é": None}], "a": False}
    assert loads_strict(canonical_json(value)) == value
