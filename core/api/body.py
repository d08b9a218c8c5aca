"""Request bodies for the OSDI API: strict JSON, with messages that name the field.

Litestar's own decoding is lenient ("5" becomes 5, "true" becomes true). The API promises
that a wrong type is a 400 naming the field, so bodies are decoded by msgspec in strict mode
through this DTO; the OpenAPI schema still shows each body's shape. Fields we do not know are
ignored (OSDI clients send many), `null` means "not given".
"""

from __future__ import annotations

import re
from typing import Any, Generic, TypeVar

import msgspec
from litestar.dto import MsgspecDTO
from litestar.typing import FieldDefinition

from core.errors import UserError

T = TypeVar("T", bound=msgspec.Struct)

_TYPE_WORDS = {
    "str": "text",
    "int": "a whole number",
    "float": "a number",
    "bool": "true or false",
    "object": "an object",
    "array": "a list",
    "null": "null",
}
_EXPECTED = re.compile(r"^Expected `([^`]+)`(.*?)(?:, got `([^`]+)`)?$")
_MISSING = re.compile(r"^Object missing required field `([^`]+)`$")


def _words(types: str, *, drop_null: bool) -> str:
    names = [t.strip() for t in types.split("|")]
    if drop_null and len(names) > 1:
        names = [n for n in names if n != "null"]
    return " or ".join(_TYPE_WORDS.get(n, n) for n in names)


def describe(error: msgspec.ValidationError) -> str:
    """msgspec's "Expected `str`, got `int` - at `$.person.given_name`" as
    "person.given_name: expected text, got a whole number."."""
    text = str(error)
    problem, _, where = text.partition(" - at `")
    path = where.rstrip("`").removeprefix("$").lstrip(".")
    if match := _MISSING.match(problem):
        field = f"{path}.{match.group(1)}" if path else match.group(1)
        return f"{field}: this field is required."
    if match := _EXPECTED.match(problem):
        expected = _words(match.group(1), drop_null=True) + match.group(2).replace("length", "a length")
        got = f", got {_words(match.group(3), drop_null=False)}" if match.group(3) else ""
        if not path:
            return f"Send a JSON object as the request body{got.replace(', got', '; got')}."
        return f"{path}: expected {expected}{got}."
    return f"{path}: {problem}." if path else f"{problem}."


EMPTY_BODY = "Send a JSON object as the request body; it was empty."


def decode_strict(raw: bytes, model: type[T]) -> T:
    if not raw.strip():
        raise UserError(EMPTY_BODY)
    try:
        return msgspec.json.decode(raw, type=model, strict=True)
    except msgspec.ValidationError as exc:
        raise UserError(describe(exc)) from None
    except msgspec.DecodeError as exc:
        raise UserError(f"The request body is not valid JSON ({exc}).") from None


def required(data: T | None) -> T:
    """The decoded body; an empty body never reaches the decoder, so it is refused here."""
    if data is None:
        raise UserError(EMPTY_BODY)
    return data


class StrictJSON(MsgspecDTO[T], Generic[T]):
    """Use as `@post(..., dto=StrictJSON[Model], return_dto=None)` with a parameter
    `data: JSONBody[Model | None] = None`, then `required(data)`."""

    def decode_bytes(self, value: bytes) -> Any:
        return decode_strict(value, self.model_type)

    @classmethod
    def create_openapi_schema(
        cls, field_definition: FieldDefinition, handler_id: str, schema_creator: Any
    ) -> Any:
        # The model itself, not a generated transfer model: the schema shows the body as sent.
        return schema_creator.for_field_definition(field_definition)


# --- shapes shared by several resources -------------------------------------------------------


class Href(msgspec.Struct):
    href: str


class EmailAddressBody(msgspec.Struct):
    address: str | None = None
    primary: bool | None = None
    address_type: str | None = None
    status: str | None = None


class PostalAddressBody(msgspec.Struct):
    primary: bool | None = None
    address_lines: list[str] | None = None
    locality: str | None = None
    region: str | None = None
    postal_code: str | None = None
    country: str | None = None


class PhoneNumberBody(msgspec.Struct):
    # OSDI's own examples send numbers as JSON numbers; both are accepted.
    number: str | int | None = None
    primary: bool | None = None
    number_type: str | None = None


class ConsentsBody(msgspec.Struct):
    """Groundswell extension: consents only ever widen through the API (false is ignored)."""

    instance_email: bool | None = None
    national_campaigns: bool | None = None
    share_with_creators: bool | None = None


class PersonBody(msgspec.Struct):
    given_name: str | None = None
    family_name: str | None = None
    email_addresses: list[EmailAddressBody] | None = None
    postal_addresses: list[PostalAddressBody] | None = None
    phone_numbers: list[PhoneNumberBody] | None = None
    consents: ConsentsBody | None = None
    source: str | None = None
    identifiers: list[str] | None = None
    origin_system: str | None = None


class ReferrerDataBody(msgspec.Struct):
    source: str | None = None
    referrer: str | None = None
    website: str | None = None
    url: str | None = None
