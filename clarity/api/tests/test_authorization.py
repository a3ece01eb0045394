"""Who may use which endpoint: every endpoint × every kind of caller (docs/domain.md, docs/api.md).

One patient ("the patient") has a primary and a consulting clinician, a linked patient
login and a twin; a second patient has its own login ("patient other"). An outsider is a
clinician on neither care team. Callers present real bearer tokens.

A role that may never perform an action gets 403 whatever the target (the role policy,
clarity/users/policy.py, decides before any lookup); a role that may, but not on this
record, gets 404 (the selectors' scope).
"""

import uuid
from dataclasses import dataclass

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from clarity.api.tests.helpers import assert_problem, bearer_client, body_of
from clarity.research import services as research_services
from clarity.users.tests.factories import UserFactory
from patients.tests.factories import make_patient
from twins.tests.factories import DigitalTwinFactory

ROLES = ["anonymous", "researcher", "patient_own", "patient_other", "primary", "consulting", "outsider", "admin"]


@dataclass
class World:
    users: dict
    patient: object
    newcomer: object  # a clinician on no care team, to be added to one
    twin: object
    dataset: object  # a research dataset built for the researcher


@pytest.fixture
def world(db):
    users = {
        "anonymous": None,
        "researcher": UserFactory(role="researcher"),
        "patient_own": UserFactory(role="patient"),
        "patient_other": UserFactory(role="patient"),
        "primary": UserFactory(role="clinician"),
        "consulting": UserFactory(role="clinician"),
        "outsider": UserFactory(role="clinician"),
        "admin": UserFactory(role="admin", is_staff=True),
    }
    other_primary = UserFactory(role="clinician")
    patient = make_patient(primary=users["primary"], consulting=[users["consulting"]], user=users["patient_own"])
    make_patient(primary=other_primary, user=users["patient_other"])
    twin = DigitalTwinFactory(patient=patient, twin_type="psychiatric")
    ctx = research_services.AuditContext(actor=users["admin"])
    dataset = research_services.dataset_create(
        actor=users["admin"],
        data={
            "name": "Mood",
            "purpose": "Study",
            "researchers": [users["researcher"].pk],
            "interaction_kinds": ["assessment"],
        },
        ctx=ctx,
    )
    research_services.dataset_build(dataset_id=dataset.pk, actor=users["admin"], ctx=ctx)
    return World(users=users, patient=patient, newcomer=UserFactory(role="clinician"), twin=twin, dataset=dataset)


def _patient_body(world, role):
    body = {"mrn": f"NEW-{role}", "given_name": "Ann", "family_name": "Example", "date_of_birth": "1990-05-01"}
    if role == "admin":
        body["primary_clinician"] = str(world.users["primary"].pk)
    return body


