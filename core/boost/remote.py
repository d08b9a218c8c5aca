"""Pooled reach, the side that runs the boost: stages shared with reach partners.

A reach partner is another node that mails its own members for this node's boosts (on the
hub, the federation's instances). Core knows nothing about how a partner is reached: a plugin
registers a `ReachProvider` that lists the partners with their eligible members and
dispatches a share of a stage to one of them; the partner's cumulative results come back
later through `record_remote_stage_result`. With no provider, or no partner, the engine runs
exactly as it does on its own.

How a stage is pooled (docs/boost.md, "Federation-wide boosts"):

- **Split** (`split_stage`): when a stage is first dealt out, its size is shared between this
  node's eligible audience and the partners in proportion to eligible members (largest
  remainders). A partner whose share would be below `k_min` gets none — it would refuse — and
  the split is made again without it. This node's part is dealt out from its daily budget as
  before; partners mail theirs under their own caps.
- **Window**: the stage is judged when this node's window has ended and every partner's
  `deliver_by` (dispatch + the window) has passed.
- **Settle** (`settle_stage`): a partner that refused, did not report by then, or whose `sent`
  cell is suppressed is excluded from the stage (the decision sentence names it). Otherwise
  its latest cumulative report is pooled with this node's counts. Suppressed cells (null: a
  value between 1 and k_min − 1) are read conservatively, each toward sending less: a null
  `signed` counts as 1 signature (the least it can be), a null `unsubscribed` as k_min − 1
  (the most it can be).
- A partner that refused a stage is taken to have no audience left for this boost and gets no
  further share of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from core.boost.tables import BoostRemoteShare, BoostStage
from core.plugins.host import active_plugin

__all__ = [
    "ReachPartner",
    "ReachProvider",
    "RemoteShare",
    "RemoteTotals",
    "pooled_partners",
    "record_remote_stage_result",
    "register_reach_provider",
    "remote_shares_of",
    "remote_window_end",
    "settle_stage",
    "split_stage",
    "stage_totals",
    "unregister_reach_provider",
]

REQUEST_PREFIX = "b"


@dataclass(frozen=True)
class ReachPartner:
    """A node that can mail its members for this node's boosts. `key` identifies it to the
    provider (a node id); `label` is what staff read (an origin); `eligible` is how many of
    its members may get boost email, as it last said (an aggregate, rounded)."""

    key: str
    label: str
    eligible: int


@dataclass(frozen=True)
class RemoteShare:
    """One partner's share of one stage. `request_id` is stable for the stage, so a share
    dispatched twice is the same request; the partner mails up to `target_count` of its own
    members by `deliver_by`, and refuses rather than mail fewer than `k_min`."""

    request_id: str
    partner: str
    petition_id: int
    target_count: int
    deliver_by: datetime
    k_min: int


class ReachProvider(Protocol):
    """What a plugin implements to give the boost engine partners (federation does)."""

    async def partners(self) -> Sequence[ReachPartner]:
        """Partners that can take a share now (with a recent count of eligible members)."""
        ...

    async def dispatch(self, share: RemoteShare) -> None:
        """Ask the partner to mail its share; durable (queue it), never send inline."""
        ...


_providers: dict[str, ReachProvider] = {}


def register_reach_provider(plugin: str, provider: ReachProvider) -> None:
    """Called by a plugin (at import) to offer partners; used only while `plugin` is active."""
    _providers[plugin] = provider


def unregister_reach_provider(plugin: str) -> None:
    _providers.pop(plugin, None)


def _active_providers() -> list[ReachProvider]:
    return [p for name, p in _providers.items() if active_plugin(name) is not None]


async def _all_partners() -> list[tuple[ReachProvider, ReachPartner]]:
    found: list[tuple[ReachProvider, ReachPartner]] = []
    for provider in _active_providers():
        for partner in await provider.partners():
            if partner.eligible > 0:
                found.append((provider, partner))
    return found


async def pooled_partners(boost_id: int | None = None) -> list[ReachPartner]:
    """Partners that may take a share of this boost: those with eligible members, less any
    that refused one of its stages already (their audience for it is gone)."""
    partners = [p for _, p in await _all_partners()]
    if boost_id is None or not partners:
        return partners
    refused = {
        row["partner"]
        for row in await BoostRemoteShare.select(BoostRemoteShare.partner).where(
            (BoostRemoteShare.stage.boost == boost_id) & (BoostRemoteShare.refused == True)  # noqa: E712
        )
    }
    return [p for p in partners if p.key not in refused]


# -- the split ----------------------------------------------------------------------------------


def split_stage(
    size: int, local_eligible: int, partners: Sequence[ReachPartner], k_min: int
) -> tuple[int, dict[str, int]]:
    """This node's part of a stage of `size` and each partner's, in proportion to eligible
    members (largest remainders, so the parts add up to `size`). A partner whose part would be
    below `k_min` is left out and the split made again without it."""
    taking = [p for p in partners if p.eligible > 0]
    while True:
        weights = [("", max(local_eligible, 0))] + [(p.key, p.eligible) for p in taking]
        total = sum(w for _, w in weights)
        if total <= 0 or size <= 0:
            return max(size, 0), {}
        exact = [(key, size * w / total) for key, w in weights]
        parts = {key: int(x) for key, x in exact}
        short = size - sum(parts.values())
        for key, _ in sorted(exact, key=lambda kx: (-(kx[1] - int(kx[1])), kx[0]))[:short]:
            parts[key] += 1
        too_small = [p for p in taking if parts[p.key] < k_min]
        if not too_small:
            local = parts.pop("")
            return local, {key: n for key, n in parts.items() if n > 0}
        taking = [p for p in taking if parts[p.key] >= k_min]


def request_id_for(boost_id: int, stage_number: int) -> str:
    return f"{REQUEST_PREFIX}{boost_id}-s{stage_number}"


async def dispatch_stage(
    stage: dict[str, Any],
    *,
    petition_id: int,
    local_eligible: int,
    k_min: int,
    window_seconds: int,
    now: datetime,
) -> int | None:
    """Split a stage that has not been split yet and dispatch the partners' shares. Returns
    this node's part (the stage's new size), or None if another run split it first or there
    was nothing to share."""
    claimed = (
        await BoostStage.update({BoostStage.split_at: now})
        .where((BoostStage.id == stage["id"]) & BoostStage.split_at.is_null())
        .returning(BoostStage.id)
    )
    if not claimed:
        return None
    found = await _all_partners()
    allowed = {p.key for p in await pooled_partners(stage["boost"])}
    found = [(prov, p) for prov, p in found if p.key in allowed]
    if not found:
        return None
    remaining_size = stage["size"] - stage["allocated"]
    local, shares = split_stage(remaining_size, local_eligible, [p for _, p in found], k_min)
    if not shares:
        return None
    request_id = request_id_for(stage["boost"], stage["number"])
    deliver_by = now + timedelta(seconds=window_seconds)
    by_key = {p.key: (prov, p) for prov, p in found}
    for key, count in sorted(shares.items()):
        provider, partner = by_key[key]
        share = RemoteShare(request_id, key, petition_id, count, deliver_by, k_min)
        await BoostRemoteShare.insert(
            BoostRemoteShare(
                key=f"{request_id} {key}",
                stage=stage["id"],
                request_id=request_id,
                partner=key,
                partner_label=partner.label[:300],
                eligible=partner.eligible,
                target_count=count,
                k_min=k_min,
                deliver_by=deliver_by,
                dispatched_at=now,
            )
        ).on_conflict(target=BoostRemoteShare.key, action="DO NOTHING")
        await provider.dispatch(share)
    new_size = stage["allocated"] + local
    await BoostStage.update(
        {BoostStage.size: new_size, BoostStage.remote_allocated: sum(shares.values())}
    ).where(BoostStage.id == stage["id"])
    if local <= 0:
        # Nothing of it is this node's to send: the stage is dealt out.
        await BoostStage.update({BoostStage.filled_at: now}).where(
            (BoostStage.id == stage["id"]) & BoostStage.filled_at.is_null()
        )
    return new_size


async def remote_window_end(stage_id: int) -> datetime | None:
    """When the partners' part of a stage can be judged: the latest `deliver_by`."""
    rows = await BoostRemoteShare.select(BoostRemoteShare.deliver_by).where(
        BoostRemoteShare.stage == stage_id
    )
    ends = [_aware(r["deliver_by"]) for r in rows]
    return max(ends) if ends else None


