"""Screening a signature before it is recorded, without a captcha (as the UK Parliament's
petitions site does): rate limits per IP address and per email domain, and staff blocks.

- Over the IP burst limit (per petition, or across petitions): `TooManyRequests` — the
  signer is asked to wait a minute, nothing is stored.
- Addresses an admin trusts (the "trusted_ips" policy) skip the rate limits, not the blocks.
- A block on the IP or the email domain (for this petition or everywhere), or a sustained
  limit, or a domain's burst limit: "held" — the signature is recorded with status "held",
  uncounted, and shown to staff, who can release it (then it counts) or leave it.

Blocks themselves, and releasing held signatures, are in core.moderation.blocks.
"""

from __future__ import annotations

import ipaddress
from typing import Literal

from core.errors import TooManyRequests, UserError
from core.instance_settings import get_policy
from core.moderation import rate_limits
from core.moderation.tables import Block
from core.people.emails import InvalidEmail, email_key

Verdict = Literal["ok", "held"]


def normalize_ip(ip: str) -> str:
    """The canonical text of an IP address ('' if it is not one), so that blocks and counts
    match however the address was written."""
    try:
        return str(ipaddress.ip_address(ip.strip()))
    except ValueError:
        return ""


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(text: str, *, strict: bool = True) -> list[Network]:
    """IP addresses or networks, one a line ('#' starts a comment). With `strict`, a line that
    is neither raises UserError naming it; otherwise it is skipped."""
    networks = []
    for number, line in enumerate(text.splitlines(), start=1):
        entry = line.split("#", 1)[0].strip()
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            if strict:
                raise UserError(
                    f"Line {number} ({entry[:60]!r}) is not an IP address or network "
                    "(for example 203.0.113.7 or 198.51.100.0/24)."
                ) from None
    return networks


async def is_trusted(ip: str) -> bool:
    """Whether an admin exempted this address from the rate limits."""
    if not ip:
        return False
    text = await get_policy("trusted_ips")
    if not text:
        return False
    address = ipaddress.ip_address(ip)
    return any(address in network for network in parse_networks(text, strict=False))


def domain_of(email: str) -> str:
    """The normalized domain of an email address ('' if the address is not valid; signing
    will refuse it with its own message)."""
    try:
        return email_key(email).rsplit("@", 1)[1]
    except InvalidEmail:
        return ""


def parent_domains(domain: str) -> list[str]:
    """'mail.example.org' → ['mail.example.org', 'example.org']: a block on a domain covers
    its subdomains."""
    parts = domain.split(".")
    return [".".join(parts[i:]) for i in range(len(parts) - 1)]


async def is_blocked(petition_id: int, ip: str, domain: str) -> bool:
    condition = None
    if ip:
        condition = (Block.kind == "ip") & (Block.value == ip)
    if domain:
        by_domain = (Block.kind == "domain") & Block.value.is_in(parent_domains(domain))
        condition = by_domain if condition is None else (condition | by_domain)
    if condition is None:
        return False
    where = condition & (Block.petition.is_null() | (Block.petition == petition_id))
    return await Block.exists().where(where)


def _buckets(petition_id: int, ip: str, domain: str) -> list[rate_limits.Bucket]:
    scope = f"p{petition_id}"
    buckets = []
    if ip:
        buckets += [
            rate_limits.Bucket(rate_limits.IP_BURST, scope, ip),
            rate_limits.Bucket(rate_limits.IP_BURST_ANY_PETITION, "all", ip),
            rate_limits.Bucket(rate_limits.IP_SUSTAINED, scope, ip),
        ]
    if domain:
        burst, sustained = rate_limits.domain_limits(domain)
        buckets += [
            rate_limits.Bucket(burst, scope, domain),
            rate_limits.Bucket(sustained, scope, domain),
        ]
    return buckets


async def screen(petition_id: int, ip: str, email: str) -> Verdict:
    """Decide whether a signature on `petition_id` from `ip` with `email` counts at once
    ("ok") or is held for staff ("held"); raise TooManyRequests over the IP burst limit."""
    ip = normalize_ip(ip)
    domain = domain_of(email)
    if await is_trusted(ip):
        return "held" if await is_blocked(petition_id, ip, domain) else "ok"
    now = rate_limits.clock()
    counts = await rate_limits.hit(_buckets(petition_id, ip, domain), at=now)
    too_fast = [
        c
        for c in counts
        if c.exceeded and c.bucket.limit in (rate_limits.IP_BURST, rate_limits.IP_BURST_ANY_PETITION)
    ]
    if too_fast:
        wait = max(c.retry_after(now) for c in too_fast)
        raise TooManyRequests(
            "Too many signatures have come from your internet connection in the last minute. "
            f"Please wait {wait} second{'s' if wait != 1 else ''} and try again."
        )
    if await is_blocked(petition_id, ip, domain):
        return "held"
    if any(c.exceeded for c in counts):
        return "held"
    return "ok"
