import datetime

import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError, transaction

from clarity.audit.models import AuditEvent
from clarity.users.tests.factories import UserFactory
from interactions.models import IdempotencyRecord, InteractionLog
from patients.models import CareTeamMembership, Patient
from twins.models import DigitalTwin, TwinRevision

WHEN = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)


def _patient_with_history(mrn):
    clinician = UserFactory(role="clinician")
    patient = Patient.objects.create(
        mrn=mrn, given_name="Pia", family_name="Purge", date_of_birth=datetime.date(1990, 5, 5)
    )
    CareTeamMembership.objects.create(patient=patient, clinician=clinician, role="primary")
    twin = DigitalTwin.objects.create(patient=patient, name="t", twin_type="psychiatric", configuration={})
    TwinRevision.objects.create(twin=twin, version=1, configuration={})
    InteractionLog.objects.create(patient=patient, twin=twin, kind="note", payload={"text": "x"}, occurred_at=WHEN)
    IdempotencyRecord.objects.create(
        actor=clinician,
        key="k",
        request_fingerprint="f" * 64,
        response_status=201,
        response_body=[{"patient": str(patient.pk)}],
    )
    return patient


@pytest.mark.django_db
def test_purge_patient_hard_deletes_everything_and_leaves_an_audit_event(admin_user):
    doomed = _patient_with_history("PURGE-1")
    kept = _patient_with_history("KEEP-1")
    call_command("purge_patient", str(doomed.pk), "--actor", admin_user.username, "--confirm")
    assert not Patient.objects.filter(pk=doomed.pk).exists()
    assert not InteractionLog.objects.filter(patient_id=doomed.pk).exists()
    assert not DigitalTwin.objects.filter(patient_id=doomed.pk).exists()
    assert TwinRevision.objects.count() == 1 and InteractionLog.objects.count() == 1
    assert IdempotencyRecord.objects.count() == 1
    assert Patient.objects.filter(pk=kept.pk).exists()
    event = AuditEvent.objects.get(resource_type="patient_purge")
    assert event.patient_id == doomed.pk and event.actor == admin_user and event.action == "delete"


@pytest.mark.django_db
def test_purge_restores_the_append_only_guard(admin_user):
    doomed = _patient_with_history("PURGE-2")
    kept = _patient_with_history("KEEP-2")
    call_command("purge_patient", str(doomed.pk), "--actor", admin_user.username, "--confirm")
    with pytest.raises(IntegrityError), transaction.atomic():
        InteractionLog.objects.filter(patient=kept).delete()
    with pytest.raises(IntegrityError), transaction.atomic():
        TwinRevision.objects.filter(twin__patient=kept).update(version=5)


@pytest.mark.django_db
def test_purge_refuses_without_confirm_or_without_an_admin(admin_user, clinician):
    patient = _patient_with_history("PURGE-3")
    with pytest.raises(CommandError, match="--confirm"):
        call_command("purge_patient", str(patient.pk), "--actor", admin_user.username)
    with pytest.raises(CommandError, match="admin"):
        call_command("purge_patient", str(patient.pk), "--actor", clinician.username, "--confirm")
    assert Patient.objects.filter(pk=patient.pk).exists()
    assert InteractionLog.objects.filter(patient=patient).count() == 1