# -- results ------------------------------------------------------------------------------------


async def record_remote_stage_result(
    request_id: str,
    partner: str,
    *,
    sequence: int,
    sent: int | None,
    signed: int | None,
    unsubscribed: int | None,
    refused: bool,
    now: datetime | None = None,
) -> bool:
    """A partner's cumulative report for its share of a stage. Reports carry a sequence: one
    not newer than the last recorded changes nothing (False), so duplicates and reordering are
    harmless. A report for a share this node never dispatched is ignored (False)."""
    now = now or datetime.now(UTC)
    updated = (
        await BoostRemoteShare.update(
            {
                BoostRemoteShare.report_sequence: sequence,
                BoostRemoteShare.reported_at: now,
                BoostRemoteShare.refused: bool(refused),
                BoostRemoteShare.sent: sent,
                BoostRemoteShare.signed: signed,
                BoostRemoteShare.unsubscribed: unsubscribed,
            }
        )
        .where(
            (BoostRemoteShare.key == f"{request_id} {partner}")
            & (BoostRemoteShare.report_sequence < sequence)
        )
        .returning(BoostRemoteShare.id)
    )
    return bool(updated)


@dataclass(frozen=True)
class RemoteTotals:
    """The partners' part of a closed stage, as pooled into its outcome."""

    emails: int = 0
    deliveries: int = 0
    signatures: int = 0
    unsubscribes: int = 0
    included: int = 0
    excluded: tuple[str, ...] = ()

    def note(self, local_deliveries: int) -> str:
        """What the decision sentence adds: where the deliveries came from, who was left out."""
        if not self.included and not self.excluded:
            return ""
        parts = []
        if self.included:
            partners = f"{self.included} partner{'s' if self.included != 1 else ''}"
            parts.append(f"pooled: {local_deliveries:,} here, {self.deliveries:,} from {partners}")
        if self.excluded:
            parts.append("left out: " + ", ".join(self.excluded))
        return "; ".join(parts)


