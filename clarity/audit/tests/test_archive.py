"""Archiving old audit months to verified files, and verifying archives plus the live chain."""

import datetime
import gzip

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from clarity.audit.archive import file_hmac, verify_with_archives
from clarity.audit.chain import seal_pending, verify_chain
from clarity.audit.models import AuditArchive, AuditEvent
from clarity.audit.services import AuditContext, audit_record
from clarity.partitions import ensure_months

pytestmark = [pytest.mark.postgres_only, pytest.mark.django_db]

OLD = datetime.datetime(2019, 3, 15, 12, tzinfo=datetime.UTC)


@pytest.fixture
def history():
    """Five events in March 2019 (its own partition), then three today; all sealed."""
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        ensure_months(cursor, "audit_auditevent", "occurred_at", datetime.date(2019, 3, 1), datetime.date(2019, 3, 1))
    for i in range(5):
        AuditEvent.objects.create(action="read", resource_type="patient", resource_id=str(i), occurred_at=OLD)
    for i in range(3):
        audit_record(AuditContext(ip="127.0.0.1"), action="read", resource_type="patient", resource_id=f"now{i}")
    seal_pending()
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def archive(tmp_path, before="2019-04"):
    call_command("audit_archive", "--before", before, "--dir", str(tmp_path))
    return tmp_path / "audit_auditevent_y2019m03.ndjson.gz"


def test_archiving_a_month_drops_its_partition_after_writing_a_verified_file(history, tmp_path):
    path = archive(tmp_path)
    assert path.exists() and (tmp_path / (path.name + ".hmac")).read_text().strip() == file_hmac(path)
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass('audit_auditevent_y2019m03')")
        assert cursor.fetchone()[0] is None
    assert AuditEvent.objects.count() == 3
    record = AuditArchive.objects.get()
    assert (record.events, record.first_seq, record.last_seq) == (5, 1, 5)
    assert verify_chain().ok  # the live chain alone: positions 1-5 are archived
    result = verify_with_archives(tmp_path)
    assert result.ok and result.checked == 8
    call_command("verify_audit", "--archive", str(tmp_path))


def test_nothing_inside_the_retention_period_is_archived(history, tmp_path):
    this_month = datetime.datetime.now(datetime.UTC).strftime("%Y-%m")
    with pytest.raises(CommandError, match="retention"):
        archive(tmp_path, before=this_month)
    assert AuditEvent.objects.count() == 8


def test_a_missing_archive_file_is_named(history, tmp_path):
    archive(tmp_path).unlink()
    with pytest.raises(CommandError, match="audit_auditevent_y2019m03.ndjson.gz is missing"):
        call_command("verify_audit", "--archive", str(tmp_path))


def _rewrite(path, transform):
    with gzip.open(path, "rt") as handle:
        lines = handle.read().splitlines()
    with gzip.open(path, "wt") as handle:
        handle.write("\n".join(transform(lines)) + "\n")


def test_an_edited_archive_file_is_named(history, tmp_path):
    path = archive(tmp_path)
    _rewrite(
        path, lambda lines: [lines[0], *(line.replace('"resource_id":"2"', '"resource_id":"9"') for line in lines[1:])]
    )
    with pytest.raises(CommandError, match="audit_auditevent_y2019m03.ndjson.gz: its HMAC does not match"):
        call_command("verify_audit", "--archive", str(tmp_path))


def test_a_reordered_archive_file_is_named(history, tmp_path):
    path = archive(tmp_path)
    _rewrite(path, lambda lines: [lines[0], lines[2], lines[1], *lines[3:]])
    # Even re-signed by someone holding the key, the order gives it away.
    AuditArchive.objects.update(file_hmac=file_hmac(path))
    with pytest.raises(CommandError, match="audit_auditevent_y2019m03.ndjson.gz: events are out of chain order"):
        call_command("verify_audit", "--archive", str(tmp_path))


def test_deleting_the_newest_events_is_caught_by_the_chain_head(history):
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE audit_auditevent DISABLE TRIGGER USER")
        cursor.execute("DELETE FROM audit_auditevent WHERE chain_seq = (SELECT max(chain_seq) FROM audit_auditevent)")
    result = verify_chain()
    assert not result.ok and "head records 8" in result.reason
