"""Abuse defence without a captcha: rate limits per IP and email domain, staff blocks that
hold signatures aside (never lose them), releasing held signatures, and the trending view."""

import asyncio

import pytest

from core.errors import NotFound, TooManyRequests, UserError
from core.instance_settings import set_policy
from core.moderation import blocks, rate_limits, screening, trending
from core.moderation.tables import Block, RateBucket
from core.petitions import counter
from core.petitions.signing import SignatureInput, sign
from core.petitions.tables import Signature
from tests.support.accounts import sign_in
from tests.support.asgi import browser
from tests.support.forms import submit
from tests.support.petitions import published_petition

# The test client's address (httpx's ASGI transport).
CLIENT_IP = "127.0.0.1"
# The middle of a minute (and of an hour), so no test straddles a window boundary.
NOW = 1_800_000_030.0


@pytest.fixture(autouse=True)
def frozen_clock(monkeypatch):
    monkeypatch.setattr(rate_limits, "clock", lambda: NOW)


def form(n: int, domain: str = "example.org") -> dict[str, str]:
    return {"name": f"Signer Number{n}", "email": f"signer{n}@{domain}", "postal_code": "AB1 2CD"}


async def sign_from(petition_id: int, ip: str, email: str) -> str:
    """Screen and sign, as the sign handler does; the signature's status."""
    verdict = await screening.screen(petition_id, ip, email)
    result = await sign(
        petition_id, SignatureInput(name="Sam Signer", email=email, ip=ip), held=verdict == "held"
    )
    return result.status


# --- Rate limits -------------------------------------------------------------------------


async def test_a_flood_from_one_ip_gets_a_clear_429_after_the_burst_limit(client):
    petition = await published_petition()
    page = f"/p/{petition.slug}"
    for n in range(rate_limits.IP_BURST.allowed):
        response = await submit(client, page, f"{page}/sign", form(n))
        assert response.status_code == 200, response.text
        assert "Thank you for signing" in response.text
    flooded = await submit(client, page, f"{page}/sign", form(999))
    assert flooded.status_code == 429
    assert "Too many signatures have come from your internet connection" in flooded.text
    assert "wait 30 seconds" in flooded.text
    assert "Traceback" not in flooded.text
    assert await Signature.count() == rate_limits.IP_BURST.allowed
    assert await counter.total(petition.id) == rate_limits.IP_BURST.allowed


async def test_the_429_is_json_for_clients_that_ask_for_json(client):
    petition = await published_petition()
    for n in range(rate_limits.IP_BURST.allowed):
        await screening.screen(petition.id, CLIENT_IP, f"s{n}@example.org")
    page = await client.get(f"/p/{petition.slug}")
    from tests.support.forms import csrf_token_in

    response = await client.post(
        f"/p/{petition.slug}/sign",
        data={"_csrf_token": csrf_token_in(page.text), **form(1)},
        headers={"accept": "application/json"},
    )
    assert response.status_code == 429
    assert "Too many signatures" in response.json()["message"]


async def test_the_burst_limit_is_per_minute():
    petition = await published_petition()
    for n in range(rate_limits.IP_BURST.allowed):
        await screening.screen(petition.id, "203.0.113.9", f"s{n}@example.org")
    with pytest.raises(TooManyRequests):
        await screening.screen(petition.id, "203.0.113.9", "late@example.org")
    assert await screening.screen(petition.id, "203.0.113.10", "other@example.org") == "ok"
    next_minute = [rate_limits.Bucket(rate_limits.IP_BURST, f"p{petition.id}", "203.0.113.9")]
    [count] = await rate_limits.hit(next_minute, at=NOW + 60)
    assert count.count == 1 and not count.exceeded


async def test_hopping_between_petitions_from_one_ip_is_limited_too():
    petitions = [await published_petition(f"Petition number {i} for the park") for i in range(4)]
    allowed = rate_limits.IP_BURST_ANY_PETITION.allowed
    for n in range(allowed):
        await screening.screen(petitions[n % 4].id, "203.0.113.9", f"s{n}@example.org")
    with pytest.raises(TooManyRequests):
        await screening.screen(petitions[0].id, "203.0.113.9", "more@example.org")


async def test_over_the_sustained_ip_limit_signatures_are_held_not_refused(monkeypatch):
    monkeypatch.setattr(rate_limits, "IP_SUSTAINED", rate_limits.Limit("ip-hour", 3600, 3))
    petition = await published_petition()
    statuses = [await sign_from(petition.id, "203.0.113.9", f"s{n}@example.org") for n in range(5)]
    assert statuses == ["counted", "counted", "counted", "held", "held"]
    assert await counter.total(petition.id) == 3
    assert await Signature.count() == 5


