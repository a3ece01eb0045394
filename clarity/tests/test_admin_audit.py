"""Staff review in the Django admin is audited like API access, and admin sessions idle out."""

import datetime

import pytest
from django.conf import settings

from clarity.audit.models import AuditEvent
from interactions.models import InteractionLog
from patients.models import Patient


@pytest.fixture
def patients(db):
    return [
        Patient.objects.create(
            mrn=f"ADM-{i}", given_name="Ada", family_name=f"Admin{i}", date_of_birth=datetime.date(1970, 1, 1)
        )
        for i in range(3)
    ]


def test_admin_patient_changelist_writes_one_list_event_per_patient_shown(admin_client, patients):
    response = admin_client.get("/admin/patients/patient/")
    assert response.status_code == 200
    events = AuditEvent.objects.filter(action="list", resource_type="patient")
    assert sorted(str(e.patient_id) for e in events) == sorted(str(p.pk) for p in patients)


def test_admin_patient_change_page_writes_a_read_event(admin_client, patients):
    response = admin_client.get(f"/admin/patients/patient/{patients[0].pk}/change/")
    assert response.status_code == 200
    assert AuditEvent.objects.filter(action="read", resource_type="patient", patient_id=patients[0].pk).count() == 1


def test_admin_patient_save_writes_an_update_event_and_bumps_the_version(admin_client, patients):
    patient = patients[0]
    url = f"/admin/patients/patient/{patient.pk}/change/"
    form = {
        "mrn": patient.mrn,
        "given_name": "Adele",
        "family_name": patient.family_name,
        "date_of_birth": "1970-01-01",
        "sex": "unknown",
        "status": "active",
        "care_team-TOTAL_FORMS": "0",
        "care_team-INITIAL_FORMS": "0",
        "twins-TOTAL_FORMS": "0",
        "twins-INITIAL_FORMS": "0",
    }
    response = admin_client.post(url, form)
    assert response.status_code == 302, response.content[:2000]
    patient.refresh_from_db()
    assert patient.given_name == "Adele" and patient.version == 2
    assert AuditEvent.objects.filter(action="update", resource_type="patient", patient_id=patient.pk).count() == 1


def test_admin_interaction_views_are_audited(admin_client, patients):
    entry = InteractionLog.objects.create(
        patient=patients[0],
        kind="note",
        payload={"text": "x"},
        occurred_at=datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC),
    )
    assert admin_client.get("/admin/interactions/interactionlog/").status_code == 200
    assert admin_client.get(f"/admin/interactions/interactionlog/{entry.pk}/change/").status_code == 200
    assert AuditEvent.objects.filter(resource_type="interaction", action="list", patient_id=patients[0].pk).exists()
    assert AuditEvent.objects.filter(resource_type="interaction", action="read", resource_id=str(entry.pk)).exists()


def test_admin_sessions_expire_after_fifteen_idle_minutes():
    assert settings.SESSION_COOKIE_AGE == 900
    assert settings.SESSION_SAVE_EVERY_REQUEST is True
