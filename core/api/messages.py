"""OSDI messages (staff tokens): mailings as the API sees them, with the send and schedule
helpers for API-driven sends.

OSDI addresses a message's recipients with `targets`, links to lists or queries. Ours are
audiences, so a target is a link to what the audience is made of: a tag (`…/tags/{id}`: its
members) or a petition (`…/petitions/{id}` or `…/petitions/{id}/signatures`: its signers).
Anything else — a group, a region, a postal prefix, a saved audience, everyone, exclusions —
goes in the Groundswell extension field `audience`, the same spec the staff pages build
(core.mailings.audience). A message reaches one audience: one target, or `audience`.

Every rule is core.mailings.service's; this module maps shapes.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import msgspec
from litestar import Controller, Request, Response, delete, get, post, put
from litestar.params import FromPath, FromQuery, JSONBody

from core.api.body import Href, StrictJSON, decode_strict, required
from core.api.hal import (
    DEFAULT_PER_PAGE,
    HAL_JSON,
    api_url,
    api_viewer,
    beyond_last,
    checked_id,
    collection,
    common_fields,
    id_from_href,
    iso,
    link,
    page_of,
)
from core.errors import NotFound, UserError
from core.mailings import service
from core.mailings.audience import count_audience, parse_audience
from core.mailings.report import VariantReport, variant_numbers
from core.mailings.tables import Mailing, MailingVariant
from core.settings import current_settings

# Our statuses in OSDI's words ("draft", "calculating", "scheduled", "sending", "stopped", "sent");
# the exact one is in `groundswell_status`.
OSDI_STATUS = {
    "draft": "draft",
    "scheduled": "scheduled",
    "sending": "sending",
    "testing": "sending",
    "sent": "sent",
    "halted": "stopped",
    "cancelled": "stopped",
}


class MessageBody(msgspec.Struct):
    """OSDI's message fields, plus Groundswell's: `audience` (instead of `targets`), up to three
    more subject lines for an A/B test (`variants`), and the test and circuit-breaker settings.
    The body is Markdown with merge fields; `message` is accepted for `body`."""

    subject: str | None = None
    body: str | None = None
    message: str | None = None
    from_: str | None = msgspec.field(default=None, name="from")
    reply_to: str | None = None
    type: str | None = None
    targets: list[Href] | None = None
    audience: dict[str, Any] | None = None
    topic: str | None = None
    variants: list[str] | None = None
    test_fraction: float | None = None
    test_window_seconds: int | None = None
    max_unsubscribe_rate: float | None = None
    max_bounce_rate: float | None = None
    name: str | None = None
    identifiers: list[str] | None = None
    origin_system: str | None = None


class SendBody(msgspec.Struct):
    """Empty to send now; with `scheduled_start_date` (ISO 8601 with a timezone), scheduled."""

    scheduled_start_date: str | None = None


def message_path(mailing_id: int) -> str:
    return f"messages/{mailing_id}"


def _targets(spec: dict[str, Any]) -> list[dict[str, str]]:
    """The audience as OSDI target links, where one exists (a tag or a petition's signers)."""
    if "tag" in spec:
        return [{"href": api_url(f"tags/{spec['tag']}")}]
    if "petition" in spec:
        return [{"href": api_url(f"petitions/{spec['petition']}/signatures")}]
    return []


def _target_audience(target: Href) -> tuple[dict[str, Any], int | None]:
    """One target link as an audience spec (and the petition it is about, if any)."""
    href = target.href.rstrip("/").removesuffix("/signatures")
    tag = id_from_href(href, "tags")
    if tag is not None:
        return {"tag": tag}, None
    petition = id_from_href(href, "petitions")
    if petition is not None:
        return {"petition": petition}, petition
    raise UserError(
        f"targets: {target.href[:200]} is not a target this server understands. Link a tag "
        f"({api_url('tags/{id}')}) or a petition ({api_url('petitions/{id}')}, its signers), "
        "or describe the audience in the `audience` field."
    )


def _audience(data: MessageBody) -> tuple[dict[str, Any] | None, int | None]:
    """The audience (None: not given) and the petition the message is about."""
    audience = dict(data.audience) if data.audience is not None else None
    if data.targets is None:
        petition = (audience or {}).get("petition")
        return audience, petition if isinstance(petition, int) and not isinstance(petition, bool) else None
    if len(data.targets) != 1:
        raise UserError(
            "targets: give exactly one target (a tag or a petition). To combine, describe the audience "
            "in the `audience` field instead."
        )
    spec, petition = _target_audience(data.targets[0])
    if audience:
        kinds = set(audience) - {"exclude_signed", "exclude_mailed_days"}
        if kinds:
            raise UserError(
                f"Give either targets or an audience ({', '.join(sorted(kinds))}), not both; "
                "`audience` may add exclude_signed and exclude_mailed_days to a target."
            )
        spec.update(audience)
    return spec, petition


def _fields(data: MessageBody) -> dict[str, Any]:
    """The service's keyword arguments for what the body says (fields left out: not given)."""
    if data.type is not None and data.type != "email":
        raise UserError('type: this server sends email messages only ("email").')
    fields: dict[str, Any] = {}
    body = data.body if data.body is not None else data.message
    for key, value in (
        ("subject", data.subject),
        ("body", body),
        ("from_name", data.from_),
        ("reply_to", data.reply_to),
        ("topic", data.topic),
        ("variants", data.variants),
        ("test_fraction", data.test_fraction),
        ("test_window_seconds", data.test_window_seconds),
        ("max_unsubscribe_rate", data.max_unsubscribe_rate),
        ("max_bounce_rate", data.max_bounce_rate),
    ):
        if value is not None:
            fields[key] = value
    audience, petition = _audience(data)
    if audience is not None:
        fields["audience"] = audience
        fields["petition_id"] = petition
    return fields


def _statistics(numbers: dict[str, VariantReport]) -> dict[str, int]:
    totals = VariantReport("")
    for row in numbers.values():
        totals.add(row)
    return {
        "sent": totals.sent,
        "opened": totals.opens,
        "clicked": totals.clicks,
        "actions": totals.actions,
        "unsubscribed": totals.unsubscribed,
        "bounced": totals.bounced,
        "spam_reports": totals.complaints,
        "failed": totals.failed,
    }


async def message_resource(mailing: dict[str, Any]) -> dict[str, Any]:
    """A mailing (Mailing row, plus "variants" and "author_person") as an OSDI message."""
    mailing_id = mailing["id"]
    audience = parse_audience(mailing["audience"]).to_spec()
    started = mailing["status"] not in ("draft", "scheduled")
    links: dict[str, Any] = {
        "self": link(message_path(mailing_id)),
        "osdi:send_helper": link(f"{message_path(mailing_id)}/send"),
        "osdi:schedule_helper": link(f"{message_path(mailing_id)}/schedule"),
    }
    if mailing.get("author_person"):
        links["osdi:creator"] = link(f"people/{mailing['author_person']}")
    if mailing["petition"]:
        links["osdi:petition"] = link(f"petitions/{mailing['petition']}")
    public = current_settings().public_url
    return {
        **common_fields(mailing_id, mailing["created_at"], mailing["updated_at"]),
        "name": mailing["subject"],
        "subject": mailing["subject"],
        "body": mailing["body"],
        "from": mailing["from_name"],
        "reply_to": mailing["reply_to"],
        "type": "email",
        "administrative_url": f"{public}/staff/mailings/{mailing_id}",
        "targets": _targets(audience),
        "total_targeted": mailing["recipients"]
        if started
        else await count_audience(parse_audience(audience), mailing["topic"]),
        "status": OSDI_STATUS.get(mailing["status"], mailing["status"]),
        "scheduled_start_date": iso(mailing["scheduled_for"]),
        "sent_start_date": iso(mailing["started_at"]),
        "sent_end_date": iso(mailing["finished_at"]),
        "statistics": _statistics(await variant_numbers(mailing)),
        # Groundswell extensions
        "groundswell_status": mailing["status"],
        "kind": mailing["kind"],
        "topic": mailing["topic"],
        "audience": audience,
        "variants": [{"label": v["label"], "subject": v["subject"]} for v in mailing["variants"]],
        "test_fraction": mailing["test_fraction"],
        "test_window_seconds": mailing["test_window_seconds"],
        "max_unsubscribe_rate": mailing["max_unsubscribe_rate"],
        "max_bounce_rate": mailing["max_bounce_rate"],
        "winner": mailing["winner"],
        "halted_reason": mailing["halted_reason"],
        "source_code": mailing["source_code"],
        "_links": links,
    }


async def _rows(condition: Any, paging: Any) -> list[dict[str, Any]]:
    rows = await (
        Mailing.select(*Mailing.all_columns(), Mailing.author.person.as_alias("author_person"))
        .where(condition)
        .order_by(Mailing.id)
        .limit(paging.size)
        .offset(paging.offset)
    )
    ids = [row["id"] for row in rows]
    variants: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
    if ids:
        for v in await (
            MailingVariant.select(MailingVariant.mailing, MailingVariant.label, MailingVariant.subject)
            .where(MailingVariant.mailing.is_in(ids))
            .order_by(MailingVariant.label)
        ):
            variants[v["mailing"]].append(v)
    for row in rows:
        row["variants"] = variants[row["id"]]
        if isinstance(row["audience"], str):
            row["audience"] = json.loads(row["audience"] or "{}")
    return rows


async def render_message(mailing_id: int) -> dict[str, Any]:
    rows = await _rows(Mailing.id == checked_id(mailing_id, "message"), page_of(1, 1))
    if not rows:
        raise NotFound("There is no such message.")
    return await message_resource(rows[0])


async def _send_body(request: Request) -> SendBody:
    """OSDI sends an empty body (or `{}`) to the helpers; both mean "now"."""
    raw = await request.body()
    return SendBody() if not raw.strip() else decode_strict(raw, SendBody)


def _when(value: str | None) -> datetime:
    if not value:
        raise UserError("scheduled_start_date: give the time to send, e.g. 2030-03-14T12:00:00Z.")
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise UserError(
            f"scheduled_start_date: {value[:40]!r} is not an ISO 8601 time, e.g. 2030-03-14T12:00:00Z."
        ) from None
    if moment.tzinfo is None:
        raise UserError("scheduled_start_date: give the timezone too, e.g. 2030-03-14T12:00:00Z.")
    return moment.astimezone(UTC)


def _notice(message: str, resource: dict[str, Any]) -> Response[dict[str, Any]]:
    return Response({"notice": message, "message": resource}, status_code=200, media_type=HAL_JSON)


class MessagesApi(Controller):
    """Staff tokens only (see ROUTE_GROUPS in core.web.app)."""

    path = "/messages"
    tags = ["OSDI: messages"]

    @get("/", media_type=HAL_JSON, summary="List messages (mailings)")
    async def list_messages(
        self, page: FromQuery[int] = 1, per_page: FromQuery[int] = DEFAULT_PER_PAGE
    ) -> dict[str, Any]:
        """Every mailing on this instance, oldest first: staff mailings, leaders' emails to their
        signers, boost mailings and messages made through this API."""
        paging = page_of(page, per_page)
        total = await Mailing.count()
        rows = [] if beyond_last(paging, total) else await _rows(Mailing.id > 0, paging)
        return collection(
            path="messages",
            rel="osdi:messages",
            items=[await message_resource(row) for row in rows],
            page=paging,
            total=total,
        )

    @get("/{message_id:int}", media_type=HAL_JSON, summary="Get one message")
    async def show_message(self, message_id: FromPath[int]) -> dict[str, Any]:
        return await render_message(message_id)

    @post(
        "/",
        media_type=HAL_JSON,
        summary="Create a message (a draft)",
        description="Needs `subject`, `body` (Markdown with merge fields such as {{ given_name }}) and "
        "one target (a tag or a petition link) or an `audience`. Nothing is sent until the send helper "
        "is called.",
        dto=StrictJSON[MessageBody],
        return_dto=None,
    )
    async def create(
        self, request: Request, data: JSONBody[MessageBody | None] = None
    ) -> Response[dict[str, Any]]:
        data = required(data)
        fields = _fields(data)
        for needed in ("subject", "body"):
            if not fields.get(needed):
                raise UserError(f"{needed}: this field is required.")
        if "audience" not in fields:
            raise UserError("targets: give one target (a tag or a petition link), or an `audience`.")
        mailing_id = await service.create_mailing(
            kind="api", author_login_id=api_viewer(request).login_id, **fields
        )
        return Response(await render_message(mailing_id), status_code=201, media_type=HAL_JSON)

    @put(
        "/{message_id:int}",
        media_type=HAL_JSON,
        summary="Change a draft or scheduled message",
        description="Fields left out keep their value; `targets` or `audience`, when given, replace the "
        "audience; `variants` replaces the extra subject lines. A message that started cannot change (409).",
        dto=StrictJSON[MessageBody],
        return_dto=None,
    )
    async def change(
        self, message_id: FromPath[int], data: JSONBody[MessageBody | None] = None
    ) -> dict[str, Any]:
        data = required(data)
        await render_message(message_id)  # 404 first
        fields = _fields(data)
        if fields:
            await service.update_mailing(message_id, **fields)
        return await render_message(message_id)

    @delete(
        "/{message_id:int}",
        media_type=HAL_JSON,
        summary="Delete a draft message",
        description="Only a draft can be deleted; a scheduled or sent message is 409 (cancel it "
        "with the schedule helper instead, so its report and history stay).",
        status_code=200,
    )
    async def remove(self, message_id: FromPath[int]) -> dict[str, str]:
        await render_message(message_id)
        await service.delete_mailing(message_id)
        return {"notice": "This message was successfully deleted."}

    @post(
        ["/{message_id:int}/send", "/{message_id:int}/send_helper"],
        media_type=HAL_JSON,
        summary="Send a message now (OSDI send helper)",
        description="An empty body (or {}) sends now; with `scheduled_start_date` it is scheduled instead. "
        "Refused (400) when the audience is empty or the body has an unknown merge field.",
        status_code=200,
    )
    async def send_helper(self, request: Request, message_id: FromPath[int]) -> Response[dict[str, Any]]:
        await render_message(message_id)
        body = await _send_body(request)
        if body.scheduled_start_date is not None:
            when = _when(body.scheduled_start_date)
            await service.schedule(message_id, when)
            return _notice(
                f"Your message has been scheduled for {iso(when)}.", await render_message(message_id)
            )
        total = await service.send_now(message_id)
        return _notice(
            f"Your message is being sent to {total:,} {'person' if total == 1 else 'people'}.",
            await render_message(message_id),
        )

    @delete(
        ["/{message_id:int}/send", "/{message_id:int}/send_helper"],
        media_type=HAL_JSON,
        summary="Stop a message that is sending (OSDI send helper)",
        status_code=200,
    )
    async def stop(self, request: Request, message_id: FromPath[int]) -> Response[dict[str, Any]]:
        await render_message(message_id)
        await service.halt(message_id, f"Stopped through the API by {api_viewer(request).email}.")
        return _notice("Your message has been stopped.", await render_message(message_id))

    @post(
        "/{message_id:int}/schedule",
        media_type=HAL_JSON,
        summary="Schedule a message (OSDI schedule helper)",
        description="Needs `scheduled_start_date` (ISO 8601 with a timezone), in the future and "
        "within a year.",
        status_code=200,
    )
    async def schedule_helper(self, request: Request, message_id: FromPath[int]) -> Response[dict[str, Any]]:
        await render_message(message_id)
        when = _when((await _send_body(request)).scheduled_start_date)
        await service.schedule(message_id, when)
        return _notice(f"Your message has been scheduled for {iso(when)}.", await render_message(message_id))

    @delete(
        "/{message_id:int}/schedule",
        media_type=HAL_JSON,
        summary="Cancel a scheduled message (OSDI schedule helper)",
        status_code=200,
    )
    async def unschedule(self, message_id: FromPath[int]) -> Response[dict[str, Any]]:
        await render_message(message_id)
        await service.cancel(message_id)
        return _notice("Your message scheduling has been canceled.", await render_message(message_id))
