"""Audit events: constraints, full_clean(), append-only with a one-time seal."""

import datetime
import uuid

import pytest
from django.db import IntegrityError, connection, transaction

from clarity.audit.models import AuditEvent
from clarity.tests.helpers import validation_messages
from clarity.users.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

APPEND_ONLY = "audit_auditevent is append-only"
SEAL = {"chain_seq": 1, "prev_hash": "0" * 64, "hash": "a" * 64}


def event(**overrides):
    return AuditEvent.objects.create(**{"action": "read", "resource_type": "patient", **overrides})


@pytest.fixture(autouse=True)
def _seals_claimed(request):
    """PostgreSQL refuses a seal at a position the transaction has not claimed from the
    chain head (as the sealer does); these tests write seals by hand, so claim 1..9 for
    the test's transaction — except where the refusal itself is under test."""
    if connection.vendor == "postgresql" and "unclaimed" not in request.keywords:
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE audit_auditchainhead SET round_first = 1, seq = 9, round_xid = txid_current() WHERE id = 1"
            )


# --- Constraints ----------------------------------------------------------------------------


def test_action_outside_the_set_is_refused_by_the_database():
    with pytest.raises(IntegrityError, match="audit_auditevent_action_valid"), transaction.atomic():
        event(action="peek")


def test_outcome_outside_the_set_is_refused_by_the_database():
    with pytest.raises(IntegrityError, match="audit_auditevent_outcome_valid"), transaction.atomic():
        event(outcome="maybe")


def test_an_empty_resource_type_is_refused_by_the_database():
    with pytest.raises(IntegrityError, match="audit_auditevent_resource_type_required"), transaction.atomic():
        event(resource_type="")


def test_a_partial_seal_is_refused_by_the_database():
    with pytest.raises(IntegrityError, match="audit_auditevent_seal_complete"), transaction.atomic():
        event(chain_seq=1, prev_hash="0" * 64)


@pytest.mark.unclaimed
def test_a_reused_chain_position_is_refused_by_the_database():
    if connection.vendor == "postgresql":
        # Partitioned: no unique index on chain_seq; a seal must be at a position its own
        # transaction claimed from the chain head, and a claimed position is never reused.
        with pytest.raises(IntegrityError, match="audit_auditevent_chain_seq_unique"), transaction.atomic():
            event(**SEAL)
        return
    event(**SEAL)
    with (
        pytest.raises(IntegrityError, match=r"audit_auditevent_chain_seq_unique|audit_auditevent\.chain_seq"),
        transaction.atomic(),
    ):
        event(**{**SEAL, "hash": "b" * 64})


def test_full_clean_reports_an_action_and_outcome_outside_their_sets():
    errors = validation_messages(AuditEvent(action="peek", outcome="maybe", resource_type="patient"))
    assert {"action", "outcome"} <= errors.keys()


def test_full_clean_reports_an_empty_resource_type():
    assert "resource_type" in validation_messages(AuditEvent(action="read", resource_type=""))


def test_full_clean_reports_a_partial_seal():
    errors = validation_messages(AuditEvent(action="read", resource_type="patient", chain_seq=1, hash="a" * 64))
    assert "audit_auditevent_seal_complete" in str(errors)


def test_full_clean_reports_a_reused_chain_position():
    event(**SEAL)
    assert "chain_seq" in validation_messages(AuditEvent(action="read", resource_type="patient", **SEAL))


def test_full_clean_accepts_an_unsealed_event():
    AuditEvent(action="read", resource_type="patient", actor=UserFactory(), patient_id=uuid.uuid4()).full_clean()


# --- Append-only -------------------------------------------------------------------------------


def test_saving_a_changed_event_is_refused_by_the_database():
    audit_event = event()
    audit_event.outcome = "denied"
    with pytest.raises(IntegrityError, match=APPEND_ONLY), transaction.atomic():
        audit_event.save()


def test_updating_events_in_bulk_is_refused_by_the_database():
    event()
    with pytest.raises(IntegrityError, match=APPEND_ONLY), transaction.atomic():
        AuditEvent.objects.update(resource_id="other")


def test_deleting_an_event_is_refused_by_the_database():
    audit_event = event()
    with pytest.raises(IntegrityError, match=APPEND_ONLY), transaction.atomic():
        audit_event.delete()


def test_deleting_events_in_bulk_is_refused_by_the_database():
    event()
    with pytest.raises(IntegrityError, match=APPEND_ONLY), transaction.atomic():
        AuditEvent.objects.all().delete()
    assert AuditEvent.objects.count() == 1


def test_sealing_an_event_once_is_allowed():
    audit_event = event()

    AuditEvent.objects.filter(pk=audit_event.pk).update(**SEAL)

    audit_event.refresh_from_db()
    assert (audit_event.chain_seq, audit_event.prev_hash, audit_event.hash) == (1, "0" * 64, "a" * 64)


def test_sealing_an_event_a_second_time_is_refused_by_the_database():
    audit_event = event()
    AuditEvent.objects.filter(pk=audit_event.pk).update(**SEAL)
    with pytest.raises(IntegrityError, match=APPEND_ONLY), transaction.atomic():
        AuditEvent.objects.filter(pk=audit_event.pk).update(chain_seq=2, prev_hash="1" * 64, hash="b" * 64)


def test_sealing_only_some_chain_columns_is_refused_by_the_database():
    audit_event = event()
    with pytest.raises(IntegrityError, match="audit_auditevent_seal_complete"), transaction.atomic():
        AuditEvent.objects.filter(pk=audit_event.pk).update(chain_seq=1)


def test_changing_any_other_column_alongside_the_seal_is_refused_by_the_database():
    actor = UserFactory()
    audit_event = event(actor=actor, actor_username=actor.username, actor_role=actor.role)
    changes = {
        "id": audit_event.pk + 1000,
        "occurred_at": datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC),
        "actor": UserFactory(),
        "actor_username": "someone-else",
        "actor_role": "admin",
        "action": "delete",
        "resource_type": "twin",
        "resource_id": "42",
        "patient_id": uuid.uuid4(),
        "ip": "10.0.0.1",
        "user_agent": "curl/8",
        "request_id": "r-1",
        "outcome": "failure",
        "break_glass": True,
    }
    # A new column must be added here and to the SQLite trigger's column list, or the
    # seal could smuggle a change to it past SQLite (PostgreSQL compares whole rows).
    sealable = {"chain_seq", "prev_hash", "hash"}
    assert {f.name for f in AuditEvent._meta.concrete_fields} - sealable == changes.keys()

    for column, value in changes.items():
        with pytest.raises(IntegrityError, match=APPEND_ONLY), transaction.atomic():
            AuditEvent.objects.filter(pk=audit_event.pk).update(**SEAL, **{column: value})

    audit_event.refresh_from_db()
    assert audit_event.chain_seq is None
