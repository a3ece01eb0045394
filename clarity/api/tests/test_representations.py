"""Each resource has one representation function, used by every endpoint that returns it; the
output serializers only document it (OpenAPI). They must agree byte for byte, so the schema
describes what clients get."""

import datetime

import pytest
from django.db.models import Prefetch

from clarity.audit.models import AuditEvent
from clarity.audit.serializers import AuditEventSerializer, audit_event_representation
from clarity.formats import dumps
from clarity.users.models import ApiToken
from clarity.users.serializers import TokenSerializer, UserSerializer, token_representation, user_representation
from clarity.users.tests.factories import UserFactory
from interactions.models import InteractionLog
from interactions.serializers import (
    ExportTwinSerializer,
    InteractionSerializer,
    export_twin_representation,
    interaction_representation,
)
from patients.models import BreakGlassGrant, CareTeamMembership, Patient
from patients.selectors import with_care_team
from patients.serializers import (
    BreakGlassGrantSerializer,
    CareTeamMemberSerializer,
    PatientSerializer,
    break_glass_grant_representation,
    care_team_member_representation,
    patient_representation,
)
from twins.models import DigitalTwin, TwinRevision
from twins.serializers import (
    TwinRevisionSerializer,
    TwinSerializer,
    twin_representation,
    twin_revision_representation,
)

pytestmark = pytest.mark.django_db

BERLIN = datetime.timezone(datetime.timedelta(hours=1))


def _patients():
    login = UserFactory(role="patient")
    full = Patient.objects.create(
        mrn="REP-1",
        given_name="Ré",
        family_name="Presentation",
        date_of_birth=datetime.date(1970, 2, 3),
        sex="intersex",
        email="rep@example.org",
        phone="+14155550100",
        address="1 Way",
        user=login,
    )
    bare = Patient.objects.create(
        mrn="REP-2", given_name="B", family_name="Are", date_of_birth=datetime.date(2001, 1, 1)
    )
    CareTeamMembership.objects.create(patient=full, clinician=UserFactory(role="clinician"), role="primary")
    CareTeamMembership.objects.create(patient=full, clinician=UserFactory(role="clinician"), role="consulting")
    return full, bare


def patients():
    full, bare = _patients()
    return list(with_care_team(Patient.objects.filter(pk__in=[full.pk, bare.pk])))


def care_team_members():
    full, _ = _patients()
    return list(CareTeamMembership.objects.filter(patient=full).order_by("created_at", "id"))


def _twins():
    patient, _ = _patients()
    author = UserFactory(role="clinician")
    made = DigitalTwin.objects.create(
        patient=patient,
        name="Mood",
        twin_type="psychiatric",
        configuration={"simulation_granularity_hours": 24},
        state={"risk": 0.25, "notes": ["é", None]},
        created_by=author,
        version=2,
    )
    bare = DigitalTwin.objects.create(patient=patient, name="Biometric", twin_type="biometric", configuration={})
    TwinRevision.objects.create(twin=made, version=1, configuration={}, changed_by=None)
    TwinRevision.objects.create(twin=made, version=2, configuration=made.configuration, changed_by=author)
    return made, bare


def twins():
    made, bare = _twins()
    return list(DigitalTwin.objects.filter(pk__in=[made.pk, bare.pk]).order_by("created_at", "id"))


def twin_revisions():
    made, _ = _twins()
    return list(TwinRevision.objects.filter(twin=made).order_by("-version"))


def export_twins():
    _twins()
    revisions = Prefetch("revisions", queryset=TwinRevision.objects.order_by("-version"))
    return list(DigitalTwin.objects.order_by("created_at", "id").prefetch_related(revisions))


def interactions():
    patient, _ = _patients()
    twin = DigitalTwin.objects.create(patient=patient, name="t", twin_type="psychiatric", configuration={})
    InteractionLog.objects.create(
        patient=patient,
        twin=twin,
        actor=UserFactory(role="clinician"),
        kind="note",
        payload={"text": "é", "n": [1, 2.5, None]},
        occurred_at=datetime.datetime(2026, 3, 1, 8, 30, 0, 123456, tzinfo=BERLIN),
    )
    InteractionLog.objects.create(
        patient=patient, kind="alert", payload={}, occurred_at=datetime.datetime(2026, 3, 2, tzinfo=datetime.UTC)
    )
    stored = list(InteractionLog.objects.filter(patient=patient))
    # A row as the create endpoint renders it: occurred_at as the client sent it (+01:00).
    just_created = InteractionLog(
        id=10**9,
        patient=patient,
        kind="message",
        payload={"text": "hi"},
        occurred_at=datetime.datetime(2026, 3, 3, 0, 30, tzinfo=BERLIN),
        recorded_at=datetime.datetime(2026, 3, 3, 9, 0, 0, 5, tzinfo=datetime.UTC),
    )
    return [*stored, just_created]