# name: (method, path(world), body(world, role) or None)
ENDPOINTS = {
    "patients.list": ("get", lambda w: "/api/v1/patients/", None),
    "patients.create": ("post", lambda w: "/api/v1/patients/", _patient_body),
    "patient.read": ("get", lambda w: f"/api/v1/patients/{w.patient.pk}/", None),
    "patient.patch": ("patch", lambda w: f"/api/v1/patients/{w.patient.pk}/", lambda w, r: {"address": "Elsewhere 1"}),
    "patient.delete": ("delete", lambda w: f"/api/v1/patients/{w.patient.pk}/", None),
    "care_team.list": ("get", lambda w: f"/api/v1/patients/{w.patient.pk}/care-team/", None),
    "care_team.add": (
        "post",
        lambda w: f"/api/v1/patients/{w.patient.pk}/care-team/",
        lambda w, r: {"clinician": str(w.newcomer.pk), "role": "consulting"},
    ),
    "care_team.remove": (
        "delete",
        lambda w: f"/api/v1/patients/{w.patient.pk}/care-team/{w.users['consulting'].pk}/",
        None,
    ),
    "break_glass": (
        "post",
        lambda w: f"/api/v1/patients/{w.patient.pk}/break-glass/",
        lambda w, r: {"reason": "Patient unconscious in the emergency department"},
    ),
    "audit_events.list": ("get", lambda w: "/api/v1/audit-events/", None),
    "users.list": ("get", lambda w: "/api/v1/users/", None),
    "users.create": (
        "post",
        lambda w: "/api/v1/users/",
        lambda w, r: {
            "username": "newbie",
            "email": "newbie@example.org",
            "password": "a long enough passphrase 7",
            "role": "clinician",
        },
    ),
    "users.me": ("get", lambda w: "/api/v1/users/me/", None),
    "auth.logout": ("post", lambda w: "/api/v1/auth/logout/", None),
    "twins.list": ("get", lambda w: f"/api/v1/patients/{w.patient.pk}/twins/", None),
    "twins.create": (
        "post",
        lambda w: f"/api/v1/patients/{w.patient.pk}/twins/",
        lambda w, r: {"name": "Sleep model", "twin_type": "biometric"},
    ),
    "twin.read": ("get", lambda w: f"/api/v1/twins/{w.twin.pk}/", None),
    "twin.patch": ("patch", lambda w: f"/api/v1/twins/{w.twin.pk}/", lambda w, r: {"name": "Renamed"}),
    "twin.delete": ("delete", lambda w: f"/api/v1/twins/{w.twin.pk}/", None),
    "twin.revisions": ("get", lambda w: f"/api/v1/twins/{w.twin.pk}/revisions/", None),
    "interactions.list": ("get", lambda w: f"/api/v1/patients/{w.patient.pk}/interactions/", None),
    "interactions.create": (
        "post",
        lambda w: f"/api/v1/patients/{w.patient.pk}/interactions/",
        lambda w, r: {"kind": "message", "payload": {"text": "Feeling better"}, "occurred_at": "2026-01-05T09:00:00Z"},
    ),
    "interaction.item": ("get", lambda w: f"/api/v1/patients/{w.patient.pk}/interactions/1/", None),
    "export": ("get", lambda w: f"/api/v1/patients/{w.patient.pk}/export/", None),
    "datasets.list": ("get", lambda w: "/api/v1/research/datasets/", None),
    "datasets.create": (
        "post",
        lambda w: "/api/v1/research/datasets/",
        lambda w, r: {
            "name": f"Study {r}",
            "purpose": "Relapse prediction",
            "researchers": [str(w.users["researcher"].pk)],
            "cohort": {"kind": "all_active"},
            "interaction_kinds": ["assessment"],
        },
    ),
    "dataset.read": ("get", lambda w: f"/api/v1/research/datasets/{w.dataset.pk}/", None),
    "dataset.build": ("post", lambda w: f"/api/v1/research/datasets/{w.dataset.pk}/build/", None),
    "dataset.download": ("get", lambda w: f"/api/v1/research/datasets/{w.dataset.pk}/download/", None),
}

# Expected status per endpoint for:
#   anonymous, researcher, patient_own, patient_other, primary, consulting, outsider, admin
EXPECTED = {
    "patients.list": (401, 403, 403, 403, 200, 200, 200, 200),
    "patients.create": (401, 403, 403, 403, 201, 201, 201, 201),
    "patient.read": (401, 403, 200, 404, 200, 200, 404, 200),
    "patient.patch": (401, 403, 403, 403, 200, 200, 404, 200),
    "patient.delete": (401, 403, 403, 403, 204, 403, 404, 204),
    "care_team.list": (401, 403, 200, 404, 200, 200, 404, 200),
    "care_team.add": (401, 403, 403, 403, 201, 403, 404, 201),
    "care_team.remove": (401, 403, 403, 403, 204, 403, 404, 204),
    "break_glass": (401, 403, 403, 403, 409, 409, 201, 403),
    "audit_events.list": (401, 403, 403, 403, 403, 403, 403, 200),
    "users.list": (401, 403, 403, 403, 403, 403, 403, 200),
    "users.create": (401, 403, 403, 403, 403, 403, 403, 201),
    "users.me": (401, 200, 200, 200, 200, 200, 200, 200),
    "auth.logout": (401, 204, 204, 204, 204, 204, 204, 204),
    "twins.list": (401, 403, 200, 404, 200, 200, 404, 200),
    "twins.create": (401, 403, 403, 403, 201, 201, 404, 201),
    "twin.read": (401, 403, 200, 404, 200, 200, 404, 200),
    "twin.patch": (401, 403, 403, 403, 200, 200, 404, 200),
    "twin.delete": (401, 403, 403, 403, 204, 204, 404, 204),
    "twin.revisions": (401, 403, 200, 404, 200, 200, 404, 200),
    "interactions.list": (401, 403, 200, 404, 200, 200, 404, 200),
    "interactions.create": (401, 403, 201, 404, 201, 201, 404, 201),
    "interaction.item": (401, 405, 405, 405, 405, 405, 405, 405),
    "export": (401, 403, 200, 404, 200, 200, 404, 200),
    "datasets.list": (401, 200, 403, 403, 403, 403, 403, 200),
    "datasets.create": (401, 403, 403, 403, 403, 403, 403, 201),
    "dataset.read": (401, 200, 403, 403, 403, 403, 403, 200),
    "dataset.build": (401, 403, 403, 403, 403, 403, 403, 200),
    "dataset.download": (401, 200, 403, 403, 403, 403, 403, 403),
}


