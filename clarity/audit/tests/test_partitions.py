"""The audit trail partitioned by month on PostgreSQL (migration 0004, clarity/partitions.py)."""

import datetime

import pytest
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction

from clarity.audit.chain import ChainForked, _claim, seal_pending, verify_chain
from clarity.audit.models import AuditEvent
from clarity.audit.services import AuditContext, audit_record
from clarity.partitions import add_months, month_start, partition_name

pytestmark = [pytest.mark.postgres_only, pytest.mark.django_db]


def partition_of(event_id):
    with connection.cursor() as cursor:
        cursor.execute("SELECT tableoid::regclass::text FROM audit_auditevent WHERE id = %s", [event_id])
        return cursor.fetchone()[0]


def test_the_audit_table_is_partitioned_by_month_with_months_ahead_and_a_default():
    with connection.cursor() as cursor:
        cursor.execute("SELECT relkind FROM pg_class WHERE relname = 'audit_auditevent'")
        assert cursor.fetchone()[0] == "p"
        cursor.execute("SELECT pg_get_partkeydef('audit_auditevent'::regclass)")
        assert cursor.fetchone()[0] == "RANGE (occurred_at)"
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'audit_auditevent'::regclass"
        )
        names = {row[0] for row in cursor.fetchall()}
    this_month = month_start(datetime.datetime.now(datetime.UTC))
    assert {partition_name("audit_auditevent", add_months(this_month, n)) for n in range(4)} <= names
    assert "audit_auditevent_default" in names


def test_an_event_lands_in_its_month_and_is_sealed_and_verified():
    event = audit_record(AuditContext(ip="127.0.0.1"), action="read", resource_type="patient", resource_id="x")
    this_month = month_start(datetime.datetime.now(datetime.UTC))
    assert partition_of(event.pk) == partition_name("audit_auditevent", this_month)
    assert seal_pending() == 1
    assert verify_chain().ok


def test_an_insert_beyond_the_months_ahead_never_fails_and_audit_partitions_moves_it_into_its_month():
    far = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=31 * 8)
    event = AuditEvent.objects.create(action="read", resource_type="patient", occurred_at=far)
    assert partition_of(event.pk) == "audit_auditevent_default"
    seal_pending()
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # ALTER TABLE needs no pending FK checks
    call_command("audit_partitions", "--ahead", "9")
    assert partition_of(event.pk) == partition_name("audit_auditevent", month_start(far))
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM audit_auditevent_default")
        assert cursor.fetchone()[0] == 0
    assert verify_chain().ok  # the moved row kept its seal


def test_events_stay_append_only_through_the_parent_and_on_a_partition():
    event = audit_record(AuditContext(), action="read", resource_type="patient")
    partition = partition_of(event.pk)
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(resource_type="twin")
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {partition} WHERE id = %s", [event.pk])  # noqa: S608


def test_a_second_sealer_from_a_stale_head_is_refused():
    audit_record(AuditContext(), action="read", resource_type="patient")
    seal_pending()
    with pytest.raises(ChainForked), transaction.atomic():
        _claim(1, 1, "f" * 64)  # the head is at 1 already: claiming from 0 again would fork


def test_a_seal_outside_the_transactions_claim_is_refused():
    event = audit_record(AuditContext(), action="read", resource_type="patient")
    with pytest.raises(IntegrityError, match="audit_auditevent_chain_seq_unique"), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(chain_seq=1, prev_hash="0" * 64, hash="a" * 64)
