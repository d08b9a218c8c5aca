"""The embedded default: each message becomes an .eml file in `<data dir>/mail/`, which
admins read at /admin/mail. Nothing leaves the machine until an SMTP server is configured."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

# The only names this backend writes; anything else asked of `read` is refused, so a crafted
# name can never point outside the folder.
_NAME = re.compile(r"[0-9a-f]{24}\.eml")


def file_name_for(message: EmailMessage) -> str:
    """Named after the Message-ID (stable per outbox key): a retried send overwrites."""
    return hashlib.sha256(str(message["Message-ID"]).encode()).hexdigest()[:24] + ".eml"


class FileBackend:
    """Writes messages as .eml files. Files are private (0600): they hold sign-in links."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def send(self, message: EmailMessage) -> None:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        final = self.directory / file_name_for(message)
        # A unique temporary name, so two workers retrying the same key cannot collide, and
        # an atomic rename, so the list never shows a half-written message.
        fd, temporary = tempfile.mkstemp(dir=self.directory, prefix=".", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(message.as_bytes(policy=policy.SMTP))
            os.replace(temporary, final)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise

    def list(self, limit: int = 50, offset: int = 0) -> list[Path]:
        """Newest first."""
        dated = []
        for path in self._files():
            with contextlib.suppress(OSError):  # gone since the listing
                dated.append((path.stat().st_mtime, path.name, path))
        dated.sort(reverse=True)
        return [path for _, _, path in dated[offset : offset + limit]]

    def count(self) -> int:
        return len(self._files())

    def read(self, name: str) -> EmailMessage | None:
        """The message called `name`, or None if there is no such message (or no such name
        could exist)."""
        if not _NAME.fullmatch(name):
            return None
        try:
            with (self.directory / name).open("rb") as handle:
                return BytesParser(policy=policy.default).parse(handle)  # type: ignore[return-value]
        except OSError:
            return None

    def _files(self) -> list[Path]:
        if not self.directory.is_dir():
            return []
        return [path for path in self.directory.iterdir() if _NAME.fullmatch(path.name)]
