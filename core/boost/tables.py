"""The boost engine's state: one boost per petition, its stages, every decision, and the day's
budget ledger.

Everything the runner needs to carry on is in these rows — which stage is open, how many of its
emails were handed out, when its window ends — so a restarted worker (or a clock that jumped)
resumes from the database and never from memory. Times the runner compares are stored
absolute (window_ends_at), so a restart mid-window simply waits for the same moment.
"""

from piccolo.columns import JSON, Boolean, Date, ForeignKey, Integer, Text, Timestamptz, Varchar
from piccolo.columns.base import OnDelete
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from core.mailings.tables import Mailing
from core.petitions.tables import Petition

# candidate: qualified, waiting for its first sample; running: has sent a stage; held: staff
# paused it (resume continues); stopped: the engine, staff or moderation ended it; finished:
# its eligible audience is exhausted; excluded: staff ruled it out for good.
BOOST_STATUSES = ("candidate", "running", "held", "stopped", "finished", "excluded")
ACTIVE_STATUSES = ("candidate", "running")
FINAL_STATUSES = ("stopped", "finished", "excluded")


class Boost(Table, tablename="boost"):
    petition = ForeignKey(references=Petition, unique=True, on_delete=OnDelete.cascade)
    status = Varchar(length=10, default="candidate", index=True)
    # Staff asked to expand now: served first by the day's allocation until that stage is out.
    turbocharged = Boolean(default=False)
    # Every stage's mailing has the source code f"{source_code}-{stage number}".
    source_code = Varchar(length=40, unique=True)
    window_seconds = Integer(default=24 * 3600)
    # The eligible audience not yet mailed, as last counted (decremented as stages are dealt out).
    remaining = Integer(default=0)
    # Why it ended, in words (for stopped, finished, excluded).
    ended_reason = Text(default="")
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())


class BoostStage(Table, tablename="boost_stage"):
    """One sample: `size` emails decided, dealt out over one or more days (`allocated` so far).
    The window opens when the last of them has gone (`window_ends_at` set) and the outcome is
    counted when it closes (`closed_at`)."""

    boost = ForeignKey(references=Boost, on_delete=OnDelete.cascade)
    number = Integer()
    size = Integer()
    allocated = Integer(default=0)
    mailing = ForeignKey(references=Mailing, null=True, default=None, on_delete=OnDelete.set_null)
    started_at = Timestamptz(null=True, default=None)
    # Every email of the stage has been dealt out (or the audience ran dry).
    filled_at = Timestamptz(null=True, default=None)
    window_ends_at = Timestamptz(null=True, default=None)
    closed_at = Timestamptz(null=True, default=None)
    deliveries = Integer(default=0)
    signatures = Integer(default=0)
    unsubscribes = Integer(default=0)
    # Emails of this stage sent by reach partners (pooled reach, core.boost.remote): their
    # target counts while the stage is open, what the partners included in it reported sent
    # once it is closed. `deliveries`, `signatures` and `unsubscribes` are then pooled too.
    remote_allocated = Integer(default=0)
    # When the stage was shared out between this node and its partners (once, on first dealing).
    split_at = Timestamptz(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())
    # Unique (boost, number): a unique index made by migration.


class BoostDecisionLog(Table, tablename="boost_decision_log"):
    """A decision with the numbers it was taken on (core.boost.Decision.as_log()), shown to the
    petition's leader and to staff."""

    boost = ForeignKey(references=Boost, on_delete=OnDelete.cascade)
    stage = Integer(default=0)  # the stage the decision followed (0: before any)
    action = Varchar(length=20)
    by_staff = Varchar(length=100, default="")  # the staff login's email, for staff actions
    numbers = JSON(default="{}")
    sentence = Text(default="")
    created_at = Timestamptz(default=TimestamptzNow(), index=True)


class BoostDay(Table, tablename="boost_day"):
    """The day's boost budget (UTC) and how much of it was dealt out, with every allocation
    round's seed and shares, so a day's allocation can be replayed."""

    day = Date(unique=True)
    budget = Integer(default=0)
    used = Integer(default=0)
    rounds = JSON(default="[]")


class BoostRemoteShare(Table, tablename="boost_remote_share"):
    """A stage's share sent by a reach partner (another node that mails its own members,
    core.boost.remote): what was asked, and the partner's latest cumulative report. `key`
    is "<request_id> <partner>", unique, so a dispatch or a report is recorded once.
    `sent`, `signed` and `unsubscribed` are null while unknown or suppressed (a cell below
    `k_min`); `outcome` says how the stage counted it: "" while open, then "counted" or
    "excluded" (with `note` saying why)."""

    key = Varchar(length=200, unique=True)
    stage = ForeignKey(references=BoostStage, on_delete=OnDelete.cascade)
    request_id = Varchar(length=100, index=True)
    partner = Varchar(length=100)
    partner_label = Varchar(length=300, default="")
    eligible = Integer(default=0)
    target_count = Integer(default=0)
    k_min = Integer(default=1)
    deliver_by = Timestamptz()
    dispatched_at = Timestamptz(default=TimestamptzNow())
    report_sequence = Integer(default=0)
    reported_at = Timestamptz(null=True, default=None)
    refused = Boolean(default=False)
    sent = Integer(null=True, default=None)
    signed = Integer(null=True, default=None)
    unsubscribed = Integer(null=True, default=None)
    outcome = Varchar(length=10, default="")
    note = Text(default="")