def _api_routes(patterns=None, prefix=""):
    """(route, view callback) of every URL pattern."""
    from django.urls import get_resolver

    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        if hasattr(pattern, "url_patterns"):
            yield from _api_routes(pattern.url_patterns, prefix + str(pattern.pattern))
        else:
            yield prefix + str(pattern.pattern), pattern.callback


def _patient_record_routes():
    """The generic endpoints (patients/views.py, PatientRecordsView) of the models the apps declare as patient-owned."""
    from patients.registry import owned_models
    from patients.views import PatientRecordsView

    owned = set(owned_models())
    for route, callback in _api_routes():
        view_class = getattr(callback, "view_class", None)
        if view_class is not None and issubclass(view_class, PatientRecordsView) and view_class.model in owned:
            yield "/" + route, view_class


# Patient-owned resources on the generic endpoint are found through their apps'
# `patient_owned_models`, not listed above: a new one is in the table once it is installed
# and routed. Their policy is the generic endpoint's: the patient's readers list, the care
# team and admins create (not the patient, not break-the-glass).
PATIENT_RECORD_ROUTES = list(_patient_record_routes())
for _route, _view in PATIENT_RECORD_ROUTES:
    _path = (lambda route: lambda w: route.replace("<uuid:pk>", str(w.patient.pk)))(_route)
    ENDPOINTS[f"{_view.resource_type}.list"] = ("get", _path, None)
    ENDPOINTS[f"{_view.resource_type}.create"] = ("post", _path, (lambda body: lambda w, r: body)(_view.example))
    EXPECTED[f"{_view.resource_type}.list"] = (401, 403, 200, 404, 200, 200, 404, 200)
    EXPECTED[f"{_view.resource_type}.create"] = (401, 403, 403, 403, 201, 201, 404, 201)

CASES = [
    pytest.param(endpoint, role, expected[i], id=f"{endpoint}-{role}-{expected[i]}")
    for endpoint, expected in EXPECTED.items()
    for i, role in enumerate(ROLES)
]


@pytest.mark.parametrize(("endpoint", "role", "expected"), CASES)
def test_each_caller_gets_the_status_the_contract_gives_them(world, endpoint, role, expected):
    # Given a caller of this kind
    method, path, body = ENDPOINTS[endpoint]
    client = bearer_client(world.users[role])

    # When they call the endpoint
    kwargs = {"format": "json", "data": body(world, role)} if body else {}
    if endpoint.startswith("twin."):
        kwargs["HTTP_IF_MATCH"] = '"1"'
    response = getattr(client, method)(path(world), **kwargs)

    # Then the status is the one the contract gives them, and errors are problems
    assert response.status_code == expected, (response.status_code, response.content[:300])
    if expected >= 400:
        assert_problem(response, expected)
    if expected == 401:
        assert response["WWW-Authenticate"] == "Bearer"


def test_every_api_route_is_in_the_table(world):
    from rest_framework.permissions import AllowAny

    from clarity.api.views import ApiView
    from clarity.users.policy import RolePolicy

    # Every API view declares its role policy (the token endpoint alone is open)...
    api = [(route, callback) for route, callback in _api_routes() if route.startswith("api/v1/")]
    for route, callback in api:
        view_class = getattr(callback, "view_class", None)
        if view_class is None or not issubclass(view_class, ApiView) or AllowAny in view_class.permission_classes:
            continue  # open endpoints (the token endpoint) have no role to check
        assert any(issubclass(cls, RolePolicy) for cls in view_class.permission_classes), route
    # ...and the table above names one endpoint per route and method.
    assert len(ENDPOINTS) >= len([route for route, _ in api]) + 7


def _made_up(path: str, world) -> str:
    """The same path with every id of the world replaced by ids that exist nowhere."""
    for value in (world.patient.pk, world.twin.pk, world.users["consulting"].pk, world.dataset.pk):
        path = path.replace(str(value), str(uuid.uuid4()))
    return path


ROLE_DENIALS = [
    pytest.param(endpoint, role, id=f"{endpoint}-{role}")
    for endpoint, expected in EXPECTED.items()
    for i, role in enumerate(ROLES)
    if expected[i] == 403 and role in ("researcher", "patient_own", "patient_other", "admin", "primary")
]