def grants():
    patient, _ = _patients()
    now = datetime.datetime(2026, 3, 1, 9, 0, 0, 250000, tzinfo=datetime.UTC)
    grant = BreakGlassGrant.objects.create(
        patient=patient,
        clinician=UserFactory(role="clinician"),
        reason="Unconscious in the emergency room",
        created_at=now,
        expires_at=now + datetime.timedelta(hours=1),
    )
    return [BreakGlassGrant.objects.get(pk=grant.pk)]


def users():
    UserFactory(role="admin", first_name="", last_name="")
    UserFactory(role="researcher", first_name="Ré", email="r@example.org")
    from clarity.users.models import User

    return list(User.objects.order_by("username"))


def tokens():
    user = UserFactory()
    now = datetime.datetime(2026, 3, 1, 9, 0, tzinfo=datetime.UTC)
    later = now + datetime.timedelta(hours=1, microseconds=7)
    token = ApiToken.objects.create(user=user, key_hash="0" * 64, created_at=now, expires_at=later)
    return [("raw-token-value", ApiToken.objects.get(pk=token.pk))]


def audit_events():
    patient, _ = _patients()
    actor = UserFactory(role="clinician")
    AuditEvent.objects.create(
        actor=actor,
        actor_username=actor.username,
        actor_role="clinician",
        action="read",
        resource_type="patient",
        resource_id=str(patient.pk),
        patient_id=patient.pk,
        ip="192.0.2.7",
        user_agent="pytest",
        request_id="r-1",
        break_glass=True,
    )
    AuditEvent.objects.create(action="login", resource_type="auth", outcome="failure")
    return list(AuditEvent.objects.order_by("id"))


# resource: (documenting serializer, representation, instances, how the serializer takes one)
RESOURCES = {
    "patient": (PatientSerializer, patient_representation, patients, None),
    "care team member": (CareTeamMemberSerializer, care_team_member_representation, care_team_members, None),
    "twin": (TwinSerializer, twin_representation, twins, None),
    "twin revision": (TwinRevisionSerializer, twin_revision_representation, twin_revisions, None),
    "export twin": (ExportTwinSerializer, export_twin_representation, export_twins, None),
    "interaction": (InteractionSerializer, interaction_representation, interactions, None),
    "break-glass grant": (BreakGlassGrantSerializer, break_glass_grant_representation, grants, None),
    "user": (UserSerializer, user_representation, users, None),
    "token": (
        TokenSerializer,
        lambda pair: token_representation(*pair),
        tokens,
        lambda pair: {"token": pair[0], "expires_at": pair[1].expires_at},
    ),
    "audit event": (AuditEventSerializer, audit_event_representation, audit_events, None),
}


@pytest.mark.parametrize("resource", list(RESOURCES))
def test_the_representation_is_what_its_documenting_serializer_gives(resource):
    serializer_class, represent, make, serializer_input = RESOURCES[resource]
    items = make()
    assert items
    documented = serializer_class([serializer_input(item) if serializer_input else item for item in items], many=True)

    represented = [represent(item) for item in items]

    assert [list(item) for item in represented] == [list(serializer_class().fields)] * len(items)
    assert dumps(represented) == dumps(documented.data)


def test_expiry_times_are_given_in_utc_with_a_z_like_every_other_timestamp(clinician, other_clinician):
    from rest_framework.test import APIClient

    from clarity.api.tests.helpers import bearer_client
    from clarity.users.tests.factories import TEST_PASSWORD
    from patients.tests.factories import make_patient

    token = APIClient().post(
        "/api/v1/auth/token/", {"username": clinician.username, "password": TEST_PASSWORD}, format="json"
    )
    patient = make_patient(primary=clinician)
    grant = bearer_client(other_clinician).post(
        f"/api/v1/patients/{patient.pk}/break-glass/", {"reason": "Unconscious in the emergency room"}, format="json"
    )

    for response in (token, grant):
        expires_at = response.json()["expires_at"]
        assert expires_at.endswith("Z") and "+00:00" not in expires_at, expires_at
        assert datetime.datetime.fromisoformat(expires_at) > datetime.datetime.now(datetime.UTC)


def test_the_dataset_representation_has_the_fields_its_serializer_documents(admin_user, researcher):
    # DatasetSerializer cannot render a model (cohort, download… are derived), so the
    # agreement is on the fields; research/tests/test_openapi.py checks real responses.
    from django.test import RequestFactory

    from clarity.research.models import ResearchDataset
    from clarity.research.serializers import DatasetSerializer, dataset_representation

    dataset = ResearchDataset.objects.create(name="d", purpose="p", created_by=admin_user)
    dataset.researchers.set([researcher])

    represented = dataset_representation(dataset, RequestFactory().get("/"))

    assert list(represented) == list(DatasetSerializer().fields)
