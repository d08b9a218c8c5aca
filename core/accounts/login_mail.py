"""Emailing a sign-in link to someone who asks for one."""

from __future__ import annotations

from core.accounts.login_links import DEFAULT_TTL, create_login_link
from core.accounts.logins import login_for_email
from core.mail import OutgoingMail, queue_mail
from core.settings import current_settings


def login_url(token: str) -> str:
    return f"{current_settings().public_url}/login/{token}"


async def email_login_link(email: str, next_path: str = "/") -> bool:
    """Send a link if this address has a login. Returns whether one was sent; callers show the
    same message either way, so the form does not reveal who has an account."""
    login = await login_for_email(email)
    if login is None or login.disabled:
        return False
    token = await create_login_link(login, next_path=next_path)
    minutes = int(DEFAULT_TTL.total_seconds() // 60)
    url = login_url(token)
    await queue_mail(
        OutgoingMail(
            to=email.strip(),
            subject="Your sign-in link",
            text=(
                f"Someone (hopefully you) asked to sign in to {current_settings().public_url}.\n\n"
                f"Sign in: {url}\n\n"
                f"The link works once and expires in {minutes} minutes. "
                "If you did not ask for it, ignore this email."
            ),
        )
    )
    return True