def _exclusion(row: dict[str, Any]) -> str | None:
    if row["refused"]:
        return "refused"
    if row["reported_at"] is None:
        return "did not report in time"
    if row["sent"] is None:
        return "its sent count is below k_min"
    return None


async def settle_stage(stage_id: int) -> RemoteTotals:
    """Decide, once, which partners count in a closing stage (a share already settled keeps
    its outcome) and return the pooled totals."""
    rows = await BoostRemoteShare.select().where(
        (BoostRemoteShare.stage == stage_id) & (BoostRemoteShare.outcome == "")
    )
    for row in rows:
        why = _exclusion(row)
        await BoostRemoteShare.update(
            {BoostRemoteShare.outcome: "excluded" if why else "counted", BoostRemoteShare.note: why or ""}
        ).where(BoostRemoteShare.id == row["id"])
    return await stage_totals(stage_id)


async def stage_totals(stage_id: int) -> RemoteTotals:
    """The partners' part of a settled stage, suppressed cells read conservatively: a null
    `signed` as 1, a null `unsubscribed` as k_min − 1 (see the module docstring)."""
    rows = await (
        BoostRemoteShare.select().where(BoostRemoteShare.stage == stage_id).order_by(BoostRemoteShare.id)
    )
    emails = signatures = unsubscribes = included = 0
    excluded: list[str] = []
    for row in rows:
        if row["outcome"] == "excluded":
            excluded.append(f"{row['partner_label'] or row['partner']} ({row['note']})")
        elif row["outcome"] == "counted":
            included += 1
            emails += int(row["sent"] or 0)
            signatures += int(row["signed"]) if row["signed"] is not None else 1
            unsubscribes += int(row["unsubscribed"]) if row["unsubscribed"] is not None else row["k_min"] - 1
    return RemoteTotals(emails, emails, signatures, unsubscribes, included, tuple(excluded))


async def remote_shares_of(boost_id: int) -> list[dict[str, Any]]:
    """Every partner share of a boost with its stage number, for staff."""
    return await (
        BoostRemoteShare.select(
            BoostRemoteShare.all_columns(), BoostRemoteShare.stage.number.as_alias("stage_number")
        )
        .where(BoostRemoteShare.stage.boost == boost_id)
        .order_by(BoostRemoteShare.id)
    )


async def boosts_with_partners() -> bool:
    """Whether pooled reach is on at all (some active provider has a partner now)."""
    return bool(await _all_partners())


def _aware(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    parsed = datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
