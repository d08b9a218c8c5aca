"""Submitting forms the way a browser does: fetch the page, keep its CSRF token, post."""

from __future__ import annotations

import re
from typing import Any

_CSRF = re.compile(r'name="_csrf_token" value="([^"]+)"')


def csrf_token_in(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "the page has no CSRF token field"
    return match.group(1)


async def submit(
    client: Any, page: str, action: str, data: dict[str, str] | None = None, **kwargs: Any
) -> Any:
    """GET `page`, then POST `data` to `action` with the page's CSRF token."""
    shown = await client.get(page)
    assert shown.status_code == 200, shown.text
    form = {"_csrf_token": csrf_token_in(shown.text), **(data or {})}
    return await client.post(action, data=form, **kwargs)
