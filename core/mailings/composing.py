"""Turning a mailing into one member's email: merge fields, Markdown to safe HTML and plain
text, tracked links that carry the mailing's source code, the preferences/unsubscribe footer,
and the List-Unsubscribe headers (RFC 2369 and RFC 8058 one-click).

Templates are Jinja in a sandbox with StrictUndefined, so a misspelt merge field is a problem
shown before sending (`check_template`), never a blank where a name should be. Merge values
are Markdown-escaped before the body is rendered, so a member whose name is `[click](…)` gets
their name, not a link. The Composer is built once per mailing and renders many members
without touching the database: the sender renders a whole batch with it.
"""

from __future__ import annotations

import functools
import html
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.utils import formataddr, parseaddr
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import jinja2
from jinja2 import meta
from jinja2.sandbox import SandboxedEnvironment

from core.errors import NotFound, UserError
from core.mailings import links
from core.petitions.markdown import render_markdown
from core.settings import current_settings

# What a template may use, with what the compose page says about each.
MERGE_FIELDS: dict[str, str] = {
    "given_name": 'the member\'s first name (may be empty: {{ given_name or "friend" }})',
    "family_name": "the member's last name",
    "full_name": "first and last name",
    "locality": "the member's town or city",
    "region": "the member's region or state",
    "postal_code": "the member's postal code",
    "petition_title": "the petition's title (mailings about a petition)",
    "petition_url": "the petition's page, where members sign (tracked and attributed)",
}
PETITION_FIELDS = frozenset({"petition_title", "petition_url"})
PERSON_FIELDS = frozenset(MERGE_FIELDS) - PETITION_FIELDS
SUBJECT_MAX = 300
BODY_MAX = 50_000

# A stand-in when nobody in the audience can lend their merge fields (an empty audience).
SAMPLE_PERSON = {
    "id": 0,
    "given_name": "Alex",
    "family_name": "Example",
    "locality": "Springfield",
    "region": "",
    "postal_code": "",
}

