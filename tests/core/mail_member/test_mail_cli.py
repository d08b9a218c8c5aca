"""`groundswell mail bounces FILE...` as an operator runs it on a bounce mailbox."""

from __future__ import annotations

import mailbox
import sqlite3

from tests.support.processes import Instance

from .support import arf, dsn, mailto_unsubscribe


def _subscriptions(instance: Instance) -> dict[str, str]:
    with sqlite3.connect(instance.data_dir / "groundswell.sqlite3") as db:
        return dict(db.execute("SELECT email, subscription FROM person ORDER BY email"))


def _suppressed(instance: Instance) -> dict[str, str]:
    with sqlite3.connect(instance.data_dir / "groundswell.sqlite3") as db:
        return dict(db.execute("SELECT email_key, reason FROM suppressed_address"))


def test_bounces_from_an_mbox_and_a_directory_are_applied_with_a_one_line_summary(tmp_path):
    instance = Instance.create(tmp_path / "instance")
    people = tmp_path / "people.csv"
    people.write_text("email\nada@example.org\nbob@example.org\ncy@example.org\n", encoding="utf-8")
    instance.run_ok("members", "import", str(people))

    box = mailbox.mbox(tmp_path / "bounces.mbox")
    box.add(dsn("ada@example.org"))
    box.add(dsn("bob@example.org", action="delayed", status="4.4.7"))
    box.add(mailto_unsubscribe("x@example.org", "forged.token"))
    box.flush()
    box.close()
    folder = tmp_path / "fbl"
    folder.mkdir()
    (folder / "report.eml").write_bytes(arf("cy@example.org", returned="To: cy@example.org\nSubject: Hi\n"))

    result = instance.run_ok("mail", "bounces", str(tmp_path / "bounces.mbox"), str(folder))
    assert result.stdout.strip() == (
        "4 messages: 1 hard bounce, 1 soft, 1 complaint, 0 unsubscribes, 1 not understood"
    )
    assert result.stderr == ""
    assert _subscriptions(instance) == {
        "ada@example.org": "bounced",
        "bob@example.org": "subscribed",
        "cy@example.org": "complained",
    }
    assert _suppressed(instance) == {"ada@example.org": "bounce", "cy@example.org": "complaint"}


def test_a_file_that_cannot_be_read_is_one_line_and_exit_code_1(tmp_path):
    instance = Instance.create(tmp_path / "instance")
    binary = tmp_path / "photo.jpg"
    binary.write_bytes(b"\xff\xd8\xff\x00JFIF")
    for path, message in [
        (tmp_path / "missing.mbox", f"{tmp_path / 'missing.mbox'} does not exist"),
        (binary, "photo.jpg is not an email or mbox file: it contains binary data"),
    ]:
        failed = instance.run("mail", "bounces", str(path))
        assert failed.returncode == 1, failed.describe()
        assert failed.stderr_lines == [f"groundswell: error: {message}"], failed.describe()
        assert failed.stdout == ""
    usage = instance.run("mail", "bounces")
    assert usage.returncode == 2
    assert "Traceback" not in usage.stderr
