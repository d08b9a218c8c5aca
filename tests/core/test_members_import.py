"""Importing members from CSV: streamed, mapped by column name, upserted by normalized email,
bad rows reported by line number while the good ones are stored."""

from __future__ import annotations

import csv
import time
from pathlib import Path

import pytest

from core.people.importing import ImportFileError, _Importer, import_members
from core.people.tables import Person, Tag, Tagging
from tests.support.processes import Instance, postgres_database

# shared/ sits beside the repository (CI clones it so); /work/shared is where sessions find it.
OSDI_SAMPLE = next(
    (
        p
        for p in (
            Path(__file__).resolve().parents[3] / "shared/data/osdi_fake_people.csv",
            Path("/work/shared/data/osdi_fake_people.csv"),
        )
        if p.exists()
    ),
    Path("/work/shared/data/osdi_fake_people.csv"),
)


def write(tmp_path: Path, text: str, name: str = "people.csv", encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


async def person(email_key: str) -> Person:
    found = await Person.objects().where(Person.email_key == email_key).first()
    assert found is not None, email_key
    return found


async def tags_of(email_key: str) -> set[str]:
    found = await person(email_key)
    rows = await Tagging.select(Tagging.tag.name).where(Tagging.person == found.id)
    return {row["tag.name"] for row in rows}


@pytest.mark.skipif(not OSDI_SAMPLE.exists(), reason="the OSDI sample is not on this machine")
async def test_the_osdi_sample_imports_with_no_flags_and_a_second_import_changes_nothing():
    started = time.monotonic()
    first = await import_members(OSDI_SAMPLE)
    elapsed = time.monotonic() - started
    # 11,540 rows, no bad ones; 2,760 rows reuse an address of an earlier row (the sample's
    # fake people share addresses such as joshua.carter@fake.osdi.info), so 8,780 people.
    assert (first.rows, first.skipped, first.errors) == (11_540, 0, [])
    assert (first.created, first.merged) == (8_780, 2_760)
    assert await Person.count() == 8_780
    assert {c.header: c.field for c in first.columns if c.field} == {
        "Email": "email",
        "First": "given_name",
        "Last": "family_name",
        "City": "locality",
        "State": "region",
        "Zip": "postal_code",
    }
    assert [c.header for c in first.ignored_columns] == [
        "Household ID",
        "Middle",
        "YoB",
        "MoB",
        "DoB",
        "Address",
    ]
    lawrence = await person("lawrence.woodard@fake.osdi.info")
    assert (lawrence.given_name, lawrence.family_name, lawrence.postal_code) == (
        "Lawrence",
        "Woodard",
        "20024",
    )
    assert (lawrence.locality, lawrence.region, lawrence.subscription) == ("Washington", "DC", "subscribed")
    assert lawrence.source == "import:osdi_fake_people.csv"
    assert not lawrence.consent_instance_email  # no consent column: no consent
    # The first row for a shared address wins (line 3: Joshua L. Carter, 20007; line 3251: 20011).
    assert (await person("joshua.carter@fake.osdi.info")).postal_code == "20007"
    print(f"\nOSDI sample import: {elapsed:.2f}s")

    again = await import_members(OSDI_SAMPLE)
    assert (again.created, again.updated, again.unchanged, again.merged) == (0, 0, 8_780, 2_760)
    assert await Person.count() == 8_780


async def test_existing_people_are_updated_by_normalized_email_and_empty_cells_never_clear_data(tmp_path):
    await Person.insert(
        Person(
            email="Ada.Lovelace@gmail.com",
            email_key="adalovelace@gmail.com",
            given_name="Ada",
            family_name="Lovelace",
            phone="0400 000 000",
            postal_code="2000",
        ),
        Person(email="Bob@Example.org", email_key="bob@example.org", given_name="Bob"),
    )
    path = write(
        tmp_path,
        "email,first_name,last_name,phone,zip,city\n"
        "adalovelace+news@GMAIL.com,Augusta Ada,,,3000,\n"
        "BOB@example.ORG,Bob,,,,Sydney\n"
        "carol@example.org,Carol,,,,\n",
    )
    summary = await import_members(path)
    assert (summary.created, summary.updated, summary.unchanged) == (1, 2, 0)
    ada = await person("adalovelace@gmail.com")
    assert ada.email == "Ada.Lovelace@gmail.com"  # the stored address is where mail goes: kept
    assert (ada.given_name, ada.family_name, ada.phone, ada.postal_code) == (
        "Augusta Ada",
        "Lovelace",
        "0400 000 000",
        "3000",
    )
    bob = await person("bob@example.org")
    assert (bob.given_name, bob.locality) == ("Bob", "Sydney")
    assert await Person.count() == 3
    assert (await import_members(path)).unchanged == 3


async def test_a_repeated_address_is_merged_into_its_first_row_and_only_fills_empty_fields(tmp_path):
    path = write(
        tmp_path,
        "email,first_name,phone,tags\n"
        "dee@example.org,Dee,,alpha\n"
        "other@example.org,Other,,\n"
        "DEE@example.org,Deirdre,0411 111 111,beta\n",
    )
    for batch_size in (500, 1):  # in one batch, and across batches
        await Person.delete(force=True)
        summary = await import_members(path, batch_size=batch_size)
        assert (summary.created, summary.merged) == (2, 1)
        dee = await person("dee@example.org")
        assert (dee.given_name, dee.phone) == ("Dee", "0411 111 111")
        assert await tags_of("dee@example.org") == {"alpha", "beta"}
    again = await import_members(path, batch_size=1)
    assert (again.updated, again.unchanged, again.merged) == (0, 2, 1)


async def test_tags_are_created_once_matched_case_insensitively_and_attached_idempotently(tmp_path):
    await Tag.insert(Tag(name="Volunteer"))
    path = write(
        tmp_path, 'email,tags\neve@example.org,"volunteer, donor-2026; Donor-2026"\nfinn@example.org,\n'
    )
    summary = await import_members(path, tags=["March 2026"])
    assert summary.created == 2
    assert await tags_of("eve@example.org") == {"Volunteer", "donor-2026", "March 2026"}
    assert await tags_of("finn@example.org") == {"March 2026"}
    assert await Tag.count() == 3
    assert (await import_members(path, tags=["march 2026"])).unchanged == 2
    assert await Tagging.count() == 4
    extra = await import_members(path, tags=["Phone bank"])
    assert (extra.updated, extra.unchanged) == (2, 0)  # a new tag is an update


async def test_bad_rows_are_reported_by_line_number_and_the_good_rows_in_the_same_batch_are_stored(tmp_path):
    long_name = "x" * 201
    path = write(
        tmp_path,
        "email,first_name,country,email_opt_in,subscription\n"
        "good1@example.org,One,AU,yes,\n"  # line 2
        "bob@,Bob,,,\n"  # 3
        ",Nobody,,,\n"  # 4
        'good2@example.org,"Two,\nwith a line break",,,\n'  # 5-6: one record on two lines
        f"long@example.org,{long_name},,,\n"  # 7
        "short@example.org,Short\n"  # 8
        "wide@example.org,Wide,,,,extra\n"  # 9
        "country@example.org,C,Australia,,\n"  # 10
        "maybe@example.org,M,,maybe,\n"  # 11
        "status@example.org,S,,,paused\n"  # 12
        "bell@example.org,B\x07ell,,,\n"  # 13
        ",,,,\n"  # 14: blank, passed over
        "good3@example.org,Three,,,\n"  # 15
        "trailing@example.org,Trailing,,,,,\n",  # 16: extra empty cells are fine
    )
    seen = []
    summary = await import_members(path, batch_size=2, on_error=seen.append)
    assert [str(e) for e in summary.errors] == [
        "line 3: 'bob@' is not a valid email address",
        "line 4: no email address",
        "line 7: 'first_name' is too long (201 characters, at most 200)",
        "line 8: has 2 fields, but the header has 5",
        "line 9: has 6 fields, but the header has 5",
        "line 10: 'AUSTRALIA' in 'country' is not a two-letter country code (AU, US…)",
        "line 11: 'maybe' in 'email_opt_in' is not yes or no",
        "line 12: 'paused' in 'subscription' is not one of subscribed, unsubscribed, bounced, complained",
        "line 13: 'first_name' contains control characters (binary data?)",
    ]
    assert seen == summary.errors
    assert (summary.created, summary.skipped, summary.rows) == (4, 9, 13)
    assert {p["email_key"] for p in await Person.select(Person.email_key)} == {
        "good1@example.org",
        "good2@example.org",
        "good3@example.org",
        "trailing@example.org",
    }
    assert (await person("good2@example.org")).given_name == "Two,\nwith a line break"
    assert (await person("good1@example.org")).country == "AU"


async def test_a_batch_that_cannot_be_written_stores_none_of_its_rows(tmp_path, monkeypatch):
    calls = []
    original = _Importer._ensure_tags

    async def failing_second_time(self, names):
        calls.append(names)
        if len(calls) == 2:
            raise RuntimeError("the database went away")
        await original(self, names)

    monkeypatch.setattr(_Importer, "_ensure_tags", failing_second_time)
    path = write(tmp_path, "email,tags\na@example.org,x\nb@example.org,y\nc@example.org,z\nd@example.org,w\n")
    with pytest.raises(RuntimeError):
        await import_members(path, batch_size=2)
    assert {p["email_key"] for p in await Person.select(Person.email_key)} == {
        "a@example.org",
        "b@example.org",
    }
    assert {t["name"] for t in await Tag.select(Tag.name)} == {"x", "y"}


async def test_a_person_created_between_look_up_and_insert_is_updated_not_duplicated(tmp_path, monkeypatch):
    original = _Importer._taggings

    async def racing_signature(self, person_ids):  # runs after the look-up, before the insert
        await Person.insert(Person(email="Rae@example.org", email_key="rae@example.org", phone="0400"))
        return await original(self, person_ids)

    monkeypatch.setattr(_Importer, "_taggings", racing_signature)
    await import_members(write(tmp_path, "email,first_name,tags\nrae@example.org,Rae,late\n"))
    rae = await person("rae@example.org")
    assert (rae.email, rae.given_name, rae.phone) == ("Rae@example.org", "Rae", "0400")
    assert await Person.count() == 1
    assert await tags_of("rae@example.org") == {"late"}


async def test_the_summary_keeps_the_first_fifty_errors_and_counts_all(tmp_path):
    path = write(tmp_path, "email\n" + "".join(f"bad{i}@\n" for i in range(120)) + "ok@example.org\n")
    summary = await import_members(path)
    assert (summary.skipped, len(summary.errors), summary.created) == (120, 50, 1)
    assert str(summary.errors[-1]) == "line 51: 'bad49@' is not a valid email address"


async def test_consent_is_only_set_where_a_column_says_yes_and_an_import_never_resubscribes(tmp_path):
    await Person.insert(
        Person(email="gone@example.org", email_key="gone@example.org", subscription="unsubscribed"),
        Person(email="kept@example.org", email_key="kept@example.org", consent_instance_email=True),
    )
    path = write(
        tmp_path,
        "email,subscribed,national_opt_in,subscription\n"
        "yes@example.org,Yes,y,\n"
        "no@example.org,no,,\n"
        "gone@example.org,true,,subscribed\n"
        "kept@example.org,false,,\n"
        "bounced@example.org,,,bounced\n",
    )
    await import_members(path)
    yes, no = await person("yes@example.org"), await person("no@example.org")
    assert (yes.consent_instance_email, yes.consent_national, yes.subscription) == (True, True, "subscribed")
    assert (no.consent_instance_email, no.consent_national, no.subscription) == (False, False, "subscribed")
    assert (await person("gone@example.org")).subscription == "unsubscribed"
    assert (await person("kept@example.org")).consent_instance_email is True
    assert (await person("bounced@example.org")).subscription == "bounced"


async def test_a_windows_1252_file_is_read_with_a_warning_instead_of_failing(tmp_path):
    path = write(
        tmp_path,
        "email,first_name,city\r\nzoe@example.org,Zoë,Besançon\r\nann@example.org,Ann,Paris\r\n",
        encoding="cp1252",
    )
    summary = await import_members(path)
    assert (summary.created, summary.skipped) == (2, 0)
    assert (summary.legacy_lines, summary.first_legacy_line) == (1, 2)
    zoe = await person("zoe@example.org")
    assert (zoe.given_name, zoe.locality) == ("Zoë", "Besançon")


async def test_a_utf8_file_with_a_byte_order_mark_still_finds_its_first_column(tmp_path):
    path = write(tmp_path, "Email,First Name\nkim@example.org,Kim\n", encoding="utf-8-sig")
    summary = await import_members(path)
    assert (summary.encoding, summary.created) == ("UTF-8 with BOM", 1)
    assert (await person("kim@example.org")).given_name == "Kim"


async def test_a_semicolon_separated_file_with_other_column_names_is_mapped(tmp_path):
    path = write(
        tmp_path,
        "E-Mail;Given Name;SURNAME;Post code;Town;Province;Mobile;Notes\n"
        "lea@example.org;Léa;Roux;75011;Paris;IDF;+33 6 00 00 00 00;likes cats, dogs\n",
    )
    summary = await import_members(path)
    assert (summary.delimiter, summary.created) == (";", 1)
    assert [c.header for c in summary.ignored_columns] == ["Notes"]
    lea = await person("lea@example.org")
    assert (lea.given_name, lea.family_name, lea.postal_code) == ("Léa", "Roux", "75011")
    assert (lea.locality, lea.region, lea.phone) == ("Paris", "IDF", "+33 6 00 00 00 00")


async def test_an_excel_unicode_text_file_utf16_and_tab_separated_is_read(tmp_path):
    path = write(tmp_path, "\ufeffEmail Address\tFirst\nmei@example.org\t美\n", encoding="utf-16-le")
    summary = await import_members(path)
    assert (summary.encoding, summary.delimiter, summary.created) == ("UTF-16", "\t", 1)
    assert (await person("mei@example.org")).given_name == "美"


async def test_a_file_with_old_mac_line_endings_is_read(tmp_path):
    path = write(tmp_path, "email,first_name\rpat@example.org,Pat\rquinn@example.org,Quinn\r")
    summary = await import_members(path)
    assert (summary.created, summary.errors) == (2, [])
    assert (await person("quinn@example.org")).given_name == "Quinn"


async def test_a_second_column_for_the_same_field_is_ignored_and_said_why(tmp_path):
    path = write(tmp_path, "email,phone,mobile\nned@example.org,,0400\n")
    summary = await import_members(path)
    assert [(c.header, c.note) for c in summary.ignored_columns] == [
        ("mobile", "phone already comes from 'phone'")
    ]


async def test_a_header_only_file_imports_nothing_without_complaint(tmp_path):
    summary = await import_members(write(tmp_path, "email,first_name\n"))
    assert (summary.rows, summary.errors) == (0, [])


async def test_a_dry_run_reports_what_would_happen_and_saves_nothing(tmp_path):
    path = write(tmp_path, "email,tags\nova@example.org,new-tag\nova@example.org,\nbad@\n")
    summary = await import_members(path, dry_run=True)
    assert (summary.created, summary.merged, summary.skipped) == (1, 1, 1)
    assert (await Person.count(), await Tag.count()) == (0, 0)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "does not exist"),
        (b"", "is empty: the first line should name the columns"),
        (b"\n\n  \n", "is empty"),
        (
            b"name,phone\nAda,123\n",
            "has no email column: name one 'email' (or 'email_address', 'e-mail'); "
            "the first line has 'name', 'phone'",
        ),
        (b"\x7fELF\x02\x01\x01\x00\x00\x00", "is not a CSV file: it contains binary data"),
        (b"PK\x03\x04\x14\x00\x06\x00", "is a spreadsheet or archive, not a CSV file"),
    ],
    ids=["missing", "empty", "blank-lines", "no-email-column", "binary", "xlsx"],
)
async def test_a_file_that_cannot_be_imported_raises_one_clear_error(tmp_path, content, message):
    path = tmp_path / "people.csv"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ImportFileError, match="^.*" + message.replace("(", r"\(").replace(")", r"\)")):
        await import_members(path)
    assert await Person.count() == 0


