"""Who may do what on every twin endpoint: the authorization matrix of docs/domain.md."""

from types import SimpleNamespace

import pytest

from clarity.audit.models import AuditEvent
from clarity.users.tests.factories import UserFactory
from patients.tests.factories import grant_break_glass, make_patient
from twins.models import DigitalTwin, TwinRevision, TwinStatus
from twins.tests.factories import make_twin


@pytest.fixture
def world(db, admin_user, clinician, other_clinician, researcher, patient_user):
    """Patient `own` (linked to patient_user; primary `clinician`, consulting `consultant`)
    with a twin; patient `other` (primary `other_clinician`) with a twin."""
    consultant = UserFactory(role="clinician")
    rescuer = UserFactory(role="clinician")
    own = make_patient(primary=clinician, consulting=[consultant], user=patient_user)
    other = make_patient(primary=other_clinician)
    grant_break_glass(rescuer, own)
    return SimpleNamespace(
        own=own,
        own_twin=make_twin(own, created_by=clinician),
        other=other,
        other_twin=make_twin(other, created_by=other_clinician),
        users={
            "anonymous": None,
            "researcher": researcher,
            "patient_own": patient_user,
            "patient_other": patient_user,
            "primary": clinician,
            "consulting": consultant,
            "outsider": other_clinician,
            "admin": admin_user,
            "break_glass": rescuer,
        },
    )


# who → (status for reads, status for writes); None means the write succeeds.
MATRIX = {
    "anonymous": (401, 401),
    "researcher": (403, 403),
    "patient_own": (200, 403),
    # A patient may never write twins: 403 on anyone's, decided by role before any lookup.
    "patient_other": (404, 403),
    "primary": (200, None),
    "consulting": (200, None),
    "outsider": (404, 404),
    "admin": (200, None),
    "break_glass": (200, 403),
}
WHO = list(MATRIX)


def _target(world, who):
    """The patient and twin `who` is aimed at: 'patient_other' aims at someone else's."""
    if who == "patient_other":
        return world.other, world.other_twin
    return world.own, world.own_twin


def _snapshot():
    return sorted(DigitalTwin.objects.values_list("id", "version", "status", "name")), TwinRevision.objects.count()


@pytest.mark.parametrize("who", WHO)
def test_twin_list_follows_the_access_matrix(world, client_for, who):
    patient, twin = _target(world, who)

    response = client_for(world.users[who]).get(f"/api/v1/patients/{patient.pk}/twins/")

    assert response.status_code == MATRIX[who][0]
    if response.status_code == 200:
        assert [row["id"] for row in response.json()["results"]] == [str(twin.pk)]


@pytest.mark.parametrize("who", WHO)
def test_twin_detail_follows_the_access_matrix(world, client_for, who):
    _patient, twin = _target(world, who)

    response = client_for(world.users[who]).get(f"/api/v1/twins/{twin.pk}/")

    assert response.status_code == MATRIX[who][0]
    if response.status_code == 200:
        assert response.json()["id"] == str(twin.pk)
        assert response["ETag"] == '"1"'
    else:
        assert response["Content-Type"] == "application/problem+json"


@pytest.mark.parametrize("who", WHO)
def test_revision_list_follows_the_access_matrix(world, client_for, who):
    _patient, twin = _target(world, who)

    response = client_for(world.users[who]).get(f"/api/v1/twins/{twin.pk}/revisions/")

    assert response.status_code == MATRIX[who][0]
    if response.status_code == 200:
        assert [row["version"] for row in response.json()["results"]] == [1]


@pytest.mark.parametrize("who", WHO)
def test_twin_create_follows_the_access_matrix(world, client_for, who):
    patient, _twin = _target(world, who)
    before = _snapshot()

    response = client_for(world.users[who]).post(
        f"/api/v1/patients/{patient.pk}/twins/", {"name": "Sleep", "twin_type": "biometric"}, format="json"
    )

    expected = MATRIX[who][1] or 201
    assert response.status_code == expected
    if expected == 201:
        assert response.json()["twin_type"] == "biometric"
    else:
        assert _snapshot() == before


@pytest.mark.parametrize("who", WHO)
def test_twin_patch_follows_the_access_matrix(world, client_for, who):
    _patient, twin = _target(world, who)
    before = _snapshot()

    response = client_for(world.users[who]).patch(
        f"/api/v1/twins/{twin.pk}/", {"name": "Renamed"}, format="json", HTTP_IF_MATCH='"1"'
    )

    expected = MATRIX[who][1] or 200
    assert response.status_code == expected
    if expected == 200:
        assert response.json()["name"] == "Renamed"
        assert response["ETag"] == '"2"'
    else:
        assert _snapshot() == before


