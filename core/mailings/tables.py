"""Mailings, their deliveries, and what members did with them.

A mailing is resolved once into delivery rows (one per mailing and person, a unique index);
the delivery rows are the work queue the sender drains, so a killed worker leaves exactly the
undelivered rows behind. Times used for claiming (`available_at`, `lease_until`) are epoch
seconds, as in the outbox, so one claim query works on SQLite and PostgreSQL.
"""

from piccolo.columns import JSON, DoublePrecision, ForeignKey, Integer, Text, Timestamptz, Varchar
from piccolo.columns.base import OnDelete
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from core.accounts.tables import Login
from core.groups.tables import Group
from core.people.tables import Person
from core.petitions.tables import Petition

# signers: a leader mails the signers of their petition; members: staff mail an audience;
# boost: the boost engine's sample; api: sent through the OSDI send helper.
MAILING_KINDS = ("signers", "members", "boost", "api")
# draft → scheduled → sending → sent; an A/B test goes sending(test) → testing → sending(rest);
# halted by the circuit breaker or staff; cancelled before it started.
MAILING_STATUSES = ("draft", "scheduled", "sending", "testing", "sent", "halted", "cancelled")
# waiting: resolved but held back (the A/B remainder until a winner is chosen).
DELIVERY_STATUSES = ("waiting", "queued", "sending", "sent", "failed", "bounced", "skipped")
# What a member may opt out of on the preferences page, without leaving everything.
MAIL_TOPICS = ("campaigns", "petition_updates", "events", "national")
EVENT_KINDS = ("click", "open", "unsubscribe", "bounce", "soft_bounce", "complaint")


class Mailing(Table, tablename="mailing"):
    kind = Varchar(length=12, default="members", index=True)
    topic = Varchar(length=30, default="campaigns")
    petition = ForeignKey(references=Petition, null=True, default=None, on_delete=OnDelete.set_null)
    group = ForeignKey(references=Group, null=True, default=None, on_delete=OnDelete.set_null)
    author = ForeignKey(references=Login, null=True, default=None, on_delete=OnDelete.set_null)
    from_name = Varchar(length=200, default="")
    reply_to = Varchar(length=320, default="")
    subject = Varchar(length=300, default="")
    body = Text(default="")
    # Who receives it: {"petition": id} | {"group": id} | {"tag": id} | {"region": "CA"} |
    # {"postal_prefix": "941"} | {"saved": id} | {"all": true}, plus optional exclusions
    # {"exclude_signed": [petition ids], "exclude_mailed_days": N}.
    audience = JSON(default="{}")
    status = Varchar(length=12, default="draft", index=True)
    scheduled_for = Timestamptz(null=True, default=None)
    # Carried by every link (and so by signatures the mailing brings); unique per mailing.
    source_code = Varchar(length=40, unique=True)
    # A/B subject test: the share of the audience that receives the variants first (0: none).
    test_fraction = DoublePrecision(default=0.0)
    test_window_seconds = Integer(default=4 * 3600)
    test_started_at = Timestamptz(null=True, default=None)
    winner = Varchar(length=4, default="")
    # Circuit breaker: halt when the test slice's rates cross these.
    max_unsubscribe_rate = DoublePrecision(default=0.02)
    max_bounce_rate = DoublePrecision(default=0.05)
    halted_reason = Text(default="")
    recipients = Integer(default=0)
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())
    started_at = Timestamptz(null=True, default=None)
    finished_at = Timestamptz(null=True, default=None)


class MailingVariant(Table, tablename="mailing_variant"):
    """One subject line of an A/B test, labelled A, B, C…"""

    mailing = ForeignKey(references=Mailing, on_delete=OnDelete.cascade)
    label = Varchar(length=4)
    subject = Varchar(length=300)


class Delivery(Table, tablename="delivery"):
    """One message of one mailing to one person; unique (mailing, person) by migration."""

    mailing = ForeignKey(references=Mailing, on_delete=OnDelete.cascade)
    person = ForeignKey(references=Person, on_delete=OnDelete.cascade)
    variant = Varchar(length=4, default="")
    status = Varchar(length=10, default="queued", index=True)
    attempts = Integer(default=0)
    available_at = DoublePrecision(default=0.0)
    lease_until = DoublePrecision(default=0.0)
    lease_token = Varchar(length=32, default="")
    error = Text(default="")
    created_at = Timestamptz(default=TimestamptzNow())
    sent_at = Timestamptz(null=True, default=None)
    # Indexes (mailing, status) and (person, sent_at): made by migration.


class MailEvent(Table, tablename="mail_event"):
    """Something a recipient (or their mail server) did: a click, an unsubscribe, a bounce."""

    mailing = ForeignKey(references=Mailing, null=True, default=None, on_delete=OnDelete.cascade)
    delivery = ForeignKey(references=Delivery, null=True, default=None, on_delete=OnDelete.set_null)
    person = ForeignKey(references=Person, null=True, default=None, on_delete=OnDelete.set_null)
    kind = Varchar(length=12, index=True)
    detail = Text(default="")
    created_at = Timestamptz(default=TimestamptzNow())


class MailPreference(Table, tablename="mail_preference"):
    """A member's choices on the preferences page: topics turned off, and how often at most."""

    person = ForeignKey(references=Person, unique=True, on_delete=OnDelete.cascade)
    topics_off = JSON(default="[]")
    # At most this many mailings in 7 days (0: the instance's cap applies alone).
    max_per_week = Integer(default=0)
    updated_at = Timestamptz(default=TimestamptzNow())


class SuppressedAddress(Table, tablename="suppressed_address"):
    """An address never to be mailed again (hard bounce, complaint), kept by normalized
    address so it holds even if the member record is deleted and later recreated."""

    email_key = Varchar(length=320, unique=True)
    reason = Varchar(length=12)
    detail = Text(default="")
    created_at = Timestamptz(default=TimestamptzNow())


class SavedAudience(Table, tablename="saved_audience"):
    """A named audience definition staff reuse ("volunteers in Ohio who did not sign X")."""

    name = Varchar(length=100, unique=True)
    spec = JSON(default="{}")
    author = ForeignKey(references=Login, null=True, default=None, on_delete=OnDelete.set_null)
    created_at = Timestamptz(default=TimestamptzNow())
