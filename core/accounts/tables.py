from piccolo.columns import Boolean, ForeignKey, Text, Timestamptz, Varchar
from piccolo.columns.base import OnDelete
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from core.people.tables import Person


class Login(Table, tablename="login"):
    """The right of a person to sign in, with their role. Members who only sign petitions
    have no login."""

    person = ForeignKey(references=Person, unique=True, on_delete=OnDelete.cascade)
    role = Varchar(length=20, default="member", index=True)
    password_hash = Text(null=True, default=None)
    disabled = Boolean(default=False)
    created_at = Timestamptz(default=TimestamptzNow())
    last_login_at = Timestamptz(null=True, default=None)


class LoginLink(Table, tablename="login_link"):
    """A single-use, expiring sign-in link. Only the hash of its token is stored."""

    login = ForeignKey(references=Login, on_delete=OnDelete.cascade)
    token_hash = Varchar(length=64, unique=True)
    next_path = Varchar(length=500, default="/")
    created_at = Timestamptz(default=TimestamptzNow())
    expires_at = Timestamptz()
    used_at = Timestamptz(null=True, default=None)


class WebSession(Table, tablename="web_session"):
    """A server-side session; the cookie holds a random token, the table its hash."""

    login = ForeignKey(references=Login, on_delete=OnDelete.cascade)
    token_hash = Varchar(length=64, unique=True)
    created_at = Timestamptz(default=TimestamptzNow())
    expires_at = Timestamptz()
    last_seen_at = Timestamptz(default=TimestamptzNow())


class ApiToken(Table, tablename="api_token"):
    """A token for the OSDI API. Shown once at creation; only its hash is kept."""

    login = ForeignKey(references=Login, on_delete=OnDelete.cascade)
    name = Varchar(length=100, default="")
    prefix = Varchar(length=12, index=True)
    token_hash = Varchar(length=64, unique=True)
    created_at = Timestamptz(default=TimestamptzNow())
    last_used_at = Timestamptz(null=True, default=None)
    revoked_at = Timestamptz(null=True, default=None)
