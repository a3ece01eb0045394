"""The audit trail written by the API, and GET /api/v1/audit-events/."""

import datetime

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from clarity.api.tests.helpers import assert_problem, audit_field_values, bearer_client, body_of, phi_strings
from clarity.audit.models import AuditEvent
from clarity.users.tests.factories import TEST_PASSWORD
from patients.models import BreakGlassGrant, Patient
from patients.tests.factories import grant_break_glass, make_patient

EMERGENCY = {"reason": "Unresponsive patient in the emergency department"}


def _events(**filters):
    return list(AuditEvent.objects.filter(**filters).order_by("id"))


# --- what the API writes ------------------------------------------------------------------


def test_a_read_writes_one_read_event_naming_actor_and_patient(clinician):
    patient = make_patient(primary=clinician)

    bearer_client(clinician).get(
        f"/api/v1/patients/{patient.pk}/", HTTP_USER_AGENT="pytest-agent", HTTP_X_REQUEST_ID="req-42"
    )

    [event] = _events()
    assert (event.action, event.resource_type, event.resource_id) == ("read", "patient", str(patient.pk))
    assert event.patient_id == patient.pk
    assert (event.actor_id, event.actor_username, event.actor_role) == (clinician.pk, clinician.username, "clinician")
    assert (event.outcome, event.break_glass) == ("success", False)
    assert (event.user_agent, event.request_id) == ("pytest-agent", "req-42")
    assert event.ip == "127.0.0.1"


def test_a_list_writes_one_list_event_per_patient_returned(admin_user, clinician):
    patients = [make_patient(primary=clinician) for _ in range(3)]

    response = bearer_client(admin_user).get("/api/v1/patients/", {"page_size": 2})

    returned = {row["id"] for row in body_of(response)["results"]}
    events = _events(action="list")
    assert len(events) == 2
    assert {str(e.patient_id) for e in events} == returned
    assert {e.resource_id for e in events} == returned
    assert returned < {str(p.pk) for p in patients}


def test_an_empty_list_writes_no_event(admin_user):
    bearer_client(admin_user).get("/api/v1/patients/")

    assert not AuditEvent.objects.exists()


def test_the_care_team_list_is_audited_against_its_patient(clinician):
    patient = make_patient(primary=clinician)

    bearer_client(clinician).get(f"/api/v1/patients/{patient.pk}/care-team/")

    [event] = _events()
    assert (event.action, event.patient_id) == ("list", patient.pk)


def test_create_update_and_delete_are_audited(clinician, other_clinician):
    client = bearer_client(clinician)
    body = {"mrn": "AUD-1", "given_name": "Ada", "family_name": "Audit", "date_of_birth": "1970-01-01"}

    patient_id = body_of(client.post("/api/v1/patients/", body, format="json"))["id"]
    client.patch(f"/api/v1/patients/{patient_id}/", {"address": "Somewhere 2"}, format="json")
    client.post(f"/api/v1/patients/{patient_id}/care-team/", {"clinician": str(other_clinician.pk)}, format="json")
    client.delete(f"/api/v1/patients/{patient_id}/care-team/{other_clinician.pk}/")
    client.delete(f"/api/v1/patients/{patient_id}/")

    events = [(e.action, e.resource_type, str(e.patient_id)) for e in _events()]
    assert events == [
        ("create", "patient", patient_id),
        ("update", "patient", patient_id),
        ("create", "care_team", patient_id),
        ("delete", "care_team", patient_id),
        ("delete", "patient", patient_id),
    ]
    assert all(e.actor_id == clinician.pk for e in _events())


def test_a_refused_write_leaves_no_success_event(clinician):
    patient = make_patient(primary=clinician)

    bearer_client(clinician).patch(
        f"/api/v1/patients/{patient.pk}/", {"address": "X"}, format="json", HTTP_IF_MATCH='"9"'
    )

    assert not AuditEvent.objects.filter(outcome="success").exists()


def test_login_failed_login_and_logout_are_audited(clinician):
    client = APIClient()
    client.post("/api/v1/auth/token/", {"username": clinician.username, "password": "not the password"}, format="json")
    token = body_of(
        client.post("/api/v1/auth/token/", {"username": clinician.username, "password": TEST_PASSWORD}, format="json")
    )["token"]
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    client.post("/api/v1/auth/logout/")

    assert [(e.action, e.outcome) for e in _events()] == [
        ("login_failed", "failure"),
        ("login", "success"),
        ("logout", "success"),
    ]
    assert [e.actor_id for e in _events()] == [None, clinician.pk, clinician.pk]


