"""Counting clicks (always) and opens (only where the instance turned the pixel on).

The redirect and the pixel never fail for the member: a deleted delivery still redirects
and still gets its image; it is just not counted.
"""

from __future__ import annotations

import base64

from core.instance_settings import get_policy
from core.mailings.tables import Delivery, MailEvent

URL_MAX = 2000
# A 1x1 transparent GIF.
PIXEL_GIF = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")


async def _delivery(delivery_id: int) -> dict | None:
    return (
        await Delivery.select(Delivery.id, Delivery.mailing, Delivery.person)
        .where(Delivery.id == delivery_id)
        .first()
    )


async def record_click(delivery_id: int, url: str) -> bool:
    """Count a click on `url` in a delivery; False if the delivery is gone."""
    delivery = await _delivery(delivery_id)
    if delivery is None:
        return False
    await MailEvent.insert(
        MailEvent(
            kind="click",
            delivery=delivery["id"],
            mailing=delivery["mailing"],
            person=delivery["person"],
            detail=url[:URL_MAX],
        )
    )
    return True


async def record_open(delivery_id: int) -> bool:
    """Count the first open of a delivery, if the instance tracks opens at all."""
    if not await get_policy("mail_open_tracking"):
        return False
    delivery = await _delivery(delivery_id)
    if delivery is None:
        return False
    if await MailEvent.exists().where((MailEvent.delivery == delivery_id) & (MailEvent.kind == "open")):
        return False
    await MailEvent.insert(
        MailEvent(
            kind="open", delivery=delivery["id"], mailing=delivery["mailing"], person=delivery["person"]
        )
    )
    return True
