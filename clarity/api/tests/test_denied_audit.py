"""Denied access leaves a useful trace: which patient, and whether it was under break-the-glass."""

import json

from django.core.exceptions import ValidationError

from clarity.api.errors import problem_exception_handler
from clarity.audit.models import AuditEvent
from clarity.users.tests.factories import UserFactory
from patients.tests.factories import make_patient


def test_a_refused_write_under_break_the_glass_is_audited_as_break_glass(db, client_for):
    outsider = UserFactory(role="clinician")
    patient = make_patient(primary=UserFactory(role="clinician"))
    client = client_for(outsider)
    reason = {"reason": "Unconscious in the emergency department, need history"}
    assert client.post(f"/api/v1/patients/{patient.pk}/break-glass/", reason, format="json").status_code == 201
    response = client.patch(f"/api/v1/patients/{patient.pk}/", {"given_name": "X"}, format="json")
    assert response.status_code == 403
    denied = AuditEvent.objects.get(action="denied", actor=outsider)
    assert denied.break_glass is True and denied.patient_id == patient.pk


def test_an_out_of_scope_read_is_audited_against_the_patient(db, client_for):
    outsider = UserFactory(role="clinician")
    patient = make_patient(primary=UserFactory(role="clinician"))
    assert client_for(outsider).get(f"/api/v1/patients/{patient.pk}/").status_code == 404
    denied = AuditEvent.objects.get(action="denied", actor=outsider)
    assert denied.patient_id == patient.pk and denied.resource_id == str(patient.pk)


def test_a_model_validation_error_never_echoes_the_submitted_value():
    exc = ValidationError(
        {
            "sex": [
                ValidationError(
                    "Value %(value)r is not a valid choice.", code="invalid_choice", params={"value": "zzz-secret"}
                )
            ]
        }
    )
    response = problem_exception_handler(exc, {})
    body = json.loads(response.content)
    assert response.status_code == 400 and "zzz-secret" not in response.content.decode()
    assert body["errors"] == {"sex": ["Not one of the allowed values."]}


def test_a_denied_read_of_an_existing_out_of_scope_twin_is_stored_with_its_patient(db, client_for):
    from twins.tests.factories import DigitalTwinFactory

    # Given a twin of a patient the clinician is not caring for
    outsider = UserFactory(role="clinician")
    patient = make_patient(primary=UserFactory(role="clinician"))
    twin = DigitalTwinFactory(patient=patient)

    # When they ask for it
    assert client_for(outsider).get(f"/api/v1/twins/{twin.pk}/").status_code == 404

    # Then the denial is findable by ?patient=
    denied = AuditEvent.objects.get(action="denied", actor=outsider)
    assert (denied.resource_type, denied.resource_id, denied.patient_id) == ("twin", str(twin.pk), patient.pk)


def test_a_twin_create_refused_under_break_the_glass_is_audited_as_break_glass(db, client_for):
    outsider = UserFactory(role="clinician")
    patient = make_patient(primary=UserFactory(role="clinician"))
    client = client_for(outsider)
    reason = {"reason": "Unconscious in the emergency department, need history"}
    assert client.post(f"/api/v1/patients/{patient.pk}/break-glass/", reason, format="json").status_code == 201

    response = client.post(
        f"/api/v1/patients/{patient.pk}/twins/", {"name": "T", "twin_type": "biometric"}, format="json"
    )

    assert response.status_code == 403
    denied = AuditEvent.objects.get(action="denied", actor=outsider)
    assert denied.break_glass is True and denied.patient_id == patient.pk


def test_an_interaction_create_refused_under_break_the_glass_is_audited_against_the_interactions(db, client_for):
    # Given a clinician who broke the glass for a patient not in their care
    outsider = UserFactory(role="clinician")
    patient = make_patient(primary=UserFactory(role="clinician"))
    client = client_for(outsider)
    reason = {"reason": "Unconscious in the emergency department, need history"}
    assert client.post(f"/api/v1/patients/{patient.pk}/break-glass/", reason, format="json").status_code == 201

    # When they try to add to the patient's log (break-the-glass is read-only)
    response = client.post(
        f"/api/v1/patients/{patient.pk}/interactions/",
        {"kind": "note", "payload": {"text": "x"}, "occurred_at": "2026-01-05T09:00:00Z"},
        format="json",
    )

    # Then the denial names what was refused (the interactions, not the patient) and the break-the-glass
    assert response.status_code == 403
    denied = AuditEvent.objects.get(action="denied", actor=outsider)
    assert (denied.resource_type, denied.break_glass, denied.patient_id) == ("interaction", True, patient.pk)
