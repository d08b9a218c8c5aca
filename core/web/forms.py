"""Form parsing shared by the page handlers."""

from __future__ import annotations

from typing import Annotated, Any

from litestar.enums import RequestEncodingType
from litestar.params import Body

from core.errors import UserError

Form = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]


def field(data: dict[str, Any], name: str, *, max_length: int = 1000) -> str:
    """A single text field, trimmed; repeated fields keep the last value."""
    value = data.get(name, "")
    if isinstance(value, list):
        value = value[-1] if value else ""
    text = str(value).strip()
    if len(text) > max_length:
        raise UserError(
            f"{name.replace('_', ' ').capitalize()} is too long (at most {max_length} characters)."
        )
    return text
