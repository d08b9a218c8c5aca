"""Canonical JSON for everything that is signed: the bytes two implementations must agree on.

This is the subset of RFC 8785 (JCS) our documents need, and on that subset it produces
exactly the JCS bytes: object members sorted by their UTF-16 code units, no whitespace,
strings escaped as ECMAScript's JSON.stringify does (only `"`, `\\` and control characters,
short forms \\b \\t \\n \\f \\r, otherwise \\u00xx in lower case), UTF-8 output. Numbers are
integers only, within ±(2^53 − 1) so every JSON implementation reads them exactly: a float
in a signed document is refused rather than given a serialization two languages might
disagree on. `loads_strict` is the receiving side: it refuses duplicate member names, floats
and NaN/Infinity, which ordinary `json.loads` would let through.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["MAX_SAFE_INTEGER", "CanonicalJSONError", "canonical_json", "loads_strict"]

MAX_SAFE_INTEGER = 2**53 - 1


class CanonicalJSONError(ValueError):
    """The value cannot be represented in our canonical JSON (or the input is not strict JSON)."""


def _utf16_key(name: str) -> bytes:
    return name.encode("utf-16-be", errors="surrogatepass")


def _encode(value: Any, out: list[str], path: str) -> None:
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, int):
        if not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            raise CanonicalJSONError(f"{path}: integer {value} is outside ±(2^53 − 1)")
        out.append(str(int(value)))
    elif isinstance(value, float):
        raise CanonicalJSONError(f"{path}: floats are not allowed in signed documents")
    elif isinstance(value, str):
        out.append(json.dumps(value, ensure_ascii=False))
    elif isinstance(value, dict):
        for key in value:
            if not isinstance(key, str):
                raise CanonicalJSONError(f"{path}: object keys must be strings, got {key!r}")
        out.append("{")
        for index, key in enumerate(sorted(value, key=_utf16_key)):
            if index:
                out.append(",")
            out.append(json.dumps(key, ensure_ascii=False))
            out.append(":")
            _encode(value[key], out, f"{path}.{key}")
        out.append("}")
    elif isinstance(value, list | tuple):
        out.append("[")
        for index, item in enumerate(value):
            if index:
                out.append(",")
            _encode(item, out, f"{path}[{index}]")
        out.append("]")
    else:
        raise CanonicalJSONError(f"{path}: {type(value).__name__} is not a JSON value")


def canonical_json(value: Any) -> bytes:
    out: list[str] = []
    _encode(value, out, "$")
    try:
        return "".join(out).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise CanonicalJSONError("strings must be valid Unicode (no lone surrogates)") from exc


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise CanonicalJSONError(f"duplicate member name {key!r}")
        result[key] = value
    return result


def _refuse_float(text: str) -> Any:
    raise CanonicalJSONError(f"non-integer number {text} (only integers are allowed)")


def _refuse_constant(text: str) -> Any:
    raise CanonicalJSONError(f"{text} is not JSON")


def _check_ints(value: Any) -> None:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return
    if isinstance(value, int):
        if not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            raise CanonicalJSONError(f"integer {value} is outside ±(2^53 − 1)")
    elif isinstance(value, dict):
        for item in value.values():
            _check_ints(item)
    elif isinstance(value, list):
        for item in value:
            _check_ints(item)


def loads_strict(data: bytes | str) -> Any:
    """Parse UTF-8 JSON the way a signature verifier needs it parsed; CanonicalJSONError if not."""
    try:
        text = data.decode("utf-8") if isinstance(data, bytes | bytearray) else data
        value = json.loads(
            text,
            object_pairs_hook=_no_duplicates,
            parse_float=_refuse_float,
            parse_constant=_refuse_constant,
        )
    except CanonicalJSONError:
        raise
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise CanonicalJSONError(f"not valid JSON: {exc}") from exc
    _check_ints(value)
    return value