def test_a_forbidden_request_is_audited_as_denied(researcher, clinician):
    patient = make_patient(primary=clinician)

    response = bearer_client(researcher).get(f"/api/v1/patients/{patient.pk}/")

    assert response.status_code == 403
    [event] = _events()
    assert (event.action, event.outcome, event.actor_id) == ("denied", "denied", researcher.pk)


def test_an_out_of_scope_read_is_audited_as_denied(clinician, other_clinician):
    patient = make_patient(primary=clinician)

    response = bearer_client(other_clinician).get(f"/api/v1/patients/{patient.pk}/")

    assert response.status_code == 404
    [event] = _events()
    assert (event.action, event.resource_type, event.resource_id) == ("denied", "patient", str(patient.pk))
    assert event.actor_id == other_clinician.pk


def test_a_consulting_clinicians_refused_delete_is_audited_as_denied(clinician, other_clinician):
    patient = make_patient(primary=clinician, consulting=[other_clinician])

    response = bearer_client(other_clinician).delete(f"/api/v1/patients/{patient.pk}/")

    assert response.status_code == 403
    [event] = _events()
    assert (event.action, event.patient_id) == ("denied", patient.pk)


# --- break the glass ------------------------------------------------------------------------


def test_breaking_the_glass_is_audited_and_every_read_under_it_is_flagged(clinician, other_clinician):
    # Given a clinician outside the care team who breaks the glass
    patient = make_patient(primary=clinician)
    client = bearer_client(other_clinician)
    granted = client.post(f"/api/v1/patients/{patient.pk}/break-glass/", EMERGENCY, format="json")
    assert granted.status_code == 201
    assert set(body_of(granted)) == {"expires_at"}

    # When they read the record and its care team
    read = client.get(f"/api/v1/patients/{patient.pk}/")
    team = client.get(f"/api/v1/patients/{patient.pk}/care-team/")

    # Then both work, and every event since the grant carries break_glass
    assert (read.status_code, team.status_code) == (200, 200)
    events = _events()
    assert [e.action for e in events] == ["break_glass", "read", "list"]
    assert all(e.break_glass for e in events)
    assert all(e.patient_id == patient.pk for e in events)
    # The reason is free text that may hold PHI: it stays out of the trail.
    assert EMERGENCY["reason"] not in audit_field_values()


def test_break_glass_access_is_read_only_and_does_not_join_the_list(clinician, other_clinician):
    patient = make_patient(primary=clinician)
    grant_break_glass(other_clinician, patient)
    client = bearer_client(other_clinician)

    patch = client.patch(f"/api/v1/patients/{patient.pk}/", {"address": "X"}, format="json")
    delete = client.delete(f"/api/v1/patients/{patient.pk}/")
    add = client.post(
        f"/api/v1/patients/{patient.pk}/care-team/", {"clinician": str(other_clinician.pk)}, format="json"
    )
    listed = client.get("/api/v1/patients/")

    assert (patch.status_code, delete.status_code, add.status_code) == (403, 403, 403)
    assert body_of(listed)["results"] == []
    assert Patient.objects.get(pk=patient.pk).version == 1


def test_an_expired_break_glass_grant_gives_404_again(clinician, other_clinician):
    patient = make_patient(primary=clinician)
    grant = grant_break_glass(other_clinician, patient)
    client = bearer_client(other_clinician)
    assert client.get(f"/api/v1/patients/{patient.pk}/").status_code == 200

    past = timezone.now() - datetime.timedelta(hours=2)
    BreakGlassGrant.objects.filter(pk=grant.pk).update(created_at=past, expires_at=past + datetime.timedelta(hours=1))

    assert_problem(client.get(f"/api/v1/patients/{patient.pk}/"), 404)


def test_a_second_break_glass_request_while_a_grant_is_live_gets_409_and_no_second_grant(clinician, other_clinician):
    patient = make_patient(primary=clinician)
    client = bearer_client(other_clinician)
    assert client.post(f"/api/v1/patients/{patient.pk}/break-glass/", EMERGENCY, format="json").status_code == 201

    again = client.post(f"/api/v1/patients/{patient.pk}/break-glass/", EMERGENCY, format="json")

    assert "live break-the-glass grant" in assert_problem(again, 409)["detail"]
    assert BreakGlassGrant.objects.filter(patient=patient, clinician=other_clinician).count() == 1
    assert [e.action for e in _events(patient_id=patient.pk)] == ["break_glass"]


