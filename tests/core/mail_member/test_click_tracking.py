"""Tracked clicks go through a signed redirect; opens are counted only where the instance
turned the pixel on, and the pixel is always served."""

from __future__ import annotations

from core.instance_settings import set_policy
from core.mailings import links
from core.mailings.tables import Delivery
from core.mailings.tracking import PIXEL_GIF

from .support import delivery, events, member


def _path(url: str) -> str:
    return url.removeprefix("http://testserver.local")


async def test_a_click_is_counted_and_redirected_to_the_signed_destination(client):
    person = await member("ada@example.org")
    mailing_id, delivery_id = await delivery(person)
    target = "https://example.org/petitions/park?source=m1"
    response = await client.get(_path(links.click_url(delivery_id, target)), follow_redirects=False)
    assert response.status_code == 302
    assert response.headers["location"] == target
    assert "no-store" in response.headers["cache-control"]
    [click] = await events("click")
    assert (click["delivery"], click["mailing"], click["person"], click["detail"]) == (
        delivery_id,
        mailing_id,
        person,
        target,
    )


async def test_a_forged_click_link_never_redirects_anywhere(client):
    person = await member("ada@example.org")
    _, delivery_id = await delivery(person)
    good = _path(links.click_url(delivery_id, "https://example.org/")).rsplit("/", 1)[1]
    body, mac = good.split(".")
    from core import signed_tokens

    evil = signed_tokens.sign(links.CLICK, f"{delivery_id}|https://evil.example", secret="y" * 40)
    javascript = signed_tokens.sign(links.CLICK, f"{delivery_id}|javascript:alert(1)")
    for token in ["nonsense", body, f"{body}.{mac[:-1]}", evil, javascript, links.unsubscribe_token(person)]:
        response = await client.get(f"/mail/c/{token}", follow_redirects=False)
        assert response.status_code == 400, token
        assert "location" not in response.headers
        assert "This link is damaged" in response.text
    assert await events() == []


async def test_a_click_in_a_deleted_delivery_still_reaches_its_destination(client):
    person = await member("ada@example.org")
    _, delivery_id = await delivery(person)
    url = _path(links.click_url(delivery_id, "https://example.org/x"))
    await Delivery.delete().where(Delivery.id == delivery_id)
    response = await client.get(url, follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (302, "https://example.org/x")
    assert await events() == []


async def test_the_open_pixel_is_served_but_counts_nothing_by_default(client):
    person = await member("ada@example.org")
    _, delivery_id = await delivery(person)
    response = await client.get(_path(links.open_pixel_url(delivery_id)))
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/gif"
    assert response.content == PIXEL_GIF
    assert "no-store" in response.headers["cache-control"]
    assert await events() == []


async def test_with_open_tracking_on_an_open_is_counted_once_per_delivery(client):
    await set_policy("mail_open_tracking", True)
    person = await member("ada@example.org")
    mailing_id, delivery_id = await delivery(person)
    for _ in range(3):
        response = await client.get(_path(links.open_pixel_url(delivery_id)))
        assert response.content == PIXEL_GIF
    [opened] = await events("open")
    assert (opened["delivery"], opened["mailing"], opened["person"]) == (delivery_id, mailing_id, person)
    forged = await client.get("/mail/o/nonsense.gif")
    assert (forged.status_code, forged.content) == (200, PIXEL_GIF)
    assert len(await events()) == 1