async def test_a_burst_from_a_rare_domain_is_held_while_webmail_gets_far_more_room():
    petition = await published_petition()
    rare = [
        await screening.screen(petition.id, f"203.0.113.{n}", f"s{n}@tiny-village.org")
        for n in range(rate_limits.DOMAIN_BURST.allowed + 1)
    ]
    assert rare[:-1] == ["ok"] * rate_limits.DOMAIN_BURST.allowed
    assert rare[-1] == "held"
    webmail = [
        await screening.screen(petition.id, f"198.51.100.{n}", f"s{n}@gmail.com")
        for n in range(rate_limits.DOMAIN_BURST.allowed + 1)
    ]
    assert webmail == ["ok"] * (rate_limits.DOMAIN_BURST.allowed + 1)
    assert rate_limits.COMMON_DOMAIN_BURST.allowed >= 20 * rate_limits.DOMAIN_BURST.allowed


async def test_trusted_addresses_skip_the_rate_limits_but_not_blocks():
    await set_policy("trusted_ips", "# the office\n203.0.113.0/24\n")
    petition = await published_petition()
    for n in range(rate_limits.IP_BURST.allowed * 2):
        assert await screening.screen(petition.id, "203.0.113.9", f"s{n}@example.org") == "ok"
    await blocks.block("domain", "spam.example", petition_id=None, login_id=None)
    assert await screening.screen(petition.id, "203.0.113.9", "x@spam.example") == "held"


async def test_concurrent_hits_are_all_counted_in_one_bucket():
    bucket = rate_limits.Bucket(rate_limits.Limit("test", 60, 1000), "all", "203.0.113.9")
    results = await asyncio.gather(*[rate_limits.hit([bucket]) for _ in range(25)])
    assert sorted(r[0].count for r in results) == list(range(1, 26))
    assert len(await RateBucket.select(RateBucket.key)) == 1  # (`count` is a column here)


async def test_stale_buckets_are_pruned():
    bucket = rate_limits.Bucket(rate_limits.IP_BURST, "p1", "203.0.113.9")
    await rate_limits.hit([bucket], at=NOW - 2 * rate_limits.STALE_AFTER_S)
    await rate_limits.hit([rate_limits.Bucket(rate_limits.IP_BURST, "p1", "203.0.113.10")])
    await rate_limits.prune()
    assert [row["key"] for row in await RateBucket.select(RateBucket.key)] == ["ip-burst:p1:203.0.113.10"]


# --- Blocks and held signatures ----------------------------------------------------------


async def test_a_blocked_domains_signatures_are_held_uncounted_shown_to_staff_and_released(client, app):
    petition = await published_petition()
    await sign_in(client, "staff@example.org", "staff")
    abuse = f"/staff/petitions/{petition.id}/abuse"
    blocked = await submit(
        client,
        abuse,
        f"/staff/petitions/{petition.id}/blocks",
        {"kind": "domain", "value": "Spam.Example", "where": "petition"},
    )
    assert blocked.status_code == 200
    assert "Blocked." in blocked.text

    async with browser(app) as visitor:
        page, action = f"/p/{petition.slug}", f"/p/{petition.slug}/sign"
        thanked = await submit(visitor, page, action, form(1, "spam.example"))
        assert thanked.status_code == 200
        assert "Thank you for signing" in thanked.text  # a held signer is not told
        await submit(visitor, page, action, form(2, "mail.spam.example"))
        await submit(visitor, page, action, form(3, "example.org"))
    statuses = {
        r["email_domain"]: r["status"]
        for r in await Signature.select(Signature.email_domain, Signature.status)
    }
    assert statuses == {"spam.example": "held", "mail.spam.example": "held", "example.org": "counted"}
    assert await counter.total(petition.id) == 1

    page = await client.get(abuse)
    assert "Held signatures (2)" in page.text
    assert "signer1@spam.example" in page.text
    held = await Signature.select(Signature.id).where(Signature.email_domain == "spam.example").first()
    held_id = held["id"]
    released = await submit(
        client, abuse, f"/staff/petitions/{petition.id}/release", {"signature": str(held_id)}
    )
    assert "1 held signature released" in released.text
    assert await counter.total(petition.id) == 2
    again = await submit(
        client, abuse, f"/staff/petitions/{petition.id}/release", {"signature": str(held_id)}
    )
    assert "0 held signatures released" in again.text
    assert await counter.total(petition.id) == 2
    everything = await submit(client, abuse, f"/staff/petitions/{petition.id}/release", {"all": "1"})
    assert "1 held signature released" in everything.text
    assert await counter.total(petition.id) == 3
    assert await Signature.count().where(Signature.status == "held") == 0


async def test_a_block_on_one_petition_leaves_others_alone_and_a_block_everywhere_does_not():
    first = await published_petition("The first petition about the park")
    second = await published_petition("The second petition about the park")
    await blocks.block("ip", "203.0.113.9", petition_id=first.id, login_id=None)
    assert await screening.screen(first.id, "203.0.113.9", "a@example.org") == "held"
    assert await screening.screen(second.id, "203.0.113.9", "b@example.org") == "ok"
    await blocks.block("ip", "203.0.113.9", petition_id=None, login_id=None, reason="bot farm")
    assert await screening.screen(second.id, "203.0.113.9", "c@example.org") == "held"
    assert len(await blocks.blocks_for(second.id)) == 1
    assert len(await blocks.blocks_for(first.id)) == 2