@pytest.mark.parametrize("who", WHO)
def test_twin_delete_follows_the_access_matrix(world, client_for, who):
    _patient, twin = _target(world, who)
    before = _snapshot()

    response = client_for(world.users[who]).delete(f"/api/v1/twins/{twin.pk}/")

    expected = MATRIX[who][1] or 204
    assert response.status_code == expected
    twin.refresh_from_db()
    if expected == 204:
        assert twin.status == TwinStatus.ARCHIVED
    else:
        assert _snapshot() == before


def test_anonymous_requests_are_challenged_for_a_bearer_token(world, client_for):
    response = client_for(None).get(f"/api/v1/twins/{world.own_twin.pk}/")

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"


def test_a_twin_that_does_not_exist_answers_like_one_out_of_scope(world, client_for):
    missing = client_for(world.users["outsider"]).get("/api/v1/twins/00000000-0000-0000-0000-000000000000/")
    hidden = client_for(world.users["outsider"]).get(f"/api/v1/twins/{world.own_twin.pk}/")

    assert missing.status_code == hidden.status_code == 404
    assert missing.json() == hidden.json()


def test_break_glass_reads_are_audited_as_break_glass(world, client_for):
    twin = world.own_twin
    client = client_for(world.users["break_glass"])

    client.get(f"/api/v1/twins/{twin.pk}/")
    client.get(f"/api/v1/twins/{twin.pk}/revisions/")
    client.get(f"/api/v1/patients/{world.own.pk}/twins/")

    events = AuditEvent.objects.filter(actor=world.users["break_glass"]).order_by("id")
    assert [(e.action, e.resource_type, e.break_glass, e.patient_id) for e in events] == [
        ("read", "twin", True, world.own.pk),
        ("list", "twin_revision", True, world.own.pk),
        ("list", "twin", True, world.own.pk),
    ]


def test_care_team_reads_are_audited_without_break_glass(world, client_for):
    client_for(world.users["primary"]).get(f"/api/v1/twins/{world.own_twin.pk}/")

    event = AuditEvent.objects.get(actor=world.users["primary"])
    assert (event.action, event.resource_id, event.break_glass) == ("read", str(world.own_twin.pk), False)


def test_out_of_scope_and_forbidden_twin_requests_are_audited_as_denied(world, client_for):
    client_for(world.users["outsider"]).get(f"/api/v1/twins/{world.own_twin.pk}/")
    client_for(world.users["patient_own"]).patch(
        f"/api/v1/twins/{world.own_twin.pk}/", {"name": "Mine"}, format="json", HTTP_IF_MATCH='"1"'
    )

    denied = AuditEvent.objects.filter(action="denied").order_by("id")
    assert [(e.actor_id, e.resource_type, e.resource_id) for e in denied] == [
        (world.users["outsider"].pk, "twin", str(world.own_twin.pk)),
        (world.users["patient_own"].pk, "twin", str(world.own_twin.pk)),
    ]


def test_a_refused_twin_write_under_break_the_glass_is_audited_as_break_glass(db, client_for):
    import datetime

    from clarity.audit.models import AuditEvent
    from clarity.users.tests.factories import UserFactory
    from patients.models import CareTeamMembership, Patient
    from twins.models import DigitalTwin

    patient = Patient.objects.create(
        mrn="BG-TWIN", given_name="Gia", family_name="Glass", date_of_birth=datetime.date(1980, 1, 1)
    )
    CareTeamMembership.objects.create(patient=patient, clinician=UserFactory(role="clinician"), role="primary")
    twin = DigitalTwin.objects.create(patient=patient, name="t", twin_type="psychiatric", configuration={})
    outsider = UserFactory(role="clinician")
    client = client_for(outsider)
    reason = {"reason": "Unconscious in the emergency department, need history"}
    assert client.post(f"/api/v1/patients/{patient.pk}/break-glass/", reason, format="json").status_code == 201
    assert client.delete(f"/api/v1/twins/{twin.pk}/").status_code == 403
    denied = AuditEvent.objects.get(action="denied", actor=outsider)
    assert denied.break_glass is True and denied.patient_id == patient.pk