def test_a_new_break_glass_grant_can_be_had_once_the_last_one_expired(clinician, other_clinician):
    patient = make_patient(primary=clinician)
    grant = grant_break_glass(other_clinician, patient)
    past = timezone.now() - datetime.timedelta(hours=2)
    BreakGlassGrant.objects.filter(pk=grant.pk).update(created_at=past, expires_at=past + datetime.timedelta(hours=1))

    again = bearer_client(other_clinician).post(f"/api/v1/patients/{patient.pk}/break-glass/", EMERGENCY, format="json")

    assert again.status_code == 201
    assert BreakGlassGrant.objects.filter(patient=patient, clinician=other_clinician).count() == 2


def test_break_glass_needs_a_reason_of_twenty_characters(clinician, other_clinician):
    patient = make_patient(primary=clinician)

    response = bearer_client(other_clinician).post(
        f"/api/v1/patients/{patient.pk}/break-glass/", {"reason": "x" * 19}, format="json"
    )
    spaces = bearer_client(other_clinician).post(
        f"/api/v1/patients/{patient.pk}/break-glass/", {"reason": " " * 25}, format="json"
    )

    assert "reason" in assert_problem(response, 400)["errors"]
    assert "reason" in assert_problem(spaces, 400)["errors"]
    assert not BreakGlassGrant.objects.exists()


def test_break_glass_on_an_unknown_patient_gets_404(other_clinician):
    response = bearer_client(other_clinician).post(
        "/api/v1/patients/6f1c8f9e-4a47-4a5e-9a47-0e5c6a7b8c9d/break-glass/", EMERGENCY, format="json"
    )

    assert_problem(response, 404)


# --- no PHI ---------------------------------------------------------------------------------


def test_audit_events_hold_no_phi(admin_user, clinician, other_clinician, researcher, patient_user):
    # Given a patient with distinctive PHI, and a busy session of API use around it
    patient = make_patient(primary=clinician, user=patient_user)
    created_body = {
        "mrn": "PHI-MRN-9931", "given_name": "Zebulon", "family_name": "Quixote", "date_of_birth": "1961-07-23",
        "email": "zebulon@phi.example", "phone": "+14155559931", "address": "77 Hidden Lane",
    }  # fmt: skip
    doctor, admin = bearer_client(clinician), bearer_client(admin_user)
    new_id = body_of(doctor.post("/api/v1/patients/", created_body, format="json"))["id"]
    doctor.post("/api/v1/patients/", created_body, format="json")  # duplicate MRN
    doctor.get("/api/v1/patients/", {"search": patient.family_name})
    doctor.get("/api/v1/patients/", {"search": "PHI-MRN-9931"})
    doctor.patch(f"/api/v1/patients/{new_id}/", {"address": "78 Hidden Lane", "email": "z2@phi.example"}, format="json")
    admin.get(f"/api/v1/patients/{patient.pk}/")
    bearer_client(patient_user).get(f"/api/v1/patients/{patient.pk}/")
    bearer_client(researcher).get(f"/api/v1/patients/{patient.pk}/")
    bearer_client(other_clinician).post(f"/api/v1/patients/{patient.pk}/break-glass/", EMERGENCY, format="json")
    bearer_client(other_clinician).get(f"/api/v1/patients/{patient.pk}/")
    APIClient().post("/api/v1/auth/token/", {"username": "Zebulon", "password": "Quixote"}, format="json")

    # Then no audit field holds any of those values
    values = " | ".join(audit_field_values())
    assert AuditEvent.objects.count() > 8
    created = Patient.objects.get(pk=new_id)
    for phi in [*phi_strings(patient), *phi_strings(created), "77 Hidden Lane", "z2@phi.example", "Zebulon", "Quixote"]:
        assert phi not in values, phi


# --- GET /api/v1/audit-events/ --------------------------------------------------------------


@pytest.fixture
def timeline(admin_user, clinician, other_clinician):
    """Five events one minute apart, written directly with known times."""
    base = datetime.datetime(2030, 1, 1, 12, 0, tzinfo=datetime.UTC)
    patient, other = make_patient(primary=clinician), make_patient(primary=clinician)
    rows = [
        (clinician, "read", patient),
        (clinician, "update", patient),
        (other_clinician, "read", other),
        (clinician, "list", other),
        (other_clinician, "denied", patient),
    ]
    events = [
        AuditEvent.objects.create(
            occurred_at=base + datetime.timedelta(minutes=i),
            actor=actor,
            actor_username=actor.username,
            actor_role=actor.role,
            action=action,
            resource_type="patient",
            resource_id=str(p.pk),
            patient_id=p.pk,
        )
        for i, (actor, action, p) in enumerate(rows)
    ]
    return {"base": base, "events": events, "patient": patient, "other": other}


