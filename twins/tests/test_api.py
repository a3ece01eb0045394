"""Twin endpoints: representations, validation, preconditions, revisions, conflicts, pages."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from clarity.audit.models import AuditEvent
from patients.tests.factories import make_patient
from twins.models import DigitalTwin, TwinRevision, TwinStatus
from twins.tests.factories import VALID_CONFIGURATION, make_twin

TWIN_FIELDS = {
    "id",
    "patient",
    "name",
    "twin_type",
    "status",
    "configuration",
    "state",
    "version",
    "created_by",
    "created_at",
    "updated_at",
}


@pytest.fixture
def patient(clinician):
    return make_patient(primary=clinician)


@pytest.fixture
def twin(patient, clinician):
    return make_twin(patient, created_by=clinician)


@pytest.fixture
def api(client_for, clinician):
    return client_for(clinician)


def _state(twin):
    """Everything a failed write must leave untouched."""
    twin.refresh_from_db()
    revisions = list(TwinRevision.objects.filter(twin=twin).values_list("version", "configuration"))
    return twin.name, twin.status, twin.configuration, twin.state, twin.version, twin.updated_at, revisions


def _patch(api, twin, body, etag='"1"'):
    headers = {"HTTP_IF_MATCH": etag} if etag is not None else {}
    return api.patch(f"/api/v1/twins/{twin.pk}/", body, format="json", **headers)


# --- create ---------------------------------------------------------------------------


def test_creating_a_twin_answers_201_with_the_representation_etag_and_location(api, patient, clinician):
    response = api.post(
        f"/api/v1/patients/{patient.pk}/twins/",
        {"name": "Mood course", "twin_type": "psychiatric", "configuration": VALID_CONFIGURATION},
        format="json",
    )

    assert response.status_code == 201
    body = response.json()
    assert set(body) == TWIN_FIELDS
    assert body["status"] == "initializing"
    assert body["version"] == 1
    assert body["configuration"] == VALID_CONFIGURATION
    assert body["state"] is None
    assert body["patient"] == str(patient.pk)
    assert body["created_by"] == str(clinician.pk)
    assert response["ETag"] == '"1"'
    assert response["Location"].endswith(f"/api/v1/twins/{body['id']}/")


def test_creating_a_twin_writes_revision_one_and_a_create_audit_event(api, patient, clinician):
    response = api.post(
        f"/api/v1/patients/{patient.pk}/twins/",
        {"name": "Mood course", "twin_type": "psychiatric", "configuration": VALID_CONFIGURATION},
        format="json",
    )

    twin_id = response.json()["id"]
    revisions = list(TwinRevision.objects.filter(twin_id=twin_id).values("version", "configuration", "changed_by"))
    assert revisions == [{"version": 1, "configuration": VALID_CONFIGURATION, "changed_by": clinician.pk}]
    event = AuditEvent.objects.get(action="create")
    assert (event.resource_type, event.resource_id, event.patient_id) == ("twin", twin_id, patient.pk)


def test_a_twin_created_without_configuration_starts_with_an_empty_one(api, patient):
    response = api.post(
        f"/api/v1/patients/{patient.pk}/twins/", {"name": "Sleep", "twin_type": "biometric"}, format="json"
    )

    assert response.status_code == 201
    assert response.json()["configuration"] == {}


def test_a_second_live_twin_of_a_type_is_a_conflict(api, patient, twin):
    response = api.post(
        f"/api/v1/patients/{patient.pk}/twins/", {"name": "Again", "twin_type": twin.twin_type}, format="json"
    )

    assert response.status_code == 409
    assert response["Content-Type"] == "application/problem+json"
    assert set(response.json()["errors"]) == {"twin_type"}
    assert DigitalTwin.objects.count() == 1
    assert TwinRevision.objects.count() == 1


def test_archiving_a_twin_frees_its_type_for_a_new_twin(api, patient, twin):
    assert api.delete(f"/api/v1/twins/{twin.pk}/").status_code == 204

    response = api.post(
        f"/api/v1/patients/{patient.pk}/twins/", {"name": "Successor", "twin_type": twin.twin_type}, format="json"
    )

    assert response.status_code == 201
    assert DigitalTwin.objects.filter(patient=patient, twin_type=twin.twin_type).count() == 2


def test_a_patient_may_have_one_live_twin_of_each_type(api, patient):
    for twin_type in ("psychiatric", "biometric", "treatment_response", "integrated"):
        response = api.post(
            f"/api/v1/patients/{patient.pk}/twins/", {"name": "T", "twin_type": twin_type}, format="json"
        )
        assert response.status_code == 201


@pytest.mark.parametrize(
    ("configuration", "field"),
    [
        ({"colour": "blue"}, "configuration.colour"),
        ({"simulation_granularity_hours": "24"}, "configuration.simulation_granularity_hours"),
        ({"simulation_granularity_hours": 169}, "configuration.simulation_granularity_hours"),
        ({"simulation_granularity_hours": 0}, "configuration.simulation_granularity_hours"),
        ({"simulation_granularity_hours": True}, "configuration.simulation_granularity_hours"),
        ({"simulation_granularity_hours": 2.5}, "configuration.simulation_granularity_hours"),
        ({"prediction_models_enabled": "risk_relapse"}, "configuration.prediction_models_enabled"),
        ({"prediction_models_enabled": ["crystal_ball"]}, "configuration.prediction_models_enabled"),
        ({"prediction_models_enabled": ["risk_relapse", "risk_relapse"]}, "configuration.prediction_models_enabled"),
        ({"data_sources_enabled": ["tarot"]}, "configuration.data_sources_enabled"),
        ({"alert_thresholds": [1, 2]}, "configuration.alert_thresholds"),
        ({"alert_thresholds": {"moon_phase": 1}}, "configuration.alert_thresholds.moon_phase"),
        ({"alert_thresholds": {"suicide_risk": 1.5}}, "configuration.alert_thresholds.suicide_risk"),
        ({"alert_thresholds": {"phq9_change": -1}}, "configuration.alert_thresholds.phq9_change"),
        ({"alert_thresholds": {"sleep_hours_min": 25}}, "configuration.alert_thresholds.sleep_hours_min"),
        ({"alert_thresholds": {"gad7_change": "4"}}, "configuration.alert_thresholds.gad7_change"),
        ([], "configuration"),
        ("x", "configuration"),
    ],
)
def test_an_invalid_configuration_is_refused_naming_the_field(api, patient, configuration, field):
    response = api.post(
        f"/api/v1/patients/{patient.pk}/twins/",
        {"name": "Mood", "twin_type": "psychiatric", "configuration": configuration},
        format="json",
    )

    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert set(response.json()["errors"]) == {field}
    assert DigitalTwin.objects.count() == 0
    assert TwinRevision.objects.count() == 0


def test_validation_messages_never_echo_submitted_values(api, patient):
    response = api.post(
        f"/api/v1/patients/{patient.pk}/twins/",
        {
            "name": "Mood",
            "twin_type": "psychiatric",
            "configuration": {
                "prediction_models_enabled": ["SECRET-VALUE"],
                "alert_thresholds": {"suicide_risk": 98765},
            },
        },
        format="json",
    )

    assert response.status_code == 400
    assert "SECRET-VALUE" not in response.content.decode()
    assert "98765" not in response.content.decode()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "Mood", "twin_type": "quantum"}, "twin_type"),
        ({"twin_type": "psychiatric"}, "name"),
        ({"name": "", "twin_type": "psychiatric"}, "name"),
        ({"name": "x" * 201, "twin_type": "psychiatric"}, "name"),
        ({"name": "Mood", "twin_type": "psychiatric", "status": "active"}, "status"),
        ({"name": "Mood", "twin_type": "psychiatric", "configuration": None}, "configuration"),
    ],
)
def test_an_invalid_create_body_is_refused_naming_the_field(api, patient, body, field):
    response = api.post(f"/api/v1/patients/{patient.pk}/twins/", body, format="json")

    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert "quantum" not in response.content.decode()
    assert DigitalTwin.objects.count() == 0


def test_creating_a_twin_for_an_unknown_patient_is_not_found(api):
    response = api.post(
        "/api/v1/patients/00000000-0000-0000-0000-000000000000/twins/",
        {"name": "M", "twin_type": "psychiatric"},
        format="json",
    )

    assert response.status_code == 404


# --- read -----------------------------------------------------------------------------


def test_a_twin_is_returned_as_in_the_contract(api, twin):
    response = api.get(f"/api/v1/twins/{twin.pk}/")

    assert response.status_code == 200
    body = response.json()
    assert set(body) == TWIN_FIELDS
    assert body["configuration"] == VALID_CONFIGURATION
    assert response["ETag"] == '"1"'


def test_an_unknown_query_parameter_on_a_twin_is_refused(api, twin):
    assert api.get(f"/api/v1/twins/{twin.pk}/?fields=all").status_code == 400


# --- PATCH and If-Match ---------------------------------------------------------------


def test_patch_without_if_match_is_428_and_changes_nothing(api, twin):
    before = _state(twin)

    response = _patch(api, twin, {"name": "Renamed", "configuration": {"simulation_granularity_hours": 6}}, etag=None)

    assert response.status_code == 428
    assert _state(twin) == before


def test_patch_with_a_stale_if_match_is_412_and_changes_nothing(api, twin):
    _patch(api, twin, {"name": "First"})
    before = _state(twin)

    response = _patch(api, twin, {"name": "Second", "configuration": {"simulation_granularity_hours": 6}}, etag='"1"')

    assert response.status_code == 412
    assert _state(twin) == before


@pytest.mark.parametrize("etag", ["1", '"1', "W/", "abc"])
def test_patch_with_a_malformed_if_match_is_400_and_changes_nothing(api, twin, etag):
    before = _state(twin)

    response = _patch(api, twin, {"name": "Renamed"}, etag=etag)

    assert response.status_code == 400
    assert "If-Match" in response.json()["errors"]
    assert _state(twin) == before


def test_patch_with_a_weak_etag_never_matches(api, twin):
    before = _state(twin)

    response = _patch(api, twin, {"name": "Renamed"}, etag='W/"1"')

    assert response.status_code == 412
    assert _state(twin) == before


def test_patch_returns_the_twin_with_its_new_etag(api, twin):
    response = _patch(api, twin, {"name": "Renamed", "status": "active", "state": {"risk": 0.2}})

    assert response.status_code == 200
    body = response.json()
    assert (body["name"], body["status"], body["state"], body["version"]) == ("Renamed", "active", {"risk": 0.2}, 2)
    assert response["ETag"] == '"2"'
    twin.refresh_from_db()
    assert twin.version == 2


def test_a_configuration_change_writes_one_revision_with_the_new_version(api, twin, clinician):
    new_configuration = {"simulation_granularity_hours": 6}

    response = _patch(api, twin, {"configuration": new_configuration})

    assert response.status_code == 200
    revisions = list(
        TwinRevision.objects.filter(twin=twin).order_by("version").values_list("version", "configuration", "changed_by")
    )
    assert revisions == [(1, VALID_CONFIGURATION, clinician.pk), (2, new_configuration, clinician.pk)]


def test_revisions_carry_the_twin_version_after_each_configuration_change(api, twin):
    _patch(api, twin, {"configuration": {"simulation_granularity_hours": 6}}, etag='"1"')  # → v2, revision 2
    _patch(api, twin, {"name": "Renamed"}, etag='"2"')  # → v3, no revision
    _patch(api, twin, {"state": {"risk": 0.1}}, etag='"3"')  # → v4, no revision
    _patch(api, twin, {"configuration": {"simulation_granularity_hours": 12}, "name": "Again"}, etag='"4"')  # → v5

    response = api.get(f"/api/v1/twins/{twin.pk}/revisions/")

    assert [(r["version"], r["configuration"]) for r in response.json()["results"]] == [
        (5, {"simulation_granularity_hours": 12}),
        (2, {"simulation_granularity_hours": 6}),
        (1, VALID_CONFIGURATION),
    ]
    twin.refresh_from_db()
    assert twin.version == 5


def test_a_patch_that_changes_nothing_keeps_the_version_and_writes_no_revision(api, twin):
    response = _patch(api, twin, {"name": twin.name, "configuration": VALID_CONFIGURATION})

    assert response.status_code == 200
    assert response["ETag"] == '"1"'
    assert TwinRevision.objects.filter(twin=twin).count() == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"configuration": {"simulation_granularity_hours": 500}}, "configuration.simulation_granularity_hours"),
        (
            {"configuration": {"alert_thresholds": {"suicide_risk": -0.1}}},
            "configuration.alert_thresholds.suicide_risk",
        ),
        ({"configuration": {"unknown": 1}}, "configuration.unknown"),
        ({"configuration": None}, "configuration"),
        ({"status": "deleted"}, "status"),
        ({"name": ""}, "name"),
        ({"twin_type": "biometric"}, "twin_type"),
        ({"version": 7}, "version"),
        ({"patient": "00000000-0000-0000-0000-000000000000"}, "patient"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_an_invalid_patch_is_400_naming_the_field_and_changes_nothing(api, twin, body, field):
    before = _state(twin)

    response = _patch(api, twin, {"name": "Would change", **body} if "name" not in body else body)

    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert _state(twin) == before


def test_patch_may_archive_a_twin(api, twin):
    response = _patch(api, twin, {"status": "archived"})

    assert response.status_code == 200
    assert response.json()["status"] == "archived"


def test_unarchiving_while_another_live_twin_of_the_type_exists_is_a_conflict(api, patient, twin):
    _patch(api, twin, {"status": "archived"})
    successor = make_twin(patient, twin_type=twin.twin_type)
    before = _state(twin)

    response = _patch(api, twin, {"status": "active"}, etag='"2"')

    assert response.status_code == 409
    assert set(response.json()["errors"]) == {"status"}
    assert _state(twin) == before
    successor.refresh_from_db()
    assert successor.status == TwinStatus.ACTIVE


def test_unarchiving_is_allowed_when_no_other_live_twin_of_the_type_exists(api, twin):
    _patch(api, twin, {"status": "archived"})

    response = _patch(api, twin, {"status": "paused"}, etag='"2"')

    assert response.status_code == 200
    assert response.json()["status"] == "paused"


def test_patch_is_audited_as_an_update(api, twin):
    _patch(api, twin, {"name": "Renamed"})

    event = AuditEvent.objects.get(action="update")
    assert (event.resource_type, event.resource_id, event.patient_id) == ("twin", str(twin.pk), twin.patient_id)


def test_patch_with_a_body_that_is_not_json_is_415(api, twin):
    response = api.patch(
        f"/api/v1/twins/{twin.pk}/", "name=x", content_type="application/x-www-form-urlencoded", HTTP_IF_MATCH='"1"'
    )

    assert response.status_code == 415


# --- DELETE ---------------------------------------------------------------------------


def test_delete_archives_the_twin_and_bumps_its_version(api, twin):
    response = api.delete(f"/api/v1/twins/{twin.pk}/")

    assert response.status_code == 204
    twin.refresh_from_db()
    assert (twin.status, twin.version) == (TwinStatus.ARCHIVED, 2)
    assert AuditEvent.objects.get(action="delete").resource_id == str(twin.pk)


def test_delete_with_a_matching_if_match_archives(api, twin):
    assert api.delete(f"/api/v1/twins/{twin.pk}/", HTTP_IF_MATCH='"1"').status_code == 204


def test_delete_with_a_stale_if_match_is_412_and_changes_nothing(api, twin):
    before = _state(twin)

    response = api.delete(f"/api/v1/twins/{twin.pk}/", HTTP_IF_MATCH='"9"')

    assert response.status_code == 412
    assert _state(twin) == before


def test_delete_with_a_malformed_if_match_is_400(api, twin):
    assert api.delete(f"/api/v1/twins/{twin.pk}/", HTTP_IF_MATCH="9").status_code == 400


def test_deleting_an_archived_twin_again_changes_nothing(api, twin):
    api.delete(f"/api/v1/twins/{twin.pk}/")

    response = api.delete(f"/api/v1/twins/{twin.pk}/")

    assert response.status_code == 204
    twin.refresh_from_db()
    assert twin.version == 2


def test_an_archived_twin_is_still_readable(api, twin):
    api.delete(f"/api/v1/twins/{twin.pk}/")

    response = api.get(f"/api/v1/twins/{twin.pk}/")

    assert response.status_code == 200
    assert response.json()["status"] == "archived"
    assert response["ETag"] == '"2"'


# --- lists ----------------------------------------------------------------------------


def _archived_twins(patient, count):
    """Many twins for one patient: only one live per type, so the rest are archived."""
    return DigitalTwin.objects.bulk_create(
        DigitalTwin(patient=patient, name=f"T{i}", twin_type="psychiatric", status=TwinStatus.ARCHIVED)
        for i in range(count)
    )


def _walk(api, url):
    seen = []
    while url:
        response = api.get(url)
        assert response.status_code == 200
        seen.extend(row["id"] for row in response.json()["results"])
        url = response.json()["next"]
    return seen


def test_twin_list_is_ordered_by_creation_and_walks_every_page_once(api, patient):
    twins = _archived_twins(patient, 7)
    expected = [str(t.pk) for t in sorted(twins, key=lambda t: (t.created_at, t.pk))]

    assert _walk(api, f"/api/v1/patients/{patient.pk}/twins/?page_size=3") == expected


def test_twin_list_shows_only_that_patients_twins(api, clinician, patient, twin):
    elsewhere = make_patient(primary=clinician)
    make_twin(elsewhere)

    response = api.get(f"/api/v1/patients/{patient.pk}/twins/")

    assert [row["id"] for row in response.json()["results"]] == [str(twin.pk)]


def test_twin_list_filters_by_status_and_type(api, patient, twin):
    archived = _archived_twins(patient, 1)[0]
    biometric = make_twin(patient, twin_type="biometric")

    by_status = api.get(f"/api/v1/patients/{patient.pk}/twins/?status=archived").json()["results"]
    by_type = api.get(f"/api/v1/patients/{patient.pk}/twins/?twin_type=biometric").json()["results"]

    assert [row["id"] for row in by_status] == [str(archived.pk)]
    assert [row["id"] for row in by_type] == [str(biometric.pk)]


@pytest.mark.parametrize(
    "query", ["status=gone", "twin_type=quantum", "page_size=0", "page_size=201", "cursor=%%%", "sort=name"]
)
def test_twin_list_refuses_bad_query_parameters(api, patient, query):
    assert api.get(f"/api/v1/patients/{patient.pk}/twins/?{query}").status_code == 400


def test_a_twin_list_writes_one_list_event_for_the_patient(api, patient):
    _archived_twins(patient, 3)

    api.get(f"/api/v1/patients/{patient.pk}/twins/")

    events = list(AuditEvent.objects.filter(action="list").values_list("resource_type", "patient_id"))
    assert events == [("twin", patient.pk)]


def test_revisions_are_listed_newest_first_across_pages(api, twin):
    TwinRevision.objects.bulk_create(TwinRevision(twin=twin, version=v, configuration={}) for v in range(2, 8))
    seen = []
    url = f"/api/v1/twins/{twin.pk}/revisions/?page_size=3"
    while url:
        body = api.get(url).json()
        seen.extend(row["version"] for row in body["results"])
        url = body["next"]

    assert seen == [7, 6, 5, 4, 3, 2, 1]


def test_a_revision_has_the_contract_fields(api, twin):
    row = api.get(f"/api/v1/twins/{twin.pk}/revisions/").json()["results"][0]

    assert set(row) == {"version", "configuration", "changed_by", "changed_at"}


def test_revision_list_writes_one_list_event_for_the_patient(api, twin):
    api.get(f"/api/v1/twins/{twin.pk}/revisions/")

    events = list(AuditEvent.objects.filter(action="list").values_list("resource_type", "resource_id", "patient_id"))
    assert events == [("twin_revision", str(twin.pk), twin.patient_id)]


# --- query budgets --------------------------------------------------------------------


def _count_queries(api, url):
    with CaptureQueriesContext(connection) as captured:
        response = api.get(url)
    assert response.status_code == 200
    return len(captured), len(response.json()["results"])


@pytest.mark.parametrize("who", ["clinician", "admin_user"])
def test_twin_list_costs_the_same_queries_at_any_page_size(
    request, client_for, patient, who, django_assert_max_num_queries
):
    api = client_for(request.getfixturevalue(who))
    _archived_twins(patient, 210)
    url = f"/api/v1/patients/{patient.pk}/twins/?page_size="

    with django_assert_max_num_queries(5):
        small, small_rows = _count_queries(api, url + "5")
    with django_assert_max_num_queries(5):
        large, large_rows = _count_queries(api, url + "200")

    assert (small_rows, large_rows) == (5, 200)
    assert small == large


def test_revision_list_costs_the_same_queries_at_any_page_size(api, twin, django_assert_max_num_queries):
    TwinRevision.objects.bulk_create(TwinRevision(twin=twin, version=v, configuration={}) for v in range(2, 212))
    url = f"/api/v1/twins/{twin.pk}/revisions/?page_size="

    with django_assert_max_num_queries(6):
        small, small_rows = _count_queries(api, url + "5")
    with django_assert_max_num_queries(6):
        large, large_rows = _count_queries(api, url + "200")

    assert (small_rows, large_rows) == (5, 200)
    assert small == large