def test_the_cli_imports_with_a_summary_lists_bad_rows_and_exits_1_only_for_unreadable_files(tmp_path):
    instance = Instance.create(tmp_path / "instance")
    people = tmp_path / "people.csv"
    rows = ["Email,First,Zip,Shoe size", "ada@example.org,Ada,2000,38", "bob@,Bob,,", "ada@example.org,,,"]
    rows += [f"bad{i}@,,," for i in range(60)] + ["cy@example.org,Cy,3000,44"]
    people.write_text("\n".join(rows) + "\n", encoding="utf-8")
    errors_file = tmp_path / "errors.csv"

    result = instance.run(
        "members", "import", str(people), "--tag", "imported", "--errors-file", str(errors_file)
    )
    assert result.returncode == 0, result.describe()
    assert "Traceback" not in result.stderr
    assert "people.csv: 64 rows" in result.stdout
    assert "2 created, 0 updated, 0 unchanged" in result.stdout
    assert "1 repeated an earlier row's email address and merged into it" in result.stdout
    assert "61 skipped" in result.stdout
    assert "Ignored columns: Shoe size" in result.stdout
    assert "line 3: 'bob@' is not a valid email address" in result.stderr_lines
    assert f"… and 11 more (all in {errors_file})" in result.stderr_lines
    with errors_file.open(encoding="utf-8") as handle:
        listed = list(csv.reader(handle))
    assert listed[:2] == [["line", "reason"], ["3", "'bob@' is not a valid email address"]]
    assert len(listed) == 62

    again = instance.run("members", "import", str(people), "--dry-run")
    assert again.returncode == 0, again.describe()
    assert "Dry run, nothing was saved" in again.stdout
    assert "0 would be created, 0 would be updated, 2 unchanged" in again.stdout

    for args, message in [
        ((str(tmp_path / "missing.csv"),), f"{tmp_path / 'missing.csv'} does not exist"),
        (("/bin/sh",), "sh is not a CSV file: it contains binary data"),
    ]:
        failed = instance.run("members", "import", *args)
        assert failed.returncode == 1, failed.describe()
        assert failed.stderr_lines == [f"groundswell: error: {message}"], failed.describe()
        assert failed.stdout == ""


def test_on_postgresql_the_cli_asks_for_migrate_first_then_imports(tmp_path):
    people = tmp_path / "people.csv"
    people.write_text("email,first_name\nada@example.org,Ada\n", encoding="utf-8")
    with postgres_database("gs_import") as url:
        instance = Instance.create(tmp_path / "instance", DATABASE_URL=url)
        refused = instance.run("members", "import", str(people))
        assert refused.returncode == 1, refused.describe()
        assert "run `groundswell migrate` first" in refused.stderr
        assert "Traceback" not in refused.stderr
        instance.run_ok("migrate")
        imported = instance.run_ok("members", "import", str(people))
        assert "1 created, 0 updated, 0 unchanged" in imported.stdout