def _audit_ids(client, params):
    response = client.get("/api/v1/audit-events/", params)
    assert response.status_code == 200, response.content
    return [row["id"] for row in body_of(response)["results"]]


def test_audit_events_are_listed_newest_first_with_the_documented_fields(admin_user, timeline):
    response = bearer_client(admin_user).get("/api/v1/audit-events/")

    rows = body_of(response)["results"]
    assert [r["id"] for r in rows] == [e.id for e in reversed(timeline["events"])]
    assert set(rows[0]) == {
        "id", "occurred_at", "actor", "actor_username", "actor_role", "action", "resource_type", "resource_id",
        "patient", "ip", "user_agent", "request_id", "outcome", "break_glass",
    }  # fmt: skip


def test_audit_events_filter_by_patient_actor_and_action(admin_user, clinician, other_clinician, timeline):
    client = bearer_client(admin_user)
    e = timeline["events"]

    assert _audit_ids(client, {"patient": str(timeline["patient"].pk)}) == [e[4].id, e[1].id, e[0].id]
    assert _audit_ids(client, {"actor": str(other_clinician.pk)}) == [e[4].id, e[2].id]
    assert _audit_ids(client, {"action": "read"}) == [e[2].id, e[0].id]
    assert _audit_ids(client, {"action": "read", "actor": str(clinician.pk)}) == [e[0].id]


def test_since_is_inclusive_and_until_is_exclusive(admin_user, timeline):
    client = bearer_client(admin_user)
    e, base = timeline["events"], timeline["base"]
    at = (base + datetime.timedelta(minutes=1)).isoformat()
    until = (base + datetime.timedelta(minutes=3)).isoformat()

    assert _audit_ids(client, {"since": at}) == [e[4].id, e[3].id, e[2].id, e[1].id]
    assert _audit_ids(client, {"until": at}) == [e[0].id]
    assert _audit_ids(client, {"since": at, "until": until}) == [e[2].id, e[1].id]
    # The same instant written in another offset is the same instant.
    assert _audit_ids(client, {"since": "2030-01-01T13:01:00+01:00", "until": "2030-01-01T12:03:00Z"}) == [
        e[2].id,
        e[1].id,
    ]


@pytest.mark.parametrize(
    "params",
    [
        {"since": "2030-01-01T12:00:00"},
        {"until": "2030-01-01T12:00:00"},
        {"since": "2030-01-01"},
        {"since": "yesterday"},
        {"patient": "not-a-uuid"},
        {"actor": "42"},
        {"action": "peek"},
        {"resource": "patient"},
    ],
)
def test_bad_audit_filters_get_400(admin_user, params):
    response = bearer_client(admin_user).get("/api/v1/audit-events/", params)

    problem = assert_problem(response, 400)
    assert set(params) <= set(problem["errors"])


def test_audit_event_pages_walk_every_event_once(admin_user, timeline):
    client = bearer_client(admin_user)

    seen, url = [], "/api/v1/audit-events/?page_size=2"
    while url:
        body = body_of(client.get(url))
        seen += [row["id"] for row in body["results"]]
        url = body["next"]

    assert seen == [e.id for e in reversed(timeline["events"])]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("2030-01-01T12:00:00", "Timestamps must include a UTC offset (e.g. 2026-01-31T09:00:00Z)."),
        ("yesterday", "Must be an ISO 8601 timestamp with a UTC offset."),
        ("9999-12-31T23:59:59-05:00", "Datetime value out of range."),
    ],
)
def test_a_bad_timestamp_filter_says_what_is_wrong_with_it(admin_user, value, message):
    response = bearer_client(admin_user).get("/api/v1/audit-events/", {"since": value})

    assert assert_problem(response, 400)["errors"] == {"since": [message]}


def test_since_an_events_own_occurred_at_includes_it_and_until_excludes_it(admin_user, clinician):
    # Given events written by the database's clock (with sub-second precision)
    patient = make_patient(primary=clinician)
    reader = bearer_client(clinician)
    for _ in range(3):
        reader.get(f"/api/v1/patients/{patient.pk}/")
    client = bearer_client(admin_user)
    listed = body_of(client.get("/api/v1/audit-events/", {"patient": str(patient.pk)}))["results"]

    for event in listed:
        # When an admin asks for the events since (or until) that event's own timestamp, as shown
        since = _audit_ids(client, {"patient": str(patient.pk), "since": event["occurred_at"]})
        until = _audit_ids(client, {"patient": str(patient.pk), "until": event["occurred_at"]})

        # Then `since` includes it and `until` does not
        assert event["id"] in since, (event["occurred_at"], since)
        assert event["id"] not in until, (event["occurred_at"], until)