@pytest.mark.parametrize(("endpoint", "role"), ROLE_DENIALS)
def test_a_role_that_may_never_act_gets_403_for_any_target_before_any_lookup(world, endpoint, role):
    # Given a caller whose role may never do this, and a target that does not exist
    method, path, body = ENDPOINTS[endpoint]
    client = bearer_client(world.users[role])
    kwargs = {"format": "json", "data": body(world, role)} if body else {}

    # When they try it on the made-up target
    with CaptureQueriesContext(connection) as queries:
        response = getattr(client, method)(_made_up(path(world), world), **kwargs)

    # Then they get 403 as for a real one, and no patient-data table was read
    assert_problem(response, 403)
    touched = " ".join(q["sql"] for q in queries.captured_queries if q["sql"].lstrip().upper().startswith("SELECT"))
    for table in (
        "patients_patient",
        "twins_digitaltwin",
        "interactions_interactionlog",
        "patients_careteammembership",
    ):
        assert table not in touched, (endpoint, table)


@pytest.mark.parametrize(
    ("role", "path"),
    [
        ("researcher", "interactions/"),
        ("researcher", "twins/"),
        ("patient_other", "twins/"),
        ("researcher", "care-team/"),
    ],
)
def test_a_refused_role_is_refused_before_its_body_is_parsed(world, role, path):
    # Given a caller whose role may never post here, sending a body that is not even JSON
    client = bearer_client(world.users[role])

    # When they post it
    response = client.post(
        f"/api/v1/patients/{uuid.uuid4()}/{path}", b"[{}, {}, {not json", content_type="application/json"
    )

    # Then the answer is the role's 403, not the parser's 400
    assert_problem(response, 403)


def test_a_clinicians_patient_list_holds_exactly_their_care_team_patients(db):
    # Given a clinician who is primary on one patient and consulting on another, and other patients
    clinician, colleague = UserFactory(role="clinician"), UserFactory(role="clinician")
    mine = {make_patient(primary=clinician).pk, make_patient(primary=colleague, consulting=[clinician]).pk}
    for _ in range(3):
        make_patient(primary=colleague)

    # When the clinician lists patients
    response = bearer_client(clinician).get("/api/v1/patients/")

    # Then exactly their care-team patients come back
    assert response.status_code == 200
    assert {row["id"] for row in body_of(response)["results"]} == {str(pk) for pk in mine}


def test_an_admins_patient_list_holds_every_patient(db):
    # Given patients on various care teams
    admin, clinician = UserFactory(role="admin"), UserFactory(role="clinician")
    ids = {str(make_patient(primary=clinician).pk) for _ in range(3)}

    # When an admin lists patients
    response = bearer_client(admin).get("/api/v1/patients/")

    # Then every patient is there
    assert {row["id"] for row in body_of(response)["results"]} == ids


def test_users_me_returns_the_callers_own_profile(db):
    # Given a researcher
    researcher = UserFactory(role="researcher", first_name="Rita", last_name="Search")

    # When they ask who they are
    response = bearer_client(researcher).get("/api/v1/users/me/")

    # Then they get exactly their own profile fields
    assert body_of(response) == {
        "id": str(researcher.pk),
        "username": researcher.username,
        "email": researcher.email,
        "role": "researcher",
        "first_name": "Rita",
        "last_name": "Search",
    }


@pytest.mark.parametrize(
    ("route", "view"), PATIENT_RECORD_ROUTES, ids=[v.resource_type for _r, v in PATIENT_RECORD_ROUTES]
)
def test_break_the_glass_lists_a_patients_records_flagged_and_may_not_add_one(world, route, view):
    from clarity.audit.models import AuditEvent
    from patients.tests.factories import grant_break_glass

    # Given a clinician outside the care team holding a break-the-glass grant
    rescuer = UserFactory(role="clinician")
    grant_break_glass(rescuer, world.patient)
    client = bearer_client(rescuer)
    path = route.replace("<uuid:pk>", str(world.patient.pk))

    # When they list the patient's records and try to add one
    listed = client.get(path)
    added = client.post(path, view.example, format="json")

    # Then the list is theirs and the write is refused, both recorded as break-the-glass
    assert listed.status_code == 200
    assert_problem(added, 403)
    events = AuditEvent.objects.filter(actor=rescuer).order_by("id")
    assert [(e.action, e.resource_type, e.break_glass, e.patient_id) for e in events] == [
        ("list", view.resource_type, True, world.patient.pk),
        ("denied", view.resource_type, True, world.patient.pk),
    ]
