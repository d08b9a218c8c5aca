"""Reading the mail an instance wrote to its data dir (the file backend), as a person would."""

from __future__ import annotations

from dataclasses import dataclass
from email import policy
from email.parser import BytesParser
from pathlib import Path


@dataclass(frozen=True)
class Mail:
    to: str
    subject: str
    text: str


def mails(data_dir: Path) -> list[Mail]:
    found = []
    for path in sorted((data_dir / "mail").glob("*.eml")):
        message = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
        body = message.get_body(preferencelist=("plain",))
        found.append(
            Mail(
                to=str(message["To"]),
                subject=str(message["Subject"]),
                text=body.get_content() if body is not None else "",
            )
        )
    return found


def mail_to(data_dir: Path, address: str, subject_contains: str = "") -> Mail:
    matching = [m for m in mails(data_dir) if address in m.to and subject_contains in m.subject]
    assert len(matching) == 1, f"expected one mail to {address} ({subject_contains!r}), got {matching}"
    return matching[0]