async def test_blocking_twice_changes_nothing_and_blocks_can_be_removed(client):
    petition = await published_petition()
    one = await blocks.block("ip", "203.0.113.9", petition_id=petition.id, login_id=None)
    two = await blocks.block("ip", " 203.0.113.9 ", petition_id=petition.id, login_id=None)
    assert one.id == two.id and await Block.count() == 1
    await sign_in(client, "staff@example.org", "staff")
    abuse = f"/staff/petitions/{petition.id}/abuse"
    removed = await submit(client, abuse, f"/staff/petitions/{petition.id}/blocks/{one.id}/delete", {})
    assert "block is removed" in removed.text
    assert await Block.count() == 0
    assert await screening.screen(petition.id, "203.0.113.9", "a@example.org") == "ok"


# --- The trending view -------------------------------------------------------------------


async def test_the_trending_view_lists_busy_ips_and_domains_with_one_click_blocks(client):
    petition = await published_petition()
    for n in range(5):
        await sign(
            petition.id, SignatureInput(name="Bot Signer", email=f"b{n}@flood.example", ip="203.0.113.66")
        )
    await sign(petition.id, SignatureInput(name="Real Person", email="real@example.org", ip="198.51.100.7"))
    trend = await trending.trending(petition.id, "hour")
    assert trend.signatures == 6
    assert [(s.value, s.total) for s in trend.ips] == [("203.0.113.66", 5), ("198.51.100.7", 1)]
    assert [(s.value, s.total) for s in trend.domains] == [("flood.example", 5), ("example.org", 1)]

    await sign_in(client, "staff@example.org", "staff")
    abuse = f"/staff/petitions/{petition.id}/abuse"
    page = await client.get(f"{abuse}?window=day")
    assert page.status_code == 200
    assert "203.0.113.66" in page.text and "flood.example" in page.text
    assert "Block everywhere" in page.text
    blocked = await submit(
        client,
        abuse,
        f"/staff/petitions/{petition.id}/blocks",
        {"kind": "ip", "value": "203.0.113.66", "where": "everywhere"},
    )
    assert blocked.status_code == 200
    block = await Block.objects().first()
    assert (block.kind, block.value, block.petition) == ("ip", "203.0.113.66", None)
    assert block.created_by is not None
    moderation = await client.get("/staff/moderation")
    assert petition.title in moderation.text  # most signed in the last hour


# --- Bad input ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"kind": "ip", "value": "not-an-ip"}, "is not an IP address"),
        ({"kind": "domain", "value": "no spaces.example"}, "is not an email domain"),
        ({"kind": "domain", "value": ""}, "is not an email domain"),
        ({"kind": "country", "value": "FR"}, "Choose what to block"),
        ({"kind": "ip", "value": "203.0.113.9", "where": "mars"}, "Choose where the block applies"),
        ({"kind": "ip", "value": "203.0.113.9", "reason": "x" * 501}, "at most 500"),
    ],
)
async def test_bad_blocks_are_refused_with_a_message(client, fields, message):
    petition = await published_petition()
    await sign_in(client, "staff@example.org", "staff")
    abuse = f"/staff/petitions/{petition.id}/abuse"
    response = await submit(client, abuse, f"/staff/petitions/{petition.id}/blocks", fields)
    assert response.status_code == 400
    assert message in response.text
    assert await Block.count() == 0


async def test_unknown_petitions_blocks_and_bad_selections_get_clear_errors(client):
    petition = await published_petition()
    await sign_in(client, "staff@example.org", "staff")
    abuse = f"/staff/petitions/{petition.id}/abuse"
    missing = await client.get("/staff/petitions/999999/abuse")
    assert missing.status_code == 404 and "no such petition" in missing.text
    assert (await client.get("/staff/petitions/abc/abuse")).status_code == 404
    unknown_block = await submit(client, abuse, f"/staff/petitions/{petition.id}/blocks/999999/delete", {})
    assert unknown_block.status_code == 404 and "no such block" in unknown_block.text
    nothing = await submit(client, abuse, f"/staff/petitions/{petition.id}/release", {})
    assert nothing.status_code == 400 and "Choose the held signatures" in nothing.text
    garbage = await submit(client, abuse, f"/staff/petitions/{petition.id}/release", {"signature": "1; DROP"})
    assert garbage.status_code == 400 and "not valid" in garbage.text
    elsewhere = await submit(client, abuse, "/staff/petitions/999999/release", {"all": "1"})
    assert elsewhere.status_code == 404


async def test_service_level_bad_input_is_refused():
    with pytest.raises(NotFound):
        await blocks.block("ip", "203.0.113.9", petition_id=999_999, login_id=None)
    with pytest.raises(UserError, match="not an IP address"):
        await blocks.block("ip", "300.1.1.1", petition_id=None, login_id=None)
    with pytest.raises(NotFound):
        await blocks.release(999_999, None)
    petition = await published_petition()
    # An invalid email is not screened by domain; signing refuses it with its own message.
    assert await screening.screen(petition.id, "", "not-an-email") == "ok"
    assert await screening.screen(petition.id, "garbage", "a@example.org") == "ok"