_env = SandboxedEnvironment(undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True)
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!<>|~&\"'])")
_HREF = re.compile(r'href="([^"]*)"')
_MD_LINK = re.compile(r"\[([^\]\n]+)\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_AUTOLINK = re.compile(r"<(https?://[^>\s]+)>")
_URL = re.compile(r"https?://[^\s<>()\[\]\"'\x00]+")
_TRAILING = ".,;:!?'\""


class TemplateProblem(UserError):
    """The subject or body cannot be rendered; `problems` says where, one sentence each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("Fix the email before sending: " + " ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class RenderedMail:
    subject: str
    text: str
    html: str
    headers: dict[str, str] = field(default_factory=dict)


def _problems_in(source: str, where: str, *, has_petition: bool) -> list[str]:
    try:
        parsed = _env.parse(source)
    except jinja2.TemplateSyntaxError as exc:
        return [f"The {where} has a template error on line {exc.lineno}: {exc.message}."]
    problems = []
    known = ", ".join(MERGE_FIELDS)
    for name in sorted(meta.find_undeclared_variables(parsed)):
        if name not in MERGE_FIELDS:
            problems.append(f"{{{{ {name} }}}} in the {where} is not a merge field (use one of: {known}).")
        elif name in PETITION_FIELDS and not has_petition:
            problems.append(f"{{{{ {name} }}}} in the {where} needs a petition: choose one for this mailing.")
    return problems


def check_template(subject: str, body: str, *, has_petition: bool = True) -> list[str]:
    """What is wrong with the subject and body, as sentences (empty: they will render)."""
    problems = []
    if not subject.strip():
        problems.append("The subject is empty.")
    if len(subject) > SUBJECT_MAX:
        problems.append(f"Keep the subject under {SUBJECT_MAX} characters.")
    if not body.strip():
        problems.append("The body is empty.")
    if len(body) > BODY_MAX:
        problems.append(f"Keep the body under {BODY_MAX:,} characters.")
    problems += _problems_in(subject, "subject", has_petition=has_petition)
    problems += _problems_in(body, "body", has_petition=has_petition)
    if problems:
        return problems
    # Filters and tests are checked only when they run: try it once with sample values.
    sample = {
        **_person_values(SAMPLE_PERSON),
        "petition_title": "A petition",
        "petition_url": "https://x.test/p/x",
    }
    for source, where in ((subject, "subject"), (body, "body")):
        try:
            _env.from_string(source).render(sample)
        except jinja2.TemplateError as exc:
            problems.append(f"The {where} cannot be rendered: {exc}.")
        except Exception as exc:  # a filter given the wrong type, and the like
            problems.append(f"The {where} cannot be rendered: {type(exc).__name__}: {exc}.")
    return problems


def _person_values(person: Mapping[str, Any]) -> dict[str, str]:
    given, family = person.get("given_name") or "", person.get("family_name") or ""
    return {
        "given_name": given,
        "family_name": family,
        "full_name": " ".join(part for part in (given, family) if part),
        "locality": person.get("locality") or "",
        "region": person.get("region") or "",
        "postal_code": person.get("postal_code") or "",
    }


def _md_escape(value: str) -> str:
    return _MD_SPECIAL.sub(r"\\\1", value)


@functools.lru_cache(maxsize=512)
def _markdown(source: str) -> str:
    """Many members share a merged body (same first name, or no personal fields at all)."""
    return render_markdown(source)


def _markdown_to_text(source: str) -> str:
    text = _MD_LINK.sub(lambda m: f"{m.group(1)} ({m.group(2)})", source)
    return _AUTOLINK.sub(r"\1", text)


def with_source(url: str, source: str) -> str:
    """`url` with ?source= set, if it is one of this instance's petition pages."""
    public = current_settings().public_url.rstrip("/")
    if not source or not (url.startswith(public + "/p/")):
        return url
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "source"]
    query.append(("source", source))
    return urlunsplit(parts._replace(query=urlencode(query)))


class Composer:
    """Renders one mailing for many members. Built once per mailing (and per batch in the
    sender); `render` is pure computation, no database."""

    def __init__(
        self,
        mailing: Mapping[str, Any],
        *,
        subjects: Mapping[str, str] | None = None,
        petition: Mapping[str, Any] | None = None,
        open_tracking: bool = False,
    ) -> None:
        self.mailing_id: int = mailing["id"]
        self.source_code: str = mailing["source_code"]
        self.kind: str = mailing.get("kind") or "members"
        self.reply_to: str = mailing.get("reply_to") or ""
        self.open_tracking = open_tracking
        self.petition_title = petition["title"] if petition else ""
        self.petition_url = f"{current_settings().public_url}/p/{petition['slug']}" if petition else ""
        has_petition = petition is not None
        problems = check_template(mailing["subject"], mailing["body"], has_petition=has_petition)
        variant_subjects = dict(subjects or {})
        for label, subject in variant_subjects.items():
            problems += [
                f"Subject {label}: {p}" for p in _problems_in(subject, "subject", has_petition=has_petition)
            ]
        if problems:
            raise TemplateProblem(problems)
        self._subjects = {label: _env.from_string(s) for label, s in variant_subjects.items()}
        self._subjects[""] = _env.from_string(mailing["subject"])
        self._body = _env.from_string(mailing["body"])
        nonce = secrets.token_hex(4)
        self._tokens = {name: f"gsmerge{index}x{nonce}" for index, name in enumerate(sorted(PERSON_FIELDS))}
        self._fast = True
        settings = current_settings()
        address = parseaddr(settings.mail_from)[1]
        from_name = (mailing.get("from_name") or "").strip()
        self.sender = formataddr((from_name, address)) if from_name and address else settings.mail_from

    def _body_html(self, values: dict[str, str], petition: dict[str, str]) -> str:
        """The body as sanitized HTML. Markdown is the costly step, so it runs once per mailing
        on the body with placeholders for the member's values, which then go into the HTML
        (escaped) — unless the template treats values as more than text (`{{ given_name or
        "friend" }}` for someone without a first name, an `{% if %}`, a value inside a link),
        which the check below detects; then this member's body is rendered in full."""
        escaped = {name: _md_escape(value) for name, value in values.items()}
        real = self._body.render(**escaped, **petition)
        if self._fast:
            shaped = self._body.render(**self._tokens, **petition)
            candidate = shaped
            for name, token in self._tokens.items():
                candidate = candidate.replace(token, escaped[name])
            if candidate == real:
                result = _markdown(shaped)
                hrefs = " ".join(_HREF.findall(result))
                if not any(token in hrefs for token in self._tokens.values()):
                    for name, token in self._tokens.items():
                        result = result.replace(token, html.escape(values[name], quote=False))
                    return result
                self._fast = False  # values inside links: render each member in full
        return _markdown(real)

    def render(
        self,
        person: Mapping[str, Any],
        *,
        delivery_id: int | None = None,
        variant: str = "",
        links_for: int | None = None,
    ) -> RenderedMail:
        """`person` lends the merge fields; footer links act for `links_for` (default: the
        same person). Links are click-tracked only for a real delivery."""
        values = _person_values(person)
        petition = {"petition_title": self.petition_title, "petition_url": self.petition_url}
        source = f"{self.source_code}-{variant}" if variant else self.source_code

        def track(url: str) -> str:
            url = with_source(url, source)
            if delivery_id is not None and url.startswith(("https://", "http://")):
                return links.click_url(delivery_id, url)
            return url

        subject_template = self._subjects.get(variant, self._subjects[""])
        subject = " ".join(subject_template.render(**values, **petition).split())[:SUBJECT_MAX]
        body_html = self._body_html(values, petition)
        body_html = _HREF.sub(lambda m: f'href="{html.escape(track(html.unescape(m.group(1))))}"', body_html)
        # The plain text: links become "label (url)", then URLs are tracked; members' values
        # go in afterwards, as placeholders until then, so neither step touches them.
        held = {name: f"\x00{index}\x00" for index, (name, value) in enumerate(values.items()) if value}
        plain = _markdown_to_text(self._body.render(**{**values, **held}, **petition))
        body_text = _URL.sub(lambda m: _track_text(m.group(0), track), plain)
        for name, placeholder in held.items():
            body_text = body_text.replace(placeholder, values[name])

        person_id = person.get("id") if links_for is None else links_for
        person_id = int(person_id or 0)
        unsubscribe = links.unsubscribe_url(person_id, self.mailing_id)
        preferences = links.preferences_url(person_id)
        why = (
            f"you signed “{self.petition_title}”"
            if self.kind == "signers" and self.petition_title
            else "you subscribed to our campaign emails"
        )
        footer_html = (
            '<hr style="border:0;border-top:1px solid #ddd;margin:24px 0">'
            f'<p style="font-size:13px;color:#555">You receive this because {html.escape(why)}. '
            f'<a href="{html.escape(preferences)}">Choose what you get</a> (topics, how often) or '
            f'<a href="{html.escape(unsubscribe)}">unsubscribe from all</a>.</p>'
        )
        if self.open_tracking and delivery_id is not None:
            pixel = html.escape(links.open_pixel_url(delivery_id))
            footer_html += f'<img src="{pixel}" width="1" height="1" alt="" style="display:block;border:0">'
        document = (
            '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{html.escape(subject)}</title></head>"
            '<body style="margin:0;padding:16px;font-family:system-ui,sans-serif;'
            'line-height:1.5;color:#1a1a1a">'
            f'<div style="max-width:600px;margin:0 auto">{body_html}{footer_html}</div></body></html>'
        )
        text = (
            f"{body_text.rstrip()}\n\n-- \nYou receive this because {why}.\n"
            f"Choose what you get (topics, how often): {preferences}\n"
            f"Unsubscribe from all: {unsubscribe}\n"
        )
        headers = {
            "List-Unsubscribe": f"<{unsubscribe}>, <{links.unsubscribe_mailto(person_id, self.mailing_id)}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        }
        if delivery_id is not None:  # bounce reports that quote only headers still name it
            headers["X-Groundswell-Delivery"] = str(delivery_id)
        if self.reply_to:
            headers["Reply-To"] = self.reply_to
        return RenderedMail(subject=subject, text=text, html=document, headers=headers)


def _track_text(url: str, track: Any) -> str:
    stripped = url.rstrip(_TRAILING)
    return track(stripped) + url[len(stripped) :]


# -- loading what a Composer needs --------------------------------------------------------------


async def load_mailing(mailing_id: int) -> dict[str, Any]:
    from core.mailings.tables import Mailing

    row = await Mailing.select().where(Mailing.id == mailing_id).first()
    if row is None:
        raise NotFound("There is no such mailing.")
    return row


async def composer_for(mailing: Mapping[str, Any]) -> Composer:
    """A Composer with the mailing's variants, petition and the instance's open-tracking choice."""
    from core.instance_settings import get_policy
    from core.mailings.tables import MailingVariant
    from core.petitions.tables import Petition

    variants = await MailingVariant.select(MailingVariant.label, MailingVariant.subject).where(
        MailingVariant.mailing == mailing["id"]
    )
    petition = None
    if mailing.get("petition"):
        query = Petition.select(Petition.title, Petition.slug).where(Petition.id == mailing["petition"])
        petition = await query.first()
    return Composer(
        mailing,
        subjects={v["label"]: v["subject"] for v in variants},
        petition=petition,
        open_tracking=bool(await get_policy("mail_open_tracking")),
    )


PERSON_COLUMNS = "id, email, email_key, given_name, family_name, locality, region, postal_code, subscription"


async def load_person(person_id: int) -> dict[str, Any]:
    from core.people.tables import Person

    rows = await Person.raw(f"SELECT {PERSON_COLUMNS} FROM person WHERE id = {{}}", person_id)  # noqa: S608
    if not rows:
        raise NotFound("There is no such member.")
    return rows[0]


async def render_for(
    mailing: Mapping[str, Any] | int,
    person: Mapping[str, Any] | int,
    *,
    delivery_id: int | None = None,
    variant: str = "",
) -> RenderedMail:
    """One member's email. TemplateProblem if the mailing's templates do not render."""
    mailing_row = await load_mailing(mailing) if isinstance(mailing, int) else mailing
    person_row = await load_person(person) if isinstance(person, int) else person
    composer = await composer_for(mailing_row)
    return composer.render(person_row, delivery_id=delivery_id, variant=variant)


async def merge_person_for(
    mailing: Mapping[str, Any], person_id: int | None = None, *, sample: bool = False
) -> dict[str, Any]:
    """Whose merge fields a preview or test uses: `person_id`, who must be in the audience (a
    leader must not be able to look up anyone's name), or else the audience's first member,
    or a made-up sample if the audience is empty or the caller may not see a real member
    (`sample`: a leader whose signers did not agree to share their details)."""
    from core.mailings.audience import is_member, parse_audience, sample_person_id

    if sample:
        return dict(SAMPLE_PERSON)
    audience = parse_audience(mailing["audience"])
    topic = mailing["topic"]
    if person_id is None:
        person_id = await sample_person_id(audience, topic)
    elif not await is_member(audience, person_id, topic):
        raise NotFound("That member is not in this mailing's audience.")
    return await load_person(person_id) if person_id else dict(SAMPLE_PERSON)


async def preview(
    mailing_id: int, person_id: int | None = None, *, variant: str = "", sample: bool = False
) -> RenderedMail:
    """The email as a real member of the audience would get it: their merge fields, never
    their address. TemplateProblem (a UserError listing every problem) if it cannot render."""
    mailing = await load_mailing(mailing_id)
    composer = await composer_for(mailing)
    person = await merge_person_for(mailing, person_id, sample=sample)
    # Footer links in a preview act for nobody: a click must not unsubscribe the member.
    return composer.render(person, variant=variant, links_for=0)
