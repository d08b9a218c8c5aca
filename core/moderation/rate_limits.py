"""Rate limits shared by every process: fixed-window counters in the `rate_bucket` table.

A bucket is one key (what is limited: "signatures on petition 7 from IP 203.0.113.9 per
minute") with the start of its current window and the hits counted in it. A hit is one atomic
`INSERT … ON CONFLICT DO UPDATE … RETURNING` over all the buckets it touches: the row is
created, incremented, or reset when its window has passed, so concurrent requests on any
number of processes never lose a count, on SQLite and PostgreSQL alike.

Fixed windows are cheap and exact within a window; at a window boundary a client can get up
to twice the limit through in a short time. The sustained (hourly) limits bound that.

The limits are constants so an operator (or a benchmark) can change them in one place.
Common webmail domains get far higher domain limits than rare ones: thousands of unrelated
people sign with gmail.com, while a burst from one small domain is usually one sender.
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass

from core.moderation.tables import RateBucket


@dataclass(frozen=True)
class Limit:
    """At most `allowed` hits per window of `period` seconds."""

    name: str
    period: int
    allowed: int


# Signing, per petition. Over the IP burst limit a signer gets a 429 and is asked to wait;
# over any other limit the signature is taken but held for staff (see core.moderation.screening).
IP_BURST = Limit("ip-burst", 60, 10)
IP_SUSTAINED = Limit("ip-hour", 3600, 60)
DOMAIN_BURST = Limit("domain-burst", 60, 20)
DOMAIN_SUSTAINED = Limit("domain-hour", 3600, 200)
COMMON_DOMAIN_BURST = Limit("domain-burst", 60, 1_000)
COMMON_DOMAIN_SUSTAINED = Limit("domain-hour", 3600, 20_000)
# Signing any petition from one IP: a bot hopping between petitions. Over it: 429.
IP_BURST_ANY_PETITION = Limit("ip-burst-any", 60, 30)
# Abuse reports from one IP, on any petition. Over it: 429.
REPORTS_PER_IP = Limit("report-ip", 3600, 5)

# Large consumer mail services, where many unrelated people share the domain.
COMMON_DOMAINS = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "yahoo.com",
        "yahoo.co.uk",
        "yahoo.fr",
        "ymail.com",
        "hotmail.com",
        "hotmail.co.uk",
        "hotmail.fr",
        "outlook.com",
        "live.com",
        "live.co.uk",
        "msn.com",
        "icloud.com",
        "me.com",
        "mac.com",
        "aol.com",
        "proton.me",
        "protonmail.com",
        "gmx.com",
        "gmx.de",
        "gmx.net",
        "web.de",
        "mail.com",
        "yandex.ru",
        "mail.ru",
        "btinternet.com",
        "sky.com",
        "virginmedia.com",
        "comcast.net",
        "verizon.net",
        "att.net",
        "orange.fr",
        "free.fr",
        "laposte.net",
        "t-online.de",
        "libero.it",
        "qq.com",
        "163.com",
        "fastmail.com",
        "zoho.com",
        "hey.com",
    }
)

# Buckets whose window started longer ago than this are stale for every limit above.
STALE_AFTER_S = 86_400
# Each hit prunes stale buckets with this probability, which keeps the table small without
# a scheduled job.
PRUNE_CHANCE = 0.001


def domain_limits(domain: str) -> tuple[Limit, Limit]:
    """(burst, sustained) limits for signatures from an email domain."""
    if domain in COMMON_DOMAINS:
        return COMMON_DOMAIN_BURST, COMMON_DOMAIN_SUSTAINED
    return DOMAIN_BURST, DOMAIN_SUSTAINED


@dataclass(frozen=True)
class Bucket:
    """One thing to count: `subject` (an IP, a domain) under `limit`, within `scope`."""

    limit: Limit
    scope: str
    subject: str

    @property
    def key(self) -> str:
        return f"{self.limit.name}:{self.scope}:{self.subject}"[:300]


@dataclass(frozen=True)
class Count:
    bucket: Bucket
    count: int
    window_start: float

    @property
    def exceeded(self) -> bool:
        return self.count > self.bucket.limit.allowed

    def retry_after(self, now: float) -> int:
        """Whole seconds until this bucket's window ends."""
        return max(1, math.ceil(self.window_start + self.bucket.limit.period - now))


_UPSERT = """
INSERT INTO rate_bucket ("key", window_start, count) VALUES {rows}
ON CONFLICT ("key") DO UPDATE SET
  count = CASE WHEN rate_bucket.window_start >= excluded.window_start
               THEN rate_bucket.count + 1 ELSE 1 END,
  window_start = CASE WHEN rate_bucket.window_start >= excluded.window_start
                      THEN rate_bucket.window_start ELSE excluded.window_start END
RETURNING "key", window_start, count
"""


def clock() -> float:
    """The time the limits use (epoch seconds); tests replace it to stay inside one window."""
    return time.time()


def window_start(now: float, period: int) -> float:
    return float(math.floor(now / period) * period)


async def hit(buckets: list[Bucket], *, at: float | None = None) -> list[Count]:
    """Count one hit in each bucket, in one atomic statement; the counts in their current
    windows, in the order given. Keys are written in sorted order so that concurrent hits on
    overlapping buckets take their row locks in the same order (no deadlock on PostgreSQL)."""
    if not buckets:
        return []
    now = clock() if at is None else at
    by_key = {b.key: b for b in buckets}
    keys = sorted(by_key)
    rows_sql = ", ".join("({}, {}, 1)" for _ in keys)
    args: list[object] = []
    for key in keys:
        args += [key, window_start(now, by_key[key].limit.period)]
    rows = await RateBucket.raw(_UPSERT.format(rows=rows_sql), *args)
    counts = {row["key"]: (int(row["count"]), float(row["window_start"])) for row in rows}
    if random.random() < PRUNE_CHANCE:
        await prune(at=now)
    return [Count(b, *counts[b.key]) for b in buckets]


async def prune(*, at: float | None = None) -> None:
    """Forget buckets whose windows are long over."""
    now = clock() if at is None else at
    await RateBucket.delete().where(RateBucket.window_start < now - STALE_AFTER_S)
