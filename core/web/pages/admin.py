"""The admin area: the instance at a glance, its mail, and who may do what."""

from __future__ import annotations

from litestar import Controller, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from core.accounts.logins import ensure_login, set_role
from core.accounts.roles import ROLES, check_role
from core.accounts.tables import Login
from core.errors import NotFound, UserError
from core.instance_settings import POLICIES, get_policy, set_policies
from core.mail.backends import FileBackend, backend_for
from core.moderation.screening import parse_networks
from core.outbox import outbox_stats
from core.people.tables import Person
from core.settings import current_settings
from core.web.forms import Form, field

MAIL_PAGE_SIZE = 50


class AdminController(Controller):
    path = "/admin"
    include_in_schema = False

    @get("/")
    async def dashboard(self) -> Template:
        settings = current_settings()
        people = await Person.count()
        logins = await Login.raw("SELECT role, COUNT(*) AS n FROM login GROUP BY role")
        return Template(
            template_name="admin/dashboard.html",
            context={
                "people": people,
                "logins": {row["role"]: row["n"] for row in logins},
                "outbox": await outbox_stats(),
                "database": "SQLite (embedded)" if settings.is_sqlite else "PostgreSQL",
                "broker": settings.broker_url.split("://")[0] if settings.broker_url else "in-process",
                "mail": f"SMTP ({settings.smtp.host})" if settings.smtp else "files in the data dir",
                "settings": settings,
            },
        )

    @get("/mail")
    async def mail(self, page: FromQuery[int] = 1) -> Template:
        backend = backend_for(current_settings())
        page = max(page, 1)
        if not isinstance(backend, FileBackend):
            return Template(
                template_name="admin/mail.html", context={"smtp": current_settings().smtp, "messages": []}
            )
        files = backend.list(limit=MAIL_PAGE_SIZE, offset=(page - 1) * MAIL_PAGE_SIZE)
        messages = []
        for path in files:
            message = backend.read(path.name)
            if message is not None:
                messages.append(
                    {
                        "name": path.name,
                        "to": message["To"],
                        "subject": message["Subject"],
                        "date": message["Date"],
                    }
                )
        total = backend.count()
        return Template(
            template_name="admin/mail.html",
            context={
                "smtp": None,
                "messages": messages,
                "page": page,
                "total": total,
                "has_next": page * MAIL_PAGE_SIZE < total,
            },
        )

    @get("/mail/{name:str}")
    async def mail_message(self, name: FromPath[str]) -> Template:
        backend = backend_for(current_settings())
        message = backend.read(name) if isinstance(backend, FileBackend) else None
        if message is None:
            raise NotFound("There is no such message in the mail folder.")
        text = message.get_body(preferencelist=("plain",))
        html = message.get_body(preferencelist=("html",))
        return Template(
            template_name="admin/mail_message.html",
            context={
                "message": message,
                "headers": list(message.items()),
                "text": text.get_content() if text is not None else "",
                "html": html.get_content() if html is not None else "",
            },
        )

    @get("/logins")
    async def logins(self) -> Template:
        rows = await Login.select(
            Login.id,
            Login.role,
            Login.disabled,
            Login.last_login_at,
            Login.person.email,
            Login.person.given_name,
            Login.person.family_name,
        ).order_by(Login.id)
        return Template(template_name="admin/logins.html", context={"logins": rows, "roles": ROLES})

    @post("/logins", status_code=303)
    async def grant(self, data: Form) -> Redirect:
        email = field(data, "email", max_length=320)
        role = check_role(field(data, "role"))
        await ensure_login(email, "member", name=field(data, "name", max_length=200))
        await set_role(email, role)
        return Redirect(path="/admin/logins", status_code=303)

    @get("/policies")
    async def policies(self, saved: FromQuery[str] = "") -> Template:
        return Template(
            template_name="admin/policies.html",
            context={
                "policies": POLICIES,
                "values": {key: await get_policy(key) for key in POLICIES},
                "saved": bool(saved),
            },
        )

    @post("/policies", status_code=303)
    async def save_policies(self, data: Form) -> Redirect:
        moderation = field(data, "moderation", max_length=10)
        if moderation not in POLICIES["moderation"].choices:
            raise UserError("Choose pre-moderation or post-moderation.")
        note_limit, trusted_limit = POLICIES["policy_note"].max_length, POLICIES["trusted_ips"].max_length
        # Browsers send line breaks as CRLF; store (and count) them as one character.
        note = field(data, "policy_note", max_length=2 * note_limit).replace("\r\n", "\n")
        trusted = field(data, "trusted_ips", max_length=2 * trusted_limit).replace("\r\n", "\n")
        parse_networks(trusted)  # a UserError naming the line that is not an address
        await set_policies(
            {
                "moderation": moderation,
                "confirm_signatures": bool(field(data, "confirm_signatures")),
                "policy_note": note,
                "trusted_ips": trusted,
                **_mail_policies(data),
            }
        )
        return Redirect(path="/admin/policies?saved=1", status_code=303)


def _mail_policies(data: Form) -> dict[str, object]:
    """The campaign mail settings, if the form has them (older forms and scripts may not)."""
    if "mail_frequency_cap" not in data:
        return {}
    values: dict[str, object] = {"mail_open_tracking": bool(field(data, "mail_open_tracking"))}
    for key, what in (
        ("mail_frequency_cap", "how many campaign emails a member gets in 7 days"),
        ("mail_rate_per_second", "how many campaign emails a worker sends per second"),
    ):
        raw = field(data, key, max_length=6)
        choices = POLICIES[key].choices
        if not raw.isdigit() or int(raw) not in choices:
            raise UserError(f"Choose {what} from the list ({', '.join(str(c) for c in choices)}).")
        values[key] = int(raw)
    return values
