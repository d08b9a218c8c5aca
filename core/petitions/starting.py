"""Starting a petition from the public form: the draft, and its starter's leader account."""

from __future__ import annotations

from dataclasses import dataclass

from core.accounts.login_links import create_login_link
from core.accounts.login_mail import login_url
from core.accounts.logins import ensure_login
from core.errors import UserError
from core.mail import OutgoingMail, queue_mail
from core.people.emails import InvalidEmail, clean_email
from core.petitions.service import PetitionInput, create_petition
from core.petitions.tables import Petition


@dataclass(frozen=True)
class Starter:
    """Who is starting the petition: a signed-in person, or a name and email from the form."""

    person_id: int | None = None
    name: str = ""
    email: str = ""


def dashboard_path(petition: Petition) -> str:
    return f"/lead/petitions/{petition.id}"


async def start_petition(data: PetitionInput, starter: Starter) -> tuple[Petition, bool]:
    """Create the draft. Returns (petition, emailed): a starter who is not signed in gets a
    leader account and an emailed sign-in link that leads to the draft, so nobody can publish
    in someone else's name."""
    if starter.person_id is not None:
        petition = await create_petition(data, creator_id=starter.person_id)
        return petition, False
    name = " ".join(starter.name.split())
    if not name:
        raise UserError("Enter your name: it is shown as the petition's starter to staff.")
    if len(name) > 200:
        raise UserError("Names are limited to 200 characters.")
    try:
        email = clean_email(starter.email)
    except InvalidEmail as exc:
        raise UserError(str(exc)) from None
    login = await ensure_login(email, "leader", name=name)
    petition = await create_petition(data, creator_id=login.person)
    token = await create_login_link(login, next_path=dashboard_path(petition))
    await queue_mail(
        OutgoingMail(
            to=email,
            subject=f"Your petition draft: {petition.title}",
            text=(
                f"Thank you for starting “{petition.title}”.\n\n"
                f"Your draft is saved. Open this link to review and publish it:\n{login_url(token)}\n\n"
                "The link works once and expires in an hour; after that, sign in from the site "
                "with this email address to get a new one.\n"
            ),
        ),
        key=f"petition-started:{petition.id}",
    )
    return petition, True
